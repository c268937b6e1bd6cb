"""Render the variable and credential tables of docs/configuration.md from shared/core/settings.py.

    python -m scripts.config_docs          # exit 1 if a table is out of date
    python -m scripts.config_docs --write  # rewrite them

The settings definitions stay the one source: a new setting or credential is a row there,
and this puts it on the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def replace_table(doc: str, marker: str, rendered: str) -> str:
    """Put ``rendered`` between the ``marker`` begin/end comments of ``doc``."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{rendered}\n{end}{tail}"


def wanted(doc: str) -> str:
    """Return ``doc`` with every generated table up to date."""
    for marker, (header, rows) in TABLES.items():
        doc = replace_table(doc, marker, render(header, rows()))
    return doc


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the tables in place")
    args = parser.parse_args(argv)
    current = DOC.read_text()
    if args.write:
        DOC.write_text(wanted(current))
        return 0
    if current != wanted(current):
        print(f"{DOC}: a configuration table is out of date; run "
              "python -m scripts.config_docs --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
