"""Find the references (var.x, local.y, type.name.attr[0].z, ...) in HCL values.

python-hcl2 hands expressions back as text: ``"${expr}"`` for an expression and templates
such as ``"${var.name}-events"``. This is a small lexer over that text, enough to find each
traversal's root and its attribute steps; it does not evaluate anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

KEYWORDS = frozenset({"for", "in", "if", "else", "endif", "endfor", "true", "false", "null"})
# provider::time::rfc3339_parse is one (function) name.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(::[A-Za-z_][A-Za-z0-9_-]*)*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_OPERATORS = ("...", "=>", "==", "!=", "<=", ">=", "&&", "||")


@dataclass(frozen=True)
class Ref:
    """One traversal: its root name, then attribute names and index steps ("[0]", "[*]").

    A function call is a Ref too, with ``call`` set and no steps.
    """

    root: str
    steps: tuple[str, ...]
    call: bool = False

    def text(self) -> str:
        """Render the traversal as HCL."""
        return self.root + "".join(s if is_index(s) else f".{s}" for s in self.steps)


def is_index(step: str) -> bool:
    """Say whether a traversal step is an index or splat rather than an attribute name."""
    return step.startswith("[")


@dataclass
class Token:
    kind: str  # "ident", "number", "string", "punct"
    text: str
    inner: list[str] = field(default_factory=list)  # interpolations of a string token


def template_parts(text: str) -> list[str]:
    """Return the expression texts inside ${...} and %{...} of a template string."""
    parts: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            i += 3
        elif text.startswith(("${", "%{"), i):
            end = _matching_brace(text, i + 2)
            parts.append(text[i + 2:end].strip("~ \n\t"))
            i = end + 1
        else:
            i += 1
    return parts


def _skip_string(text: str, i: int) -> int:
    """Return the index just past the string literal opening at ``text[i]``."""
    i += 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\":
            i += 2
        elif text.startswith("${", i) or text.startswith("%{", i):
            i = _matching_brace(text, i + 2) + 1
        else:
            i += 1
    return i + 1


def _matching_brace(text: str, i: int) -> int:
    """Return the index of the } closing a brace opened just before ``text[i]``."""
    depth = 1
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _skip_string(text, i)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


def tokenize(text: str) -> list[Token]:
    """Split expression text into identifiers, numbers, strings and punctuation."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == '"':
            end = _skip_string(text, i)
            tokens.append(Token("string", text[i:end], template_parts(text[i + 1:end - 1])))
            i = end
        elif match := _IDENT.match(text, i):
            tokens.append(Token("ident", match.group()))
            i = match.end()
        elif match := _NUMBER.match(text, i):
            tokens.append(Token("number", match.group()))
            i = match.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), char)
            tokens.append(Token("punct", op))
            i += len(op)
    return tokens


def _bound_names(tokens: list[Token]) -> set[str]:
    """Names a for expression binds: ``for k, v in ...``."""
    names: set[str] = set()
    for i, token in enumerate(tokens):
        if token.kind == "ident" and token.text == "for":
            j = i + 1
            while j < len(tokens) and tokens[j].text != "in":
                if tokens[j].kind == "ident":
                    names.add(tokens[j].text)
                j += 1
    return names


def _closing(tokens: list[Token], i: int) -> int:
    """Return the index of the ] matching the [ at ``tokens[i]``."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text in "([{" and tokens[j].kind == "punct":
            depth += 1
        elif tokens[j].text in ")]}" and tokens[j].kind == "punct":
            depth -= 1
            if depth == 0:
                return j
    return len(tokens)


def _is_object_key(tokens: list[Token], i: int, opener: str) -> bool:
    after = tokens[i + 1].text if i + 1 < len(tokens) else ""
    before = tokens[i - 1].text if i else ""
    return opener == "{" and after in ("=", ":") and before in ("{", ",")


def _traversal(tokens: list[Token], i: int) -> tuple[tuple[str, ...], int, list[int]]:
    """Read the steps after a root at ``tokens[i]``; return them, the end and index spans."""
    steps: list[str] = []
    spans: list[int] = []
    j = i + 1
    while j < len(tokens):
        token = tokens[j]
        if token.text == "." and j + 1 < len(tokens):
            following = tokens[j + 1]
            steps.append(following.text if following.kind == "ident" else f"[{following.text}]")
            j += 2
        elif token.text == "[" and token.kind == "punct":
            end = _closing(tokens, j)
            spans.append(j)
            steps.append("[" + "".join(t.text for t in tokens[j + 1:end]) + "]")
            j = end + 1
        else:
            break
    return tuple(steps), j, spans


def _refs_in_tokens(tokens: list[Token], bound: frozenset[str]) -> Iterator[Ref]:
    bound = bound | _bound_names(tokens)
    openers: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "string":
            yield from _template_refs(token.inner, bound)
        elif token.kind == "punct" and token.text in "([{":
            openers.append(token.text)
        elif token.kind == "punct" and token.text in ")]}" and openers:
            openers.pop()
        elif token.kind != "ident" or token.text in KEYWORDS or i and tokens[i - 1].text == ".":
            pass
        elif i + 1 < len(tokens) and tokens[i + 1].text == "(":
            yield Ref(token.text, (), call=True)
        elif not _is_object_key(tokens, i, openers[-1] if openers else ""):
            steps, end, spans = _traversal(tokens, i)
            if token.text not in bound:
                yield Ref(token.text, steps)
            for start in spans:
                yield from _refs_in_tokens(tokens[start + 1:_closing(tokens, start)], bound)
            i = end
            continue
        i += 1


def _template_refs(parts: list[str], bound: frozenset[str]) -> Iterator[Ref]:
    # %{ for x in ... } binds x for the rest of the template.
    bound = bound.union(*(_bound_names(tokenize(p)) for p in parts if p.startswith("for")))
    for part in parts:
        yield from refs_in_expression(part, bound)


def refs_in_expression(text: str, bound: frozenset[str] = frozenset()) -> Iterator[Ref]:
    """Yield the references of one expression's text; ``bound`` names are local symbols."""
    yield from _refs_in_tokens(tokenize(text), bound)


def refs_in_value(value: Any, bound: frozenset[str] = frozenset()) -> Iterator[Ref]:
    """Yield the references of a python-hcl2 value (template strings, lists, objects)."""
    if isinstance(value, str):
        yield from _template_refs(template_parts(value), bound)
    elif isinstance(value, list):
        for item in value:
            yield from refs_in_value(item, bound)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "__is_block__":
                yield from refs_in_value(key, bound)
                yield from refs_in_value(item, bound)


def is_literal(value: Any) -> bool:
    """Say whether a python-hcl2 value holds no expression at all."""
    if isinstance(value, str):
        return not template_parts(value)
    if isinstance(value, list):
        return all(is_literal(item) for item in value)
    if isinstance(value, dict):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    return True
