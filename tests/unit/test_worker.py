"""The worker flow over in-memory doubles: create, recur, resolve, reopen, dead-letter."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.asana import AsanaRejected
from shared.core.alert import Alert
from shared.core.errors import ConfigError, Transient
from shared.core.ledger import LEASE_SECONDS, RECURRENCE_COMMENT_INTERVAL, State
from shared.flows.worker import Outcome, PortfolioCache, WorkerDeps, handle_request
from shared.routing.teams_file import load_teams
from tests.fakes.ledger import MemoryLedger
from tests.fakes.tracker import MemoryTracker

DATA = Path(__file__).resolve().parent.parent / "data"
REPO = DATA.parent.parent
CONFIG = load_teams(str(REPO / "teams.yaml"))
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class World:
    """The worker's dependencies, all in memory, with a clock the test moves."""

    def __init__(self, environment: str = "prod",
                 portfolios: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.now = START
        self.tracker = MemoryTracker(portfolios)
        self.ledger = MemoryLedger()
        self.dead: list[tuple[bytes, dict[str, str]]] = []
        self.dead_letter_fails = False
        self.config_error: ConfigError | None = None
        self.links: list[tuple[str, str, str, str]] = []  # (alert key, task, url, team)
        self.link_back_error: Exception | None = None
        self.deps = WorkerDeps(config=self._config, environment=environment,
                               tracker=self.tracker, ledger=self.ledger,
                               portfolios=PortfolioCache(self.tracker.portfolio_items),
                               dead_letter=self._dead_letter, now=lambda: self.now,
                               link_back=self._link_back, wait_seconds=0)
        self._ids = iter(range(1, 10_000))

    def _config(self) -> Any:
        if self.config_error:
            raise self.config_error
        return CONFIG

    def _dead_letter(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if self.dead_letter_fails:
            raise Transient("publish to dead-letter topic failed")
        self.dead.append((data, dict(attributes)))
        return str(len(self.dead))

    def _link_back(self, alert: Alert, task_gid: str, url: str, team: str) -> None:
        if self.link_back_error:
            raise self.link_back_error
        self.links.append((alert.key, task_gid, url, team))

    def push(self, fixture: str, resource: str, source: str = "sentry",
             message_id: str | None = None, body: bytes | None = None,
             **attributes: str) -> Outcome:
        data = body if body is not None else (DATA / fixture).read_bytes()
        envelope = {"subscription": "projects/p/subscriptions/s", "message": {
            "data": base64.b64encode(data).decode(), "messageId": message_id or self.next_id(),
            "publishTime": "2026-11-25T12:00:00Z",
            "attributes": {"source": source, "resource": resource,
                           "received_at": "2026-11-25T12:00:00+00:00", **attributes}}}
        return handle_request("POST", json.dumps(envelope).encode(), self.deps)

    def next_id(self) -> str:
        return f"msg-{next(self._ids)}"

    def only_task(self) -> str:
        [gid] = self.tracker.tasks
        return gid


def test_event_alert_becomes_one_task_on_the_owning_team_board() -> None:
    world = World()
    outcome = world.push("sentry_event_alert.json", "event_alert")
    assert outcome.status == 200
    task = world.tracker.tasks[world.only_task()]
    investigations = CONFIG.team("Investigations")
    assert task.projects == (investigations.backlog_project_gid,)  # no sprint found: backlog
    assert "Investigations" in task.notes


def test_high_priority_goes_to_the_current_sprint() -> None:
    sprint = {"gid": "555", "name": "Sprint 48", "resource_type": "project", "archived": False,
              "start_on": "2026-11-20", "due_on": "2026-12-03", "created_at": "2026-11-19T09:00Z"}
    portfolio = CONFIG.team("Investigations").sprint_portfolio_gid
    assert portfolio is not None
    world = World(portfolios={portfolio: [sprint]})
    world.push("sentry_event_alert.json", "event_alert")
    assert world.tracker.tasks[world.only_task()].projects == ("555",)


def test_portfolio_lookups_are_cached_across_alerts() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    world.push("", "event_alert", body=_event_alert_for_issue("777"))
    world.push("datadog_triggered.json", "datadog", source="datadog")
    assert len(world.tracker.tasks) == 3
    assert world.tracker.portfolio_reads == 2  # Investigations' and Payments' sprints, once each


def test_recurrence_comments_instead_of_a_new_task() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    world.now += RECURRENCE_COMMENT_INTERVAL / 2
    world.push("", "event_alert", body=_firing(1))  # a burst: counted, not commented
    world.now += RECURRENCE_COMMENT_INTERVAL
    world.push("", "event_alert", body=_firing(2))
    gid = world.only_task()
    assert len(world.tracker.comments[gid]) == 1
    assert "3 times" in world.tracker.comments[gid][0]


def test_redelivered_message_changes_nothing() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert", message_id="same")
    world.now += timedelta(hours=2)
    world.push("sentry_event_alert.json", "event_alert", message_id="same")
    gid = world.only_task()
    assert world.tracker.comments[gid] == []


def test_resolve_then_regression_completes_then_reopens() -> None:
    world = World()
    world.push("", "event_alert",
               body=_event_alert_for_issue(_issue_id("sentry_issue_created.json")))
    world.push("sentry_issue_created.json", "issue")  # same issue: no second task
    gid = world.only_task()
    world.push("sentry_issue_resolved.json", "issue")
    assert world.tracker.completed[gid] is True
    world.push("sentry_issue_unresolved_regressed.json", "issue")
    assert world.tracker.completed[gid] is False
    assert len(world.tracker.comments[gid]) == 2  # resolved, reopened (created was a burst)
    assert world.ledger.records["sentry:issue:" + _issue_id("sentry_issue_created.json")].state \
        is State.OPEN


def test_datadog_cycle_is_one_task_completed_on_recovery() -> None:
    world = World()
    world.push("datadog_triggered.json", "datadog", source="datadog")
    world.push("datadog_recovered.json", "datadog", source="datadog")
    gid = world.only_task()
    assert world.tracker.completed[gid] is True


def test_resolve_for_an_unknown_alert_creates_nothing() -> None:
    world = World()
    assert world.push("sentry_issue_resolved.json", "issue").status == 200
    assert world.tracker.tasks == {}


def test_unparseable_alert_is_dead_lettered_with_its_reason() -> None:
    world = World()
    outcome = world.push("", "event_alert", body=b'{"data": {"event": {}}}')
    assert outcome.status == 200
    [(data, attributes)] = world.dead
    assert data == b'{"data": {"event": {}}}'
    assert attributes["dead_letter_reason"] == "bad_payload"
    assert "issue_id" in attributes["dead_letter_error"]
    assert attributes["source"] == "sentry"  # original attributes kept for replay


def test_asana_rejection_is_dead_lettered_and_the_claim_released() -> None:
    world = World()
    world.tracker.failures.append(AsanaRejected("asana POST /tasks: 400 project: Not a "
                                                "recognized ID", status=400))
    outcome = world.push("sentry_event_alert.json", "event_alert")
    assert outcome.status == 200
    assert world.dead[0][1]["dead_letter_reason"] == "asana_http_400"
    assert "Not a recognized ID" in world.dead[0][1]["dead_letter_error"]
    assert world.ledger.records == {}  # a replay after the fix can create the task


def test_transient_failure_asks_for_redelivery_and_the_retry_succeeds() -> None:
    world = World()
    world.tracker.failures.append(Transient("asana POST /tasks: 503 after 5 attempts"))
    first = world.push("sentry_event_alert.json", "event_alert", message_id="m")
    assert first.status == 503
    assert world.dead == [] and world.tracker.tasks == {}
    second = world.push("sentry_event_alert.json", "event_alert", message_id="m")
    assert second.status == 200
    assert len(world.tracker.tasks) == 1


def test_invalid_teams_file_is_retried_not_dead_lettered() -> None:
    world = World()
    world.config_error = ConfigError("teams.yaml: team 'X': matcher 'url:/(/': bad regex")
    assert world.push("sentry_event_alert.json", "event_alert").status == 500
    assert world.dead == []


def test_failed_dead_letter_publish_asks_for_redelivery() -> None:
    world = World()
    world.dead_letter_fails = True
    assert world.push("", "event_alert", body=b"not json").status == 503


def test_deleted_task_gets_a_new_one_on_the_next_firing() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    world.tracker.delete(world.only_task())
    world.now += timedelta(hours=2)
    world.push("", "event_alert", body=_firing(1))
    assert len(world.tracker.tasks) == 1


@pytest.mark.parametrize("body", [b"", b"not json", b'{"message": {}}',
                                  b'{"message": {"messageId": "1", "data": "%%%"}}'],
                         ids=["empty", "not-json", "no-message-id", "bad-base64"])
def test_non_envelope_requests_get_400(body: bytes) -> None:
    assert handle_request("POST", body, World().deps).status == 400


def _issue_id(fixture: str) -> str:
    return str(json.loads((DATA / fixture).read_text())["data"]["issue"]["id"])


def _event_alert_for_issue(issue_id: str, event: int = 0) -> bytes:
    """Return an event_alert of the issue; each ``event`` number is a new firing."""
    payload = json.loads((DATA / "sentry_event_alert.json").read_text())
    payload["data"]["event"]["issue_id"] = issue_id
    if event:
        payload["data"]["event"]["event_id"] = f"{event:032x}"
    return json.dumps(payload).encode()


def _firing(n: int) -> bytes:
    """Return the fixture's event_alert fired for the n-th time (a new event, same issue)."""
    return _event_alert_for_issue(_issue_id_of_event_alert(), n)


def _issue_id_of_event_alert() -> str:
    return str(json.loads((DATA / "sentry_event_alert.json").read_text())
               ["data"]["event"]["issue_id"])


@pytest.mark.parametrize(("fixture", "resource"),
                         [("sentry_issue_created.json", "issue"), ("sentry_error.json", "error"),
                          ("sentry_issue_unresolved_regressed.json", "issue")],
                         ids=["issue-created", "error", "issue-regressed"])
def test_issue_and_error_webhooks_only_update_existing_tasks(fixture: str, resource: str) -> None:
    world = World()
    assert world.push(fixture, resource).status == 200
    assert world.tracker.tasks == {}


def test_create_tasks_from_can_include_issue_webhooks() -> None:
    world = World()
    config = dataclasses.replace(CONFIG, create_tasks_from=("event_alert", "issue"))
    world.deps = dataclasses.replace(world.deps, config=lambda: config)
    world.push("sentry_issue_created.json", "issue")
    assert len(world.tracker.tasks) == 1


@pytest.mark.parametrize(("fixture", "resource", "source", "key", "team"), [
    ("sentry_event_alert.json", "event_alert", "sentry", "sentry:issue:4567890123",
     "Investigations"),
    ("datadog_triggered.json", "datadog", "datadog", "datadog:cycle:7460311123456789012",
     "Payments"),
], ids=["sentry", "datadog"])
def test_new_task_is_linked_back_to_its_alert(fixture: str, resource: str, source: str,
                                              key: str, team: str) -> None:
    world = World()
    world.push(fixture, resource, source=source)
    gid = world.only_task()
    [project] = world.tracker.tasks[gid].projects
    assert world.links == [(key, gid, f"https://app.asana.com/0/{project}/{gid}", team)]


def test_updates_of_an_existing_task_link_nothing_more() -> None:
    world = World()
    issue_id = _issue_id("sentry_issue_created.json")
    world.push("", "event_alert", body=_event_alert_for_issue(issue_id))
    world.now += RECURRENCE_COMMENT_INTERVAL * 2
    world.push("", "event_alert", body=_event_alert_for_issue(issue_id, 1))  # comment
    world.push("sentry_issue_resolved.json", "issue")  # complete
    world.push("sentry_issue_unresolved_regressed.json", "issue")  # reopen
    gid = world.only_task()
    assert len(world.tracker.comments[gid]) == 3
    assert [link[1] for link in world.links] == [gid]


def test_link_back_failure_changes_nothing_for_the_task() -> None:
    world = World()
    world.link_back_error = RuntimeError("sentry unreachable")
    outcome = world.push("sentry_event_alert.json", "event_alert")
    assert (outcome.status, outcome.body["status"]) == (200, "done")
    gid = world.only_task()
    record = world.ledger.records["sentry:issue:4567890123"]
    assert record.task_gid == gid and record.state is State.OPEN
    assert world.dead == [] and world.links == []


def test_only_post_is_a_push() -> None:
    assert handle_request("GET", b"", World().deps).status == 405


class Crash(BaseException):
    """A process dying at a failpoint: no handler of the flow runs, no ledger write follows."""


def crash_at(world: World, point: str) -> None:
    def hit(name: str) -> None:
        if name == point:
            raise Crash(name)

    world.deps = dataclasses.replace(world.deps, failpoint=hit)


def recovered(world: World) -> None:
    world.deps = dataclasses.replace(world.deps, failpoint=lambda name: None)
    world.now += timedelta(seconds=LEASE_SECONDS + 1)


@pytest.mark.parametrize("point", ["after_claim", "after_asana_create", "after_ledger_open"])
def test_a_crash_while_creating_leaves_exactly_one_task(point: str) -> None:
    world = World()
    crash_at(world, point)
    with pytest.raises(Crash):
        world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    recovered(world)
    assert world.push("sentry_event_alert.json", "event_alert", message_id="m1").status == 200
    gid = world.only_task()
    assert world.ledger.records["sentry:issue:4567890123"].task_gid == gid
    resolved = _resolution_of_event_alert()
    world.push("", "issue", body=resolved)
    assert world.tracker.completed[gid] is True


@pytest.mark.parametrize("point", ["after_update_lease", "after_asana_update",
                                   "after_ledger_update"])
def test_a_crash_while_resolving_completes_once_with_one_comment(point: str) -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    gid = world.only_task()
    crash_at(world, point)
    with pytest.raises(Crash):
        world.push("", "issue", body=_resolution_of_event_alert())
    recovered(world)
    assert world.push("", "issue", body=_resolution_of_event_alert()).status == 200
    assert world.tracker.completed[gid] is True
    assert len(world.tracker.comments[gid]) == 1


def test_a_redelivery_during_a_live_claim_is_retried_not_acknowledged() -> None:
    world = World()
    crash_at(world, "after_claim")
    with pytest.raises(Crash):
        world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    world.deps = dataclasses.replace(world.deps, failpoint=lambda name: None)
    outcome = world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    assert (outcome.status, outcome.body["status"]) == (503, "retry")
    assert world.tracker.tasks == {}  # not created yet, and not forgotten either


def test_recovery_looks_in_asana_only_after_a_lapsed_claim() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    assert world.tracker.lookups == 0  # the common path costs no lookup


def test_a_replayed_resolve_after_a_regression_changes_nothing() -> None:
    world = World()
    world.push("", "event_alert", body=_event_alert_for_issue("5123456789"))
    world.push("sentry_issue_resolved.json", "issue")
    world.push("sentry_issue_unresolved_regressed.json", "issue")
    gid = world.only_task()
    comments = len(world.tracker.comments[gid])
    world.push("sentry_issue_resolved.json", "issue", message_id="replayed")
    assert world.tracker.completed[gid] is False
    assert len(world.tracker.comments[gid]) == comments


def test_an_old_resolve_delivered_after_a_regression_is_ignored() -> None:
    world = World()
    world.push("", "event_alert", body=_event_alert_for_issue("5123456789"))
    world.push("sentry_issue_resolved.json", "issue")
    world.push("sentry_issue_unresolved_regressed.json", "issue")
    old = json.loads((DATA / "sentry_issue_resolved.json").read_text())
    old["data"]["issue"]["lastSeen"] = "2026-11-20T11:00:00.000000Z"  # before the regression
    old["data"]["issue"]["title"] += " (late delivery)"
    world.push("", "issue", body=json.dumps(old).encode())
    assert world.tracker.completed[world.only_task()] is False


def test_a_record_changed_between_read_and_write_is_decided_again() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    gid = world.only_task()
    real_get = world.ledger.get
    raced = []

    def racing_get(key: str) -> Any:
        record, version = real_get(key)
        if not raced:  # another delivery resolves the task right after our read
            raced.append(True)
            world.ledger.update(dataclasses.replace(record, state=State.RESOLVED), version)
        return record, version

    world.ledger.get = racing_get  # type: ignore[method-assign]
    world.push("", "issue", body=_resolution_of_event_alert())
    assert world.ledger.records["sentry:issue:4567890123"].state is State.RESOLVED
    assert world.tracker.comments[gid] == []  # re-decided: already resolved, nothing to do


def test_firestore_down_asks_for_redelivery() -> None:
    world = World()
    world.ledger.unavailable = True
    assert world.push("sentry_event_alert.json", "event_alert").status == 503
    world.ledger.unavailable = False
    assert world.push("sentry_event_alert.json", "event_alert").status == 200
    assert len(world.tracker.tasks) == 1


def _resolution_of_event_alert() -> bytes:
    """Return the issue webhook that resolves the issue of sentry_event_alert.json."""
    payload = json.loads((DATA / "sentry_issue_resolved.json").read_text())
    payload["data"]["issue"]["id"] = _issue_id_of_event_alert()
    return json.dumps(payload).encode()


def test_a_delivery_waits_in_process_for_a_lease_to_lapse() -> None:
    world = World()
    crash_at(world, "after_claim")
    with pytest.raises(Crash):
        world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the clock moves while the delivery waits
        slept.append(seconds)
        world.now += timedelta(seconds=seconds)

    world.deps = dataclasses.replace(world.deps, failpoint=lambda name: None, sleep=sleep,
                                     wait_seconds=30)
    outcome = world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    assert outcome.status == 200 and len(world.tracker.tasks) == 1
    assert LEASE_SECONDS <= sum(slept) <= LEASE_SECONDS + 1


def test_a_wait_longer_than_the_budget_asks_for_redelivery() -> None:
    world = World()
    crash_at(world, "after_claim")
    with pytest.raises(Crash):
        world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    world.deps = dataclasses.replace(world.deps, failpoint=lambda name: None,
                                     sleep=lambda seconds: None, wait_seconds=2)
    assert world.push("sentry_event_alert.json", "event_alert", message_id="m1").status == 503


def test_an_expired_record_not_yet_purged_gets_a_new_task_not_a_retry() -> None:
    world = World()
    world.push("sentry_event_alert.json", "event_alert")
    old = world.only_task()
    key = "sentry:issue:4567890123"
    world.now = world.ledger.records[key].expires_at + timedelta(hours=1)  # TTL not run yet
    outcome = world.push("", "event_alert", body=_event_alert_for_issue("4567890123"))
    assert (outcome.status, outcome.body.get("step")) == (200, "create")
    assert world.ledger.records[key].task_gid not in (None, old)


def test_identical_bodies_are_two_webhooks_unless_their_delivery_id_is_the_same() -> None:
    world = World()
    world.push("", "event_alert", body=_event_alert_for_issue("5123456789"))
    gid = world.only_task()
    world.push("sentry_issue_resolved.json", "issue", delivery_id="req-1",
               source_time="2026-11-25T12:01:00+00:00")
    world.push("sentry_issue_unresolved_regressed.json", "issue", delivery_id="req-2",
               source_time="2026-11-25T12:02:00+00:00")
    # Pub/Sub redelivers the first resolve: the same delivery, recognised.
    world.push("sentry_issue_resolved.json", "issue", delivery_id="req-1",
               source_time="2026-11-25T12:01:00+00:00")
    assert world.tracker.completed[gid] is False
    # Someone resolves the issue again: byte for byte the same body, a new request.
    world.push("sentry_issue_resolved.json", "issue", delivery_id="req-3",
               source_time="2026-11-25T12:03:00+00:00")
    assert world.tracker.completed[gid] is True


def test_a_skipped_webhook_moves_its_source_clock_forward() -> None:
    world = World()
    world.push("", "event_alert", body=_event_alert_for_issue("5123456789"))
    world.push("sentry_issue_resolved.json", "issue", delivery_id="a",
               source_time="2026-11-25T12:01:00+00:00")
    world.push("sentry_issue_resolved.json", "issue", delivery_id="b",
               source_time="2026-11-25T12:05:00+00:00")  # already completed: a skip
    record = world.ledger.records["sentry:issue:5123456789"]
    assert record.clocks["sentry"] == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    world.push("sentry_issue_unresolved_regressed.json", "issue", delivery_id="c",
               source_time="2026-11-25T12:03:00+00:00")  # said before the last word
    assert world.tracker.completed[world.only_task()] is True


@pytest.mark.parametrize("resolve_first", [False, True], ids=["firing-first", "resolve-first"])
def test_a_lost_alert_sentry_already_resolved_gets_its_task_completed(
        resolve_first: bool) -> None:
    # Reconciliation publishes both (shared/sources/sentry/reconcile.py, missing_sentry); the
    # worker may take them in either order.
    from shared.sources.drift import Publication, window
    from shared.sources.sentry.reconcile import SentryFinding, missing_sentry

    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    fired = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    issue = {"id": "5123456789", "title": "KeyError: 'owner'", "level": "error",
             "status": "resolved", "firstSeen": fired.isoformat(), "lastSeen": fired.isoformat(),
             "permalink": "https://acme.sentry.io/issues/5123456789/",
             "project": {"id": "42", "slug": "panther-alerts-api"}}
    finding = SentryFinding("panther-alerts-api", issue, "7", fired, "abc")
    planned: list[Publication] = missing_sentry(
        [finding], {}, window(now, lookback_minutes=60, grace_minutes=5), now,
        org="acme", api_url="https://sentry.io/api/0")
    world = World()
    for item in (reversed(planned) if resolve_first else planned):
        attributes = item.attributes(now, "run-1")
        world.push("", attributes.pop("resource"), source=attributes.pop("source"),
                   body=item.body, **attributes)
    gid = world.only_task()
    assert world.tracker.completed[gid] is True


def _datadog(cycle: str, transition: str = "Triggered", monitor: str = "5566") -> bytes:
    payload = json.loads((DATA / "datadog_triggered.json").read_text())
    payload.update({"alert_cycle_key": cycle, "id": f"{cycle}-{transition}",
                    "alert_transition": transition, "alert_id": monitor})
    return json.dumps(payload).encode()


@pytest.mark.parametrize("transition", ["Triggered", "Recovered"])
def test_a_late_datadog_webhook_joins_the_task_reconciliation_opened(transition: str) -> None:
    world = World()
    world.deps = dataclasses.replace(world.deps, reconciled_twins=lambda alert: [
        r for r in world.ledger.records.values() if r.external_id == alert.external_id])
    world.push("", "datadog", source="datadog", body=_datadog("reconcile-5566-1764000000"),
               source_reason="reconcile")
    gid = world.only_task()
    world.push("", "datadog", source="datadog", body=_datadog("real-cycle", transition))
    assert world.only_task() == gid  # no second task
    assert world.ledger.records["datadog:cycle:real-cycle"].task_gid == gid
    assert world.tracker.completed[gid] is (transition == "Recovered")
    synthetic = world.ledger.records["datadog:cycle:reconcile-5566-1764000000"]
    assert synthetic.state is State.RESOLVED  # retired: the real key speaks for the monitor


def test_a_late_firing_of_an_earlier_cycle_gets_its_own_task() -> None:
    # Reconciliation opened the monitor's current Alert, which began at 1795166067; the late
    # Triggered of a cycle that began ten minutes before (its Recovered lost) is another alert.
    world = World()
    world.deps = dataclasses.replace(world.deps, reconciled_twins=lambda alert: [
        r for r in world.ledger.records.values() if r.external_id == alert.external_id])
    world.push("", "datadog", source="datadog", body=_datadog("reconcile-5566-1795166067"),
               source_reason="reconcile")
    earlier = json.loads(_datadog("earlier-cycle"))
    earlier["date"] = str((1795166067 - 600) * 1000)
    world.push("", "datadog", source="datadog", body=json.dumps(earlier).encode())
    assert len(world.tracker.tasks) == 2
    synthetic = world.ledger.records["datadog:cycle:reconcile-5566-1795166067"]
    assert synthetic.state is State.OPEN  # still speaks for the current cycle


def test_a_datadog_webhook_of_another_monitor_joins_nothing() -> None:
    world = World()
    world.deps = dataclasses.replace(world.deps, reconciled_twins=lambda alert: [
        r for r in world.ledger.records.values() if r.external_id == alert.external_id])
    world.push("", "datadog", source="datadog", body=_datadog("reconcile-1-1764000000",
                                                              monitor="1"))
    world.push("", "datadog", source="datadog", body=_datadog("real", monitor="2"))
    assert len(world.tracker.tasks) == 2


@pytest.mark.parametrize(("triggered_at", "completed"), [
    pytest.param("1764000000000", True, id="late-firing-older-than-its-recovery"),
    pytest.param("1764000900000", False, id="new-firing-after-the-recovery"),
])
def test_a_recovery_that_overtakes_its_firing_is_remembered(triggered_at: str,
                                                            completed: bool) -> None:
    world = World()

    def cycle(transition: str, date: str) -> bytes:
        payload = json.loads(_datadog("overtaken", transition))
        payload["date"] = date
        return json.dumps(payload).encode()

    world.push("", "datadog", source="datadog", body=cycle("Recovered", "1764000600000"))
    assert world.tracker.tasks == {}  # nothing to complete yet: only remembered
    world.push("", "datadog", source="datadog", body=cycle("Triggered", triggered_at))
    gid = world.only_task()  # the alert is not lost...
    assert world.tracker.completed[gid] is completed  # ...nor left open after its recovery
    record = world.ledger.records["datadog:cycle:overtaken"]
    assert (record.state, record.task_gid) == (
        State.RESOLVED if completed else State.OPEN, gid)


def test_a_late_firing_takes_the_state_the_source_said_last() -> None:
    world = World()
    issue = "5123456789"
    world.push("sentry_issue_resolved.json", "issue", delivery_id="r",
               source_time="2026-11-25T12:01:00+00:00")
    world.push("sentry_issue_unresolved_regressed.json", "issue", delivery_id="u",
               source_time="2026-11-25T12:02:00+00:00")
    assert world.tracker.tasks == {}
    # The issue alert of an event from before both arrives last (or reconciliation finds it).
    world.push("", "event_alert", body=_event_alert_for_issue(issue), delivery_id="a",
               source_time="2026-11-25T12:00:30+00:00")
    assert world.tracker.completed[world.only_task()] is False  # Sentry says unresolved


@pytest.mark.parametrize("then", ["regression", "stale-resolve-only"])
def test_a_change_interrupted_after_asana_is_undone_when_a_later_word_overtakes_it(
        then: str) -> None:
    world = World()
    world.push("", "event_alert", body=_event_alert_for_issue("5123456789"), delivery_id="a",
               source_time="2026-11-25T12:00:00+00:00")
    gid = world.only_task()
    crash_at(world, "after_asana_update")  # the task is completed, the ledger never hears of it
    with pytest.raises(Crash):
        world.push("sentry_issue_resolved.json", "issue", delivery_id="r",
                   source_time="2026-11-25T12:01:00+00:00")
    recovered(world)
    assert world.tracker.completed[gid] is True
    if then == "regression":  # Sentry says unresolved after the resolve; the resolve comes last
        world.push("sentry_issue_unresolved_regressed.json", "issue", delivery_id="u",
                   source_time="2026-11-25T12:02:00+00:00")
    else:  # a Sentry word newer than the resolve was heard, and only a skip follows
        record, version = world.ledger.get("sentry:issue:5123456789")
        assert record is not None
        world.ledger.update(dataclasses.replace(record, clocks={
            "sentry": datetime(2026, 11, 25, 12, 2, tzinfo=UTC)}), version)
    world.push("sentry_issue_resolved.json", "issue", delivery_id="r",
               source_time="2026-11-25T12:01:00+00:00")  # the interrupted one, redelivered
    assert world.tracker.completed[gid] is False  # the task tells what Sentry last said


def test_a_recovery_refused_by_asana_keeps_the_claim_so_no_second_task_follows() -> None:
    world = World()
    crash_at(world, "after_asana_create")  # the first attempt created its task, then died
    with pytest.raises(Crash):
        world.push("sentry_event_alert.json", "event_alert", message_id="m1")
    recovered(world)
    world.tracker.failures.append(AsanaRejected("asana GET /tasks: 400 refused", status=400))
    real_find = world.tracker.find_task

    def refused_once(*args: Any) -> str | None:
        if world.tracker.failures:
            raise world.tracker.failures.pop(0)
        return real_find(*args)

    world.tracker.find_task = refused_once  # type: ignore[method-assign]
    assert world.push("sentry_event_alert.json", "event_alert", message_id="m1").body[
        "status"] == "dead-lettered"
    world.now += timedelta(seconds=LEASE_SECONDS + 1)
    world.push("sentry_event_alert.json", "event_alert", message_id="m1")  # the replay
    assert len(world.tracker.tasks) == 1  # adopted, not created twice
