"""A lease renews itself while held, and a lapsed one taken over by another delivery is lost."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.core.lease import Lease
from shared.core.ledger import LEASE_SECONDS, Record, claim
from tests.fakes.ledger import MemoryLedger

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)  # each renewal happens a little later
        return self.now


def held_claim(store: MemoryLedger) -> tuple[Record, Any]:
    record = claim("k", START, project_gid="p")
    return record, store.create(record)


def test_a_held_lease_is_renewed_until_it_is_written() -> None:
    store, clock = MemoryLedger(), Clock()
    record, version = held_claim(store)
    with Lease(store, record, version, clock, renew_seconds=0.01) as held:
        deadline = time.monotonic() + 5
        while store.records["k"].lease_expires_at == record.lease_expires_at:
            assert time.monotonic() < deadline, "never renewed"
            time.sleep(0.01)
        assert held.write(dataclasses.replace(held.record, team="Payments"))
    renewed = store.records["k"]
    assert renewed.team == "Payments"
    assert renewed.lease_expires_at is not None and renewed.lease_expires_at > (
        START + timedelta(seconds=LEASE_SECONDS))


def test_a_lease_taken_over_meanwhile_is_lost() -> None:
    store, clock = MemoryLedger(), Clock()
    record, version = held_claim(store)
    with Lease(store, record, version, clock, renew_seconds=60) as held:
        store.update(dataclasses.replace(record, project_gid="other"), version)  # the taker
        assert held.write(held.record) is False
    assert store.records["k"].project_gid == "other"


def test_giving_up_forgets_the_claim_or_lets_it_lapse() -> None:
    for forget in (True, False):
        store, clock = MemoryLedger(), Clock()
        record, version = held_claim(store)
        with Lease(store, record, version, clock, renew_seconds=60) as held:
            held.give_up(forget=forget)
        if forget:
            assert "k" not in store.records
        else:
            lapsed = store.records["k"].lease_expires_at
            assert lapsed is not None and lapsed <= clock.now
