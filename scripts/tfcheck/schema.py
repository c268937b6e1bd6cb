"""The google provider schema, read from the cdktf-cdktf-provider-google jsii assembly.

Each resource's ``<Name>Config`` interface lists its arguments (optional or not, their
types, the struct type of each nested block); the resource class and the ``...OutputReference``
classes add the read-only (computed) attributes. Argument docs carry the enum lists
("Possible values: [...]").
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.tfcheck.handwritten import HANDWRITTEN_DATA, HANDWRITTEN_RESOURCES, HANDWRITTEN_TYPES

PACKAGE = "cdktf-cdktf-provider-google"
PACKAGE_VERSION = "16.12.1"
PROVIDER_VERSION = "6.50.0"
# Bumped whenever the extracted shape changes, so an old cache is rebuilt.
SCHEMA_FORMAT = 4
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / ".cache" / "terraform"

_ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(\w+) ")
_TYPE_LINK = re.compile(r"/docs/(resources|data-sources)/\w+ (google_\w+)\}")
_ENUM = re.compile(r"Possible values: \[([^\]]*)\]")
_PREFIX = "@cdktf/provider-google."

# A compact schema: {"resource": {type: key}, "data": {type: key}, "types": {key: spec}} where
# spec = {"attrs": {arg: required}, "blocks": {block: [key, required]},
#         "types": {attr: "string" | "number" | "bool" | "any" | "list(..)" | "map(..)"},
#         "computed": {read-only attr: nested key or ""}, "enums": {arg: [values]}}
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


_CDKTF_TYPES = {"cdktf.StringMap": "map(string)", "cdktf.NumberMap": "map(number)",
                "cdktf.BooleanMap": "map(bool)", "cdktf.StringMapList": "list(map(string))",
                "cdktf.NumberMapList": "list(map(number))", "cdktf.AnyMap": "map(any)",
                "cdktf.BooleanMapList": "list(map(bool))", "cdktf.AnyMapList": "list(map(any))"}
_PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool"}


def _type_name(type_ref: Mapping[str, Any]) -> str:
    """Return the Terraform type of a jsii type reference ("any" when it cannot say)."""
    if "primitive" in type_ref:
        return _PRIMITIVES.get(type_ref["primitive"], "any")
    if "collection" in type_ref:
        kind = "map" if type_ref["collection"]["kind"] == "map" else "list"
        return f"{kind}({_type_name(type_ref['collection']['elementtype'])})"
    if "union" in type_ref:
        members = [m for m in type_ref["union"]["types"] if m.get("fqn") != "cdktf.IResolvable"]
        return _type_name(members[0]) if len(members) == 1 else "any"
    return _CDKTF_TYPES.get(type_ref.get("fqn", ""), "any")


def _key(fqn: str) -> str:
    return fqn.removeprefix(_PREFIX).removesuffix("OutputReference")


def _enum(prop: Mapping[str, Any]) -> list[str] | None:
    docs = prop.get("docs", {})
    match = _ENUM.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    if not match:
        return None
    values = json.loads(f"[{match.group(1)}]")
    return values if values and all(isinstance(v, str) for v in values) else None


def _entry(out: dict[str, Any], key: str) -> dict[str, Any]:
    return out.setdefault(key, {"attrs": {}, "blocks": {}, "types": {}, "computed": {},
                                "enums": {}})


def _add_struct(fqn: str, types: Mapping[str, Any], out: dict[str, Any]) -> str:
    key = _key(fqn)
    if key in out:
        return key
    entry = _entry(out, key)
    for prop in types[fqn].get("properties", []):
        name = _tf_name(prop)
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"], types)
        if nested:
            entry["blocks"][name] = [_add_struct(nested, types, out), required]
            continue
        entry["attrs"][name] = required
        entry["types"][name] = _type_name(prop["type"])
        values = _enum(prop)
        if values:
            entry["enums"][name] = values
    return key


def _reference_class(type_ref: Mapping[str, Any], types: Mapping[str, Any]) -> str | None:
    """Return the OutputReference class behind a getter's type (through a ...List's get)."""
    fqn = type_ref.get("fqn", "")
    spec = types.get(fqn)
    if not spec:
        return None
    if fqn.endswith("OutputReference"):
        return fqn
    getter = next((m for m in spec.get("methods", []) if m["name"] == "get"), None)
    if getter and fqn.endswith("List"):
        return _reference_class(getter.get("returns", {}).get("type", {}), types)
    return None


def _add_computed(fqn: str, key: str, types: Mapping[str, Any], out: dict[str, Any],
                  seen: set[str]) -> None:
    """Add the read-only attributes of a resource class or OutputReference to ``key``."""
    if fqn in seen:
        return
    seen.add(fqn)
    entry = _entry(out, key)
    for prop in types[fqn].get("properties", []):
        # Settable properties are the arguments (read from the Config interface) or cdktf's
        # internalValue; static ones are class constants; *Input echo the arguments.
        if prop.get("static") or not prop.get("immutable") or prop["name"].endswith("Input"):
            continue
        name = _snake(prop["name"])
        plain = name.removesuffix("_attribute")
        if plain != name and (plain in entry["attrs"] or plain in entry["blocks"]):
            name = plain
        if name in entry["attrs"] or name in entry["blocks"]:
            nested = entry["blocks"].get(name, [None])[0]
            reference = _reference_class(prop["type"], types)
            if nested and reference:
                _add_computed(reference, nested, types, out, seen)
            continue
        reference = _reference_class(prop["type"], types)
        if reference:
            _add_computed(reference, _key(reference), types, out, seen)
        # cdktf camel-cases md5hash as md5Hash: the snake form cannot tell md5_hash from md5hash.
        for variant in {name, re.sub(r"(?<=[0-9])_", "", name)}:
            entry["computed"][variant] = _key(reference) if reference else ""
            if not reference:
                entry["types"][variant] = _type_name(prop["type"])


def extract_schema(assembly: Mapping[str, Any]) -> Schema:
    """Build a compact resource/data-source schema from a cdktf provider jsii assembly."""
    types = assembly["types"]
    schema: Schema = {"provider_version": PROVIDER_VERSION, "format": SCHEMA_FORMAT,
                      "resource": {}, "data": {}, "types": {}}
    seen: set[str] = set()
    for fqn, spec in types.items():
        if spec.get("kind") != "class" or f"{fqn}Config" not in types:
            continue
        link = _TYPE_LINK.search(spec.get("docs", {}).get("summary", ""))
        if not link:
            continue
        kind = "resource" if link.group(1) == "resources" else "data"
        key = _add_struct(f"{fqn}Config", types, schema["types"])
        _add_computed(fqn, key, types, schema["types"], seen)
        schema[kind][link.group(2)] = key
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
    target = cache / f"google-{PROVIDER_VERSION}-schema-v{SCHEMA_FORMAT}.json"
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
    """Load the compact schema (fetching it if needed) with the hand-written types added."""
    schema: Schema = json.loads(ensure_schema(cache).read_text())
    schema["types"].update(HANDWRITTEN_TYPES)
    schema["data"].update(HANDWRITTEN_DATA)
    schema["resource"].update(HANDWRITTEN_RESOURCES)
    return schema
