"""State drift: which records disagree with their source, and what is published to fix them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.alert import Action
from shared.core.errors import Permanent, Transient
from shared.sources import parse_alert
from shared.sources.datadog.reconcile import check_datadog, datadog_recovered, superseded
from shared.sources.drift import Publication, settled, visit
from shared.sources.sentry.reconcile import Observed, check_sentry, sentry_drift

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)
LONG_AGO = NOW - timedelta(hours=3)
JUST_NOW = NOW - timedelta(minutes=1)
SENTRY_SAW = NOW - timedelta(seconds=2)  # the read's Date header, on Sentry's clock
APP = "https://app.datadoghq.com"


def record(key: str, state: str = "open", *, updated: datetime = LONG_AGO,
           lease: datetime | None = None, expires: datetime = NOW + timedelta(days=9),
           **extra: Any) -> dict[str, Any]:
    task = {} if state == "creating" else {"task_gid": "1201"}  # as the worker writes them
    return {"key": key, "state": state, "updated_at": updated, "lease_expires_at": lease,
            "expires_at": expires, **task, **extra}


def issue(issue_id: str, status: str) -> dict[str, Any]:
    return {"id": issue_id, "status": status, "title": "KeyError: 'owner'",
            "lastSeen": LONG_AGO.isoformat(), "project": {"id": "42", "slug": "api"}}


def monitor(monitor_id: int = 9001, state: str = "OK",
            changed: datetime = NOW - timedelta(minutes=20)) -> dict[str, Any]:
    return {"id": monitor_id, "name": "Disk almost full", "overall_state": state,
            "overall_state_modified": changed.isoformat(), "message": "@webhook-alert-bridge",
            "tags": ["env:prod"], "priority": 2}


def parsed(item: Publication) -> Any:
    return parse_alert(item.body, item.attributes(NOW, "run-7"))


# --- Sentry: both ways ------------------------------------------------------------------------

@pytest.mark.parametrize("state, status, action", [
    ("open", "resolved", "resolved"),
    ("resolved", "unresolved", "unresolved"),
    ("open", "unresolved", None),
    ("resolved", "resolved", None),
    ("open", "ignored", None),
    ("resolved", "ignored", None),
], ids=["resolved-in-sentry-resolves", "unresolved-in-sentry-reopens", "both-open",
        "both-resolved", "ignored-open", "ignored-resolved"])
def test_a_task_follows_its_issue_state_in_sentry(state: str, status: str,
                                                  action: str | None) -> None:
    planned = sentry_drift([record("sentry:issue:1", state)],
                           Observed({"1": issue("1", status)}, SENTRY_SAW), NOW)
    assert [p.action for p in planned] == ([action] if action else [])


@pytest.mark.parametrize("state, status, expected", [
    ("open", "resolved", Action.RESOLVED),
    ("resolved", "unresolved", Action.REOPENED),
], ids=["resolve", "reopen"])
def test_a_correction_is_the_issue_webhook_timed_by_sentry_and_its_own_delivery(
        state: str, status: str, expected: Action) -> None:
    [item] = sentry_drift([record("sentry:issue:1", state)],
                          Observed({"1": issue("1", status)}, SENTRY_SAW), NOW)
    alert = parsed(item)
    assert (alert.key, alert.action, alert.resource) == ("sentry:issue:1", expected, "issue")
    attributes = item.attributes(NOW, "run-7")
    assert attributes["delivery_id"] == "reconcile:run-7"
    assert attributes["source_time"] == "2026-12-01T11:59:58.000+00:00"
    assert attributes["source_reason"] == "reconcile"


def test_without_a_date_header_the_correction_is_timed_by_the_run() -> None:
    [item] = sentry_drift([record("sentry:issue:1")], Observed({"1": issue("1", "resolved")},
                                                               None), NOW)
    assert item.source_time == NOW


def test_a_deleted_issue_changes_nothing() -> None:
    assert sentry_drift([record("sentry:issue:1")], Observed({}, SENTRY_SAW), NOW) == []


@pytest.mark.parametrize("candidate, expected", [
    (record("k"), True),
    (record("k", lease=NOW + timedelta(seconds=10)), False),
    (record("k", lease=NOW - timedelta(seconds=10)), True),
    (record("k", updated=JUST_NOW), False),
    (record("k", updated=NOW - GRACE - timedelta(seconds=1)), True),
    ({"key": "k", "state": "open"}, True),
], ids=["quiet", "leased", "lease-lapsed", "changed-within-grace", "changed-before-grace",
        "no-timestamps"])
def test_only_records_left_alone_for_the_grace_period_are_compared(
        candidate: dict[str, Any], expected: bool) -> None:
    assert settled(candidate, NOW, GRACE) is expected


class Reads:
    """Sentry's bulk read: fails for the batches holding ``failing``, counts every read."""

    def __init__(self, states: dict[str, str], failing: Exception | None = None,
                 failing_id: str = "") -> None:
        self.states, self.failing, self.failing_id = states, failing, failing_id
        self.reads: list[list[str]] = []

    def __call__(self, ids: Sequence[str]) -> Observed:
        self.reads.append(list(ids))
        if self.failing is not None and self.failing_id in ids:
            raise self.failing
        return Observed({i: issue(i, self.states[i]) for i in ids if i in self.states},
                        SENTRY_SAW)


