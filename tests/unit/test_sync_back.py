"""Two-way sync over in-memory doubles: decisions, loop prevention, what Sentry/Datadog get."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.asana import AsanaRejected
from shared.core import ledger
from shared.core.envelope import PushMessage
from shared.core.errors import Transient
from shared.core.ledger import Record, State, Step
from shared.core.links import LinkRequest, Sent
from shared.core.settings import Settings, load_settings
from shared.flows import sync_back
from shared.flows.sync_back import SyncDeps
from shared.routing.teams_file import parse_teams
from tests.fakes.ledger import MemoryLedger

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SENTRY_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # Sentry's clock, not ours
ME = "1209990000000001"
PERSON = "1209990000000042"
TASK = "1201"


def record(state: State = State.OPEN, key: str = "sentry:issue:4711",
           external_id: str = "4711", **changes: Any) -> Record:
    base = Record(key=key, state=state, updated_at=NOW, expires_at=NOW + timedelta(days=1),
                  created_at=NOW, task_gid=TASK, team="Payments", project_gid="1209",
                  source=key.split(":")[0], external_id=external_id)
    return replace(base, **changes)


@pytest.mark.parametrize(("rec", "completed", "step"), [
    pytest.param(None, True, Step.SKIP, id="no-record"),
    pytest.param(record(expires_at=NOW), True, Step.SKIP, id="expired"),
    pytest.param(record(State.CREATING), True, Step.WAIT, id="creating"),
    pytest.param(record(lease_expires_at=NOW + timedelta(seconds=5)), True, Step.WAIT,
                 id="leased"),
    pytest.param(record(State.RESOLVED), True, Step.SKIP, id="completed-already-resolved"),
    pytest.param(record(State.OPEN), False, Step.SKIP, id="reopened-already-open"),
    pytest.param(record(State.OPEN), True, Step.RESOLVE, id="completed-open"),
    pytest.param(record(State.RESOLVED), False, Step.REOPEN, id="reopened-resolved"),
])
def test_decide_sync(rec: Record | None, completed: bool, step: Step) -> None:
    assert ledger.decide_sync(rec, completed, NOW).step is step


def test_synced_record_makes_the_sentry_resolve_that_follows_a_skip() -> None:
    change = ledger.Delivery(ledger.Action.RESOLVED, "", NOW, origin="asana", received_at=NOW)
    done = ledger.synced(ledger.lease(record(), NOW), Step.RESOLVE, NOW, change, NOW)
    assert (done.state, done.lease_expires_at, done.state_origin) == (
        State.RESOLVED, None, "asana")
    assert done.clocks == {"asana": NOW, "sentry": NOW}
    resolved = ledger.Delivery(action=ledger.Action.RESOLVED, digest="d",
                               source_time=NOW + timedelta(seconds=2), origin="sentry")
    assert ledger.decide(done, resolved, NOW) == ledger.Decision(
        Step.SKIP, "task already completed")


class FakeAsana:
    def __init__(self, completed: bool, completed_by: str | None = PERSON,
                 gone: bool = False) -> None:
        self.completed, self.completed_by, self.gone = completed, completed_by, gone
        self.reads = 0

    def me(self) -> str:
        return ME

    def task_state(self, task_gid: str) -> dict[str, Any]:
        self.reads += 1
        if self.gone:
            raise AsanaRejected("asana GET: 404 task: Unknown object", status=404)
        by = {"gid": self.completed_by, "resource_type": "user"} if self.completed_by else None
        return {"gid": task_gid, "completed": self.completed, "completed_by": by,
                "modified_at": "2026-11-25T11:59:58.000Z"}


class Sender:
    def __init__(self, configured: bool = True, error: Exception | None = None) -> None:
        self.sent: list[LinkRequest] = []
        self.configured, self.error = configured, error

    def send(self, request: LinkRequest) -> Sent | None:
        if self.error is not None:
            raise self.error
        if not self.configured:
            return None
        self.sent.append(request)
        return Sent(SENTRY_NOW)


def message(user: str = PERSON) -> PushMessage:
    event = {"user": {"gid": user, "resource_type": "user"}, "action": "changed",
             "resource": {"gid": TASK, "resource_type": "task"},
             "change": {"field": "completed", "action": "changed"}}
    return PushMessage("m1", json.dumps({"events": [event]}).encode(),
                       {"source": "asana", "task_gid": TASK})


def settings(org: str | None) -> Settings:
    """Return a deployment's settings with SENTRY_ORG set to ``org`` (None: not set)."""
    return load_settings({"GOOGLE_CLOUD_PROJECT": "p", **({"SENTRY_ORG": org} if org else {})})


