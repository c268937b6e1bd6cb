"""docs/observability.md stays true: its scrubbing examples and its table of log events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.core.observability import scrub_text

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "observability.md").read_text()
EXAMPLES = DOC.split("<!-- scrub-examples:begin -->")[1].split("<!-- scrub-examples:end -->")[0]
ROWS = re.findall(r"^\| `(.+)` \| `(.+)` \|$", EXAMPLES, re.M)


@pytest.mark.parametrize(("before", "after"), ROWS, ids=[r[0][:30] for r in ROWS])
def test_each_documented_example_is_what_the_scrubber_does(before: str, after: str) -> None:
    assert scrub_text(before) == after


def test_the_examples_table_is_not_empty() -> None:
    assert len(ROWS) >= 15


def _logged_events() -> set[str]:
    source = "\n".join(p.read_text() for p in (REPO / "shared").rglob("*.py"))
    events = set(re.findall(r'"event": "([a-z_]+)"', source))
    # worker._update logs f"task_{step.value}" for the steps that change a task.
    assert 'f"task_{step.value}"' in source
    return events | {"task_comment", "task_resolve", "task_reopen"}


def _documented_events() -> set[str]:
    table = DOC.split("| `event` |")[1]
    cells = re.findall(r"^\| ([^|]+) \|", table, re.M)
    return {name for cell in cells for name in re.findall(r"`([a-z_]+)`", cell)}


def test_the_log_table_names_exactly_the_events_the_code_logs() -> None:
    assert _documented_events() == _logged_events()