def keys(planned: list[Publication]) -> list[str]:
    return [p.alert_key for p in planned]


def test_a_failed_read_skips_its_batch_is_counted_and_the_other_batches_are_done() -> None:
    records = [record(f"sentry:issue:{n}") for n in range(10, 19)]
    reads = Reads({str(n): "resolved" for n in range(10, 19)}, Transient("sentry: 503"), "14")
    check = check_sentry(records, reads, now=NOW, grace=GRACE, per_read=3,
                         out_of_time=lambda: False)
    assert check.read_failures == 1
    assert keys(check.planned) == [f"sentry:issue:{n}" for n in (10, 11, 12, 16, 17, 18)]
    assert [len(r) for r in reads.reads] == [3, 3, 3]


def test_a_refused_read_is_not_skipped_but_ends_the_run() -> None:
    reads = Reads({"10": "resolved"}, Permanent("sentry: 401 Invalid token"), "10")
    with pytest.raises(Permanent):
        check_sentry([record("sentry:issue:10")], reads, now=NOW, grace=GRACE, per_read=3,
                     out_of_time=lambda: False)


def test_leased_young_creating_expired_and_taskless_records_are_not_read() -> None:
    records = [record("sentry:issue:1", lease=NOW + timedelta(seconds=5)),
               record("sentry:issue:2", updated=JUST_NOW),
               record("sentry:issue:3", "creating"),
               record("sentry:issue:4", expires=LONG_AGO),
               record("sentry:issue:5"),
               # A resolve remembered before any firing: no task to bring in line.
               record("sentry:issue:6", "resolved", task_gid=None)]
    reads = Reads({str(n): "unresolved" if n == 6 else "resolved" for n in range(1, 7)})
    check = check_sentry(records, reads, now=NOW, grace=GRACE, per_read=100,
                         out_of_time=lambda: False)
    assert (check.skipped, reads.reads, keys(check.planned)) == (
        2, [["5"]], ["sentry:issue:5"])


def test_when_the_read_budget_runs_out_the_next_run_carries_on_after_the_last_read() -> None:
    records = [record(f"sentry:issue:{n}") for n in range(10, 19)]
    reads = Reads({str(n): "resolved" for n in range(10, 19)})
    check = check_sentry(records, reads, now=NOW, grace=GRACE, per_read=3,
                         out_of_time=lambda: len(reads.reads) >= 2)
    assert (len(reads.reads), check.stopped_after) == (2, "sentry:issue:15")
    assert len(check.planned) == 6


# --- the cursor --------------------------------------------------------------------------------

