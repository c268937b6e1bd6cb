"""Two-way sync: a task completed or reopened in Asana resolves or unresolves its alert.

The worker gets one message per changed task (see shared/sources/asana/ingest.py). Events carry
compact resources only, so the task's current state is read from Asana: a replayed or
out-of-order delivery then changes nothing the task does not say.

Only tasks of teams that opt in are synced, decided now from the current teams.yaml (a team
that opts out stops at once; a project shared with an opted-in team syncs only that team's
tasks). A task that no alert owns is logged and skipped.

Which request tells the alert's source, if any, is the source's (Source.sync_request).

Loop prevention: a change made by the service's own Asana user (completing a task when the
alert resolved) is ignored; and the ledger moves to ``resolved`` / ``open`` here, so the
source's own ``resolved`` webhook that follows our change is a SKIP ("task already completed").
Ordering (shared/core/ledger.py): the task's ``modified_at`` is Asana's clock, compared only with
Asana's; against the alert's source, the later receipt wins. The source's answer to our change
carries its own clock (Date), which the record keeps: the webhook the source then sends about
our change (an echo) is no newer than that, and a late echo of an older change is stale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.adapters.asana import AsanaRejected
from shared.core import ledger
from shared.core.alert import Action
from shared.core.envelope import PushMessage
from shared.core.errors import Transient
from shared.core.ledger import ASANA, Decision, Delivery, Record, Step
from shared.core.links import LinkRequest, LinkSender
from shared.core.payload import parse_time
from shared.core.settings import Settings
from shared.sources import SOURCES
from shared.sources.base import Sources, Untold

log = logging.getLogger(__name__)

MAX_ROUNDS = 5


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
    senders: Mapping[str, LinkSender]  # by source name
    settings: Settings  # what a source needs to build its request (Sentry: SENTRY_ORG)
    now: Callable[[], datetime]
    opted_in: Callable[[str], bool]  # team name -> sync_back in the current teams.yaml
    sources: Sources = SOURCES


def process(message: PushMessage, deps: SyncDeps) -> Decision:
    """Pass one task's completion change in Asana on to the alert's source."""
    task_gid = message.attributes.get("task_gid", "")
    me = deps.asana.me()
    tracker = deps.sources.named(message.attributes.get("source"))
    users = tracker.changed_by(message.data, task_gid) \
        if tracker is not None and tracker.changed_by is not None else []
    if users and all(user == me for user in users):
        return _skip(task_gid, "changed by alert-bridge itself")
    found = deps.find_by_task(task_gid)
    if found is None:
        return _skip(task_gid, "no alert has this task")
    if not found.team or not deps.opted_in(found.team):
        return _skip(task_gid, f"team {found.team or '(none)'} does not sync back "
                               "(sync_back in teams.yaml)")
    try:
        task = deps.asana.task_state(task_gid)
    except AsanaRejected as error:
        if error.status != 404:
            raise
        return _skip(task_gid, "task was deleted in Asana")
    completed = task.get("completed") is True
    if completed and _gid_of(task.get("completed_by")) == me:
        return _skip(task_gid, "completed by alert-bridge itself")
    change = Delivery(action=Action.RESOLVED if completed else Action.REOPENED, digest="",
                      source_time=parse_time(task.get("modified_at")), origin=ASANA,
                      received_at=parse_time(message.attributes.get("received_at")))
    for _ in range(MAX_ROUNDS):
        record, version = deps.ledger.get(found.key)
        decision = ledger.decide_sync(record, completed, deps.now(), change)
        log.info("task %s: %s (%s)", task_gid, decision.step.value, decision.why,
                 extra={"event": "sync_decision", "step": decision.step.value,
                        "task_gid": task_gid, "alert_key": found.key})
        if decision.step is Step.SKIP:
            _note(record, version, change, deps)
            return decision
        if decision.step is Step.WAIT:
            raise Transient(f"task {task_gid}: {decision.why}")
        assert record is not None  # decide_sync() guarantees it
        outcome = _apply(record, version, decision.step, task_gid, change, deps)
        if outcome is not None:
            return outcome
    raise Transient(f"task {task_gid}: its alert's ledger record kept changing; will retry")


def _note(record: Record | None, version: Any, change: Delivery, deps: SyncDeps) -> None:
    """Move Asana's clock forward on the record after a skip; best effort (a lost race is ok)."""
    if record is None or record.expired(deps.now()):
        return
    moved = ledger.heard(record, ASANA, change.source_time)
    if moved is not record:
        deps.ledger.update(moved, version)


