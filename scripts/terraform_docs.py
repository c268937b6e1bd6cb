"""Render terraform/README.md's input and output tables from the variable and output blocks.

    python scripts/terraform_docs.py          # exit 1 if the README tables are out of date
    python scripts/terraform_docs.py --write  # rewrite them
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.generated_docs import between, check_or_write
from scripts.provider_schema import ROOT, parse_hcl

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
TERRAFORM = ROOT / "terraform"


def _expression(value: str) -> str:
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(variable: Mapping[str, Any]) -> str:
    if "default" not in variable:
        return "required"
    return f"`{json.dumps(variable['default'])}`"


def render(blocks: Mapping[str, list[Mapping[str, Any]]]) -> str:
    """Render the Inputs and Outputs tables from parsed variable/output blocks."""
    lines = ["## Inputs", "", "| Name | Description | Type | Default |", "|---|---|---|---|"]
    for entry in blocks.get("variable", []):
        for name, spec in entry.items():
            lines.append(f"| `{name}` | {_cell(spec['description'])} | "
                         f"`{_cell(_expression(spec['type']))}` | {_cell(_default(spec))} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for entry in blocks.get("output", []):
        for name, spec in entry.items():
            lines.append(f"| `{name}` | {_cell(spec['description'])} |")
    return "\n".join(lines)


def tables(directory: Path = TERRAFORM) -> str:
    """Return the tables for the module in ``directory``."""
    blocks: dict[str, list[Mapping[str, Any]]] = {"variable": [], "output": []}
    for name in ("variables.tf", "outputs.tf"):
        parsed = parse_hcl((directory / name).read_text())
        for kind in blocks:
            blocks[kind] += parsed.get(kind, [])
    return render(blocks)


def replace_tables(readme: str, rendered: str) -> str:
    """Put ``rendered`` between the BEGIN/END markers of ``readme``."""
    return between(readme, BEGIN, END, rendered)


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the README tables."""
    return check_or_write(TERRAFORM / "README.md", lambda readme: replace_tables(readme, tables()),
                          "scripts.terraform_docs", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