class Pages:
    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.calls: list[tuple[str | None, int]] = []

    def page(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        self.calls.append((after, limit))
        chosen = [k for k in self.keys if k.startswith(prefix) and (after is None or k > after)]
        return [{"key": k} for k in chosen[:limit]]


def test_the_cursor_visits_every_record_over_runs_and_wraps_around() -> None:
    ledger = Pages([f"sentry:issue:{n}" for n in range(100, 110)] + ["sentry:metric:1"])
    after: str | None = None
    runs = []
    for _ in range(4):
        records, after = visit(ledger, "sentry:issue:", after, budget=4)
        runs.append(([r["key"].rsplit(":", 1)[1] for r in records], after))
    assert runs == [(["100", "101", "102", "103"], "sentry:issue:103"),
                    (["104", "105", "106", "107"], "sentry:issue:107"),
                    (["108", "109"], None),
                    (["100", "101", "102", "103"], "sentry:issue:103")]


def test_a_visit_reads_the_ledger_in_pages() -> None:
    ledger = Pages([f"sentry:issue:{n}" for n in range(1000, 2200)])
    records, after = visit(ledger, "sentry:issue:", None, budget=1100)
    assert (len(records), after) == (1100, "sentry:issue:2099")
    assert [limit for _, limit in ledger.calls] == [500, 500, 101]


def test_a_run_that_ends_on_the_last_key_sends_the_next_one_back_to_the_first() -> None:
    ledger = Pages([f"sentry:issue:{n}" for n in range(100, 108)])
    records, after = visit(ledger, "sentry:issue:", None, budget=4)
    assert after == "sentry:issue:103"
    records, after = visit(ledger, "sentry:issue:", after, budget=4)
    assert (len(records), after) == (4, None)


# --- Datadog: alerts close when their monitor is back to OK -----------------------------------

RECONCILED = "datadog:cycle:reconcile-9001-1796210400"
REAL = "datadog:cycle:4b7e1f0a9c"


@pytest.mark.parametrize("records, monitors, expected", [
    ([record(RECONCILED, source="datadog", external_id="9001")], [monitor()], [RECONCILED]),
    ([record(REAL, source="datadog", external_id="9001")], [monitor()], [REAL]),
    ([record(REAL, external_id="9001")], [monitor(state="Alert")], []),
    ([record(REAL, external_id="9001")], [monitor(state="Warn")], []),
    ([record(REAL, external_id="9001")], [monitor(changed=JUST_NOW)], []),
    ([record(REAL, external_id="9001")], [], []),
    ([record(REAL, "resolved", external_id="9001")], [monitor()], []),
    ([record("datadog:event:77", external_id="9001")], [monitor()], []),
], ids=["reconcile-opened-alert-closes-on-ok", "lost-recovered-of-a-real-cycle-closes",
        "still-alerting", "warn-is-not-ok", "ok-within-grace", "monitor-not-listed",
        "already-resolved", "not-a-cycle"])
def test_an_open_alert_cycle_recovers_when_its_monitor_is_ok(
        records: list[dict[str, Any]], monitors: list[dict[str, Any]],
        expected: list[str]) -> None:
    by_id = {str(m["id"]): m for m in monitors}
    assert keys(datadog_recovered(records, by_id, NOW, GRACE, app_url=APP)) == expected


def test_the_recovered_webhook_closes_the_record_s_own_cycle_timed_by_the_monitor() -> None:
    ok_since = NOW - timedelta(minutes=20)
    [item] = datadog_recovered([record(RECONCILED, external_id="9001")],
                               {"9001": monitor(changed=ok_since)}, NOW, GRACE, app_url=APP)
    alert = parsed(item)
    assert (alert.key, alert.action, alert.monitor_id) == (RECONCILED, Action.RESOLVED, "9001")
    assert alert.occurred_at == ok_since
    attributes = item.attributes(NOW, "run-7")
    assert attributes["delivery_id"] == "reconcile:run-7"
    assert attributes["source_time"] == "2026-12-01T11:40:00.000+00:00"
    assert (item.reason, attributes["action"]) == ("recovered", "Recovered")


def test_datadog_records_being_changed_are_left_to_their_webhook() -> None:
    records = [record(REAL, external_id="9001", updated=JUST_NOW),
               record(RECONCILED, external_id="9001", lease=NOW + timedelta(seconds=9))]
    check = check_datadog(records, {"9001": monitor()}, now=NOW, grace=GRACE, app_url=APP)
    assert (check.planned, check.skipped) == ([], 2)


def cycle(key: str, said: datetime, group: str | None = "host:web-1", state: str = "open",
          task: str | None = "1201", monitor_id: str = "9001") -> dict[str, Any]:
    return record(f"datadog:cycle:{key}", state, external_id=monitor_id, group=group,
                  task_gid=task, clocks={"datadog": said})


@pytest.mark.parametrize(("others", "recovered"), [
    pytest.param([cycle("new", NOW - timedelta(minutes=20))], True,
                 id="a-newer-cycle-of-the-group-is-open"),
    pytest.param([cycle("new", NOW - timedelta(minutes=20), group="host:web-2")], False,
                 id="another-group-of-a-multi-alert-monitor"),
    pytest.param([cycle("new", NOW - timedelta(minutes=20), state="resolved")], False,
                 id="the-newer-cycle-is-over-too"),
    pytest.param([cycle("older", NOW - timedelta(hours=2))], False, id="only-older-cycles"),
    pytest.param([], False, id="alone"),
])
def test_an_earlier_cycle_recovered_when_a_newer_one_of_its_group_opened(
        others: list[dict[str, Any]], recovered: bool) -> None:
    earlier = cycle("old", NOW - timedelta(minutes=50))
    planned = superseded([earlier], lambda monitor: [earlier, *others],
                         {"9001": monitor(state="Alert")}, app_url=APP)
    assert [p.alert_key for p in planned] == (["datadog:cycle:old"] if recovered else [])
    if recovered:
        [correction] = planned
        assert (correction.action, correction.correction) == ("Recovered", True)
        assert correction.source_time == NOW - timedelta(minutes=20)  # the newer cycle's word
        assert parse_alert(correction.body, correction.attributes(NOW, "run")).action \
            is Action.RESOLVED
