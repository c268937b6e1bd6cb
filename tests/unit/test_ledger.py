"""Ledger decisions: one case per row of the decision table in shared/core/ledger.py."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.alert import Action
from shared.core.ledger import (
    LEASE_SECONDS,
    RECURRENCE_COMMENT_INTERVAL,
    REMEMBERED_DIGESTS,
    Delivery,
    Record,
    State,
    Step,
    after,
    body_digest,
    claim,
    decide,
    from_document,
    lapse,
    lease,
    lookup_projects,
    lookup_since,
    remember,
    renew,
    take_over,
    to_document,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def record(state: State, **changes: object) -> Record:
    base = Record(key="sentry:issue:1", state=state, updated_at=NOW - HOUR,
                  expires_at=NOW + 100 * HOUR, created_at=NOW - 2 * HOUR, task_gid="42",
                  last_commented_at=NOW - 2 * HOUR, digests=("d0",),
                  clocks={"sentry": NOW - 2 * HOUR}, state_origin="sentry",
                  state_received_at=NOW - 2 * HOUR)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def delivery(action: Action, digest: str = "d1", at: datetime | None = None,
             may_create: bool = True, origin: str = "sentry",
             received: datetime | None = NOW) -> Delivery:
    return Delivery(action=action, digest=digest, source_time=at, may_create=may_create,
                    origin=origin, received_at=received)


LIVE = {"lease_expires_at": NOW + timedelta(seconds=5)}
LAPSED = {"lease_expires_at": NOW - timedelta(seconds=1)}
CREATING = {"task_gid": None}
REMEMBERED = {"task_gid": None}  # a resolve kept before any firing: resolved, no task
OLD = NOW - 3 * HOUR  # before the latest time heard of from Sentry

CASES = [
    # row 1-2: no record (or an expired one)
    ("1-new-trigger", delivery(Action.TRIGGERED), None, Step.CREATE),
    ("1-new-regression", delivery(Action.REOPENED), None, Step.CREATE),
    ("1-expired-record", delivery(Action.TRIGGERED), record(State.OPEN, expires_at=NOW),
     Step.CREATE),
    ("2-resolve-unknown", delivery(Action.RESOLVED), None, Step.REMEMBER),
    ("2-resolve-expired", delivery(Action.RESOLVED), record(State.OPEN, expires_at=NOW),
     Step.REMEMBER),
    ("2-unresolved-unknown", delivery(Action.REOPENED, may_create=False), None, Step.REMEMBER),
    ("2b-assign-unknown", delivery(Action.ASSIGNED), None, Step.SKIP),
    ("2b-update-only-webhook", delivery(Action.TRIGGERED, may_create=False), None, Step.SKIP),
    # rows 3b-3d: a resolve remembered before any firing (no task)
    ("3b-late-firing-older-than-the-resolve", delivery(Action.TRIGGERED, at=OLD),
     record(State.RESOLVED, **REMEMBERED), Step.CREATE_RESOLVED),
    ("3c-new-firing-after-the-resolve", delivery(Action.TRIGGERED, at=NOW),
     record(State.RESOLVED, **REMEMBERED), Step.CREATE),
    ("3b-not-when-the-source-last-said-open", delivery(Action.TRIGGERED, at=OLD),
     record(State.OPEN, **REMEMBERED), Step.CREATE),
    ("3d-unresolved-after-the-resolve", delivery(Action.REOPENED, at=NOW, may_create=False),
     record(State.RESOLVED, **REMEMBERED), Step.REMEMBER),
    ("3d-resolved-again", delivery(Action.RESOLVED, at=NOW),
     record(State.RESOLVED, **REMEMBERED), Step.REMEMBER),
    ("3e-late-resolve", delivery(Action.RESOLVED, at=OLD),
     record(State.OPEN, **REMEMBERED), Step.SKIP),
    ("3e-late-update-only-firing", delivery(Action.TRIGGERED, at=OLD, may_create=False),
     record(State.RESOLVED, **REMEMBERED), Step.SKIP),
    ("3e-assigned", delivery(Action.ASSIGNED, at=NOW),
     record(State.RESOLVED, **REMEMBERED), Step.SKIP),
    # row 3: the body was already applied
    ("3-redelivery", delivery(Action.TRIGGERED, digest="d0"), record(State.OPEN), Step.SKIP),
    ("3-replayed-resolve", delivery(Action.RESOLVED, digest="d0"), record(State.OPEN),
     Step.SKIP),
    ("3-replayed-trigger-on-resolved", delivery(Action.TRIGGERED, digest="d0"),
     record(State.RESOLVED), Step.SKIP),
    # rows 4-6: a task being created
    ("4-creating-live", delivery(Action.TRIGGERED),
     record(State.CREATING, **CREATING, **LIVE), Step.WAIT),
    ("4-creating-live-own-redelivery", delivery(Action.TRIGGERED, digest="dX"),
     record(State.CREATING, **CREATING, **LIVE, digests=()), Step.WAIT),
    ("5-creating-lapsed", delivery(Action.TRIGGERED),
     record(State.CREATING, **CREATING, **LAPSED), Step.RECOVER),
    ("6-creating-lapsed-resolve", delivery(Action.RESOLVED),
     record(State.CREATING, **CREATING, **LAPSED), Step.WAIT),
    ("6-creating-lapsed-update-only", delivery(Action.TRIGGERED, may_create=False),
     record(State.CREATING, **CREATING, **LAPSED), Step.WAIT),
    # row 7: an update in flight
    ("7-open-leased", delivery(Action.RESOLVED), record(State.OPEN, **LIVE), Step.WAIT),
    ("7-resolved-leased", delivery(Action.TRIGGERED), record(State.RESOLVED, **LIVE),
     Step.WAIT),
    ("7-lapsed-lease-is-ignored", delivery(Action.RESOLVED), record(State.OPEN, **LAPSED),
     Step.RESOLVE),
    # rows 8-14: the lifecycle
    ("8-resolved-twice", delivery(Action.RESOLVED), record(State.RESOLVED), Step.SKIP),
    ("9-resolved-fires-again", delivery(Action.TRIGGERED), record(State.RESOLVED),
     Step.REOPEN),
    ("9-resolved-regressed", delivery(Action.REOPENED, at=NOW), record(State.RESOLVED),
     Step.REOPEN),
    ("9-update-only-regression-reopens", delivery(Action.REOPENED, may_create=False),
     record(State.RESOLVED), Step.REOPEN),
    ("10-open-resolved", delivery(Action.RESOLVED, at=NOW), record(State.OPEN), Step.RESOLVE),
    ("10-open-resolved-same-time", delivery(Action.RESOLVED, at=NOW - 2 * HOUR),
     record(State.OPEN), Step.RESOLVE),
    ("11-old-resolve-after-reopen", delivery(Action.RESOLVED, at=OLD), record(State.OPEN),
     Step.SKIP),
    ("11-old-trigger-after-resolve", delivery(Action.TRIGGERED, at=OLD),
     record(State.RESOLVED), Step.SKIP),
    ("12-open-fires-again-soon", delivery(Action.TRIGGERED),
     record(State.OPEN, last_commented_at=NOW - RECURRENCE_COMMENT_INTERVAL / 2), Step.COUNT),
    ("13-open-fires-again", delivery(Action.TRIGGERED), record(State.OPEN), Step.COMMENT),
    ("13-old-trigger-on-open-still-comments", delivery(Action.TRIGGERED, at=OLD),
     record(State.OPEN), Step.COMMENT),
    ("14-open-regressed", delivery(Action.REOPENED), record(State.OPEN), Step.COMMENT),
    ("14-open-assigned", delivery(Action.ASSIGNED), record(State.OPEN), Step.COMMENT),
    ("14-resolved-ignored", delivery(Action.IGNORED), record(State.RESOLVED), Step.COMMENT),
]


@pytest.mark.parametrize(("incoming", "existing", "step"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_decide(incoming: Delivery, existing: Record | None, step: Step) -> None:
    assert decide(existing, incoming, NOW).step is step


def test_every_row_of_the_table_has_a_case() -> None:
    rows = {case[0].split("-")[0] for case in CASES}
    assert rows == {str(n) for n in range(1, 15)} | {"2b", "3b", "3c", "3d", "3e"}


def test_stale_skip_says_why() -> None:
    why = decide(record(State.OPEN), delivery(Action.RESOLVED, at=OLD), NOW).why
    assert "out of order" in why and "sentry" in why


def test_a_claim_lapses_on_its_own_and_is_then_recovered() -> None:
    claimed = claim("k", NOW, project_gid="p1")
    trigger = delivery(Action.TRIGGERED)
    assert decide(claimed, trigger, NOW).step is Step.WAIT
    later = NOW + timedelta(seconds=LEASE_SECONDS + 1)
    assert decide(claimed, trigger, later).step is Step.RECOVER


def test_a_renewed_lease_stays_live() -> None:
    claimed = claim("k", NOW, project_gid="p1")
    later = NOW + timedelta(seconds=LEASE_SECONDS - 1)
    renewed = renew(claimed, later)
    assert decide(renewed, delivery(Action.TRIGGERED),
                  later + timedelta(seconds=LEASE_SECONDS - 1)).step is Step.WAIT


def test_a_lapsed_lease_needs_no_wait() -> None:
    leased = lease(record(State.OPEN), NOW)
    assert decide(leased, delivery(Action.RESOLVED), NOW).step is Step.WAIT
    assert decide(lapse(leased, NOW), delivery(Action.RESOLVED), NOW).step is Step.RESOLVE


def test_take_over_keeps_history_and_moves_the_project() -> None:
    lapsed = claim("k", NOW - HOUR, project_gid="old")
    taken = take_over(lapsed, NOW, project_gid="new")
    assert (taken.state, taken.project_gid, taken.created_at) == (State.CREATING, "new",
                                                                   NOW - HOUR)
    assert lookup_since(lapsed) < NOW - HOUR  # looks where and when the crashed one wrote


def test_chained_takeovers_look_back_to_the_first_claim_in_every_project() -> None:
    first = claim("k", NOW - 10 * timedelta(minutes=1), project_gid="sprint")
    second = take_over(first, NOW - 5 * timedelta(minutes=1), project_gid="backlog")
    third = take_over(second, NOW, project_gid="backlog")
    # The first attempt's task may be ten minutes old, and in the other project.
    assert lookup_since(third) < first.created_at
    assert lookup_projects(third) == ("sprint", "backlog")


def test_after_create_the_record_holds_the_task_and_forgets_the_lease() -> None:
    created = after(claim("k", NOW, project_gid="p"), Step.CREATE, delivery(Action.TRIGGERED),
                    NOW, task_gid="9", team="Payments")
    assert (created.state, created.task_gid, created.team) == (State.OPEN, "9", "Payments")
    assert created.lease_expires_at is None
    assert created.digests == ("d1",)


def test_state_changes_remember_their_origin_and_receipt() -> None:
    opened = record(State.OPEN)
    resolved = after(opened, Step.RESOLVE, delivery(Action.RESOLVED, at=NOW), NOW)
    assert (resolved.clocks["sentry"], resolved.state_origin, resolved.state_received_at) == (
        NOW, "sentry", NOW)
    comment = after(resolved, Step.COMMENT,
                    delivery(Action.ASSIGNED, "d2", at=NOW + HOUR, received=NOW + HOUR), NOW)
    # A comment is not a state change: it neither moves the clock that orders state changes
    # nor counts as the last change.
    assert comment.clocks["sentry"] == NOW
    assert comment.state_received_at == NOW


def test_recurrences_are_counted_and_digests_bounded() -> None:
    current = after(claim("k", NOW, project_gid="p"), Step.CREATE,
                    delivery(Action.TRIGGERED, "d0"), NOW, task_gid="9")
    for n in range(1, 80):
        current = after(current, Step.COUNT, delivery(Action.TRIGGERED, f"d{n}"), NOW)
    assert current.occurrences == 80
    assert len(current.digests) == REMEMBERED_DIGESTS and current.digests[-1] == "d79"


def test_body_digest_is_stable_and_distinguishes_bodies() -> None:
    assert body_digest(b'{"a": 1}') == body_digest(b'{"a": 1}')
    assert body_digest(b'{"a": 1}') != body_digest(b'{"a": 2}')


def test_document_round_trip() -> None:
    original = after(claim("k", NOW, project_gid="p", source="sentry", external_id="77"),
                     Step.CREATE, delivery(Action.TRIGGERED, at=NOW), NOW, task_gid="9",
                     team="T")
    assert from_document(to_document(original)) == original
    assert to_document(original)["external_id"] == "77"


def test_a_remembered_resolve_holds_no_task_and_its_clock() -> None:
    resolve = delivery(Action.RESOLVED, "r", at=NOW - HOUR)
    kept = remember(None, "datadog:cycle:c", resolve, NOW, source="datadog", external_id="5")
    assert (kept.state, kept.task_gid, kept.clocks["sentry"]) == (State.RESOLVED, None,
                                                                   NOW - HOUR)
    assert kept.remembered() and kept.digests == ("r",)
    late = claim("datadog:cycle:c", NOW, project_gid="p", resolved=True, remembered=kept)
    created = after(late, Step.CREATE_RESOLVED, delivery(Action.TRIGGERED, "t"), NOW,
                    task_gid="9")
    assert (created.state, created.task_gid, created.born_resolved) == (State.RESOLVED, "9",
                                                                        False)
    assert created.digests == ("r", "t")  # the resolve's redelivery is still recognised
