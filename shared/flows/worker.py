"""The worker flow: one pushed alert becomes a created, commented, completed or reopened task."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.adapters.asana import AsanaRejected, TaskTracker
from shared.core import failpoints, ledger, logs
from shared.core.alert import Action, Alert
from shared.core.envelope import PushMessage, parse_push
from shared.core.errors import (
    AlertBridgeError,
    Permanent,
    Rejected,
    Transient,
    http_status,
    is_retryable,
)
from shared.core.failpoints import Failpoint
from shared.core.lease import Lease, Ledger
from shared.core.ledger import (
    RENEW_SECONDS,
    Decision,
    Delivery,
    Record,
    State,
    Step,
    delivery_digest,
)
from shared.core.links import task_url
from shared.core.observability import scrub_text
from shared.core.payload import parse_time
from shared.routing import boards, rules
from shared.routing.markers import comment_marker, mark_comment, mark_task, task_marker
from shared.routing.ownership import Route
from shared.routing.tasks import TaskDraft, render_comment, render_task
from shared.routing.teams import TeamsConfig
from shared.sources import SOURCES
from shared.sources.base import Sources

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 500
MAX_ROUNDS = 5  # decisions per message before Pub/Sub's backoff takes over
WAIT_POLL_SECONDS = 0.25
#: How long a delivery waits in-process for another one's lease: longer than a lease, well
#: inside the push subscription's ack deadline (Terraform: worker_timeout_seconds, 60 s).
WAIT_SECONDS = 25.0


class PortfolioCache:
    """Portfolio items per portfolio, kept for minutes: steady state costs no Asana read."""

    def __init__(self, fetch: Callable[[str], list[dict[str, Any]]],
                 clock: Callable[[], float] = time.monotonic, ttl_seconds: float = 600,
                 failure_ttl_seconds: float = 60) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl_seconds
        self._failure_ttl = failure_ttl_seconds
        self._entries: dict[str, tuple[float, list[dict[str, Any]] | None]] = {}
        self._lock = threading.Lock()

    def items(self, portfolio_gid: str) -> list[dict[str, Any]] | None:
        """Return the portfolio's items, or None when the lookup failed (use the backlog)."""
        now = self._clock()
        cached = self._entries.get(portfolio_gid)
        if cached is not None:
            expiry = self._ttl if cached[1] is not None else self._failure_ttl
            if now - cached[0] < expiry:
                return cached[1]
        items: list[dict[str, Any]] | None
        try:
            items = self._fetch(portfolio_gid)
        except AlertBridgeError as error:
            log.warning("portfolio %s lookup failed, using the backlog: %s", portfolio_gid, error,
                        extra={"event": "portfolio_lookup_failed", "portfolio": portfolio_gid})
            items = None
        with self._lock:
            self._entries[portfolio_gid] = (now, items)
        return items


def _no_link_back(alert: Alert, task_gid: str, url: str, team: str) -> None:
    """Link nothing: the default for callers that build WorkerDeps without link-back."""


def _watch_nothing(project_gid: str, team: str) -> None:
    """Register no Asana webhook: the default without two-way sync."""


def _no_twins(alert: Alert) -> list[Record]:
    """Find nothing: the default for callers that build WorkerDeps without ledger queries."""
    return []


def _people_as_given(email: str) -> str | None:
    """Pass an e-mail to Asana unresolved (Asana takes e-mails): dry-run and tests."""
    return email


@dataclass(frozen=True)
class WorkerDeps:
    """What the flow needs from the outside world."""

    config: Callable[[], TeamsConfig]  # raises ConfigError while teams.yaml is invalid
    environment: str  # the deployment's ENVIRONMENT
    tracker: TaskTracker
    ledger: Ledger
    portfolios: PortfolioCache
    dead_letter: Callable[[bytes, Mapping[str, str]], str]
    now: Callable[[], datetime]
    # (alert, task gid, task url, team name): links a new task back to its alert's source.
    link_back: Callable[[Alert, str, str, str], None] = _no_link_back
    failpoint: Failpoint = failpoints.none  # crash points of the fault-injection suite
    lease_renew_seconds: float = RENEW_SECONDS
    wait_seconds: float = WAIT_SECONDS  # see WAIT_SECONDS; 0 answers "retry" at once
    sleep: Callable[[float], None] = time.sleep
    # Two-way sync (shared/flows/sync_back.py): Asana task changes, and the webhook per project.
    sync_back: Callable[[PushMessage], Decision] | None = None
    watch_project: Callable[[str, str], None] = _watch_nothing  # (project gid, team name)
    # The live records of the same object in the alert's source (its external_id), which a
    # source whose reconciliation opens alerts under keys of its own looks through (Source.join).
    reconciled_twins: Callable[[Alert], list[Record]] = _no_twins
    # An alert rule's assignee / follower e-mail -> Asana user gid, None when unknown.
    people: Callable[[str], str | None] = _people_as_given
    sources: Sources = SOURCES


