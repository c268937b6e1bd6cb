"""The ordering rule of shared/core/ledger.py: one test per rule, then the stories to get right.

Clocks are deliberately far apart: Sentry's and Asana's clocks never agree with ours, and the
rule must not need them to.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.alert import Action
from shared.core.ledger import (
    ASANA,
    Delivery,
    Record,
    State,
    Step,
    after,
    claim,
    decide,
    decide_sync,
    delivery_digest,
    lease,
    noted,
    synced,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # our clock
SENTRY_EPOCH = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Sentry's clock: three hours behind
ASANA_EPOCH = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # Asana's: six hours ahead
MINUTE = timedelta(minutes=1)


def sentry(minute: int) -> datetime:
    return SENTRY_EPOCH + minute * MINUTE


def asana(minute: int) -> datetime:
    return ASANA_EPOCH + minute * MINUTE


def ours(minute: int) -> datetime:
    return NOW + minute * MINUTE


class Story:
    """One alert's record, driven through deliveries from Sentry and changes made in Asana."""

    def __init__(self) -> None:
        first = Delivery(Action.TRIGGERED, "fired", sentry(0), origin="sentry",
                         received_at=ours(0))
        claimed = claim("sentry:issue:1", ours(0), project_gid="p", source="sentry")
        self.record: Record = after(claimed, Step.CREATE, first, ours(0), task_gid="t",
                                    team="T")
        self.count = 0

    def from_sentry(self, action: Action, said: int, received: int,
                    identity: str | None = None) -> Step:
        """Deliver a Sentry webhook; return the step the worker took."""
        self.count += 1
        incoming = Delivery(action, identity or f"sentry-{self.count}", sentry(said),
                            origin="sentry", received_at=ours(received))
        decision = decide(self.record, incoming, ours(received))
        if decision.step is Step.SKIP:
            self.record = noted(self.record, incoming) or self.record
        else:
            self.record = after(self.record, decision.step, incoming, ours(received))
        return decision.step

    def from_asana(self, completed: bool, modified: int, received: int,
                   sentry_answered: int | None = None) -> Step:
        """A person completes or reopens the task; return what the sync did."""
        change = Delivery(Action.RESOLVED if completed else Action.REOPENED, "",
                          asana(modified), origin=ASANA, received_at=ours(received))
        decision = decide_sync(self.record, completed, ours(received), change)
        if decision.step in (Step.RESOLVE, Step.REOPEN):
            answered = None if sentry_answered is None else sentry(sentry_answered)
            held = lease(self.record, ours(received))
            self.record = synced(held, decision.step, ours(received), change, answered)
        return decision.step


def test_rule_a_a_source_is_compared_only_with_itself() -> None:
    story = Story()
    assert story.from_sentry(Action.RESOLVED, said=10, received=10) is Step.RESOLVE
    assert story.from_sentry(Action.REOPENED, said=20, received=20) is Step.REOPEN
    # Sentry said "resolved" at minute 5, before it said "regressed": stale, whenever it lands.
    assert story.from_sentry(Action.RESOLVED, said=5, received=30) is Step.SKIP
    assert story.record.state is State.OPEN


def test_rule_b_between_sources_the_later_receipt_wins() -> None:
    story = Story()
    assert story.from_asana(True, modified=1, received=10, sentry_answered=1) is Step.RESOLVE
    # A Sentry regression received before the person's completion, processed after it.
    assert story.from_sentry(Action.REOPENED, said=30, received=9) is Step.SKIP
    assert story.record.state is State.RESOLVED


def test_rule_c_otherwise_the_change_applies() -> None:
    story = Story()
    assert story.from_asana(True, modified=1, received=10, sentry_answered=1) is Step.RESOLVE
    assert story.from_sentry(Action.REOPENED, said=30, received=11) is Step.REOPEN


def test_complete_reopen_in_asana_then_resolve_in_sentry_ends_resolved() -> None:
    story = Story()
    assert story.from_asana(True, modified=1, received=10, sentry_answered=1) is Step.RESOLVE
    assert story.from_sentry(Action.RESOLVED, said=2, received=11) is Step.SKIP  # our echo
    assert story.from_asana(False, modified=5, received=15, sentry_answered=6) is Step.REOPEN
    assert story.from_sentry(Action.REOPENED, said=6, received=16) is Step.COMMENT  # echo
    # Someone resolves the issue in Sentry. Its lastSeen is the old event time, older than
    # Asana's modified_at of the reopen; the two clocks are never compared.
    assert story.from_sentry(Action.RESOLVED, said=40, received=40) is Step.RESOLVE
    assert story.record.state is State.RESOLVED