def setup(rec: Record | None, asana: FakeAsana, sender: Sender | None = None,
          opted_in: tuple[str, ...] = ("Payments",)) -> tuple[SyncDeps, MemoryLedger, Sender]:
    store, sender = MemoryLedger(), sender or Sender()
    if rec is not None:
        store.create(rec)
    deps = SyncDeps(asana=asana, ledger=store, senders={"sentry": sender, "datadog": sender},
                    find_by_task=lambda gid: rec if rec and rec.task_gid == gid else None,
                    settings=settings("acme"), now=lambda: NOW,
                    opted_in=lambda team: team in opted_in)
    return deps, store, sender


def test_task_completed_by_a_person_resolves_the_sentry_issue() -> None:
    deps, store, sender = setup(record(), FakeAsana(completed=True))
    assert sync_back.process(message(), deps).step is Step.RESOLVE
    assert sender.sent == [LinkRequest("sentry", "PUT", "/organizations/acme/issues/4711/",
                                       {"status": "resolved"})]
    stored = store.records["sentry:issue:4711"]
    assert (stored.state, stored.lease_expires_at) == (State.RESOLVED, None)


def test_sentry_answer_time_is_kept_so_its_echo_is_no_news() -> None:
    deps, store, _ = setup(record(), FakeAsana(completed=True))
    sync_back.process(message(), deps)
    assert store.records["sentry:issue:4711"].clocks["sentry"] == SENTRY_NOW


@pytest.mark.parametrize(("team", "opted_in"), [
    pytest.param("Payments", (), id="team-opted-out-since-registration"),
    pytest.param("Growth", ("Payments",), id="other-team-in-a-shared-project"),
    pytest.param(None, ("Payments",), id="record-without-team"),
])
def test_only_tasks_of_teams_that_opt_in_now_are_synced(team: str | None,
                                                        opted_in: tuple[str, ...]) -> None:
    asana = FakeAsana(completed=True)
    deps, store, sender = setup(record(team=team), asana, opted_in=opted_in)
    decision = sync_back.process(message(), deps)
    assert decision.step is Step.SKIP and "sync_back" in decision.why
    assert (sender.sent, asana.reads) == ([], 0)
    assert store.records["sentry:issue:4711"].state is State.OPEN


def test_task_reopened_unresolves_the_sentry_issue() -> None:
    deps, store, sender = setup(record(State.RESOLVED), FakeAsana(completed=False))
    assert sync_back.process(message(), deps).step is Step.REOPEN
    assert [r.body for r in sender.sent] == [{"status": "unresolved"}]
    assert store.records["sentry:issue:4711"].state is State.OPEN


@pytest.mark.parametrize(("msg", "asana", "why"), [
    pytest.param(message(user=ME), FakeAsana(completed=True), "changed by alert-bridge itself",
                 id="event-by-the-service"),
    pytest.param(message(), FakeAsana(completed=True, completed_by=ME),
                 "completed by alert-bridge itself", id="completed-by-the-service"),
    pytest.param(message(), FakeAsana(completed=True, gone=True), "task was deleted in Asana",
                 id="task-deleted"),
])
def test_changes_made_by_the_service_do_not_bounce_back(msg: PushMessage, asana: FakeAsana,
                                                        why: str) -> None:
    deps, store, sender = setup(record(), asana)
    assert sync_back.process(msg, deps) == ledger.Decision(Step.SKIP, why)
    assert (sender.sent, store.records["sentry:issue:4711"].state) == ([], State.OPEN)


def test_replayed_delivery_changes_nothing_twice() -> None:
    deps, _, sender = setup(record(), FakeAsana(completed=True))
    sync_back.process(message(), deps)
    assert sync_back.process(message(), deps) == ledger.Decision(Step.SKIP,
                                                                 "alert already resolved")
    assert len(sender.sent) == 1


