"""Parse a module's .tf files and run every check over them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.tfcheck.bodies import Schema, check_body, items, suggest
from scripts.tfcheck.references import Declarations, ReferenceChecker, module_references


def parse_hcl(text: str, *, explicit_blocks: bool = False) -> dict[str, Any]:
    """Parse HCL text into plain dicts: blocks as lists of dicts, strings unquoted.

    With ``explicit_blocks`` each block body carries ``__is_block__``, which is what tells
    ``labels { }`` from ``labels = {}``.
    """
    import hcl2  # python-hcl2 lives in .venv; checkov's fork must not shadow it

    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True,
                                        explicit_blocks=explicit_blocks)
    return dict(hcl2.loads(text, serialization_options=options))


@functools.lru_cache(maxsize=64)
def parse_explicit(text: str) -> dict[str, Any]:
    """Parse HCL keeping blocks apart from arguments; cached, so treat it as read-only."""
    return parse_hcl(text, explicit_blocks=True)


def check_config(config: Mapping[str, Any], schema: Schema, source: str) -> list[str]:
    """Check every resource and data block of one file parsed by ``parse_explicit``."""
    problems: list[str] = []
    for kind in ("resource", "data"):
        prefix = "data." if kind == "data" else ""
        for entry in config.get(kind, []):
            for type_name, instances in items(entry):
                for label, body in items(instances):
                    where = f"{source}: {prefix}{type_name}.{label}"
                    if type_name not in schema[kind]:
                        problems.append(f"{where}: unknown {kind} type"
                                        f"{suggest(type_name, schema[kind])}")
                        continue
                    problems += check_body(body, schema[kind][type_name], schema, where,
                                           top=True, path=type_name)
    return problems


def check_directory(directory: Path, schema: Schema) -> list[str]:
    """Run every check on the .tf files directly in ``directory`` (one module)."""
    configs = {str(path): parse_explicit(path.read_text())
               for path in sorted(directory.glob("*.tf"))}
    declarations = Declarations()
    for config in configs.values():
        declarations.add(config)
    checker = ReferenceChecker(declarations, schema)
    problems: list[str] = []
    for source, config in configs.items():
        problems += check_config(config, schema, source)
        problems += list(dict.fromkeys(module_references(config, checker, source)))
    return problems