def test_resolve_regression_then_a_stale_resolve_redelivered_stays_open() -> None:
    story = Story()
    assert story.from_sentry(Action.RESOLVED, said=10, received=10, identity="r1") is \
        Step.RESOLVE
    assert story.from_sentry(Action.REOPENED, said=20, received=20) is Step.REOPEN
    assert story.from_sentry(Action.RESOLVED, said=10, received=10, identity="r1") is Step.SKIP
    assert story.record.state is State.OPEN


def test_reopen_in_asana_while_a_sentry_resolve_is_in_flight() -> None:
    story = Story()
    resolve = Delivery(Action.RESOLVED, "r", sentry(19), origin="sentry", received_at=ours(20))
    held = lease(story.record, ours(20))  # the worker is completing the task right now
    reopen = Delivery(Action.REOPENED, "", asana(5), origin=ASANA, received_at=ours(21))
    assert decide_sync(held, False, ours(20), reopen).step is Step.WAIT  # retried, not lost
    story.record = after(held, Step.RESOLVE, resolve, ours(21))
    # The person reopened the task after Sentry's resolve reached us: the reopen wins.
    assert story.from_asana(False, modified=5, received=21, sentry_answered=25) is Step.REOPEN
    assert story.record.state is State.OPEN


def test_a_sentry_resolve_delayed_past_a_reopen_in_asana_is_history() -> None:
    story = Story()
    assert story.from_asana(True, modified=1, received=10, sentry_answered=1) is Step.RESOLVE
    assert story.from_asana(False, modified=9, received=21, sentry_answered=22) is Step.REOPEN
    # A resolve someone made in Sentry at Sentry minute 19 is delivered only now: Sentry has
    # since taken our unresolve (its answer said minute 22), so on Sentry's own clock the
    # resolve is history.
    assert story.from_sentry(Action.RESOLVED, said=19, received=23) is Step.SKIP
    assert story.record.state is State.OPEN


def test_a_late_echo_of_our_own_older_change_is_stale() -> None:
    story = Story()
    assert story.from_asana(True, modified=1, received=10, sentry_answered=11) is Step.RESOLVE
    assert story.from_asana(False, modified=2, received=12, sentry_answered=13) is Step.REOPEN
    # Sentry's webhook about our resolve (sent at 11) arrives after our unresolve (13).
    assert story.from_sentry(Action.RESOLVED, said=11, received=14) is Step.SKIP
    assert story.record.state is State.OPEN


def test_a_skipped_webhook_still_moves_its_source_clock() -> None:
    story = Story()
    assert story.from_sentry(Action.RESOLVED, said=10, received=10) is Step.RESOLVE
    assert story.from_sentry(Action.RESOLVED, said=30, received=11) is Step.SKIP
    assert story.record.clocks["sentry"] == sentry(30)
    assert story.from_sentry(Action.REOPENED, said=20, received=12) is Step.SKIP  # before 30


def test_a_comment_only_word_does_not_make_an_overtaken_state_change_stale() -> None:
    # A firing applied in Asana whose ledger write was lost (its redelivery comes later), then
    # a word that changes no state (CloudWatch's INSUFFICIENT_DATA, a Sentry assignment).
    story = Story()
    assert story.from_sentry(Action.RESOLVED, said=10, received=10) is Step.RESOLVE
    assert story.from_sentry(Action.NOTED, said=30, received=31) is Step.COMMENT
    assert story.record.clocks["sentry"] == sentry(10)
    # The firing said at 20 is redelivered: still the latest state the source said.
    assert story.from_sentry(Action.REOPENED, said=20, received=32) is Step.REOPEN
    assert story.record.state is State.OPEN


@pytest.mark.parametrize(("first", "second", "same"), [
    pytest.param("req-1", "req-1", True, id="redelivery-or-replay"),
    pytest.param("req-1", "req-2", False, id="new-webhook-identical-body"),
    pytest.param(None, None, True, id="no-id-body-only"),
])
def test_delivery_identity(first: str | None, second: str | None, same: bool) -> None:
    body = b'{"action":"resolved","data":{"issue":{"id":"1"}}}'
    assert (delivery_digest(body, first) == delivery_digest(body, second)) is same


def test_identical_resolved_bodies_from_two_sentry_requests_both_count() -> None:
    story = Story()
    body = b'{"action":"resolved"}'
    assert story.from_sentry(Action.RESOLVED, said=10, received=10,
                             identity=delivery_digest(body, "req-1")) is Step.RESOLVE
    assert story.from_asana(False, modified=3, received=12, sentry_answered=12) is Step.REOPEN
    assert story.from_sentry(Action.RESOLVED, said=20, received=20,
                             identity=delivery_digest(body, "req-2")) is Step.RESOLVE


def test_a_record_without_clocks_orders_by_receipt_only() -> None:
    story = Story()
    legacy = replace(story.record, clocks={}, state_origin=None, state_received_at=None)
    late = Delivery(Action.RESOLVED, "x", sentry(-100), origin="sentry", received_at=ours(1))
    assert decide(legacy, late, ours(1)).step is Step.RESOLVE
