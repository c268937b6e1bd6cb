"""The alert ledger: one record per alert key, and the pure decision of what a delivery does.

A record is claimed atomically before its task exists (``creating``), then holds the task gid
(``open`` / ``resolved``). Every multi-step change holds a short *lease* on the record (renewed
while a slow Asana call is in flight), so a crashed worker's lease lapses within seconds.
"Expired" and "lapsed" are always computed from the clock, never stored as a state.

A delivery is recognised by the digest of its body, not by its Pub/Sub message id: a
redelivery, a dead-letter replay and a re-posted captured webhook all carry the same body,
and a digest is remembered only once its step has succeeded.

Decision table (first matching row wins; tests/unit/test_ledger.py has one case per row):

=====  ==========================================  ==========================  ==========
row    record                                      delivery                    step
=====  ==========================================  ==========================  ==========
1      none, or expired                            triggered / reopened,       CREATE
                                                   may create
2      none, or expired                            anything else               SKIP
3      its digest is among the applied ones        any                         SKIP
4      creating, lease live                        any                         WAIT
5      creating, lease lapsed                      triggered / reopened,       RECOVER
                                                   may create
6      creating, lease lapsed                      anything else               WAIT
7      open / resolved, lease live (an update)     any                         WAIT
8      resolved                                    resolved                    SKIP
9      resolved                                    triggered / reopened,       REOPEN
                                                   not older than last change
10     open                                        resolved, not older         RESOLVE
11     open / resolved                             a state change older than   SKIP
                                                   the last applied one
12     open                                        triggered, < 30 min after   COUNT
                                                   the last note
13     open                                        triggered                   COMMENT
14     open / resolved                             anything else               COMMENT
=====  ==========================================  ==========================  ==========

RECOVER looks the task up in Asana by its marker before creating, because the lapsed claim's
worker may have created it and died before recording it.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.alerts import Action

LEASE_SECONDS = 20  # renewed every RENEW_SECONDS while a step is in flight
RENEW_SECONDS = 5
RETENTION = timedelta(days=180)  # a Sentry issue may regress months later
RECURRENCE_COMMENT_INTERVAL = timedelta(minutes=30)  # fold bursts of firings into one comment
REMEMBERED_DIGESTS = 50  # bodies kept to recognise redeliveries and replays
LOOKUP_SLACK = timedelta(minutes=5)  # clock skew between us and Asana's modified_at

_CREATING_ACTIONS = (Action.TRIGGERED, Action.REOPENED)


class State(enum.StrEnum):
    """Where an alert's task stands."""

    CREATING = "creating"
    OPEN = "open"
    RESOLVED = "resolved"


class Step(enum.StrEnum):
    """What the worker does with one delivery."""

    CREATE = "create"  # claim, route, render and create the task
    RECOVER = "recover"  # take over a lapsed claim: adopt the task if Asana has it, else create
    COMMENT = "comment"  # comment on the existing task
    COUNT = "count"  # a recurrence inside the comment interval: only count it
    RESOLVE = "resolve"  # complete the task and comment
    REOPEN = "reopen"  # reopen the task and comment
    SKIP = "skip"  # nothing to do (already applied, stale, nothing to resolve, ...)
    WAIT = "wait"  # another delivery holds the record right now: retry later


#: Steps that change the task's state, and so must not go back in time.
STATE_CHANGES = frozenset({Step.RESOLVE, Step.REOPEN})


@dataclass(frozen=True)
class Delivery:
    """What the ledger needs to know about one delivered webhook."""

    action: Action
    digest: str  # body_digest() of the webhook body
    source_time: datetime | None = None  # when the source says it happened
    may_create: bool = True  # False for webhooks that only update tasks (create_tasks_from)


@dataclass(frozen=True)
class Record:
    """What the ledger remembers about one alert key."""

    key: str
    state: State
    updated_at: datetime
    expires_at: datetime
    created_at: datetime
    task_gid: str | None = None
    team: str | None = None
    project_gid: str | None = None  # where the task is (being) created: where to look it up
    source: str | None = None
    external_id: str | None = None  # Sentry issue / incident id, Datadog monitor id
    lease_expires_at: datetime | None = None
    lease_started_at: datetime | None = None
    last_commented_at: datetime | None = None
    state_changed_at: datetime | None = None  # source time of the last applied state change
    occurrences: int = 1
    digests: tuple[str, ...] = field(default_factory=tuple)

    def leased(self, now: datetime) -> bool:
        """Tell whether a delivery holds a live lease on the record."""
        return self.lease_expires_at is not None and self.lease_expires_at > now


