"""Check Terraform resource and data blocks against the google provider schema, offline.

The schema comes from the jsii assembly inside the PyPI package cdktf-cdktf-provider-google,
which is generated from the provider itself: each resource's ``<Name>Config`` interface lists
its arguments, whether each is optional, and the struct type of each nested block.

    python scripts/provider_schema.py fetch            # download + extract, print the cache path
    python scripts/provider_schema.py check terraform  # report unknown/missing arguments
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "cdktf-cdktf-provider-google"
PACKAGE_VERSION = "16.12.1"
PROVIDER_VERSION = "6.50.0"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "terraform"

# Arguments Terraform itself accepts on every resource/data block.
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider"})
META_BLOCKS = frozenset({"lifecycle", "provisioner", "connection"})
DYNAMIC_KEYS = frozenset({"for_each", "iterator", "labels", "content"})

# The archive provider is not in the google package; its archive_file data source by hand
# (registry docs of hashicorp/archive 2.7).
ARCHIVE_TYPES: dict[str, Any] = {
    "archive_file": {
        "attrs": {
            "type": True, "output_path": True, "output_file_mode": False,
            "source_content": False, "source_content_filename": False, "source_file": False,
            "source_dir": False, "excludes": False, "exclude_symlink_directories": False,
        },
        "blocks": {"source": ["archive_file.source", False]},
    },
    "archive_file.source": {
        "attrs": {"content": True, "filename": True},
        "blocks": {},
    },
}

# Resources outside the google package, by hand: hashicorp/time 0.12's time_sleep and
# Terraform's built-in terraform_data (registry and Terraform language docs).
EXTRA_RESOURCES: dict[str, Any] = {
    "time_sleep": {
        "attrs": {"create_duration": False, "destroy_duration": False, "triggers": False},
        "blocks": {},
    },
    "terraform_data": {
        "attrs": {"input": False, "triggers_replace": False},
        "blocks": {},
    },
}

_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(\w+) ")
_TYPE_LINK = re.compile(r"/docs/(resources|data-sources)/\w+ (google_\w+)\}")

Schema = dict[str, Any]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _tf_name(prop: Mapping[str, Any]) -> str:
    docs = prop.get("docs", {})
    match = _ANCHOR.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    return match.group(1) if match else _snake(prop["name"])


def _struct_fqn(type_ref: Mapping[str, Any], types: Mapping[str, Any]) -> str | None:
    """Return the struct (nested block) type behind a jsii type reference, if any."""
    if "fqn" in type_ref:
        found = types.get(type_ref["fqn"])
        return type_ref["fqn"] if found and found.get("datatype") else None
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"], types)
    for member in type_ref.get("union", {}).get("types", []):
        fqn = _struct_fqn(member, types)
        if fqn:
            return fqn
    return None


def _add_struct(fqn: str, types: Mapping[str, Any], out: dict[str, Any]) -> str:
    key = fqn.split("/", 1)[-1].removeprefix("provider-google.")
    if key in out:
        return key
    entry: dict[str, Any] = {"attrs": {}, "blocks": {}}
    out[key] = entry
    for prop in types[fqn].get("properties", []):
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"], types)
        if nested:
            entry["blocks"][_tf_name(prop)] = [_add_struct(nested, types, out), required]
        else:
            entry["attrs"][_tf_name(prop)] = required
    return key


def extract_schema(assembly: Mapping[str, Any]) -> Schema:
    """Build a compact resource/data-source schema from a cdktf provider jsii assembly."""
    types = assembly["types"]
    schema: Schema = {"provider_version": PROVIDER_VERSION, "resource": {}, "data": {},
                      "types": {}}
    for fqn, spec in types.items():
        if spec.get("kind") != "class" or f"{fqn}Config" not in types:
            continue
        link = _TYPE_LINK.search(spec.get("docs", {}).get("summary", ""))
        if not link:
            continue
        kind = "resource" if link.group(1) == "resources" else "data"
        schema[kind][link.group(2)] = _add_struct(f"{fqn}Config", types, schema["types"])
    return schema


def read_assembly(wheel: Path) -> dict[str, Any]:
    """Read the jsii assembly JSON out of the cdktf provider wheel."""
    with zipfile.ZipFile(wheel) as archive:
        inner = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(archive.read(inner))) as tgz:
            member = tgz.extractfile("package/.jsii")
            if member is None:
                raise FileNotFoundError(f"{wheel}: no package/.jsii in {inner}")
            return dict(json.load(member))


def ensure_schema(cache: Path = DEFAULT_CACHE) -> Path:
    """Return the cached compact schema, downloading and extracting it on first use."""
    target = cache / f"google-{PROVIDER_VERSION}-schema.json"
    if target.exists():
        return target
    wheels = cache / "wheels"
    pattern = f"cdktf_cdktf_provider_google-{PACKAGE_VERSION}-*.whl"
    if not list(wheels.glob(pattern)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "-d", str(wheels), f"{PACKAGE}=={PACKAGE_VERSION}"], check=True)
    schema = extract_schema(read_assembly(next(wheels.glob(pattern))))
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True))
    partial.replace(target)
    return target


def load_schema(cache: Path = DEFAULT_CACHE) -> Schema:
    """Load the compact schema (fetching it if needed) with archive, time and terraform_data."""
    schema: Schema = json.loads(ensure_schema(cache).read_text())
    schema["types"].update(ARCHIVE_TYPES)
    schema["data"]["archive_file"] = "archive_file"
    schema["types"].update(EXTRA_RESOURCES)
    schema["resource"].update({name: name for name in EXTRA_RESOURCES})
    return schema


def _suggest(name: str, known: Iterator[str] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _bodies(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def _check_dynamic(value: Any, spec: Mapping[str, Any], schema: Schema, where: str) -> list[str]:
    problems: list[str] = []
    for entry in _bodies(value):
        for label, body in entry.items():
            if label not in spec["blocks"]:
                known = spec["blocks"].keys()
                problems.append(f"{where}: unknown dynamic block '{label}'"
                                f"{_suggest(label, list(known))}")
                continue
            for key in body:
                if key not in DYNAMIC_KEYS:
                    problems.append(f"{where}.dynamic.{label}: unknown key '{key}'")
            for content in _bodies(body.get("content")):
                problems += check_body(content, spec["blocks"][label][0], schema,
                                       f"{where}.{label}")
    return problems


def check_body(body: Mapping[str, Any], type_key: str, schema: Schema, where: str,
               *, top: bool = False) -> list[str]:
    """List unknown names and missing required arguments in one block body."""
    spec = schema["types"][type_key]
    problems: list[str] = []
    dynamic_labels: set[str] = set()
    for key, value in body.items():
        if key == "dynamic":
            problems += _check_dynamic(value, spec, schema, where)
            dynamic_labels |= {label for entry in _bodies(value) for label in entry}
        elif top and key in META_ARGUMENTS | META_BLOCKS or key in spec["attrs"]:
            continue
        elif key in spec["blocks"]:
            for nested in _bodies(value):
                problems += check_body(nested, spec["blocks"][key][0], schema, f"{where}.{key}")
        else:
            known = [*spec["attrs"], *spec["blocks"]]
            problems.append(f"{where}: unknown argument '{key}'{_suggest(key, known)}")
    for name, required in spec["attrs"].items():
        if required and name not in body:
            problems.append(f"{where}: missing required argument '{name}'")
    for name, (_, required) in spec["blocks"].items():
        if required and name not in body and name not in dynamic_labels:
            problems.append(f"{where}: missing required block '{name}'")
    return problems


def check_config(config: Mapping[str, Any], schema: Schema, source: str) -> list[str]:
    """Check every resource and data block of one parsed .tf file (python-hcl2 output)."""
    problems: list[str] = []
    for kind in ("resource", "data"):
        prefix = "data." if kind == "data" else ""
        for entry in config.get(kind, []):
            for type_name, instances in entry.items():
                for label, body in instances.items():
                    where = f"{source}: {prefix}{type_name}.{label}"
                    if type_name not in schema[kind]:
                        known = list(schema[kind])
                        problems.append(f"{where}: unknown {kind} type"
                                        f"{_suggest(type_name, known)}")
                        continue
                    problems += check_body(body, schema[kind][type_name], schema, where,
                                           top=True)
    return problems


def parse_hcl(text: str) -> dict[str, Any]:
    """Parse HCL text into plain dicts: blocks as lists of dicts, strings unquoted."""
    import hcl2  # python-hcl2 lives in .venv; checkov's fork must not shadow it

    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True,
                                        explicit_blocks=False)
    return dict(hcl2.loads(text, serialization_options=options))


def check_directory(directory: Path, schema: Schema) -> list[str]:
    """Check every .tf file under ``directory`` (skipping .terraform/)."""
    problems: list[str] = []
    for path in sorted(directory.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        problems += check_config(parse_hcl(path.read_text()), schema, str(path))
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the fetch or check command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("fetch", "check"))
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "terraform")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_schema(args.cache))
        return 0
    problems = check_directory(args.directory, load_schema(args.cache))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"provider schema {PROVIDER_VERSION}: {len(problems)} problem(s) in {args.directory}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
