"""Render the make-target table of docs/development.md from the Makefile's ``## `` help comments.

    python -m scripts.make_docs          # exit 1 if the table is out of date
    python -m scripts.make_docs --write  # rewrite it

The Makefile stays the one source: `make help` prints the same lines.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
DOC = ROOT / "docs" / "development.md"
BEGIN = "<!-- make-targets:begin -->"
END = "<!-- make-targets:end -->"
# The pattern `make help` greps for: a target line with a `## ` comment.
_HELP_LINE = re.compile(r"^([a-z-]+):.*?## (.*)$")


def targets(makefile: str) -> list[tuple[str, str]]:
    """Return (target, help text) for each documented target, in Makefile order."""
    found = []
    for line in makefile.splitlines():
        match = _HELP_LINE.match(line)
        if match:
            found.append((match[1], match[2].strip()))
    return found


def render(makefile: str) -> str:
    """Return the Markdown table of the documented targets."""
    lines = ["| target | what it does |", "|---|---|"]
    for name, text in targets(makefile):
        lines.append(f"| `make {name}` | {text.replace('|', chr(92) + '|')} |")
    return "\n".join(lines)


def replace_table(doc: str, rendered: str) -> str:
    """Put ``rendered`` between the BEGIN/END markers of ``doc``."""
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{rendered}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in place")
    args = parser.parse_args(argv)
    current = DOC.read_text()
    wanted = replace_table(current, render(MAKEFILE.read_text()))
    if args.write:
        DOC.write_text(wanted)
        return 0
    if current != wanted:
        print(f"{DOC}: the make-target table is out of date; run "
              "python -m scripts.make_docs --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
