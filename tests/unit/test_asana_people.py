"""People by e-mail as Asana users: the cache, and the lookups against the fake Asana."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from shared.adapters.asana import AsanaClient, AsanaRejected
from shared.adapters.asana_lookups import AsanaLookups
from shared.core.errors import Transient
from shared.routing.people import PeopleCache
from tests.fakes.asana_server import FakeAsana

WORKSPACE = "1209000000000001"


class Directory:
    """Users by e-mail; counts fetches; can fail like an unreachable Asana."""

    def __init__(self) -> None:
        self.users = {"ana@example.com": {"gid": "9101", "workspaces": [{"gid": WORKSPACE}]},
                      "out@example.com": {"gid": "9103", "workspaces": [{"gid": "1"}]}}
        self.fetches = 0
        self.down = False

    def fetch(self, email: str) -> Mapping[str, Any] | None:
        self.fetches += 1
        if self.down:
            raise Transient("asana GET /users: 503")
        return self.users.get(email)


def test_hits_are_kept_for_the_ttl_and_misses_for_less() -> None:
    directory, now = Directory(), [0.0]
    cache = PeopleCache(directory.fetch, clock=lambda: now[0], ttl_seconds=600,
                        miss_ttl_seconds=60)
    assert cache.gid("Ana@Example.com", WORKSPACE) == "9101"
    assert cache.gid("nobody@example.com", WORKSPACE) is None
    now[0] = 59
    cache.user("ana@example.com")
    cache.user("nobody@example.com")
    assert directory.fetches == 2
    now[0] = 61  # the miss expired: a person added to Asana since is found
    directory.users["nobody@example.com"] = {"gid": "9104"}
    assert cache.gid("nobody@example.com", WORKSPACE) == "9104"
    assert directory.fetches == 3
    now[0] = 601
    cache.user("ana@example.com")
    assert directory.fetches == 4


def test_a_failed_lookup_is_not_remembered() -> None:
    directory = Directory()
    cache = PeopleCache(directory.fetch)
    directory.down = True
    with pytest.raises(Transient):
        cache.user("ana@example.com")
    directory.down = False
    assert cache.gid("ana@example.com", WORKSPACE) == "9101"


def test_a_user_of_another_workspace_has_no_gid_here() -> None:
    cache = PeopleCache(Directory().fetch)
    assert cache.gid("out@example.com", WORKSPACE) is None
    assert cache.gid("out@example.com", None) == "9103"


@pytest.fixture
def asana() -> Iterator[FakeAsana]:
    with FakeAsana(token="t") as fake:
        fake.add_workspace(WORKSPACE, "Acme")
        fake.add_user("9101", "Ana", "ana@example.com", [WORKSPACE])
        fake.add_project("2001", "Payments backlog", archived=True)
        fake.add_portfolio("2002", [{"gid": "2003", "resource_type": "project"}])
        yield fake


def test_lookups_read_asana_and_answer_none_for_what_it_does_not_have(asana: FakeAsana) -> None:
    lookups = AsanaLookups(AsanaClient(asana.url, "t", max_attempts=1))
    user = lookups.user("ana@example.com")
    assert user is not None and user["gid"] == "9101"
    assert lookups.user_gid("ana@example.com", WORKSPACE) == "9101"
    assert lookups.user("nobody@example.com") is None
    project = lookups.project("2001")
    assert project is not None and project["archived"] is True
    assert lookups.project("2999") is None
    assert [item["gid"] for item in lookups.portfolio_items("2002") or []] == ["2003"]
    assert lookups.portfolio_items("2998") is None
    reads = [r for r in asana.requests if r.path.startswith("/users/")]
    assert len(reads) == 2  # ana once: the second lookup was the cache's


def test_lookups_raise_what_is_not_an_absent_object(asana: FakeAsana) -> None:
    lookups = AsanaLookups(AsanaClient(asana.url, "t", max_attempts=1))
    asana.fail_next(1, 503)
    with pytest.raises(Transient):
        lookups.project("2001")
    asana.fail_next(1, 401)  # a bad token is not "no such project"
    with pytest.raises(AsanaRejected):
        lookups.project("2001")
