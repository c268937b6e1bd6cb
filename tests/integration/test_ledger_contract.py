"""The same ledger contract, run against the in-memory fake and the real Firestore emulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scripts.localstack import Stack
from shared.ledger import Step, after, claim
from tests.fakes.ledger import MemoryLedger

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "firestore"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryLedger()
        return
    stack: Stack = request.getfixturevalue("stack")
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.env["FIRESTORE_EMULATOR_HOST"]
    from shared.adapters.firestore_ledger import FirestoreLedger

    yield FirestoreLedger(stack.env["GOOGLE_CLOUD_PROJECT"], f"ledger-{uuid.uuid4().hex[:8]}")


def key() -> str:
    return f"sentry:issue:{uuid.uuid4().int % 10**9}"


def test_absent_key_has_no_record(store: Any) -> None:
    assert store.get(key()) == (None, None)


def test_first_claim_wins_and_the_second_loses(store: Any) -> None:
    k = key()
    assert store.claim(claim(k, "m1", NOW), None) is True
    assert store.claim(claim(k, "m2", NOW), None) is False
    record, _ = store.get(k)
    assert record.message_ids == ("m1",)


def test_exactly_one_of_eight_racing_claims_wins(store: Any) -> None:
    k = key()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: store.claim(claim(k, f"m{n}", NOW), None), range(8)))
    assert results.count(True) == 1


def test_takeover_fails_when_the_record_changed_since_it_was_read(store: Any) -> None:
    k = key()
    store.claim(claim(k, "m1", NOW), None)
    stale, version = store.get(k)
    store.save(after(stale, Step.CREATE, "m1", NOW, task_gid="9"))
    later = NOW + timedelta(hours=1)
    assert store.claim(claim(k, "m2", later), version) is False
    _, fresh_version = store.get(k)
    assert store.claim(claim(k, "m2", later), fresh_version) is True


def test_saved_record_round_trips(store: Any) -> None:
    k = key()
    created = after(claim(k, "m1", NOW), Step.CREATE, "m1", NOW, task_gid="9", team="Payments")
    store.save(created)
    record, _ = store.get(k)
    assert record == created


def test_release_frees_the_key(store: Any) -> None:
    k = key()
    claimed = claim(k, "m1", NOW)
    store.claim(claimed, None)
    store.release(claimed)
    assert store.claim(claim(k, "m2", NOW), None) is True
