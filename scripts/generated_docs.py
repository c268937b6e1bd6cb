"""What the table generators share: splice a table between two markers, check or rewrite a page.

Each generator (make_docs, config_docs, terraform_docs) renders its table from the one source
it documents; this keeps the page in step with it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def between(doc: str, begin: str, end: str, rendered: str) -> str:
    """Put ``rendered`` between the ``begin`` and ``end`` markers of ``doc``."""
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{rendered}\n{end}{tail}"


def check_or_write(page: Path, wanted: Callable[[str], str], module: str, description: str,
                   argv: Sequence[str] | None) -> int:
    """With --write, rewrite ``page``; else exit 1 (naming the fix) when it is out of date."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help="rewrite the page in place")
    args = parser.parse_args(argv)
    current = page.read_text()
    if args.write:
        page.write_text(wanted(current))
        return 0
    if current != wanted(current):
        print(f"{page}: a generated table is out of date; run python -m {module} --write",
              file=sys.stderr)
        return 1
    return 0
