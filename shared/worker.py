"""The worker flow: one pushed alert becomes a created, commented, completed or reopened task."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared import boards, ledger, logs
from shared.adapters.asana import AsanaRejected, TaskTracker
from shared.alerts import Action, Alert, parse_alert
from shared.envelope import PushMessage, parse_push
from shared.errors import AlertBridgeError, Rejected, Transient, http_status, is_retryable
from shared.ledger import Decision, Record, Step
from shared.linkback import task_url
from shared.observability import scrub_text
from shared.ownership import Route
from shared.tasks import render_comment, render_task
from shared.teams import TeamsConfig
from shared.triage import triage

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 500


class Ledger(Protocol):
    """The four storage operations the flow needs (Firestore in production)."""

    def get(self, key: str) -> tuple[Record | None, Any]:
        """Return the record of ``key`` and its version."""
        ...

    def claim(self, record: Record, version: Any) -> bool:
        """Store a claim unless the record changed since ``version``; tell whether it won."""
        ...

    def save(self, record: Record) -> None:
        """Store the record."""
        ...

    def release(self, record: Record) -> None:
        """Drop a claim after a failed creation."""
        ...


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
    # (alert, task gid, task url, team name): links a new task back to Sentry / Datadog.
    link_back: Callable[[Alert, str, str, str], None] = _no_link_back


@dataclass(frozen=True)
class Outcome:
    """The HTTP answer for Pub/Sub: 2xx acknowledges, anything else asks for redelivery."""

    status: int
    body: Mapping[str, object]


def handle_request(method: str, body: bytes, deps: WorkerDeps) -> Outcome:
    """Answer one push request: 400 if it is not a Pub/Sub envelope, else process it."""
    if method != "POST":
        return Outcome(405, {"error": "method not allowed: Pub/Sub pushes with POST"})
    try:
        message = parse_push(body)
    except Rejected as error:
        log.warning("push request rejected: %s", error,
                    extra={"event": "push_rejected", "reason": error.reason})
        return Outcome(error.status, {"error": str(error)})
    return handle_push(message, deps)


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


def _process(message: PushMessage, deps: WorkerDeps) -> Decision:
    alert = parse_alert(message.data, message.attributes)
    record, version = deps.ledger.get(alert.key)
    now = deps.now()
    may_create = alert.resource in deps.config().create_tasks_from
    decision = ledger.decide(alert.action, record, message.message_id, now,
                             may_create=may_create)
    log.info("alert %s: %s (%s)", alert.key, decision.step.value, decision.why,
             extra={"event": "decision", "step": decision.step.value, "alert_key": alert.key,
                    "source": alert.source, "message_id": message.message_id})
    if decision.step is Step.SKIP:
        return decision
    if decision.step is Step.WAIT:
        raise Transient(f"alert {alert.key}: {decision.why}")
    if decision.step is Step.CREATE:
        _create(alert, message.message_id, version if record else None, deps)
        return decision
    assert record is not None and record.task_gid is not None  # decide() guarantees it
    try:
        _update(alert, record, decision.step, deps)
    except AsanaRejected as error:
        if error.status != 404:
            raise
        return _task_gone(alert, record, message.message_id, version, deps)
    deps.ledger.save(ledger.after(record, decision.step, message.message_id, deps.now()))
    return decision


def _create(alert: Alert, message_id: str, version: Any, deps: WorkerDeps) -> None:
    claim = ledger.claim(alert.key, message_id, deps.now())
    if not deps.ledger.claim(claim, version):
        raise Transient(f"alert {alert.key}: another delivery claimed it first")
    try:
        task_gid, chosen, project_gid = _create_task(alert, deps)
    except BaseException:
        deps.ledger.release(claim)
        raise
    deps.ledger.save(ledger.after(claim, Step.CREATE, message_id, deps.now(),
                                  task_gid=task_gid, team=chosen.team.name))
    _link_back(alert, task_gid, project_gid, chosen.team.name, deps)


def _link_back(alert: Alert, task_gid: str, project_gid: str, team: str,
               deps: WorkerDeps) -> None:
    """Link the task back to its alert; best effort, as the task is created and recorded."""
    try:
        deps.link_back(alert, task_gid, task_url(task_gid, project_gid), team)
    except Exception as error:  # a failure here must not make Pub/Sub redeliver the alert
        log.warning("linking task %s back to %s failed: %s", task_gid, alert.key, error,
                    extra={"event": "link_back_failed", "source": alert.source,
                           "alert_key": alert.key, "task_gid": task_gid, "status": None})


def _create_task(alert: Alert, deps: WorkerDeps) -> tuple[str, Route, str]:
    config = deps.config()
    decided = triage(alert, config, deps.environment)
    chosen, priority, kind = decided.route, decided.priority, decided.board
    portfolio = boards.portfolio_gid(kind, chosen.team)
    items = deps.portfolios.items(portfolio) if portfolio else None
    project_gid, board_why = boards.choose_board_gid(kind, chosen.team, items, deps.now().date())
    draft = render_task(alert, chosen.team, config, priority, project_gid, chosen.explanation,
                        board_why)
    task_gid = deps.tracker.create_task(draft)
    fields = {"alert_key": alert.key, "source": alert.source, "team": chosen.team.name,
              "priority": priority, "board": kind.value, "project": project_gid,
              "task_gid": task_gid}
    log.info("task %s created for %s in team %s", task_gid, alert.key, chosen.team.name,
             extra={"event": "task_created", **fields})
    if chosen.is_default:
        log.warning("alert %s matched no team; sent to default team %s", alert.key,
                    chosen.team.name, extra={"event": "alert_unrouted", **fields})
    return task_gid, chosen, project_gid


_COMMENTS = {Action.TRIGGERED: "Fired again", Action.REOPENED: "Regressed",
             Action.RESOLVED: "Resolved", Action.ASSIGNED: "Assigned",
             Action.IGNORED: "Ignored / archived"}


def _update(alert: Alert, record: Record, step: Step, deps: WorkerDeps) -> None:
    task = str(record.task_gid)
    if step is Step.COUNT:
        return
    what = _COMMENTS[alert.action]
    if step is Step.COMMENT and alert.action is Action.TRIGGERED and record.occurrences > 1:
        what = f"Fired again ({record.occurrences + 1} times since the task was created)"
    if step is Step.RESOLVE:
        deps.tracker.set_completed(task, True)
    if step is Step.REOPEN:
        deps.tracker.set_completed(task, False)
        what = "Fired again after it was resolved: reopened"
    deps.tracker.add_comment(task, render_comment(alert, what))
    log.info("task %s: %s", task, step.value,
             extra={"event": f"task_{step.value}", "alert_key": alert.key, "task_gid": task,
                    "source": alert.source, "team": record.team})


def _task_gone(alert: Alert, record: Record, message_id: str, version: Any,
               deps: WorkerDeps) -> Decision:
    """Someone deleted the task in Asana: a new firing gets a new task, anything else stops."""
    log.warning("task %s of %s no longer exists in Asana", record.task_gid, alert.key,
                extra={"event": "task_gone", "alert_key": alert.key,
                       "task_gid": record.task_gid})
    may_create = alert.resource in deps.config().create_tasks_from
    if alert.action not in (Action.TRIGGERED, Action.REOPENED) or not may_create:
        deps.ledger.save(ledger.after(record, Step.SKIP, message_id, deps.now()))
        return Decision(Step.SKIP, "task was deleted in Asana")
    _create(alert, message_id, version, deps)
    return Decision(Step.CREATE, "task was deleted in Asana; created a new one")

