"""The alert ledger: one record per alert key, and the pure decision of what a message does.

A record is claimed atomically before the task exists ("creating", with a short claim expiry
so a crashed worker's claim lapses), then holds the task gid ("open" / "resolved").
"Expired" is always computed from the clock, never stored as a state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.alerts import Action

CLAIM_SECONDS = 90  # longer than one worst-case create (Asana retries included)
RETENTION = timedelta(days=180)  # a Sentry issue may regress months later
RECURRENCE_COMMENT_INTERVAL = timedelta(minutes=30)  # fold bursts of firings into one comment
REMEMBERED_MESSAGES = 20  # message ids kept to recognise Pub/Sub redeliveries


class State(enum.StrEnum):
    """Where an alert's task stands."""

    CREATING = "creating"
    OPEN = "open"
    RESOLVED = "resolved"


class Step(enum.StrEnum):
    """What the worker does with one message."""

    CREATE = "create"  # route, render and create the task
    COMMENT = "comment"  # comment on the existing task
    COUNT = "count"  # a recurrence inside the comment interval: only count it
    RESOLVE = "resolve"  # complete the task and comment
    REOPEN = "reopen"  # reopen the task and comment
    SKIP = "skip"  # nothing to do (duplicate delivery, nothing to resolve, ...)
    WAIT = "wait"  # another worker is creating the task right now: retry later


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
    claim_expires_at: datetime | None = None
    last_commented_at: datetime | None = None
    occurrences: int = 1
    message_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Decision:
    """A step and why, for the log."""

    step: Step
    why: str


def decide(action: Action, record: Record | None, message_id: str, now: datetime, *,
           may_create: bool = True) -> Decision:
    """Decide what one message does to the alert's task, given the ledger record.

    ``may_create`` is False for webhooks that only update tasks (settings.create_tasks_from).
    """
    if record is None or record.expires_at <= now:
        if action not in (Action.TRIGGERED, Action.REOPENED):
            return Decision(Step.SKIP, f"{action.value} for an alert that has no task")
        if not may_create:
            return Decision(Step.SKIP, "this webhook only updates existing tasks "
                                       "(settings.create_tasks_from)")
        return Decision(Step.CREATE, "first time this alert is seen")
    if message_id in record.message_ids:
        return Decision(Step.SKIP, "message already processed (Pub/Sub redelivery)")
    if record.state is State.CREATING:
        if record.claim_expires_at and record.claim_expires_at > now:
            return Decision(Step.WAIT, "another delivery is creating this task")
        return Decision(Step.CREATE, "the previous attempt's claim lapsed")
    if record.state is State.RESOLVED:
        return _on_resolved(action)
    return _on_open(action, record, now)


def _on_resolved(action: Action) -> Decision:
    if action in (Action.TRIGGERED, Action.REOPENED):
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


def claim(key: str, message_id: str, now: datetime) -> Record:
    """Return the record that marks ``key`` as being created by this delivery."""
    return Record(key=key, state=State.CREATING, updated_at=now, created_at=now,
                  expires_at=now + RETENTION, message_ids=(message_id,),
                  claim_expires_at=now + timedelta(seconds=CLAIM_SECONDS))


def after(record: Record, step: Step, message_id: str, now: datetime, *,
          task_gid: str | None = None, team: str | None = None) -> Record:
    """Return the record as it stands once ``step`` succeeded."""
    ids = (*record.message_ids, message_id)[-REMEMBERED_MESSAGES:]
    if message_id in record.message_ids:
        ids = record.message_ids
    updated = replace(record, updated_at=now, expires_at=now + RETENTION, message_ids=ids)
    if step is Step.CREATE:
        return replace(updated, state=State.OPEN, task_gid=task_gid, team=team,
                       claim_expires_at=None, created_at=now, last_commented_at=now,
                       occurrences=1)
    if step is Step.RESOLVE:
        return replace(updated, state=State.RESOLVED, last_commented_at=now)
    if step is Step.REOPEN:
        return replace(updated, state=State.OPEN, last_commented_at=now,
                       occurrences=record.occurrences + 1)
    if step is Step.COMMENT:
        return replace(updated, last_commented_at=now, occurrences=record.occurrences + 1)
    if step is Step.COUNT:
        return replace(updated, occurrences=record.occurrences + 1)
    return updated


def to_document(record: Record) -> dict[str, object]:
    """Return the record as a Firestore document (datetimes become Timestamps)."""
    return {
        "key": record.key, "state": record.state.value, "task_gid": record.task_gid,
        "team": record.team, "created_at": record.created_at, "updated_at": record.updated_at,
        "expires_at": record.expires_at, "claim_expires_at": record.claim_expires_at,
        "last_commented_at": record.last_commented_at, "occurrences": record.occurrences,
        "message_ids": list(record.message_ids),
    }


def from_document(document: dict[str, object]) -> Record:
    """Return the record a Firestore document holds."""
    def when(name: str) -> datetime | None:
        value = document.get(name)
        return value if isinstance(value, datetime) else None

    created = when("created_at") or when("updated_at")
    updated = when("updated_at")
    expires = when("expires_at")
    if created is None or updated is None or expires is None:
        raise ValueError(f"ledger record {document.get('key')!r} lacks its timestamps")
    ids = document.get("message_ids")
    occurrences = document.get("occurrences")
    return Record(
        key=str(document.get("key")), state=State(str(document.get("state"))),
        updated_at=updated, expires_at=expires, created_at=created,
        task_gid=_optional_str(document.get("task_gid")),
        team=_optional_str(document.get("team")),
        claim_expires_at=when("claim_expires_at"), last_commented_at=when("last_commented_at"),
        occurrences=occurrences if isinstance(occurrences, int) else 1,
        message_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