@dataclass(frozen=True)
class Outcome:
    """The HTTP answer for Pub/Sub: 2xx acknowledges, anything else asks for redelivery."""

    status: int
    body: Mapping[str, object]


def handle_request(method: str, body: bytes, deps: WorkerDeps,
                   query: Mapping[str, str] | None = None) -> Outcome:
    """Answer one push request: 400 if it is not a Pub/Sub envelope, else process it.

    ``query``: the push endpoint's parameters; ``source`` names the source whose vendor
    publishes the subscription's messages itself (they carry no ingest attributes).
    """
    if method != "POST":
        return Outcome(405, {"error": "method not allowed: Pub/Sub pushes with POST"})
    try:
        message = parse_push(body)
    except Rejected as error:
        log.warning("push request rejected: %s", error,
                    extra={"event": "push_rejected", "reason": error.reason})
        return Outcome(error.status, {"error": str(error)})
    return handle_push(deps.sources.adopted(message, (query or {}).get("source"), deps.now()),
                       deps)


def handle_push(message: PushMessage, deps: WorkerDeps) -> Outcome:
    """Process one message; dead-letter it if it can never succeed, else ask for a retry."""
    logs.bind(request_id=message.attributes.get("request_id", ""))
    context = {"message_id": message.message_id,
               "alert_key": message.attributes.get("alert_key", ""),
               "delivery_attempt": message.delivery_attempt}
    try:
        decision = _process(message, deps)
    except AlertBridgeError as error:
        if is_retryable(error):
            log.warning("will retry: %s", error,
                        extra={"event": "retry", "reason": error.reason, **context})
            return Outcome(http_status(error), {"status": "retry", "reason": error.reason})
        return _dead_letter(message, error, deps, context)
    return Outcome(200, {"status": "done", "step": decision.step.value})


def _dead_letter(message: PushMessage, error: AlertBridgeError, deps: WorkerDeps,
                 context: Mapping[str, object]) -> Outcome:
    attributes = {**message.attributes,
                  "dead_letter_reason": error.reason,
                  "dead_letter_error": scrub_text(str(error))[:MAX_REASON_CHARS],
                  "dead_letter_source_message_id": message.message_id,
                  "dead_lettered_at": deps.now().isoformat(timespec="seconds")}
    try:
        dead_id = deps.dead_letter(message.data, attributes)
    except AlertBridgeError as publish_error:
        log.error("cannot dead-letter, will retry: %s", publish_error,
                  extra={"event": "retry", "reason": "dead_letter_failed", **context})
        return Outcome(503, {"status": "retry", "reason": "dead_letter_failed"})
    log.error("dead-lettered: %s", error, extra={"event": "dead_lettered", "reason": error.reason,
                                                 "dead_letter_message_id": dead_id, **context})
    return Outcome(200, {"status": "dead-lettered", "reason": error.reason})


class _Changed(Exception):
    """The record changed between our read and our write: read it again and decide again."""


def _process(message: PushMessage, deps: WorkerDeps) -> Decision:
    source = deps.sources.named(message.attributes.get("source"))
    if source is not None and source.task_changes and deps.sync_back is not None:
        return deps.sync_back(message)
    alert = deps.sources.parse_alert(message.data, message.attributes)
    join = source.join if source is not None else None
    delivery = delivery_of(alert, message, may_create=alert.resource
                           in deps.config().create_tasks_from
                           and rules.may_create(alert))
    rounds, polls = 0, int(deps.wait_seconds / WAIT_POLL_SECONDS)
    while rounds < MAX_ROUNDS:
        record, version = deps.ledger.get(alert.key)
        if record is None and join is not None and join(alert, deps.reconciled_twins,
                                                        deps.ledger, deps.now()):
            continue  # the key now shares the task reconciliation opened for it
        decision = ledger.decide(record, delivery, deps.now())
        if decision.step is Step.WAIT and polls > 0:
            # Another delivery holds the record, usually for a fraction of a second; a
            # crashed one's lease lapses in seconds. Waiting here beats a redelivery.
            polls -= 1
            deps.sleep(WAIT_POLL_SECONDS)
            continue
        log.info("alert %s: %s (%s)", alert.key, decision.step.value, decision.why,
                 extra={"event": "decision", "step": decision.step.value,
                        "alert_key": alert.key, "source": alert.source,
                        "message_id": message.message_id})
        try:
            return _apply(decision, alert, delivery, record, version, deps)
        except _Changed:
            rounds += 1
    raise Transient(f"alert {alert.key}: its ledger record kept changing; will retry")