def test_task_of_no_alert_is_skipped_without_reading_it() -> None:
    asana = FakeAsana(completed=True)
    deps, _, sender = setup(None, asana)
    assert sync_back.process(message(), deps).step is Step.SKIP
    assert (asana.reads, sender.sent) == (0, [])


def test_source_failure_releases_the_lease_and_keeps_the_state() -> None:
    deps, store, _ = setup(record(), FakeAsana(completed=True),
                           Sender(error=Transient("sentry PUT: 503")))
    with pytest.raises(Transient):
        sync_back.process(message(), deps)
    stored = store.records["sentry:issue:4711"]
    assert stored.state is State.OPEN and not stored.leased(NOW + timedelta(microseconds=1))


@pytest.mark.parametrize(("sender", "org"), [
    pytest.param(Sender(configured=False), "acme", id="no-credential"),
    pytest.param(Sender(), None, id="no-sentry-org"),
])
def test_a_source_that_cannot_be_told_keeps_the_record_as_it_was(sender: Sender,
                                                                  org: str | None) -> None:
    deps, store, _ = setup(record(), FakeAsana(completed=True), sender)
    deps = replace(deps, settings=settings(org))
    assert sync_back.process(message(), deps).step is Step.SKIP
    stored = store.records["sentry:issue:4711"]
    # Sentry still says unresolved: a record saying resolved would have reconciliation reopen
    # the task the person completed.
    assert stored.state is State.OPEN and not stored.leased(NOW + timedelta(microseconds=1))
    assert sender.sent == []


def test_a_kind_without_an_api_still_follows_the_task() -> None:
    rec = record(key="sentry:metric:77", external_id="77")
    deps, store, sender = setup(rec, FakeAsana(completed=True))
    assert sync_back.process(message(), deps).step is Step.RESOLVE
    assert store.records["sentry:metric:77"].state is State.RESOLVED and sender.sent == []


@pytest.mark.parametrize(("rec", "org", "expected"), [
    pytest.param(record(), None, None, id="sentry-without-org"),
    pytest.param(record(key="sentry:metric:77", external_id="77"), "acme", None,
                 id="sentry-metric-incident"),
    pytest.param(record(key="datadog:event:9", external_id="5"), "acme", None,
                 id="datadog-without-cycle"),
])
def test_nothing_to_tell(rec: Record, org: str | None, expected: None) -> None:
    assert sync_back.source_request(rec, Step.RESOLVE, TASK, settings(org)) is expected


def test_datadog_event_goes_on_the_monitor_stream() -> None:
    rec = record(key="datadog:cycle:abc", external_id="5566")
    request = sync_back.source_request(rec, Step.RESOLVE, TASK, settings(None))
    assert request is not None and (request.service, request.method, request.path) == (
        "datadog", "POST", "/api/v1/events")
    assert request.body["tags"] == ["monitor_id:5566", "alert_cycle_key:abc",
                                    f"asana_task:{TASK}", "source:alert-bridge"]
    assert (request.body["aggregation_key"], request.body["alert_type"]) == ("abc", "success")


@pytest.mark.parametrize(("value", "flag", "problem"), [
    pytest.param(None, False, None, id="off-by-default"),
    pytest.param("true", None, "sync_back: expected true or false", id="string"),
    pytest.param("yes-bool", True, None, id="true"),
])
def test_teams_sync_back_flag(value: str | None, flag: bool | None, problem: str | None) -> None:
    line = {None: "", "true": '    sync_back: "true"\n', "yes-bool": "    sync_back: true\n"}
    text = ("settings:\n  default_team: A\nteams:\n  - name: A\n"
            f"    asana_backlog_id: \"1\"\n{line[value]}")
    if problem:
        with pytest.raises(Exception, match=problem):
            parse_teams(text)
        return
    assert parse_teams(text).team("A").sync_back is flag


@pytest.mark.parametrize("step", [Step.RESOLVE, Step.REOPEN], ids=["completed", "reopened"])
def test_datadog_event_is_one_the_datadog_api_accepts(step: Step) -> None:
    from tests.fakes.link_target_servers import _datadog_problem

    request = sync_back.source_request(record(key="datadog:cycle:" + "c" * 150), step, TASK,
                                       settings(None))
    assert request is not None and _datadog_problem(dict(request.body)) is None
