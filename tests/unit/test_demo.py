"""`make demo` reads what the worker did from its log lines and prints it as a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from scripts.demo import Row, outcome, table, worker_events

KEY = "sentry:issue:4567890123"


def decision(message_id: str, step: str, why: str) -> dict[str, Any]:
    return {"event": "decision", "message_id": message_id, "step": step, "alert_key": KEY,
            "message": f"alert {KEY}: {step} ({why})"}


CREATED = {"event": "task_created", "alert_key": KEY, "task_gid": "1201", "team": "Payments"}
RETRY = {"event": "retry", "message_id": "m-1", "alert_key": KEY}


@pytest.mark.parametrize("entries, found", [
    ([], None),
    ([decision("m-1", "create", "first time")], None),
    ([decision("m-1", "create", "first time"), CREATED], "task_created"),
    ([decision("m-1", "count", "fired again")], "count"),
    ([decision("m-1", "create", "x"), RETRY], None),
    ([decision("m-1", "create", "x"), RETRY, decision("m-1", "create", "y"), CREATED],
     "task_created"),
    ([decision("m-2", "create", "x"), CREATED], None),
    ([decision("m-1", "create", "x"),
      {"event": "dead_lettered", "message_id": "m-1", "reason": "asana_http_400"}],
     "dead_lettered"),
], ids=["nothing-yet", "decided-not-done", "created", "counted-needs-no-effect",
        "retried-waits-for-redelivery", "redelivery-done", "another-message", "dead-lettered"])
def test_outcome(entries: Sequence[dict[str, Any]], found: str | None) -> None:
    result = outcome(entries, "m-1")
    if found is None:
        assert result is None
    else:
        assert result is not None
        assert (result["effect"].get("event") or result["decision"]["step"]) == found


def test_worker_events_skips_what_is_not_a_json_log_line() -> None:
    lines = ['[2026-12-01 10:00:00 +0000] [1] [INFO] Starting gunicorn', '{"event": "decision"}',
             '{"truncated']
    assert worker_events(lines) == [{"event": "decision"}]


def test_table_aligns_columns() -> None:
    rows = [Row("open", "sentry", "[High] KeyError", "Investigations", "Inv sandbox", "create"),
            Row("recur", "sentry", "[High] KeyError", "Investigations", "Inv sandbox", "count")]
    lines = table(rows).splitlines()
    assert lines[0].split() == ["step", "sample", "task", "team", "board", "what", "the",
                                "worker", "did"]
    assert len({line.index("Investigations") for line in lines[1:]}) == 1