def _apply(record: Record, version: Any, step: Step, task_gid: str, change: Delivery,
           deps: SyncDeps) -> Decision | None:
    """Hold the record, tell the source, record the new state; None if the record moved.

    A source that could not be told (its credential or SENTRY_ORG is missing) leaves the
    record as it was: the alert's source still says the old state, and a record claiming
    otherwise would have reconciliation undo the person's change in Asana.
    """
    leased = ledger.lease(record, deps.now())
    held = deps.ledger.update(leased, version)
    if held is None:
        return None
    try:
        source_time = _tell_source(record, step, task_gid, deps)
    except Untold as untold:
        deps.ledger.update(ledger.lapse(leased, deps.now()), held)
        return Decision(Step.SKIP, str(untold))
    except BaseException:
        deps.ledger.update(ledger.lapse(leased, deps.now()), held)
        raise
    done = ledger.synced(leased, step, deps.now(), change, source_time)
    if deps.ledger.update(done, held) is None:
        raise Transient(f"task {task_gid}: lease lapsed while syncing; will retry")
    return Decision(step, "task completed in Asana" if step is Step.RESOLVE
                    else "task reopened in Asana")


def _tell_source(record: Record, step: Step, task_gid: str, deps: SyncDeps) -> datetime | None:
    """Pass the change on; return when the source made it, on its own clock, if it says."""
    fields = {"event": "synced_back", "alert_key": record.key, "task_gid": task_gid,
              "step": step.value}
    try:
        request = _request(record, step, task_gid, deps.settings, deps.sources)
    except Untold as untold:
        _untold(untold, step, task_gid, record, fields)
        raise
    if request is None:
        log.info("task %s %s: nothing to change in %s", task_gid, step.value, record.source,
                 extra={**fields, "event": "sync_back_skipped"})
        return None
    sender = deps.senders.get(request.service)
    sent = sender.send(request) if sender is not None else None
    if sent is None:
        missing = Untold(f"no {request.service} credential",
                         f"no {request.service} credential: {record.key} cannot be told")
        _untold(missing, step, task_gid, record, fields)
        raise missing
    log.info("task %s %s: %s updated", task_gid, step.value, record.key, extra=fields)
    return sent.at


def _untold(untold: Untold, step: Step, task_gid: str, record: Record,
            fields: Mapping[str, object]) -> None:
    log.warning("task %s %s: %s, %s not updated", task_gid, step.value, untold.reason,
                record.key, extra={**fields, "event": "sync_back_skipped"})


def source_request(record: Record, step: Step, task_gid: str, settings: Settings,
                   sources: Sources = SOURCES) -> LinkRequest | None:
    """Return the request that tells the alert's source, or None when it can be told nothing."""
    try:
        return _request(record, step, task_gid, settings, sources)
    except Untold:
        return None


def _request(record: Record, step: Step, task_gid: str, settings: Settings,
             sources: Sources) -> LinkRequest | None:
    """Return the source's request; Untold when it has an API this deployment cannot call."""
    source = sources.of_key(record.key)
    if source is None or source.sync_request is None:
        return None
    return source.sync_request(record, step, task_gid, settings)


def _skip(task_gid: str, why: str) -> Decision:
    log.info("task %s: skip (%s)", task_gid, why,
             extra={"event": "sync_decision", "step": "skip", "task_gid": task_gid})
    return Decision(Step.SKIP, why)


def _gid_of(value: object) -> str | None:
    return str(value.get("gid")) if isinstance(value, dict) and value.get("gid") else None


