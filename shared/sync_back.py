"""Two-way sync: a task completed or reopened in Asana resolves or unresolves its alert.

The worker gets one message per changed task (see shared/asana_ingest.py). Events carry
compact resources only, so the task's current state is read from Asana: a replayed or
out-of-order delivery then changes nothing the task does not say.

Loop prevention: a change made by the service's own Asana user (completing a task on a
Sentry resolve) is ignored; and the ledger moves to ``resolved`` / ``open`` here, so the
Sentry ``resolved`` webhook that follows our own resolve is a SKIP ("task already completed").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from shared import asana_webhooks, ledger
from shared.adapters.asana import AsanaRejected
from shared.envelope import PushMessage
from shared.errors import Transient
from shared.ledger import Decision, Record, Step
from shared.linkback import LinkRequest, LinkSender, task_url

log = logging.getLogger(__name__)

MAX_ROUNDS = 5
SENTRY_ISSUE_PREFIX = "sentry:issue:"
DATADOG_CYCLE_PREFIX = "datadog:cycle:"


class SyncAsana(Protocol):
    """The Asana reads the sync needs."""

    def me(self) -> str:
        """Return the gid of the service's own Asana user."""
        ...

    def task_state(self, task_gid: str) -> dict[str, Any]:
        """Return the task's ``completed``, ``completed_by`` and ``modified_at``."""
        ...


class SyncLedger(Protocol):
    """The ledger operations the sync needs (the worker's Firestore ledger)."""

    def get(self, key: str) -> tuple[Record | None, Any]:
        """Return the record of ``key`` and its version."""
        ...

    def update(self, record: Record, version: Any) -> Any:
        """Replace the record unless it changed since ``version``; return its new version."""
        ...


@dataclass(frozen=True)
class SyncDeps:
    """What the sync needs from the outside world."""

    asana: SyncAsana
    find_by_task: Callable[[str], Record | None]
    ledger: SyncLedger
    senders: Mapping[str, LinkSender]  # "sentry", "datadog"
    sentry_org: str | None
    now: Callable[[], datetime]


def process(message: PushMessage, deps: SyncDeps) -> Decision:
    """Pass one task's completion change in Asana on to the alert's source."""
    task_gid = message.attributes.get("task_gid", "")
    me = deps.asana.me()
    events = asana_webhooks.task_events(message.data, task_gid)
    if events and all(_gid_of(event.get("user")) == me for event in events):
        return _skip(task_gid, "changed by alert-bridge itself")
    found = deps.find_by_task(task_gid)
    if found is None:
        return _skip(task_gid, "no alert has this task")
    try:
        task = deps.asana.task_state(task_gid)
    except AsanaRejected as error:
        if error.status != 404:
            raise
        return _skip(task_gid, "task was deleted in Asana")
    completed = task.get("completed") is True
    if completed and _gid_of(task.get("completed_by")) == me:
        return _skip(task_gid, "completed by alert-bridge itself")
    changed_at = _time(task.get("modified_at")) or deps.now()
    for _ in range(MAX_ROUNDS):
        record, version = deps.ledger.get(found.key)
        decision = ledger.decide_sync(record, completed, deps.now())
        log.info("task %s: %s (%s)", task_gid, decision.step.value, decision.why,
                 extra={"event": "sync_decision", "step": decision.step.value,
                        "task_gid": task_gid, "alert_key": found.key})
        if decision.step is Step.SKIP:
            return decision
        if decision.step is Step.WAIT:
            raise Transient(f"task {task_gid}: {decision.why}")
        assert record is not None  # decide_sync() guarantees it
        if _apply(record, version, decision.step, task_gid, changed_at, deps):
            return decision
    raise Transient(f"task {task_gid}: its alert's ledger record kept changing; will retry")


def _apply(record: Record, version: Any, step: Step, task_gid: str, changed_at: datetime,
           deps: SyncDeps) -> bool:
    """Hold the record, tell the source, record the new state; False if the record moved."""
    leased = ledger.lease(record, deps.now())
    held = deps.ledger.update(leased, version)
    if held is None:
        return False
    try:
        _tell_source(record, step, task_gid, deps)
    except BaseException:
        deps.ledger.update(ledger.lapse(leased, deps.now()), held)
        raise
    if deps.ledger.update(ledger.synced(leased, step, deps.now(), changed_at), held) is None:
        raise Transient(f"task {task_gid}: lease lapsed while syncing; will retry")
    return True


def _tell_source(record: Record, step: Step, task_gid: str, deps: SyncDeps) -> None:
    request = source_request(record, step, task_gid, deps.sentry_org)
    fields = {"event": "synced_back", "alert_key": record.key, "task_gid": task_gid,
              "step": step.value}
    if request is None:
        log.info("task %s %s: nothing to change in %s", task_gid, step.value, record.source,
                 extra={**fields, "event": "sync_back_skipped"})
        return
    sender = deps.senders.get(request.service)
    if sender is None or not sender.send(request):
        log.warning("task %s %s: no %s credential, %s not updated", task_gid, step.value,
                    request.service, record.key, extra={**fields, "event": "sync_back_skipped"})
        return
    log.info("task %s %s: %s updated", task_gid, step.value, record.key, extra=fields)


def source_request(record: Record, step: Step, task_gid: str,
                   sentry_org: str | None) -> LinkRequest | None:
    """Return the request that tells Sentry or Datadog, or None when there is nothing to tell."""
    if record.key.startswith(SENTRY_ISSUE_PREFIX) and record.external_id and sentry_org:
        path = (f"/organizations/{quote(sentry_org, safe='')}/issues/"
                f"{quote(record.external_id, safe='')}/")
        status = "resolved" if step is Step.RESOLVE else "unresolved"
        return LinkRequest("sentry", "PUT", path, {"status": status})
    if record.key.startswith(DATADOG_CYCLE_PREFIX):
        return datadog_event(record, step, task_gid)
    return None  # a Sentry metric incident follows its metric; Sentry has no API to resolve it


def datadog_event(record: Record, step: Step, task_gid: str) -> LinkRequest:
    """Return a Datadog event on the monitor's stream saying what happened to the task."""
    cycle = record.key.removeprefix(DATADOG_CYCLE_PREFIX)
    done = step is Step.RESOLVE
    verb = "completed" if done else "reopened"
    url = task_url(task_gid, record.project_gid)
    tags = [f"alert_cycle_key:{cycle}", f"asana_task:{task_gid}", "source:alert-bridge"]
    if record.external_id:
        tags.insert(0, f"monitor_id:{record.external_id}")
    body: dict[str, Any] = {
        "title": f"Asana task {verb}" + (f" (monitor {record.external_id})"
                                         if record.external_id else ""),
        "text": f"%%%\nThe [Asana task]({url}) of this alert was {verb}"
                + (f" by team **{record.team}**" if record.team else "") + ".\n%%%",
        "tags": [tag[:200] for tag in tags],
        "alert_type": "success" if done else "warning",
        "aggregation_key": cycle[:100],
        "source_type_name": "my_apps",
    }
    return LinkRequest("datadog", "POST", "/api/v1/events", body)


def _skip(task_gid: str, why: str) -> Decision:
    log.info("task %s: skip (%s)", task_gid, why,
             extra={"event": "sync_decision", "step": "skip", "task_gid": task_gid})
    return Decision(Step.SKIP, why)


def _gid_of(value: object) -> str | None:
    return str(value.get("gid")) if isinstance(value, dict) and value.get("gid") else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
