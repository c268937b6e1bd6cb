"""The sync direction's decisions: one case per row of shared/sources/asana/health.py's table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.sources.asana import health as asana_health
from shared.sources.asana.health import Drift, Health, Listed
from shared.sources.asana.webhooks import Hook, token_hash

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
P = "1209"
TOKEN = "tok"
HOURS = timedelta(hours=1)


def hook(**fields: Any) -> Hook:
    return Hook(P, **{"secret": "s", "token_hash": token_hash(TOKEN), "webhook_gid": "1",
                      **fields})


def listed(token: str | None = TOKEN, **fields: Any) -> Listed:
    return Listed("1", token, **{"active": True, "created_at": NOW - 48 * HOURS,
                                 "last_success_at": NOW - HOURS, **fields})


@pytest.mark.parametrize(("stored", "webhooks", "expected"), [
    pytest.param(Hook(P, pending_until=NOW + timedelta(seconds=30)), [], Health.PENDING,
                 id="registration-in-flight"),
    pytest.param(None, [], Health.UNREGISTERED, id="never-registered"),
    pytest.param(Hook(P, compared_at=NOW), [], Health.UNREGISTERED,
                 id="only-compared-never-registered"),
    pytest.param(Hook(P, secret="s", webhook_gid="1"), [listed(None)], Health.OUTDATED,
                 id="registered-without-token"),
    pytest.param(Hook(P, token_hash=token_hash(TOKEN), pending_until=NOW - HOURS), [],
                 Health.UNCONFIRMED, id="handshake-never-came"),
    pytest.param(hook(), [], Health.DELETED, id="deleted-by-asana"),
    pytest.param(hook(), [listed("another")], Health.DELETED, id="only-a-stale-one-left"),
    pytest.param(hook(), [listed(active=False)], Health.INACTIVE, id="marked-inactive"),
    pytest.param(hook(), [listed(last_success_at=NOW - 9 * HOURS - timedelta(minutes=1))],
                 Health.SILENT, id="silent-past-heartbeat-and-margin"),
    pytest.param(hook(), [listed(last_success_at=None)], Health.SILENT,
                 id="never-succeeded-created-long-ago"),
    pytest.param(hook(), [listed(last_success_at=NOW - 9 * HOURS)], Health.OK,
                 id="heartbeat-late-within-margin"),
    pytest.param(hook(last_delivery_at=NOW - HOURS), [listed(last_success_at=None)], Health.OK,
                 id="our-record-says-alive"),
    pytest.param(hook(), [listed(last_success_at=None, created_at=NOW - HOURS)], Health.OK,
                 id="new-no-heartbeat-yet"),
    pytest.param(hook(), [listed("another"), listed()], Health.OK, id="healthy"),
])
def test_health(stored: Hook | None, webhooks: list[Listed], expected: Health) -> None:
    assert asana_health.health(P, stored, webhooks, NOW).health is expected


def test_what_each_health_does() -> None:
    renew = {Health.UNREGISTERED, Health.OUTDATED, Health.UNCONFIRMED, Health.DELETED,
             Health.INACTIVE}
    unhealthy = {Health.UNCONFIRMED, Health.DELETED, Health.INACTIVE, Health.SILENT}
    assert (set(asana_health.RENEW), set(asana_health.UNHEALTHY)) == (renew, unhealthy)


def test_listed_reads_asanas_webhook_record() -> None:
    record = {"gid": "9", "active": False, "created_at": "2026-11-24T10:00:00.000Z",
              "last_success_at": None, "last_failure_at": "2026-11-25T11:00:00Z",
              "last_failure_content": "500 Server Error"}
    assert Listed.of("9", "t", record) == Listed(
        "9", "t", False, datetime(2026, 11, 24, 10, tzinfo=UTC), None,
        datetime(2026, 11, 25, 11, tzinfo=UTC), "500 Server Error")


def task(gid: str = "7", completed: bool = True, modified: datetime = NOW - HOURS
         ) -> dict[str, Any]:
    return {"gid": gid, "completed": completed, "modified_at": modified.isoformat()}


def record(state: str = "open", team: str = "Payments", **fields: Any) -> dict[str, Any]:
    return {"key": "sentry:issue:4711", "state": state, "team": team, "task_gid": "7",
            "expires_at": NOW + 24 * HOURS, **fields}


@pytest.mark.parametrize(("tasks", "records", "expected"), [
    pytest.param([task()], {"7": record()}, ["task_completed"],
                 id="completed-while-the-webhook-was-gone"),
    pytest.param([task(completed=False)], {"7": record("resolved")}, ["task_reopened"],
                 id="reopened-while-the-webhook-was-gone"),
    pytest.param([task(completed=False)], {"7": record()}, [], id="agree-open"),
    pytest.param([task()], {"7": record("resolved")}, [], id="agree-resolved"),
    pytest.param([task()], {"7": record("creating")}, [], id="task-being-created"),
    pytest.param([task()], {"7": record(team="Growth")}, [], id="team-not-opted-in-now"),
    pytest.param([task()], {}, [], id="no-alert-owns-the-task"),
    pytest.param([task()], {"7": record(expires_at=NOW)}, [], id="record-expired"),
    pytest.param([task(modified=NOW - timedelta(minutes=4))], {"7": record()}, [],
                 id="changed-within-grace-left-to-its-webhook"),
    pytest.param([task(), task()], {"7": record()}, ["task_completed"], id="listed-twice"),
])
def test_drifted(tasks: list[dict[str, Any]], records: dict[str, dict[str, Any]],
                 expected: list[str]) -> None:
    found = asana_health.drifted(P, tasks, records, {"Payments"}, NOW)
    assert [d.reason for d in found] == expected
    if found:
        assert found[0] == Drift("7", P, "sentry:issue:4711", records["7"]["state"],
                                 tasks[0]["completed"])


def test_comparison_window() -> None:
    # A first comparison lists every task; later ones go back a slack before the last end.
    assert asana_health.modified_since(None) is None
    assert asana_health.modified_since(NOW) == NOW - timedelta(minutes=5)
    assert asana_health.compared_until(NOW) == NOW - timedelta(minutes=5)
