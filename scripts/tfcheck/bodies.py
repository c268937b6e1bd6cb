"""Check one block body against its schema: names, block vs argument, literal types, enums."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from scripts.tfcheck.expressions import is_literal
from scripts.tfcheck.handwritten import EXCLUSIVE

Schema = dict[str, Any]

# Arguments and blocks Terraform itself accepts on every resource/data block.
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider"})
DYNAMIC_KEYS = frozenset({"for_each", "iterator", "labels", "content"})
BLOCK_MARK = "__is_block__"  # python-hcl2's explicit_blocks marker
# The strings Terraform converts to a number.
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def suggest(name: str, known: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest known name, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def is_block(value: Any) -> bool:
    """Say whether a parsed value was written as block(s) rather than as an argument."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(item, Mapping) and item.get(BLOCK_MARK) for item in value))


def block_bodies(value: Any) -> list[Mapping[str, Any]]:
    """Return the bodies of a block value (one per repetition)."""
    return [item for item in value if isinstance(item, Mapping)] if is_block(value) else []


def labeled(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """Return (label, body) of each labelled block (dynamic "x" {}, provisioner "y" {})."""
    if not isinstance(value, list):
        return []
    return [(label, body) for entry in value if isinstance(entry, Mapping)
            for label, body in entry.items()
            if isinstance(body, Mapping) and body.get(BLOCK_MARK)]


def items(body: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """Return a body's arguments and blocks, without the parser's marker."""
    return ((key, value) for key, value in body.items() if key != BLOCK_MARK)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the bool {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f'the string "{value}"'
    return "a list" if isinstance(value, list) else "an object"


def _number(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip()) is not None


def type_error(value: Any, kind: str) -> str | None:
    """Say why a literal cannot convert to the Terraform type ``kind`` (None if it can)."""
    if value is None or kind == "any" or isinstance(value, str) and not is_literal(value):
        return None
    if kind.startswith(("list(", "map(")):
        wanted = list if kind.startswith("list(") else dict
        if not isinstance(value, wanted):
            return f"must be a {kind}, got {_describe(value)}"
        inner = kind[kind.index("(") + 1:-1]
        elements = value if isinstance(value, list) else list(value.values())
        errors = (type_error(element, inner) for element in elements)
        return next((f"element {error}" for error in errors if error), None)
    if isinstance(value, list | dict):
        return f"must be a {kind}, got {_describe(value)}"
    if kind == "number" and (isinstance(value, bool) or isinstance(value, str)
                             and not _number(value)):
        return f"must be a number, got {_describe(value)}"
    if kind == "bool" and not (isinstance(value, bool) or value in ("true", "false")):
        return f"must be a bool (true or false), got {_describe(value)}"
    return None


def _check_argument(name: str, value: Any, spec: Mapping[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if is_block(value):
        return [f"{where}: '{name}' is an argument, not a block: write {name} = ..."]
    error = type_error(value, spec["types"].get(name, "any"))
    if error:
        problems.append(f"{where}: '{name}' {error}")
    values = spec["enums"].get(name)
    if values and isinstance(value, str) and is_literal(value) and value not in ["", *values]:
        listed = ", ".join(values) if len(values) <= 8 else f"{len(values)} values"
        problems.append(f"{where}: '{name}' = \"{value}\" is not one of the provider's values "
                        f"({listed}){suggest(value, values)}")
    return problems


def _check_dynamic(value: Any, spec: Mapping[str, Any], schema: Schema, where: str,
                   path: str) -> list[str]:
    problems: list[str] = []
    for label, body in labeled(value):
        if label not in spec["blocks"]:
            problems.append(f"{where}: unknown dynamic block '{label}'"
                            f"{suggest(label, spec['blocks'])}")
            continue
        for key, _ in items(body):
            if key not in DYNAMIC_KEYS:
                problems.append(f"{where}.dynamic.{label}: unknown key '{key}'")
        for content in block_bodies(body.get("content")):
            problems += check_body(content, spec["blocks"][label][0], schema,
                                   f"{where}.{label}", path=f"{path}.{label}")
    return problems


def _dynamic_labels(body: Mapping[str, Any]) -> set[str]:
    return {label for label, _ in labeled(body.get("dynamic"))}


def _may_be_null(value: Any) -> bool:
    return value is None or isinstance(value, str) and ("?" in value or "null" in value)


def check_exclusive(body: Mapping[str, Any], path: str, where: str) -> list[str]:
    """Check the hand-written one-of rules (EXCLUSIVE) that apply at ``path``."""
    problems: list[str] = []
    dynamic = _dynamic_labels(body)
    for rule, names, doc in EXCLUSIVE.get(path, []):
        surely = [n for n in names if n in body and (is_block(body[n])
                                                     or not _may_be_null(body[n]))]
        if len(surely) > 1:
            problems.append(f"{where}: {' and '.join(surely)} cannot both be set: "
                            f"{rule} one of {', '.join(names)} (see {doc})")
        elif rule == "exactly" and not any(n in body or n in dynamic for n in names):
            problems.append(f"{where}: one of {', '.join(names)} is required (see {doc})")
    return problems


def _check_meta_block(key: str, value: Any, schema: Schema, where: str) -> list[str]:
    """Check lifecycle, provisioner and connection blocks against Terraform's own schema."""
    problems: list[str] = []
    if key == "provisioner":
        for kind, body in labeled(value):
            if f"provisioner.{kind}" not in schema["types"]:
                known = [k.split(".", 1)[1] for k in schema["types"]
                         if k.startswith("provisioner.")]
                problems.append(f"{where}: unknown provisioner '{kind}'{suggest(kind, known)}")
            else:
                problems += check_body(body, f"provisioner.{kind}", schema,
                                       f"{where}.provisioner.{kind}", path=f"provisioner.{kind}")
        return problems
    if not is_block(value):
        return [f"{where}: '{key}' is a block, not an argument: write {key} {{ ... }}"]
    for body in block_bodies(value):
        problems += check_body(body, key, schema, f"{where}.{key}", path=key)
    return problems


def check_body(body: Mapping[str, Any], type_key: str, schema: Schema, where: str,
               *, top: bool = False, path: str = "") -> list[str]:
    """List every problem of one block body; ``path`` is "type.block.block" for EXCLUSIVE."""
    spec = schema["types"][type_key]
    problems: list[str] = []
    for key, value in items(body):
        if key == "dynamic":
            problems += _check_dynamic(value, spec, schema, where, path)
        elif top and key in META_ARGUMENTS:
            continue
        elif top and key in ("lifecycle", "provisioner", "connection"):
            problems += _check_meta_block(key, value, schema, where)
        elif key in spec["attrs"]:
            problems += _check_argument(key, value, spec, where)
        elif key in spec["blocks"]:
            if not is_block(value):
                problems.append(f"{where}: '{key}' is a block, not an argument: "
                                f"write {key} {{ ... }}")
            for nested in block_bodies(value):
                problems += check_body(nested, spec["blocks"][key][0], schema, f"{where}.{key}",
                                       path=f"{path}.{key}")
        elif key in spec["computed"]:
            problems.append(f"{where}: '{key}' is read-only (computed by the provider) "
                            "and cannot be set")
        else:
            known = [*spec["attrs"], *spec["blocks"]]
            problems.append(f"{where}: unknown argument '{key}'{suggest(key, known)}")
    for name, required in spec["attrs"].items():
        if required and name not in body:
            problems.append(f"{where}: missing required argument '{name}'")
    dynamic = _dynamic_labels(body)
    for name, (_, required) in spec["blocks"].items():
        if required and name not in body and name not in dynamic:
            problems.append(f"{where}: missing required block '{name}'")
    return problems + check_exclusive(body, path, where)