def delivery_of(alert: Alert, message: PushMessage, *, may_create: bool) -> Delivery:
    """Return what the ledger needs to know of one message: identity, origin and its times.

    The source's own time of a delivery is the ``source_time`` attribute (Sentry's
    Sentry-Hook-Timestamp, or the source's clock when reconciliation observed the state),
    else the time the payload itself gives (an event's or a state change's).
    """
    attributes = message.attributes
    return Delivery(action=alert.action,
                    digest=delivery_digest(message.data, attributes.get("delivery_id")),
                    source_time=parse_time(attributes.get("source_time")) or alert.occurred_at,
                    may_create=may_create, origin=alert.source,
                    received_at=parse_time(attributes.get("received_at")))


def _apply(decision: Decision, alert: Alert, delivery: Delivery, record: Record | None,
           version: Any, deps: WorkerDeps) -> Decision:
    if decision.step is Step.SKIP:
        if record is not None and interrupted(record) and not record.expired(deps.now()) \
                and record.state is not State.CREATING:
            return _update(alert, delivery, record, version, decision, deps)
        _note(record, version, delivery, deps)
        return decision
    if decision.step is Step.WAIT:
        raise Transient(f"alert {alert.key}: {decision.why}")
    if decision.step is Step.REMEMBER:
        _remember(alert, delivery, record, version, deps)
        return decision
    if decision.step in (Step.CREATE, Step.RECOVER, Step.CREATE_RESOLVED):
        _create(alert, delivery, record, version, decision.step, deps)
        return decision
    assert record is not None and record.task_gid is not None  # decide() guarantees it
    return _update(alert, delivery, record, version, decision, deps)


def _remember(alert: Alert, delivery: Delivery, record: Record | None, version: Any,
              deps: WorkerDeps) -> None:
    """Keep what the source said before any firing, so a late firing is known to be older."""
    kept = ledger.remember(record, alert.key, delivery, deps.now(), source=alert.source,
                           external_id=alert.external_id)
    # create() also replaces an expired record that Firestore's TTL has not purged yet.
    if (deps.ledger.create(kept) if record is None else deps.ledger.update(kept, version)) \
            is None:
        raise _Changed


def _note(record: Record | None, version: Any, delivery: Delivery, deps: WorkerDeps) -> None:
    """Remember what a skipped delivery taught the record (its origin's clock moved on)."""
    if record is None or record.expired(deps.now()) or record.state is State.CREATING:
        return
    noted = ledger.noted(record, delivery)
    if noted is not None and deps.ledger.update(noted, version) is None:
        raise _Changed


@dataclass(frozen=True)
class _Plan:
    """The task to create: where, for whom, and the draft carrying the alert's marker."""

    draft: TaskDraft
    marker: str
    project_gid: str
    route: Route
    log_fields: Mapping[str, object]
    rule_fallback: str | None = None  # why the alert rule's settings were not all followed


