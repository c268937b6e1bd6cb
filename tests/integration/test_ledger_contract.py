"""The same ledger contract, run against the in-memory fake and the real Firestore emulator."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scripts.localstack import Stack
from shared.core.alert import Action
from shared.core.ledger import RETENTION, Delivery, Step, after, claim, renew
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


def claimed(k: str, project: str = "p1") -> Any:
    return claim(k, NOW, project_gid=project)


TRIGGER = Delivery(action=Action.TRIGGERED, digest="d1", source_time=NOW)


def test_first_create_wins_and_the_second_loses(store: Any) -> None:
    k = key()
    assert store.create(claimed(k, "p1")) is not None
    assert store.create(claimed(k, "p2")) is None
    record, _ = store.get(k)
    assert record.project_gid == "p1"


def test_exactly_one_of_eight_racing_creates_wins(store: Any) -> None:
    k = key()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: store.create(claimed(k, f"p{n}")), range(8)))
    assert sum(r is not None for r in results) == 1


def test_update_fails_when_the_record_changed_since_it_was_read(store: Any) -> None:
    k = key()
    store.create(claimed(k))
    stale, version = store.get(k)
    assert store.update(after(stale, Step.CREATE, TRIGGER, NOW, task_gid="9"), version)
    assert store.update(after(stale, Step.CREATE, TRIGGER, NOW, task_gid="10"), version) is None
    record, _ = store.get(k)
    assert record.task_gid == "9"


def test_exactly_one_of_eight_racing_updates_of_one_version_wins(store: Any) -> None:
    k = key()
    store.create(claimed(k))
    record, version = store.get(k)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda n: store.update(after(record, Step.CREATE, TRIGGER, NOW, task_gid=str(n)),
                                   version), range(8)))
    assert sum(r is not None for r in results) == 1


def test_each_update_returns_the_version_the_next_one_needs(store: Any) -> None:
    k = key()
    record = claimed(k)
    version = store.create(record)
    for n in range(3):  # how a lease is renewed while Asana is slow
        record = renew(record, NOW + timedelta(seconds=n))
        version = store.update(record, version)
        assert version is not None
    assert store.get(k)[0] == record


def test_written_record_round_trips(store: Any) -> None:
    k = key()
    created = after(claimed(k), Step.CREATE, TRIGGER, NOW, task_gid="9", team="Payments")
    store.create(created)
    record, _ = store.get(k)
    assert record == created


def test_delete_is_conditional_and_frees_the_key(store: Any) -> None:
    k = key()
    store.create(claimed(k))
    _, version = store.get(k)
    store.update(renew(claimed(k), NOW + timedelta(seconds=1)), version)
    assert store.delete(k, version) is False  # changed since
    _, fresh = store.get(k)
    assert store.delete(k, fresh) is True
    assert store.create(claimed(k)) is not None


def expired(k: str) -> Any:
    """Return a record of ``k`` whose retention ended a day before NOW (not yet purged)."""
    then = NOW - RETENTION - timedelta(days=1)
    return after(claim(k, then, project_gid="old"), Step.CREATE, TRIGGER, then, task_gid="1")


def test_create_replaces_an_expired_record(store: Any) -> None:
    k = key()
    store.create(expired(k))
    version = store.create(claimed(k, "new"))
    assert version is not None
    record, _ = store.get(k)
    assert (record.project_gid, record.task_gid) == ("new", None)
    renewed = renew(record, NOW + timedelta(seconds=1))
    assert store.update(renewed, version) is not None  # the version it returned is current


def test_a_record_expiring_after_the_claim_is_still_live(store: Any) -> None:
    k = key()
    live = replace(expired(k), expires_at=NOW + timedelta(seconds=1))
    store.create(live)
    assert store.create(claimed(k, "new")) is None
    assert store.get(k)[0] == live


def test_exactly_one_of_eight_racing_creates_over_an_expired_record_wins(store: Any) -> None:
    k = key()
    store.create(expired(k))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: store.create(claimed(k, f"p{n}")), range(8)))
    assert sum(r is not None for r in results) == 1
    record, _ = store.get(k)
    assert record.project_gid != "old"
