"""Ledger decisions: what one message does, given what the ledger remembers."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import Action
from shared.ledger import (
    RECURRENCE_COMMENT_INTERVAL,
    Record,
    State,
    Step,
    after,
    claim,
    decide,
    from_document,
    to_document,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def record(state: State, **changes: object) -> Record:
    base = Record(key="sentry:issue:1", state=state, updated_at=NOW - HOUR,
                  expires_at=NOW + 100 * HOUR, created_at=NOW - 2 * HOUR, task_gid="42",
                  last_commented_at=NOW - 2 * HOUR, message_ids=("m0",))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


CASES = [
    ("new-trigger", Action.TRIGGERED, None, Step.CREATE),
    ("new-regression", Action.REOPENED, None, Step.CREATE),
    ("resolve-unknown", Action.RESOLVED, None, Step.SKIP),
    ("assign-unknown", Action.ASSIGNED, None, Step.SKIP),
    ("expired-record", Action.TRIGGERED, record(State.OPEN, expires_at=NOW), Step.CREATE),
    ("redelivery", Action.TRIGGERED, record(State.OPEN, message_ids=("m1",)), Step.SKIP),
    ("creating-live-claim", Action.TRIGGERED,
     record(State.CREATING, task_gid=None, claim_expires_at=NOW + HOUR), Step.WAIT),
    ("creating-lapsed-claim", Action.TRIGGERED,
     record(State.CREATING, task_gid=None, claim_expires_at=NOW - HOUR), Step.CREATE),
    ("open-fires-again", Action.TRIGGERED, record(State.OPEN), Step.COMMENT),
    ("open-fires-again-soon", Action.TRIGGERED,
     record(State.OPEN, last_commented_at=NOW - RECURRENCE_COMMENT_INTERVAL / 2), Step.COUNT),
    ("open-resolved", Action.RESOLVED, record(State.OPEN), Step.RESOLVE),
    ("open-regressed", Action.REOPENED, record(State.OPEN), Step.COMMENT),
    ("open-assigned", Action.ASSIGNED, record(State.OPEN), Step.COMMENT),
    ("resolved-fires-again", Action.TRIGGERED, record(State.RESOLVED), Step.REOPEN),
    ("resolved-regressed", Action.REOPENED, record(State.RESOLVED), Step.REOPEN),
    ("resolved-twice", Action.RESOLVED, record(State.RESOLVED), Step.SKIP),
    ("resolved-ignored", Action.IGNORED, record(State.RESOLVED), Step.COMMENT),
]


@pytest.mark.parametrize(("action", "existing", "step"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide(action: Action, existing: Record | None, step: Step) -> None:
    assert decide(action, existing, "m1", NOW).step is step


def test_claim_lapses_on_its_own() -> None:
    claimed = claim("k", "m1", NOW)
    assert decide(Action.TRIGGERED, claimed, "m2", NOW).step is Step.WAIT
    assert claimed.claim_expires_at is not None
    later = claimed.claim_expires_at + timedelta(seconds=1)
    assert decide(Action.TRIGGERED, claimed, "m2", later).step is Step.CREATE


def test_after_create_the_record_holds_the_task_and_forgets_the_claim() -> None:
    created = after(claim("k", "m1", NOW), Step.CREATE, "m1", NOW, task_gid="9", team="Payments")
    assert (created.state, created.task_gid, created.team) == (State.OPEN, "9", "Payments")
    assert created.claim_expires_at is None
    assert created.message_ids == ("m1",)


def test_recurrences_are_counted_and_message_ids_bounded() -> None:
    current = after(claim("k", "m0", NOW), Step.CREATE, "m0", NOW, task_gid="9")
    for n in range(1, 30):
        current = after(current, Step.COUNT, f"m{n}", NOW)
    assert current.occurrences == 30
    assert len(current.message_ids) == 20 and current.message_ids[-1] == "m29"


def test_document_round_trip() -> None:
    original = after(claim("k", "m1", NOW), Step.CREATE, "m1", NOW, task_gid="9", team="T")
    assert from_document(to_document(original)) == original


@pytest.mark.parametrize("action", [Action.TRIGGERED, Action.REOPENED], ids=["trigger", "regress"])
def test_update_only_webhooks_never_create(action: Action) -> None:
    assert decide(action, None, "m1", NOW, may_create=False).step is Step.SKIP
    existing = record(State.RESOLVED)
    assert decide(action, existing, "m1", NOW, may_create=False).step is Step.REOPEN