def _create(alert: Alert, delivery: Delivery, record: Record | None, version: Any,
            step: Step, deps: WorkerDeps) -> None:
    lapsed = record if step is Step.RECOVER else None
    resolved = step is Step.CREATE_RESOLVED or (lapsed is not None and lapsed.born_resolved)
    plan = _plan(alert, deps, completed=resolved)
    now = deps.now()
    if lapsed is not None:
        claim = ledger.take_over(lapsed, now, project_gid=plan.project_gid)
        claimed = deps.ledger.update(claim, version)
    else:
        remembered = record if record is not None and not record.expired(now) else None
        claim = ledger.claim(alert.key, now, project_gid=plan.project_gid, source=alert.source,
                             external_id=alert.external_id, group=alert.scope,
                             resolved=resolved, remembered=remembered)
        # A remembered resolve is replaced on its version; create() also replaces an
        # expired record that Firestore's TTL has not purged yet.
        claimed = (deps.ledger.update(claim, version) if remembered is not None
                   else deps.ledger.create(claim))
    if claimed is None:
        raise _Changed
    deps.failpoint("after_claim")
    with Lease(deps.ledger, claim, claimed, deps.now, deps.lease_renew_seconds) as held:
        try:
            task_gid, adopted = _find_or_create(plan, lapsed, deps)
        except BaseException as error:
            # Asana refused the create: nothing exists, forget the claim. Otherwise it may
            # exist, as may the task of the lapsed claim a recovery took over: the next
            # delivery looks it up before creating.
            held.give_up(forget=isinstance(error, Permanent) and lapsed is None)
            raise
        deps.failpoint("after_asana_create")
        opened = ledger.after(held.record, Step.CREATE, delivery, deps.now(),
                              task_gid=task_gid, team=plan.route.team.name)
        if not held.write(opened):
            _claim_lost(alert, task_gid, deps)
    deps.failpoint("after_ledger_open")
    # An adopted task is one a crashed attempt created and never logged: count it here.
    log.info("task %s %s for %s in team %s", task_gid, "adopted" if adopted else "created",
             alert.key, plan.route.team.name,
             extra={"event": "task_created", **plan.log_fields, "task_gid": task_gid,
                    "adopted": adopted})
    if plan.route.is_default:
        log.warning("alert %s matched no team; sent to default team %s", alert.key,
                    plan.route.team.name,
                    extra={"event": "alert_unrouted", **plan.log_fields, "task_gid": task_gid})
    if plan.rule_fallback:
        log.warning("alert %s: alert rule %r not followed in full (%s)", alert.key, alert.rule,
                    plan.rule_fallback, extra={"event": "alert_rule_fallback", **plan.log_fields,
                                               "task_gid": task_gid, "rule": alert.rule,
                                               "reason": plan.rule_fallback})
    _link_back(alert, task_gid, plan.project_gid, plan.route.team.name, deps)
    deps.watch_project(plan.project_gid, plan.route.team.name)


def _find_or_create(plan: _Plan, lapsed: Record | None, deps: WorkerDeps) -> tuple[str, bool]:
    """Adopt the task a crashed attempt created, else create it; tell whether it was adopted."""
    if lapsed is not None:
        for project in ledger.lookup_projects(lapsed):
            found = deps.tracker.find_task(project, plan.marker, ledger.lookup_since(lapsed))
            if found:
                return found, True
    return deps.tracker.create_task(plan.draft, plan.marker), False


def _claim_lost(alert: Alert, task_gid: str, deps: WorkerDeps) -> None:
    """Our claim lapsed while Asana was creating: fine if the taker adopted our task."""
    record, _ = deps.ledger.get(alert.key)
    if record is not None and record.task_gid == task_gid:
        return
    log.error("claim on %s lapsed while task %s was being created; another delivery took "
              "it over", alert.key, task_gid,
              extra={"event": "claim_lost", "alert_key": alert.key, "task_gid": task_gid})
    raise Transient(f"alert {alert.key}: claim lapsed during creation; will retry")


def _link_back(alert: Alert, task_gid: str, project_gid: str, team: str,
               deps: WorkerDeps) -> None:
    """Link the task back to its alert; best effort, as the task is created and recorded."""
    try:
        deps.link_back(alert, task_gid, task_url(task_gid, project_gid), team)
    except Exception as error:  # a failure here must not make Pub/Sub redeliver the alert
        log.warning("linking task %s back to %s failed: %s", task_gid, alert.key, error,
                    extra={"event": "link_back_failed", "source": alert.source,
                           "alert_key": alert.key, "task_gid": task_gid, "status": None})


