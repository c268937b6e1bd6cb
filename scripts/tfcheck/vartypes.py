"""Read a variable's type constraint, so var.x.attr can be checked against it."""

from __future__ import annotations

from typing import Any

from scripts.tfcheck.expressions import Token, is_index, template_parts, tokenize

# A parsed type: "any" / "string" / ... or ("object", {attr: type}), ("list", elem),
# ("map", elem), ("tuple", [elem, ...]).
VarType = Any


def _parse(tokens: list[Token], i: int) -> tuple[VarType, int]:
    """Parse one type expression at ``tokens[i]``; return it and the index after it."""
    name = tokens[i].text
    if i + 1 >= len(tokens) or tokens[i + 1].text != "(":
        return name, i + 1
    if name == "object":
        attrs: dict[str, VarType] = {}
        j = i + 3  # object ( {
        while j < len(tokens) and tokens[j].text != "}":
            if tokens[j].text == ",":
                j += 1
                continue
            key = tokens[j].text.strip('"')
            attrs[key], j = _parse(tokens, j + 2)  # key =
        return ("object", attrs), _skip_close(tokens, j + 1)
    if name == "tuple":
        elements: list[VarType] = []
        j = i + 3  # tuple ( [
        while j < len(tokens) and tokens[j].text != "]":
            if tokens[j].text == ",":
                j += 1
                continue
            element, j = _parse(tokens, j)
            elements.append(element)
        return ("tuple", elements), _skip_close(tokens, j + 1)
    inner, j = _parse(tokens, i + 2)
    kind = {"list": "list", "set": "list", "map": "map"}.get(name)
    return ((kind, inner) if kind else inner), _skip_close(tokens, j)


def _skip_close(tokens: list[Token], j: int) -> int:
    """Skip an optional()'s default value up to and past the ) closing the call."""
    depth = 0
    while j < len(tokens):
        text = tokens[j].text
        if text in "([{" and tokens[j].kind == "punct":
            depth += 1
        elif text in ")]}" and tokens[j].kind == "punct":
            if depth == 0:
                return j + 1
            depth -= 1
        j += 1
    return j


def parse_type(value: Any) -> VarType:
    """Parse a variable's ``type`` as python-hcl2 returns it ("any" when absent or unreadable)."""
    if not isinstance(value, str):
        return "any"
    parts = template_parts(value)
    text = parts[0] if parts else value
    try:
        return _parse(tokenize(text), 0)[0]
    except IndexError:
        return "any"


def attribute_problem(steps: tuple[str, ...], var_type: VarType) -> tuple[str, list[str]] | None:
    """Walk var.x's steps through its type; return the attribute it lacks and those it has."""
    for step in steps:
        if not isinstance(var_type, tuple):
            return None
        kind, inner = var_type
        if kind == "object" and not is_index(step):
            if step not in inner:
                return step, list(inner)
            var_type = inner[step]
        elif kind in ("list", "tuple") and is_index(step):
            var_type = inner if kind == "list" else "any"
        elif kind == "map":
            var_type = inner
        else:
            return None
    return None
