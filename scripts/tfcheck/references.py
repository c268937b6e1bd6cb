"""Check every reference of a module: declared names, and attributes the provider has."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scripts.tfcheck.bodies import Schema, block_bodies, is_block, items, labeled, suggest
from scripts.tfcheck.expressions import Ref, is_index, refs_in_value
from scripts.tfcheck.handwritten import TERRAFORM_FUNCTIONS
from scripts.tfcheck.vartypes import VarType, attribute_problem, parse_type

# Arguments whose value is not an expression to resolve: bare keywords, attribute names or
# provider configurations (google.beta).
_NOT_EXPRESSIONS = frozenset({"ignore_changes", "when", "on_failure", "provider", "providers"})
_BUILTIN_ROOTS = {"path": ("module", "root", "cwd"), "terraform": ("workspace",),
                  "each": ("key", "value"), "count": ("index",)}


@dataclass
class Declarations:
    """The names a module declares, across all its files."""

    variables: dict[str, VarType] = field(default_factory=dict)  # name -> type constraint
    locals: set[str] = field(default_factory=set)
    local_values: dict[str, Any] = field(default_factory=dict)
    modules: set[str] = field(default_factory=set)
    # "resource"/"data" -> type -> names
    blocks: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: {"resource": {}, "data": {}})
    # Addresses with count or for_each: their attributes need an instance key first.
    repeated: set[str] = field(default_factory=set)

    def add(self, config: Mapping[str, Any]) -> None:
        """Record the declarations of one parsed file."""
        for kind in ("resource", "data"):
            prefix = "data." if kind == "data" else ""
            for entry in config.get(kind, []):
                for type_name, instances in items(entry):
                    names = self.blocks[kind].setdefault(type_name, set())
                    for name, body in items(instances):
                        names.add(name)
                        if "count" in body or "for_each" in body:
                            self.repeated.add(f"{prefix}{type_name}.{name}")
        for entry in config.get("variable", []):
            self.variables.update((name, parse_type(body.get("type"))) for name, body in
                                  items(entry))
        for entry in config.get("module", []):
            self.modules.update(name for name, _ in items(entry))
        for entry in config.get("locals", []):
            self.locals.update(name for name, _ in items(entry))
            self.local_values.update(items(entry))

    def each_value_attributes(self, for_each: Any) -> frozenset[str] | None:
        """Return the attributes every element has when for_each is a local map of objects."""
        if not isinstance(for_each, str) or not for_each.startswith("${local."):
            return None
        value = self.local_values.get(for_each.removeprefix("${local.").removesuffix("}"))
        if not isinstance(value, Mapping) or not value or \
                not all(isinstance(element, Mapping) for element in value.values()):
            return None
        return frozenset.intersection(*(frozenset(e) for e in value.values()))

    def addresses(self, kind: str) -> list[str]:
        """Return every declared address of one kind ("resource" or "data")."""
        return [f"{t}.{n}" for t, names in self.blocks[kind].items() for n in names]


@dataclass(frozen=True)
class Scope:
    """What a reference may use where it stands."""

    each: bool = False
    count: bool = False
    self_ok: bool = False
    # The attributes of each.value, when for_each is a local map of objects.
    each_value: frozenset[str] | None = None


def _attribute_problem(steps: tuple[str, ...], type_key: str,
                       schema: Schema) -> tuple[int, str] | None:
    """Walk attribute steps through the schema; return the bad step's position and why."""
    spec = schema["types"][type_key]
    for position, step in enumerate(steps):
        if is_index(step):
            continue
        nested = spec["blocks"].get(step, [None])[0] or spec["computed"].get(step)
        if nested:
            following = steps[position + 1] if position + 1 < len(steps) else "["
            if not is_index(following):
                return position, f"'{step}' is a list of blocks: index it, {step}[0].{following}"
            spec = schema["types"][nested]
            continue
        if step in spec["attrs"] or step in spec["computed"] or step == "id":
            return None
        known = [*spec["attrs"], *spec["blocks"], *spec["computed"]]
        return position, f"no attribute '{step}'{suggest(step, known)}"
    return None