@dataclass(frozen=True)
class Decision:
    """A step and why, for the log."""

    step: Step
    why: str


def body_digest(body: bytes) -> str:
    """Return the digest that recognises one webhook body however often it is delivered."""
    return hashlib.sha256(body).hexdigest()[:32]


def decide(record: Record | None, delivery: Delivery, now: datetime) -> Decision:
    """Decide what one delivery does to the alert's task, given the ledger record."""
    action = delivery.action
    if record is None or record.expires_at <= now:
        return _on_new(delivery)
    if delivery.digest in record.digests:
        return Decision(Step.SKIP, "this webhook was already applied (redelivery or replay)")
    if record.state is State.CREATING:
        return _on_creating(record, delivery, now)
    if record.leased(now):
        return Decision(Step.WAIT, "another delivery is updating this task")
    if record.state is State.RESOLVED:
        decision = _on_resolved(action)
    else:
        decision = _on_open(action, record, now)
    if decision.step in STATE_CHANGES and _stale(record, delivery):
        return Decision(Step.SKIP, f"{action.value} at {delivery.source_time:%Y-%m-%dT%H:%M:%SZ} "
                                   "is older than the last applied change: out of order")
    return decision


def _on_new(delivery: Delivery) -> Decision:
    if delivery.action not in _CREATING_ACTIONS:
        return Decision(Step.SKIP, f"{delivery.action.value} for an alert that has no task")
    if not delivery.may_create:
        return Decision(Step.SKIP, "this webhook only updates existing tasks "
                                   "(settings.create_tasks_from)")
    return Decision(Step.CREATE, "first time this alert is seen")


def _on_creating(record: Record, delivery: Delivery, now: datetime) -> Decision:
    if record.leased(now):
        return Decision(Step.WAIT, "another delivery is creating this task")
    if delivery.action in _CREATING_ACTIONS and delivery.may_create:
        return Decision(Step.RECOVER, "the previous attempt's claim lapsed")
    # The creating delivery will be redelivered and finish; this one applies after it.
    return Decision(Step.WAIT, f"{delivery.action.value} while the task's creation is unfinished")


def _on_resolved(action: Action) -> Decision:
    if action in _CREATING_ACTIONS:
        return Decision(Step.REOPEN, "alert fired again after it was resolved")
    if action is Action.RESOLVED:
        return Decision(Step.SKIP, "task already completed")
    return Decision(Step.COMMENT, f"{action.value} on a resolved alert")


def _on_open(action: Action, record: Record, now: datetime) -> Decision:
    if action is Action.RESOLVED:
        return Decision(Step.RESOLVE, "alert resolved")
    if action is Action.TRIGGERED:
        last = record.last_commented_at or record.created_at
        if now - last < RECURRENCE_COMMENT_INTERVAL:
            return Decision(Step.COUNT, "fired again shortly after the last note")
        return Decision(Step.COMMENT, "alert fired again")
    return Decision(Step.COMMENT, f"alert {action.value}")


def _stale(record: Record, delivery: Delivery) -> bool:
    return (delivery.source_time is not None and record.state_changed_at is not None
            and delivery.source_time < record.state_changed_at)


def claim(key: str, now: datetime, *, project_gid: str | None, source: str | None = None,
          external_id: str | None = None) -> Record:
    """Return the record that marks ``key`` as being created by this delivery."""
    return Record(key=key, state=State.CREATING, updated_at=now, created_at=now,
                  expires_at=now + RETENTION, project_gid=project_gid, source=source,
                  external_id=external_id, lease_started_at=now,
                  lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))


def take_over(record: Record, now: datetime, *, project_gid: str | None) -> Record:
    """Return a lapsed claim taken over by this delivery, creating in ``project_gid``."""
    return replace(record, updated_at=now, project_gid=project_gid, lease_started_at=now,
                   lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))


def lease(record: Record, now: datetime) -> Record:
    """Return the record leased by this delivery for an update of its task."""
    return replace(record, updated_at=now, lease_started_at=now,
                   lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))


def renew(record: Record, now: datetime) -> Record:
    """Return the record with its lease extended from ``now``."""
    return replace(record, lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))


def lapse(record: Record, now: datetime) -> Record:
    """Return the record with its lease ended, so the next delivery need not wait."""
    return replace(record, updated_at=now, lease_expires_at=now)


