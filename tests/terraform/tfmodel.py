"""Load the Terraform module into plain dicts keyed by address, for structural tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.provider_schema import parse_hcl

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
FUNCTIONS = ("ingest", "worker", "reconcile")


@dataclass
class Module:
    """Every top-level block of a Terraform module, by address."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)

    def resources_of(self, type_name: str) -> dict[str, dict[str, Any]]:
        """Return the resources of one type, by name."""
        prefix = f"{type_name}."
        return {k.removeprefix(prefix): v for k, v in self.resources.items()
                if k.startswith(prefix)}


def _add(module: Module, config: dict[str, Any]) -> None:
    for entry in config.get("resource", []):
        for type_name, instances in entry.items():
            for name, body in instances.items():
                module.resources[f"{type_name}.{name}"] = body
    for entry in config.get("data", []):
        for type_name, instances in entry.items():
            for name, body in instances.items():
                module.data[f"{type_name}.{name}"] = body
    for entry in config.get("variable", []):
        module.variables.update(entry)
    for entry in config.get("output", []):
        module.outputs.update(entry)
    for entry in config.get("locals", []):
        module.locals.update(entry)


def instance(module: Module, address: str, key: str) -> dict[str, Any]:
    """Return the body of one instance of a resource whose for_each is a map in locals.

    ``each.key`` becomes ``key`` and a whole ``${each.value.X}`` becomes that instance's X, so
    tests read one function as if it had its own block.
    """
    body = module.resources[address]
    values = module.locals[body["for_each"].removeprefix("${local.").removesuffix("}")][key]

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, str):
            return value
        whole = re.fullmatch(r"\$\{each\.value\.(\w+)\}", value)
        if whole:
            return values[whole.group(1)]
        value = value.replace("${each.key}", key)
        return re.sub(r"\beach\.key\b", f'"{key}"', value)

    return {k: resolve(v) for k, v in body.items() if k != "for_each"}


def function(module: Module, name: str) -> dict[str, Any]:
    """Return one of the three functions' bodies, as if it had a block of its own."""
    return instance(module, "google_cloudfunctions2_function.function", name)


def load_module(directory: Path = TERRAFORM) -> Module:
    """Parse every .tf file of ``directory`` into one Module."""
    module = Module()
    for path in sorted(directory.glob("*.tf")):
        _add(module, parse_hcl(path.read_text()))
    return module


def load_tfvars(path: Path) -> dict[str, Any]:
    """Parse one .tfvars file."""
    return parse_hcl(path.read_text())


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the single nested block ``name`` of a body."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one '{name}' block"
    return dict(blocks[0])
