"""Registering a project's webhook: once, with a fresh token, adopted after a crash, renewed."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.core.errors import AlertBridgeError
from shared.flows.ingest import IngestDeps, Webhook, handle_webhook
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.registration import Registrar, Workspaces, ours
from shared.sources.asana.webhooks import Hook
from tests.unit.sources.asana.test_asana_webhooks import NOW, MemoryHooks
from tests.unit.test_ingest import FakeTopic, secrets

BASE = "https://ingest.example"
PROJECT = "1209"
WORKSPACE = "1209000000000001"


class Webhooks:
    """Asana's webhook calls: a create sends the handshake through ingest's own flow."""

    def __init__(self, hooks: MemoryHooks, *, handshake: bool = True,
                 listed: list[dict[str, Any]] | None = None) -> None:
        self.hooks, self.handshake = hooks, handshake
        self.listed = list(listed or [])
        self.created: list[str] = []  # targets
        self.deleted: list[str] = []
        self.workspaces: list[str] = []
        self._gids = itertools.count(43214)
        self._secrets = (f"secret-{n}" for n in itertools.count(1))

    def webhooks(self, workspace_gid: str, resource: str | None = None) -> list[dict[str, Any]]:
        self.workspaces.append(workspace_gid)
        return [h for h in self.listed if resource in (None, h["resource"]["gid"])]

    def delete_webhook(self, webhook_gid: str) -> None:
        self.deleted.append(webhook_gid)
        self.listed = [h for h in self.listed if h["gid"] != webhook_gid]

    def create_webhook(self, workspace_gid: str, resource: str, target: str,
                       filters: Any) -> str:
        self.created.append(target)
        if self.handshake:
            query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            shake = Webhook("POST", {"x-hook-secret": next(self._secrets)}, b"", "h", query)
            deps = IngestDeps(secret=secrets, publish=FakeTopic().publish, now=lambda: NOW,
                              max_body_bytes=1024, services={"asana": lambda: self.hooks})
            if handle_webhook(shake, deps).status != 200:
                raise AlertBridgeError("Asana: the handshake was refused")
        gid = str(next(self._gids))
        self.listed.append(webhook(gid, target, resource))
        return gid


def webhook(gid: str, target: str, project: str = PROJECT, **fields: Any) -> dict[str, Any]:
    return {"gid": gid, "target": target, "resource": {"gid": project, "name": "Board"},
            "active": True, **fields}


def target(token: str | None) -> str:
    if token is None:
        return f"{BASE}?source=asana&project={PROJECT}"
    return asana_webhooks.target_url(BASE, PROJECT, token)


def registrar(hooks: MemoryHooks, api: Webhooks, opted_in: bool = True,
              base: str | None = BASE) -> Registrar:
    tokens = (f"token-{n}" for n in itertools.count(1))
    return Registrar(hooks, api, base, lambda project: WORKSPACE, lambda team: opted_in,
                     lambda: NOW, new_token=lambda: next(tokens))


def test_registration_happens_once_per_project_with_a_token_in_the_url() -> None:
    hooks = MemoryHooks()
    api = Webhooks(hooks)
    register = registrar(hooks, api)
    register(PROJECT, "Payments")
    register(PROJECT, "Payments")
    assert api.created == [target("token-1")]
    # Only the token's hash is stored, next to the handshake's secret.
    assert hooks.hooks[PROJECT] == Hook(PROJECT, secret="secret-1", webhook_gid="43214",
                                        token_hash=asana_webhooks.token_hash("token-1"))
    registrar(hooks, api)(PROJECT, "Payments")  # another instance: reads Firestore, no call
    assert len(api.created) == 1


@pytest.mark.parametrize(("opted_in", "base", "existing"), [
    pytest.param(False, BASE, None, id="team-not-opted-in"),
    pytest.param(True, None, None, id="no-target-url"),
    pytest.param(True, BASE, Hook(PROJECT, pending_until=NOW + timedelta(seconds=9)),
                 id="another-instance-registering"),
])
def test_no_registration(opted_in: bool, base: str | None, existing: Hook | None) -> None:
    hooks = MemoryHooks(*([existing] if existing else []))
    api = Webhooks(hooks)
    registrar(hooks, api, opted_in, base)(PROJECT, "Payments")
    assert api.created == []


def test_webhook_established_before_a_crash_is_adopted_by_its_token() -> None:
    # The handshake went through, the gid was never recorded.
    hooks = MemoryHooks(Hook(PROJECT, secret="s", token_hash=asana_webhooks.token_hash("t0")))
    api = Webhooks(hooks, listed=[webhook("43000", target("t0"))])
    registrar(hooks, api)(PROJECT, "Payments")
    assert (api.created, api.deleted) == ([], [])
    assert hooks.hooks[PROJECT].webhook_gid == "43000"


@pytest.mark.parametrize("stored", [
    pytest.param(None, id="secret-lost"),
    pytest.param(Hook(PROJECT, secret="s", token_hash=asana_webhooks.token_hash("other")),
                 id="another-token"),
    pytest.param(Hook(PROJECT, secret="s", webhook_gid="43000"), id="registered-without-token"),
])
def test_a_webhook_that_cannot_be_verified_is_replaced(stored: Hook | None) -> None:
    hooks = MemoryHooks(*([stored] if stored else []))
    api = Webhooks(hooks, listed=[webhook("43000", target(None)),
                                  webhook("43001", target("t0")),
                                  webhook("43002", target("t0"), "1300")])  # another project
    registrar(hooks, api)(PROJECT, "Payments")
    assert api.deleted == ["43000", "43001"]
    assert api.created == [target("token-1")]
    assert hooks.hooks[PROJECT].secret == "secret-1"


def test_registration_without_handshake_is_reported_not_raised() -> None:
    hooks = MemoryHooks()
    api = Webhooks(hooks, handshake=False)
    registrar(hooks, api)(PROJECT, "Payments")
    assert len(api.created) == 1 and hooks.hooks[PROJECT].webhook_gid is None
    later = Registrar(hooks, api, BASE, lambda project: WORKSPACE, lambda team: True,
                      lambda: NOW + timedelta(minutes=2))  # the pending registration lapsed
    with pytest.raises(AlertBridgeError, match="handshake never reached ingest"):
        later.ensure(PROJECT)
    assert len(api.created) == 2


def test_renewal_registers_a_new_token_and_secret_and_keeps_the_comparison_point() -> None:
    hooks = MemoryHooks()
    api = Webhooks(hooks)
    register = registrar(hooks, api)
    first = register.ensure(PROJECT)
    hooks.hooks[PROJECT] = replace(hooks.hooks[PROJECT], compared_at=NOW,
                                   last_delivery_at=NOW)
    second = register.ensure(PROJECT, renew=True)
    assert (first, second, api.deleted) == ("43214", "43215", ["43214"])
    assert hooks.hooks[PROJECT] == Hook(PROJECT, secret="secret-2", webhook_gid="43215",
                                        token_hash=asana_webhooks.token_hash("token-2"),
                                        compared_at=NOW)


def test_a_registration_is_refused_a_handshake_with_the_previous_token() -> None:
    hooks = MemoryHooks()
    api = Webhooks(hooks)
    register = registrar(hooks, api)
    register.ensure(PROJECT)
    old = api.created[0]

    class Replaying(Webhooks):
        def create_webhook(self, workspace_gid: str, resource: str, target: str,
                           filters: Any) -> str:
            # An attacker who saw the old URL answers first: refused, the real one follows.
            query = {k: v[0] for k, v in parse_qs(urlsplit(old).query).items()}
            shake = Webhook("POST", {"x-hook-secret": "attacker"}, b"", "x", query)
            deps = IngestDeps(secret=secrets, publish=FakeTopic().publish, now=lambda: NOW,
                              max_body_bytes=1024, services={"asana": lambda: self.hooks})
            assert handle_webhook(shake, deps).status == 401
            return super().create_webhook(workspace_gid, resource, target, filters)

    renewed = Replaying(hooks, listed=api.listed)
    Registrar(hooks, renewed, BASE, lambda project: WORKSPACE, lambda team: True, lambda: NOW,
              new_token=lambda: "token-2").ensure(PROJECT, renew=True)
    assert hooks.hooks[PROJECT].secret == "secret-1"  # the real handshake's, not "attacker"


def test_ours_recognises_this_services_webhooks_only() -> None:
    found = ours([webhook("1", target("t")), webhook("2", "https://else.example?x=1"),
                  webhook("3", target(None)), {"target": target("t")}], BASE)
    assert [(w.gid, w.project_gid, w.token) for w in found] == [
        ("1", PROJECT, "t"), ("3", PROJECT, None)]


def test_workspace_is_teams_yamls_else_the_projects_own_asked_once() -> None:
    asked: list[str] = []

    def of_project(gid: str) -> str | None:
        asked.append(gid)
        return None if gid == "404" else "1210"

    configured: list[str | None] = [None]
    workspaces = Workspaces(lambda: configured[0], of_project)
    assert [workspaces("1"), workspaces("1"), workspaces("2"), workspaces("404"),
            workspaces("404")] == ["1210", "1210", "1210", None, None]
    assert asked == ["1", "2", "404", "404"]  # cached per project; an unknown one asked again
    configured[0] = WORKSPACE
    assert workspaces("3") == WORKSPACE and asked[-1] == "404"
    # A cache shared by the next run's Workspaces (and client) asks nothing again.
    shared: dict[str, str] = {}
    Workspaces(lambda: None, of_project, shared)("1")
    assert Workspaces(lambda: None, of_project, shared)("1") == "1210" and asked[-1] == "1"
    assert asked.count("1") == 2


def test_the_legacy_teams_format_registers_in_the_projects_workspace() -> None:
    hooks = MemoryHooks()
    api = Webhooks(hooks)
    Registrar(hooks, api, BASE, Workspaces(lambda: None, lambda gid: "1210"),
              lambda team: True, lambda: NOW).ensure(PROJECT)
    assert api.workspaces == ["1210"] and len(api.created) == 1
