"""Render the make-target table of docs/development.md from the Makefile's ``## `` help comments.

    python -m scripts.make_docs          # exit 1 if the table is out of date
    python -m scripts.make_docs --write  # rewrite it

The Makefile stays the one source: `make help` prints the same lines.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from scripts.generated_docs import between, check_or_write

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
    return between(doc, BEGIN, END, rendered)


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the table."""
    return check_or_write(DOC, lambda doc: replace_table(doc, render(MAKEFILE.read_text())),
                          "scripts.make_docs", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