def _plan(alert: Alert, deps: WorkerDeps, *, completed: bool = False) -> _Plan:
    config = deps.config()
    routed = rules.route_alert(alert, config, deps.environment)
    chosen, priority, kind = routed.triage.route, routed.triage.priority, routed.triage.board
    team, notes = rules.with_people(routed, deps.people)
    portfolio = boards.portfolio_gid(kind, chosen.team)
    items = deps.portfolios.items(portfolio) if portfolio else None
    project_gid, board_why = boards.choose_board_gid(kind, chosen.team, items, deps.now().date())
    marker = task_marker(alert.key)
    why = "; ".join([chosen.explanation, *notes])
    draft = mark_task(render_task(alert, team, config, priority, project_gid, why, board_why),
                      marker)
    if completed:  # its resolve came first: created completed, in one request
        draft = replace(draft, completed=True)
    fields = {"alert_key": alert.key, "source": alert.source, "team": chosen.team.name,
              "priority": priority, "board": kind.value, "project": project_gid}
    fallback = routed.fallback or ("person_unknown" if notes else None)
    return _Plan(draft, marker, project_gid, chosen, fields, fallback)


_COMMENTS = {Action.TRIGGERED: "Fired again", Action.REOPENED: "Regressed",
             Action.RESOLVED: "Resolved", Action.ASSIGNED: "Assigned",
             Action.IGNORED: "Ignored / archived", Action.NOTED: "State changed"}


def _update(alert: Alert, delivery: Delivery, record: Record, version: Any,
            decision: Decision, deps: WorkerDeps) -> Decision:
    step = decision.step
    if step is Step.COUNT and not interrupted(record):
        if deps.ledger.update(ledger.after(record, step, delivery, deps.now()), version) is None:
            raise _Changed
        return decision
    leased = ledger.lease(record, deps.now())
    held_version = deps.ledger.update(leased, version)
    if held_version is None:
        raise _Changed
    deps.failpoint("after_update_lease")
    with Lease(deps.ledger, leased, held_version, deps.now, deps.lease_renew_seconds) as held:
        try:
            _change_task(alert, record, step, delivery, deps)
        except AsanaRejected as error:
            if error.status != 404:
                held.give_up(forget=False)
                raise
            return _task_gone(alert, delivery, held, deps)
        except BaseException:
            held.give_up(forget=False)
            raise
        deps.failpoint("after_asana_update")
        if not held.write(ledger.after(held.record, step, delivery, deps.now())):
            raise Transient(f"alert {alert.key}: lease lapsed during the update; will retry")
    deps.failpoint("after_ledger_update")
    return decision


def interrupted(record: Record) -> bool:
    """Tell whether the record's last update held a lease it never wrote back.

    That update may have changed the task before its worker died (after Asana, before the
    ledger): the task can be ahead of the record. The next update puts the task back to the
    record's state first, as the late redelivery of the interrupted change may now be stale.
    """
    return record.lease_expires_at is not None and record.task_gid is not None


def _change_task(alert: Alert, record: Record, step: Step, delivery: Delivery,
                 deps: WorkerDeps) -> None:
    """Apply the step to the task; each effect is safe to repeat after a crash."""
    task = str(record.task_gid)
    what = _COMMENTS[alert.action]
    if step is Step.COMMENT and alert.action is Action.TRIGGERED and record.occurrences > 1:
        what = f"Fired again ({record.occurrences + 1} times since the task was created)"
    if step is Step.RESOLVE:
        deps.tracker.set_completed(task, True)
    elif step is Step.REOPEN:
        deps.tracker.set_completed(task, False)
        what = "Fired again after it was resolved: reopened"
    elif interrupted(record):
        deps.tracker.set_completed(task, record.state is State.RESOLVED)
    if step in (Step.COUNT, Step.SKIP):
        return
    marker = comment_marker(delivery.digest)
    if not deps.tracker.has_comment(task, marker):
        deps.tracker.add_comment(task, mark_comment(render_comment(alert, what), marker))
    log.info("task %s: %s", task, step.value,
             extra={"event": f"task_{step.value}", "alert_key": alert.key, "task_gid": task,
                    "source": alert.source, "team": record.team})


def _task_gone(alert: Alert, delivery: Delivery, held: Lease, deps: WorkerDeps) -> Decision:
    """Someone deleted the task in Asana: a new firing gets a new task, anything else stops."""
    record = held.record
    log.warning("task %s of %s no longer exists in Asana", record.task_gid, alert.key,
                extra={"event": "task_gone", "alert_key": alert.key,
                       "task_gid": record.task_gid})
    if delivery.action in (Action.TRIGGERED, Action.REOPENED) and delivery.may_create:
        held.give_up(forget=True)
        raise _Changed  # without a record, the next round creates a new task
    if not held.write(ledger.after(record, Step.SKIP, delivery, deps.now())):
        raise _Changed
    return Decision(Step.SKIP, "task was deleted in Asana")
