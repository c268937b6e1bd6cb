"""Render the variable and credential tables of docs/configuration.md from shared/core/settings.py.

    python -m scripts.config_docs          # exit 1 if a table is out of date
    python -m scripts.config_docs --write  # rewrite them

The settings definitions stay the one source: a new setting or credential is a row there,
and this puts it on the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.generated_docs import between, check_or_write
from shared.core.settings import configuration_rows, credential_rows

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
TABLES = {
    "settings-table": (("variable", "default", "meaning"), configuration_rows),
    "credentials-table": (("name", "used by", "what"), credential_rows),
}


def render(header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> str:
    """Return a Markdown table whose first column is the backticked name."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for name, *cells in rows:
        lines.append("| " + " | ".join([f"`{name}`", *(c.replace("|", "\\|") for c in cells)])
                     + " |")
    return "\n".join(lines)


def wanted(doc: str) -> str:
    """Return ``doc`` with every generated table up to date."""
    for marker, (header, rows) in TABLES.items():
        doc = between(doc, f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->",
                      render(header, rows()))
    return doc


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the tables."""
    return check_or_write(DOC, wanted, "scripts.config_docs", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
