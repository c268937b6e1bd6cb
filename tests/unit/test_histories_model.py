"""The randomized histories' pure parts: schedules from seeds, and the invariants' verdicts."""

from __future__ import annotations

import pytest

from tests.reliability.histories.invariants import (
    DISAGREEMENT,
    DUPLICATE,
    LOST,
    UNASKED_SYNC,
    DatadogEnd,
    GcmEnd,
    SentryEnd,
    TaskSeen,
    check_datadog,
    check_gcm,
    check_sentry,
)
from tests.reliability.histories.model import ENVIRONMENT, KINDS, AlertSpec, generate

SYNC = AlertSpec("sentry-sync", "h1-a1", "9000000011")
QUIET = AlertSpec("sentry-quiet", "h1-a2", "9000000012")
MONITOR = AlertSpec("datadog", "h1-a3", "8000000013")
OPEN, DONE = TaskSeen("1", False), TaskSeen("1", True)


def test_a_seed_always_gives_the_same_history_and_seeds_differ() -> None:
    assert generate(17) == generate(17)
    assert len({generate(seed).steps for seed in range(50)}) == 50


def test_every_alert_fires_before_anything_else_happens_to_it() -> None:
    for seed in range(300):
        assert_fires_first(seed)


def assert_fires_first(seed: int) -> None:
    history = generate(seed)
    seen: set[int] = set()
    for step in history.steps:
        if step.actor == "env":
            assert step.action in ENVIRONMENT
            continue
        assert step.alert is not None
        kind = history.alerts[step.alert].spec
        if step.alert not in seen:
            assert (step.actor, step.action) == (kind.source, kind.fire)
        seen.add(step.alert)
    assert seen == set(range(len(history.alerts)))


def test_the_same_seed_without_faults_keeps_the_alerts_steps() -> None:
    for seed in range(40):
        faulty, calm = generate(seed), generate(seed, faults=False)
        assert calm.alerts == faulty.alerts
        assert all(step.actor != "env" for step in calm.steps)


SENTRY_CASES = {
    "opted in, both resolved": (SYNC, [DONE], SentryEnd("resolved", ("resolved",), True), []),
    "opted in, both open": (SYNC, [OPEN], SentryEnd("unresolved", (), False), []),
    "opted in, Sentry resolved, task open": (SYNC, [OPEN], SentryEnd("resolved", (), True),
                                             [DISAGREEMENT]),
    "opted in, task completed, Sentry not told": (SYNC, [DONE], SentryEnd("unresolved", (), True),
                                                  [DISAGREEMENT]),
    "no task": (SYNC, [], SentryEnd("unresolved", (), False), [LOST]),
    "two tasks": (SYNC, [OPEN, TaskSeen("2", False)], SentryEnd("unresolved", (), False),
                  [DUPLICATE]),
    "no sync_back, a person completed the task": (QUIET, [DONE],
                                                  SentryEnd("unresolved", (), True), []),
    "no sync_back, nobody touched the task": (QUIET, [DONE], SentryEnd("unresolved", (), False),
                                              [DISAGREEMENT]),
    "no sync_back, yet Sentry resolved by the service": (
        QUIET, [DONE], SentryEnd("resolved", ("resolved",), True), [UNASKED_SYNC]),
}


@pytest.mark.parametrize("alert, tasks, end, kinds", SENTRY_CASES.values(), ids=SENTRY_CASES)
def test_sentry_verdicts(alert: AlertSpec, tasks: list[TaskSeen], end: SentryEnd,
                         kinds: list[str]) -> None:
    assert [f.kind for f in check_sentry(alert, tasks, end)] == kinds


DATADOG_CASES = {
    "recovered, task completed": ([DONE], DatadogEnd("OK", 1, 1), []),
    "alerting, task open": ([OPEN], DatadogEnd("Alert", 1, 1), []),
    "a Recovered lost: task left open": ([OPEN], DatadogEnd("OK", 1, 1), [DISAGREEMENT]),
    "two cycles, the old one's Recovered lost": ([OPEN, TaskSeen("2", False)],
                                                 DatadogEnd("Alert", 2, 2), [DISAGREEMENT]),
    "Triggered lost, then Recovered lost: one open task tells the truth": (
        [OPEN], DatadogEnd("Alert", 2, 1), []),
    "Triggered accepted, no task": ([], DatadogEnd("OK", 1, 1), [LOST]),
    "alerting, Triggered lost, reconciliation opened none": ([], DatadogEnd("Alert", 1, 0),
                                                             [LOST]),
    "Triggered and Recovered lost": ([], DatadogEnd("OK", 1, 0), []),
    "a late Triggered opened a second task": ([DONE, TaskSeen("2", False)],
                                              DatadogEnd("Alert", 1, 1), [DUPLICATE]),
}


@pytest.mark.parametrize("tasks, end, kinds", DATADOG_CASES.values(), ids=DATADOG_CASES)
def test_datadog_verdicts(tasks: list[TaskSeen], end: DatadogEnd, kinds: list[str]) -> None:
    assert [f.kind for f in check_datadog(MONITOR, tasks, end)] == kinds


POLICY = AlertSpec("gcm", "h1-a4", "7000000014")
GCM_CASES = {
    "incident open, task open": ([OPEN], GcmEnd(1, 1, 1, 1), []),
    "incident closed, task completed": ([DONE], GcmEnd(1, 0, 0, 1), []),
    "close came before the open: no task": ([], GcmEnd(1, 0, 0, 1), []),
    "open lost, close reached the service: no task": ([], GcmEnd(1, 0, 0, 0), []),
    "open reached the service, no task": ([], GcmEnd(1, 1, 1, 1), [LOST]),
    "close lost: the task stays open": ([OPEN], GcmEnd(1, 1, 1, 1), []),
    "closed incident with its task open": ([OPEN], GcmEnd(1, 0, 0, 1), [DISAGREEMENT]),
    "two incidents, one task each": ([DONE, TaskSeen("2", False)], GcmEnd(2, 1, 1, 2), []),
    "two tasks for one incident": ([DONE, TaskSeen("2", False)], GcmEnd(1, 1, 1, 1),
                                   [DUPLICATE]),
    # A close answered 503 may have been published before the answer was lost: either way.
    "close answered 5xx, applied": ([DONE], GcmEnd(1, 0, 1, 1), []),
    "close answered 5xx, not applied": ([OPEN], GcmEnd(1, 0, 1, 1), []),
}


@pytest.mark.parametrize("tasks, end, kinds", GCM_CASES.values(), ids=GCM_CASES)
def test_gcm_verdicts(tasks: list[TaskSeen], end: GcmEnd, kinds: list[str]) -> None:
    assert [f.kind for f in check_gcm(POLICY, tasks, end)] == kinds


def test_each_kind_routes_to_a_team_of_the_histories_teams_file() -> None:
    from tests.reliability.histories.stack import TEAMS

    for kind in KINDS.values():
        assert f"- name: {kind.team}\n" in TEAMS
        assert kind.project in TEAMS
