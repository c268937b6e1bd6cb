"""The alert ledger: one record per alert key, and the pure decision of what a delivery does.

A record is claimed atomically before its task exists (``creating``), then holds the task gid
(``open`` / ``resolved``). Every multi-step change holds a short *lease* on the record (renewed
while a slow Asana call is in flight), so a crashed worker's lease lapses within seconds.
"Expired" and "lapsed" are always computed from the clock, never stored as a state.

A delivery is recognised by its *identity*: the digest of its body and of the sender's id of
that HTTP delivery (Sentry's ``Request-ID``), see delivery_digest(). A Pub/Sub redelivery and a
dead-letter replay carry both unchanged and are recognised; a new webhook whose body happens to
be byte for byte an earlier one (resolve, unresolve, resolve again with no event in between)
carries a new id and is not. A digest is remembered only once its step has succeeded.

Decision table for a webhook of the alert's source (first matching row wins;
tests/unit/test_ledger.py has one case per row):

=====  ==========================================  ==========================  ==========
row    record                                      delivery                    step
=====  ==========================================  ==========================  ==========
1      none, or expired                            triggered / reopened,       CREATE
                                                   may create
2      none, or expired                            resolved; reopened that     REMEMBER
                                                   may not create
2b     none, or expired                            anything else               SKIP
3      its identity is among the applied ones      any                         SKIP
3b     remembered resolved (no task)               triggered / reopened, may   CREATE_RESOLVED
                                                   create, out of order
3c     remembered (no task)                        triggered / reopened,       CREATE
                                                   may create
3d     remembered (no task)                        resolved, triggered /       REMEMBER
                                                   reopened, in order
3e     remembered (no task)                        anything else               SKIP
4      creating, lease live                        any                         WAIT
5      creating, lease lapsed                      triggered / reopened,       RECOVER
                                                   may create
6      creating, lease lapsed                      anything else               WAIT
7      open / resolved, lease live (an update)     any                         WAIT
8      resolved                                    resolved                    SKIP
9      resolved                                    triggered / reopened,       REOPEN
                                                   in order (table below)
10     open                                        resolved, in order          RESOLVE
11     open / resolved                             a state change out of       SKIP
                                                   order (table below)
12     open                                        triggered, < 30 min after   COUNT
                                                   the last note
13     open                                        triggered                   COMMENT
14     open / resolved                             anything else               COMMENT
=====  ==========================================  ==========================  ==========

The ordering rule never compares two clocks. Each side that changes an alert's state is an
*origin*: the alert's source (``sentry``, ``datadog``, ...) and ``asana`` (a person completing or
reopening the task). The record keeps, per origin, the latest time *on that origin's own clock*
it has heard of (``clocks``: Sentry's ``Sentry-Hook-Timestamp`` or event time, Datadog's
``date``, Asana's ``modified_at``, or the ``Date`` header of the source's answer to our own
change), and the origin and *receipt time* (ingest's clock) of the last applied state change.
A state change from origin O, at time t on O's clock, received at r:

=====  ====================================================  ================================
rule   when                                                  result
=====  ====================================================  ================================
A      t is older than a time already heard of from O        SKIP: stale (a redelivered or
                                                             late webhook of O itself)
B      the last state change came from the other origin      SKIP: the later human action
       and was received after r                              wins, judged by receipt
C      otherwise                                             apply (or SKIP if the task is
                                                             already in that state)
=====  ====================================================  ================================

Every state change an origin says moves its clock forward, applied or skipped, so a late echo
of a change (Sentry's webhook for an issue we resolved) is stale once a later one was heard of.
A word that changes no state (assigned, ignored, CloudWatch's INSUFFICIENT_DATA: a comment)
does not move it: it says nothing of the state, so a state change it overtook (a redelivery
of a firing whose ledger write was lost) is still applied.
decide_sync() applies the same rule to a task completed or reopened in Asana.

RECOVER looks the task up in Asana by its marker before creating, because the lapsed claim's
worker may have created it and died before recording it.

A state change that arrives before the alert's firing (Datadog's Recovered overtaking a late
Triggered, a Sentry resolve or unresolve before a delayed issue alert) is *remembered*: a record
that holds no task, only the state the source last said and when. A late firing older than that
word gets its task created in that state — completed when the source last said resolved
(CREATE_RESOLVED): the alert is not lost, and the task does not claim an alert is firing that the
source says is over.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.core.alert import Action

LEASE_SECONDS = 20  # renewed every RENEW_SECONDS while a step is in flight
RENEW_SECONDS = 5
RETENTION = timedelta(days=180)  # a Sentry issue may regress months later
RECURRENCE_COMMENT_INTERVAL = timedelta(minutes=30)  # fold bursts of firings into one comment
REMEMBERED_DIGESTS = 50  # deliveries kept to recognise redeliveries and replays
LOOKUP_SLACK = timedelta(minutes=5)  # clock skew between us and Asana's modified_at
ASANA = "asana"  # the origin of changes people make to tasks

_CREATING_ACTIONS = (Action.TRIGGERED, Action.REOPENED)
_STATE_ACTIONS = (*_CREATING_ACTIONS, Action.RESOLVED)  # what the ordering rule orders


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
    CREATE_RESOLVED = "create_resolved"  # as CREATE, the task completed: its resolve came first
    REMEMBER = "remember"  # a resolve before any firing: keep what the source said, no task
    SKIP = "skip"  # nothing to do (already applied, stale, nothing to resolve, ...)
    WAIT = "wait"  # another delivery holds the record right now: retry later


#: Steps that change the task's state, and so must not go back in time.
STATE_CHANGES = frozenset({Step.RESOLVE, Step.REOPEN})
#: Steps that create the task.
_CREATES = frozenset({Step.CREATE, Step.RECOVER, Step.CREATE_RESOLVED})


@dataclass(frozen=True)
class Delivery:
    """What the ledger needs to know about one delivered webhook."""

    action: Action
    digest: str  # delivery_digest(): the identity of this delivery
    source_time: datetime | None = None  # when the origin says it happened, on its own clock
    may_create: bool = True  # False for webhooks that only update tasks (create_tasks_from)
    origin: str = ""  # who says it: the alert's source ("sentry", "datadog") or "asana"
    received_at: datetime | None = None  # when ingest received it (our clock)


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
    group: str | None = None  # the alert's group within that object (Datadog's scope)
    lease_expires_at: datetime | None = None
    lease_started_at: datetime | None = None
    last_commented_at: datetime | None = None
    occurrences: int = 1
    digests: tuple[str, ...] = field(default_factory=tuple)
    # The ordering rule (module docstring): per origin, the latest time heard of on its clock;
    # and the origin and receipt time of the last applied state change.
    clocks: Mapping[str, datetime] = field(default_factory=dict)
    state_origin: str | None = None
    state_received_at: datetime | None = None
    # Every project a claim of this key was (being) created in, across takeovers: a crashed
    # attempt's task can be in any of them.
    claim_projects: tuple[str, ...] = field(default_factory=tuple)
    born_resolved: bool = False  # the claim creates its task completed (CREATE_RESOLVED)

    def leased(self, now: datetime) -> bool:
        """Tell whether a delivery holds a live lease on the record."""
        return self.lease_expires_at is not None and self.lease_expires_at > now

    def expired(self, now: datetime) -> bool:
        """Tell whether the record is past its retention (Firestore's TTL purges it later)."""
        return self.expires_at <= now

    def remembered(self) -> bool:
        """Tell whether the record only remembers what the source said before any firing."""
        return self.state is not State.CREATING and not self.task_gid


@dataclass(frozen=True)
class Decision:
    """A step and why, for the log."""

    step: Step
    why: str


def body_digest(body: bytes) -> str:
    """Return the digest that recognises one webhook body however often it is delivered."""
    return hashlib.sha256(body).hexdigest()[:32]


def delivery_digest(body: bytes, delivery_id: str | None) -> str:
    """Return the identity of one delivery: its body, and the sender's id of it if it has one.

    Redeliveries and replays keep the id; a new webhook with an identical body gets a new one.
    """
    if not delivery_id:
        return body_digest(body)
    return hashlib.sha256(body + b"\0" + delivery_id.encode("utf-8", "replace")).hexdigest()[:32]


def decide(record: Record | None, delivery: Delivery, now: datetime) -> Decision:
    """Decide what one delivery does to the alert's task, given the ledger record."""
    action = delivery.action
    if record is None or record.expired(now):
        return _on_new(delivery)
    if delivery.digest in record.digests:
        return Decision(Step.SKIP, "this webhook was already applied (redelivery or replay)")
    if record.remembered():
        return _on_remembered(record, delivery)
    if record.state is State.CREATING:
        return _on_creating(record, delivery, now)
    if record.leased(now):
        return Decision(Step.WAIT, "another delivery is updating this task")
    if record.state is State.RESOLVED:
        decision = _on_resolved(action)
    else:
        decision = _on_open(action, record, now)
    if decision.step in STATE_CHANGES:
        why = out_of_order(record, delivery)
        if why:
            return Decision(Step.SKIP, f"{action.value}: {why}")
    return decision


def _on_new(delivery: Delivery) -> Decision:
    if delivery.action in _CREATING_ACTIONS and delivery.may_create:
        return Decision(Step.CREATE, "first time this alert is seen")
    if delivery.action in (Action.RESOLVED, Action.REOPENED):
        return Decision(Step.REMEMBER, f"{delivery.action.value} before any firing arrived: "
                                       "remembered, so a late firing is known to be older")
    if delivery.action is Action.TRIGGERED:
        return Decision(Step.SKIP, "this webhook only updates existing tasks "
                                   "(settings.create_tasks_from)")
    return Decision(Step.SKIP, f"{delivery.action.value} for an alert that has no task")


def _on_remembered(record: Record, delivery: Delivery) -> Decision:
    action = delivery.action
    late = out_of_order(record, delivery)
    if action in _CREATING_ACTIONS and delivery.may_create:
        if late and record.state is State.RESOLVED:
            return Decision(Step.CREATE_RESOLVED, "fired before the resolve that arrived "
                                                  "first: its task is created completed")
        return Decision(Step.CREATE, "fired; what the source said before is remembered")
    if action in (*_CREATING_ACTIONS, Action.RESOLVED) and not late:
        return Decision(Step.REMEMBER, f"{action.value} of an alert that has no task yet: "
                                       "remembered")
    return Decision(Step.SKIP, f"{action.value} for an alert that has no task")


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


def out_of_order(record: Record, delivery: Delivery) -> str | None:
    """Return why a state change must not be applied (rules A and B), or None (rule C)."""
    heard = record.clocks.get(delivery.origin)
    if delivery.source_time is not None and heard is not None and delivery.source_time < heard:
        return (f"{delivery.origin} said this at {_stamp(delivery.source_time)}, before its "
                f"latest word at {_stamp(heard)}: out of order")
    later = record.state_received_at
    if (record.state_origin and record.state_origin != delivery.origin
            and delivery.received_at is not None and later is not None
            and delivery.received_at < later):
        return (f"received at {_stamp(delivery.received_at)}, before the change made in "
                f"{record.state_origin} (received {_stamp(later)}): the later action wins")
    return None


def heard(record: Record, origin: str, moment: datetime | None) -> Record:
    """Return the record with ``origin``'s clock moved forward to ``moment`` (never back)."""
    if not origin or moment is None:
        return record
    current = record.clocks.get(origin)
    if current is not None and current >= moment:
        return record
    return replace(record, clocks={**record.clocks, origin: moment})


def said(record: Record, delivery: Delivery) -> Record:
    """Return the record with the delivery's origin clock moved forward, when it says a state
    (a comment-only word orders nothing)."""
    if delivery.action not in _STATE_ACTIONS:
        return record
    return heard(record, delivery.origin, delivery.source_time)


def noted(record: Record, delivery: Delivery) -> Record | None:
    """Return the record after a SKIP that taught it something, or None if nothing changed.

    A skipped state change still moves its origin's clock forward (rule A for the next late
    one), and is remembered, so its redelivery is recognised at once.
    """
    moved = said(record, delivery)
    if moved is record:
        return None
    return replace(moved, digests=(*moved.digests, delivery.digest)[-REMEMBERED_DIGESTS:])


def claim(key: str, now: datetime, *, project_gid: str | None, source: str | None = None,
          external_id: str | None = None, group: str | None = None, resolved: bool = False,
          remembered: Record | None = None) -> Record:
    """Return the record that marks ``key`` as being created by this delivery.

    A claim over a remembered resolve keeps what the source said (its clocks), so that its
    own late deliveries are still known to be older.
    """
    return Record(key=key, state=State.CREATING, updated_at=now, created_at=now,
                  expires_at=now + RETENTION, project_gid=project_gid, source=source,
                  external_id=external_id, group=group, lease_started_at=now,
                  lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
                  claim_projects=(project_gid,) if project_gid else (),
                  born_resolved=resolved,
                  clocks=dict(remembered.clocks) if remembered is not None else {},
                  digests=remembered.digests if remembered is not None else ())


def remember(record: Record | None, key: str, delivery: Delivery, now: datetime, *,
             source: str | None, external_id: str | None) -> Record:
    """Return the record of what the source said before any firing: no task, its clocks."""
    base = record if record is not None and not record.expired(now) else Record(
        key=key, state=State.OPEN, updated_at=now, created_at=now, expires_at=now + RETENTION,
        source=source, external_id=external_id)
    return after(base, Step.REMEMBER, delivery, now)


def take_over(record: Record, now: datetime, *, project_gid: str | None) -> Record:
    """Return a lapsed claim taken over by this delivery, creating in ``project_gid``."""
    projects = record.claim_projects
    if project_gid and project_gid not in projects:
        projects = (*projects, project_gid)
    return replace(record, updated_at=now, project_gid=project_gid, lease_started_at=now,
                   lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
                   claim_projects=projects)


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
    updated = replace(said(record, delivery), updated_at=now,
                      expires_at=now + RETENTION, digests=digests, lease_expires_at=None,
                      lease_started_at=None)
    if step in STATE_CHANGES or step in _CREATES or step is Step.REMEMBER:
        updated = replace(updated, state_origin=delivery.origin or None,
                          state_received_at=delivery.received_at or now)
    if step in _CREATES:
        state = State.RESOLVED if record.born_resolved else State.OPEN
        return replace(updated, state=state, task_gid=task_gid, team=team,
                       created_at=now, last_commented_at=now, occurrences=1,
                       born_resolved=False)
    if step is Step.RESOLVE:
        return replace(updated, state=State.RESOLVED, last_commented_at=now)
    if step is Step.REOPEN:
        return replace(updated, state=State.OPEN, last_commented_at=now,
                       occurrences=record.occurrences + 1)
    if step is Step.COMMENT:
        return replace(updated, last_commented_at=now, occurrences=record.occurrences + 1)
    if step is Step.COUNT:
        return replace(updated, occurrences=record.occurrences + 1)
    if step is Step.REMEMBER:
        state = State.RESOLVED if delivery.action is Action.RESOLVED else State.OPEN
        return replace(updated, state=state)
    return updated


def lookup_since(record: Record) -> datetime:
    """Return the earliest modification time a task created under ``record``'s claim can have.

    From the first claim, not the latest takeover: with two crashes minutes apart, the first
    attempt's task is older than the second attempt's lease.
    """
    started = min(record.created_at, record.lease_started_at or record.updated_at)
    return started - LOOKUP_SLACK


def lookup_projects(record: Record) -> tuple[str, ...]:
    """Return every project a task created under ``record``'s claim can be in."""
    projects = record.claim_projects or ((record.project_gid,) if record.project_gid else ())
    return tuple(dict.fromkeys(projects))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_TIMES = ("created_at", "updated_at", "expires_at", "lease_expires_at", "lease_started_at",
          "last_commented_at", "state_received_at")
_TEXTS = ("task_gid", "team", "project_gid", "source", "external_id", "group",
          "state_origin")


def to_document(record: Record) -> dict[str, object]:
    """Return the record as a Firestore document (datetimes become Timestamps)."""
    document: dict[str, object] = {"key": record.key, "state": record.state.value,
                                   "occurrences": record.occurrences,
                                   "digests": list(record.digests),
                                   "clocks": dict(record.clocks),
                                   "claim_projects": list(record.claim_projects),
                                   "born_resolved": record.born_resolved}
    document.update({name: getattr(record, name) for name in _TIMES + _TEXTS})
    return document


def from_document(document: Mapping[str, object]) -> Record:
    """Return the record a Firestore document holds.

    Records written before the ordering rule have no ``clocks``: their ``state_changed_at``
    mixed clocks and is ignored, so rule A starts with the next delivery of each origin.
    """
    def when(name: str) -> datetime | None:
        value = document.get(name)
        return value if isinstance(value, datetime) else None

    created, updated, expires = when("created_at"), when("updated_at"), when("expires_at")
    if created is None or updated is None or expires is None:
        raise ValueError(f"ledger record {document.get('key')!r} lacks its timestamps")
    digests, occurrences = document.get("digests"), document.get("occurrences")
    clocks, projects = document.get("clocks"), document.get("claim_projects")
    return Record(
        key=str(document.get("key")), state=State(str(document.get("state"))),
        updated_at=updated, expires_at=expires, created_at=created,
        **{name: _optional_str(document.get(name)) for name in _TEXTS},
        lease_expires_at=when("lease_expires_at"), lease_started_at=when("lease_started_at"),
        last_commented_at=when("last_commented_at"),
        state_received_at=when("state_received_at"),
        occurrences=occurrences if isinstance(occurrences, int) else 1,
        digests=tuple(str(d) for d in digests) if isinstance(digests, list) else (),
        clocks={str(k): v for k, v in clocks.items() if isinstance(v, datetime)}
        if isinstance(clocks, dict) else {},
        claim_projects=tuple(str(p) for p in projects) if isinstance(projects, list) else (),
        born_resolved=document.get("born_resolved") is True,
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def decide_sync(record: Record | None, completed: bool, now: datetime,
                change: Delivery | None = None) -> Decision:
    """Decide what a task completed (or reopened) in Asana does to its alert's record.

    ``change`` carries the task's ``modified_at`` (Asana's clock) and the receipt time, for
    the ordering rule; the same rows as decide(): S1 no record, S2 busy, S3 already in that
    state, S4 out of order, S5 apply.
    """
    if record is None or record.expired(now):
        return Decision(Step.SKIP, "no alert has this task")
    if record.state is State.CREATING or record.leased(now):
        return Decision(Step.WAIT, "another delivery is updating this alert")
    if completed and record.state is State.RESOLVED:
        return Decision(Step.SKIP, "alert already resolved")
    if not completed and record.state is State.OPEN:
        return Decision(Step.SKIP, "alert already open")
    why = out_of_order(record, change) if change is not None else None
    if why:
        return Decision(Step.SKIP, f"task {'completed' if completed else 'reopened'}: {why}")
    if completed:
        return Decision(Step.RESOLVE, "task completed in Asana")
    return Decision(Step.REOPEN, "task reopened in Asana")


def synced(record: Record, step: Step, now: datetime, change: Delivery,
           source_time: datetime | None = None) -> Record:
    """Return the record once a task's completion in Asana was passed on to its source.

    ``source_time`` is when the source made our change, on its own clock (its answer's Date):
    the webhook the source sends about it (an echo) is then no newer than what we know.
    """
    state = State.RESOLVED if step is Step.RESOLVE else State.OPEN
    moved = heard(heard(record, change.origin, change.source_time), record.source or "",
                  source_time)
    return replace(moved, state=state, updated_at=now, lease_expires_at=None,
                   lease_started_at=None, state_origin=change.origin,
                   state_received_at=change.received_at or now)