def after(record: Record, step: Step, delivery: Delivery, now: datetime, *,
          task_gid: str | None = None, team: str | None = None) -> Record:
    """Return the record as it stands once ``step`` succeeded for ``delivery``."""
    digests = (*record.digests, delivery.digest)[-REMEMBERED_DIGESTS:]
    updated = replace(record, updated_at=now, expires_at=now + RETENTION, digests=digests,
                      lease_expires_at=None, lease_started_at=None)
    changed_at = _later(record.state_changed_at, delivery.source_time or now)
    if step in (Step.CREATE, Step.RECOVER):
        return replace(updated, state=State.OPEN, task_gid=task_gid, team=team,
                       created_at=now, last_commented_at=now, occurrences=1,
                       state_changed_at=changed_at)
    if step is Step.RESOLVE:
        return replace(updated, state=State.RESOLVED, last_commented_at=now,
                       state_changed_at=changed_at)
    if step is Step.REOPEN:
        return replace(updated, state=State.OPEN, last_commented_at=now,
                       occurrences=record.occurrences + 1, state_changed_at=changed_at)
    if step is Step.COMMENT:
        return replace(updated, last_commented_at=now, occurrences=record.occurrences + 1)
    if step is Step.COUNT:
        return replace(updated, occurrences=record.occurrences + 1)
    return updated


def lookup_since(record: Record) -> datetime:
    """Return the earliest modification time a task created under ``record``'s claim can have."""
    started = record.lease_started_at or record.updated_at
    return started - LOOKUP_SLACK


def _later(first: datetime | None, second: datetime) -> datetime:
    return second if first is None or second > first else first


_TIMES = ("created_at", "updated_at", "expires_at", "lease_expires_at", "lease_started_at",
          "last_commented_at", "state_changed_at")
_TEXTS = ("task_gid", "team", "project_gid", "source", "external_id")


def to_document(record: Record) -> dict[str, object]:
    """Return the record as a Firestore document (datetimes become Timestamps)."""
    document: dict[str, object] = {"key": record.key, "state": record.state.value,
                                   "occurrences": record.occurrences,
                                   "digests": list(record.digests)}
    document.update({name: getattr(record, name) for name in _TIMES + _TEXTS})
    return document


def from_document(document: dict[str, object]) -> Record:
    """Return the record a Firestore document holds."""
    def when(name: str) -> datetime | None:
        value = document.get(name)
        return value if isinstance(value, datetime) else None

    created, updated, expires = when("created_at"), when("updated_at"), when("expires_at")
    if created is None or updated is None or expires is None:
        raise ValueError(f"ledger record {document.get('key')!r} lacks its timestamps")
    digests = document.get("digests")
    occurrences = document.get("occurrences")
    return Record(
        key=str(document.get("key")), state=State(str(document.get("state"))),
        updated_at=updated, expires_at=expires, created_at=created,
        **{name: _optional_str(document.get(name)) for name in _TEXTS},
        lease_expires_at=when("lease_expires_at"), lease_started_at=when("lease_started_at"),
        last_commented_at=when("last_commented_at"), state_changed_at=when("state_changed_at"),
        occurrences=occurrences if isinstance(occurrences, int) else 1,
        digests=tuple(str(d) for d in digests) if isinstance(digests, list) else (),
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def decide_sync(record: Record | None, completed: bool, now: datetime) -> Decision:
    """Decide what a task completed (or reopened) in Asana does to its alert's record."""
    if record is None or record.expires_at <= now:
        return Decision(Step.SKIP, "no alert has this task")
    if record.state is State.CREATING or record.leased(now):
        return Decision(Step.WAIT, "another delivery is updating this alert")
    if completed and record.state is State.RESOLVED:
        return Decision(Step.SKIP, "alert already resolved")
    if not completed and record.state is State.OPEN:
        return Decision(Step.SKIP, "alert already open")
    if completed:
        return Decision(Step.RESOLVE, "task completed in Asana")
    return Decision(Step.REOPEN, "task reopened in Asana")


def synced(record: Record, step: Step, now: datetime, changed_at: datetime) -> Record:
    """Return the record once a task's completion in Asana was passed on to its source."""
    state = State.RESOLVED if step is Step.RESOLVE else State.OPEN
    return replace(record, state=state, updated_at=now, lease_expires_at=None,
                   lease_started_at=None,
                   state_changed_at=_later(record.state_changed_at, changed_at))