class ReferenceChecker:
    """Check references against a module's declarations and the provider schema."""

    def __init__(self, declarations: Declarations, schema: Schema) -> None:
        self.declared = declarations
        self.schema = schema

    def _block_ref(self, kind: str, ref: Ref, steps: tuple[str, ...]) -> str | None:
        prefix, what = ("data.", "data source") if kind == "data" else ("", kind)
        type_name = ref.root if kind == "resource" else steps[0]
        rest = steps if kind == "resource" else steps[1:]
        if not rest or is_index(rest[0]):
            return f"invalid reference '{ref.text()}': name the {what} after its type"
        name = rest[0]
        address = f"{prefix}{type_name}.{name}"
        if name not in self.declared.blocks[kind].get(type_name, set()):
            known = [prefix + a for a in self.declared.addresses(kind)]
            return f"reference to undeclared {what} '{address}'{suggest(address, known)}"
        if address in self.declared.repeated and len(rest) > 1 and not is_index(rest[1]):
            return (f"{address} has count or for_each: pick an instance, "
                    f"{address}[...].{rest[1]}")
        type_key = self.schema[kind].get(type_name)
        problem = _attribute_problem(rest[1:], type_key, self.schema) if type_key else None
        if problem is None:
            return None
        position, message = problem
        # The reference up to the bad step: the steps before the name, the name, the rest.
        shown = Ref(ref.root, steps[:len(steps) - len(rest) + 2 + position])
        return f"{shown.text()}: {message}"

    def _declared(self, ref: Ref, names: Collection[str], what: str) -> str | None:
        first = ref.steps[0] if ref.steps else ""
        if first in names:
            return None
        known = [f"{ref.root}.{name}" for name in names]
        return (f"reference to undeclared {what} '{ref.root}.{first}'"
                f"{suggest(f'{ref.root}.{first}', known)}")

    def _variable_attribute(self, ref: Ref) -> str | None:
        problem = attribute_problem(ref.steps[1:], self.declared.variables[ref.steps[0]])
        if problem is None:
            return None
        missing, known = problem
        return (f"'{ref.text()}': the type of var.{ref.steps[0]} has no attribute "
                f"'{missing}'{suggest(missing, known)}")

    def _builtin(self, ref: Ref, scope: Scope) -> str | None:
        needs = {"each": ("for_each", scope.each), "count": ("count", scope.count)}
        if ref.root in needs and not needs[ref.root][1]:
            return (f"'{ref.text()}' used where there is no {ref.root} "
                    f"(only in a block with {needs[ref.root][0]})")
        first, valid = (ref.steps or ("",))[0], _BUILTIN_ROOTS[ref.root]
        if first == "value" and ref.root == "each":
            return self._each_value(ref, scope)
        if first in valid:
            return None
        return f"'{ref.text()}': {ref.root} has no attribute '{first}'{suggest(first, valid)}"

    @staticmethod
    def _each_value(ref: Ref, scope: Scope) -> str | None:
        attribute = ref.steps[1] if len(ref.steps) > 1 else None
        if scope.each_value is None or attribute is None or is_index(attribute) or \
                attribute in scope.each_value:
            return None
        return (f"'{ref.text()}': the elements of for_each have no attribute "
                f"'{attribute}'{suggest(attribute, sorted(scope.each_value))}")

    def problem(self, ref: Ref, scope: Scope) -> str | None:
        """Say what is wrong with one reference or function call, or None."""
        if ref.call:
            known = ref.root in TERRAFORM_FUNCTIONS or ref.root.startswith("provider::")
            return None if known else (f"unknown function '{ref.root}'"
                                       f"{suggest(ref.root, TERRAFORM_FUNCTIONS)}")
        if ref.root == "var":
            return self._declared(ref, self.declared.variables, "variable") or \
                self._variable_attribute(ref)
        if ref.root == "local":
            return self._declared(ref, self.declared.locals, "local value")
        if ref.root == "module":
            return self._declared(ref, self.declared.modules, "module")
        if ref.root in _BUILTIN_ROOTS:
            return self._builtin(ref, scope)
        if ref.root == "self":
            return None if scope.self_ok else "'self' is only valid in provisioners and " \
                "postconditions"
        if not ref.steps:
            return f"unknown name '{ref.root}'"
        if ref.root == "data":
            return self._block_ref("data", ref, ref.steps)
        return self._block_ref("resource", ref, ref.steps)

    def check_value(self, value: Any, scope: Scope, where: str,
                    bound: frozenset[str] = frozenset()) -> list[str]:
        """Check the references in one argument value."""
        return [f"{where}: {problem}" for ref in refs_in_value(value, bound)
                if (problem := self.problem(ref, scope))]

    def check_body(self, body: Mapping[str, Any], scope: Scope, where: str,
                   bound: frozenset[str] = frozenset()) -> list[str]:
        """Check every reference in a block body, nested blocks included."""
        problems: list[str] = []
        for key, value in items(body):
            if key in _NOT_EXPRESSIONS:
                continue
            if key == "dynamic":
                problems += self._check_dynamic(value, scope, where, bound)
            elif key in ("provisioner", "connection", "postcondition"):
                inner = replace(scope, self_ok=True)
                bodies = [b for _, b in labeled(value)] or block_bodies(value)
                for block in bodies:
                    problems += self.check_body(block, inner, where, bound)
            elif is_block(value):
                for block in block_bodies(value):
                    problems += self.check_body(block, scope, where, bound)
            else:
                problems += self.check_value(value, scope, where, bound)
        return problems

    def _check_dynamic(self, value: Any, scope: Scope, where: str,
                       bound: frozenset[str]) -> list[str]:
        problems: list[str] = []
        for label, body in labeled(value):
            problems += self.check_value(body.get("for_each"), scope, where, bound)
            iterator = str(body.get("iterator", label)).removeprefix("${").removesuffix("}")
            for content in block_bodies(body.get("content")):
                problems += self.check_body(content, scope, where, bound | {iterator})
        return problems


def module_references(config: Mapping[str, Any], checker: ReferenceChecker,
                      source: str) -> Iterator[str]:
    """Yield the reference problems of one parsed file."""
    for kind in ("resource", "data"):
        prefix = "data." if kind == "data" else ""
        for entry in config.get(kind, []):
            for type_name, instances in items(entry):
                for name, body in items(instances):
                    scope = Scope(each="for_each" in body, count="count" in body,
                                  each_value=checker.declared.each_value_attributes(
                                      body.get("for_each")))
                    where = f"{source}: {prefix}{type_name}.{name}"
                    yield from checker.check_body(body, scope, where)
    for kind in ("output", "module", "provider"):
        for entry in config.get(kind, []):
            for name, body in items(entry):
                yield from checker.check_body(body, Scope(), f"{source}: {kind}.{name}")
    for entry in config.get("locals", []):
        for name, value in items(entry):
            yield from checker.check_value(value, Scope(), f"{source}: local.{name}")
    for entry in config.get("variable", []):
        for name, body in items(entry):
            for validation in block_bodies(body.get("validation")):
                yield from checker.check_body(validation, Scope(), f"{source}: var.{name}")
