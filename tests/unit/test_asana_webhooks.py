"""Asana webhooks at ingest: the handshake, signatures, heartbeats and what gets published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import asana_webhooks
from shared.asana_webhooks import Hook
from shared.ingest import IngestDeps, Webhook, handle_webhook
from tests.unit.test_ingest import FakeTopic, secrets

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROJECT = "1209000000000201"
SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
QUERY = {"source": "asana", "project": PROJECT}


class MemoryHooks:
    """Hook documents by project with versions, like FirestoreHooks."""

    def __init__(self, *hooks: Hook) -> None:
        self.hooks = {hook.project_gid: hook for hook in hooks}
        self.versions = {gid: 1 for gid in self.hooks}

    def get(self, project_gid: str) -> tuple[Hook | None, Any]:
        return self.hooks.get(project_gid), self.versions.get(project_gid)

    def create(self, hook: Hook) -> bool:
        if hook.project_gid in self.hooks:
            return False
        self.hooks[hook.project_gid], self.versions[hook.project_gid] = hook, 1
        return True

    def replace(self, hook: Hook, version: object) -> bool:
        if self.versions.get(hook.project_gid) != version:
            return False
        self.hooks[hook.project_gid] = hook
        self.versions[hook.project_gid] += 1
        return True


def deps(topic: FakeTopic, store: MemoryHooks) -> IngestDeps:
    return IngestDeps(secret=secrets, publish=topic.publish, now=lambda: NOW,
                      max_body_bytes=4096, asana_hooks=lambda: store)


def event(task: str, user: str = "1209990000000042") -> dict[str, Any]:
    return {"user": {"gid": user, "resource_type": "user"}, "created_at": "2026-11-25T11:59:58Z",
            "action": "changed", "resource": {"gid": task, "resource_type": "task",
                                              "resource_subtype": "default_task"},
            "parent": None, "change": {"field": "completed", "action": "changed"}}


def delivery(events: list[dict[str, Any]], secret: str | None = SECRET,
             signature: str | None = None, query: dict[str, str] = QUERY) -> Webhook:
    body = json.dumps({"events": events}).encode()
    headers = {}
    if signature is not None:
        headers["x-hook-signature"] = signature
    elif secret is not None:
        headers["x-hook-signature"] = asana_webhooks.signature(secret, body)
    return Webhook("POST", headers, body, "req-a", query)


def handshake(secret: str = SECRET) -> Webhook:
    return Webhook("POST", {"x-hook-secret": secret}, b"", "req-h", QUERY)


def confirmed() -> MemoryHooks:
    return MemoryHooks(Hook(PROJECT, secret=SECRET, webhook_gid="43214"))


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # Known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert asana_webhooks.signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")


@pytest.mark.parametrize(("given", "secret", "ok"), [
    pytest.param("right", SECRET, True, id="right"),
    pytest.param("RIGHT", SECRET, True, id="uppercase-hex"),
    pytest.param("0" * 64, SECRET, False, id="forged"),
    pytest.param(None, SECRET, False, id="missing"),
    pytest.param("", SECRET, False, id="empty"),
    pytest.param("right", None, False, id="no-secret-stored"),
    pytest.param("é", SECRET, False, id="not-ascii"),
])
def test_verify(given: str | None, secret: str | None, ok: bool) -> None:
    body = b'{"events": []}'
    good = asana_webhooks.signature(SECRET, body)
    value = {"right": good, "RIGHT": good.upper()}.get(given or "", given)
    assert asana_webhooks.verify(body, value, secret) is ok


def test_handshake_for_a_pending_registration_is_echoed_and_its_secret_kept() -> None:
    topic, store = FakeTopic(), MemoryHooks(Hook(PROJECT, pending_until=NOW + timedelta(30)))
    answer = handle_webhook(handshake(), deps(topic, store))
    assert (answer.status, answer.headers) == (200, {"X-Hook-Secret": SECRET})
    assert store.hooks[PROJECT] == Hook(PROJECT, secret=SECRET)
    assert topic.messages == []


@pytest.mark.parametrize("store", [
    pytest.param(MemoryHooks(), id="unsolicited"),
    pytest.param(MemoryHooks(Hook(PROJECT, pending_until=NOW - timedelta(seconds=1))),
                 id="registration-lapsed"),
    pytest.param(confirmed(), id="already-confirmed"),
])
def test_handshake_nobody_asked_for_is_refused(store: MemoryHooks) -> None:
    before = dict(store.hooks)
    answer = handle_webhook(handshake("attacker-secret"), deps(FakeTopic(), store))
    assert (answer.status, answer.headers) == (401, {})
    assert store.hooks == before


def test_a_replayed_handshake_is_refused_once_the_first_consumed_the_registration() -> None:
    store = MemoryHooks(Hook(PROJECT, pending_until=NOW + timedelta(seconds=30)))
    assert handle_webhook(handshake(), deps(FakeTopic(), store)).status == 200
    assert handle_webhook(handshake("other"), deps(FakeTopic(), store)).status == 401
    assert store.hooks[PROJECT].secret == SECRET


def test_signed_delivery_publishes_one_message_per_task() -> None:
    topic = FakeTopic()
    hook = delivery([event("1201"), event("1202"), event("1201")])
    answer = handle_webhook(hook, deps(topic, confirmed()))
    assert answer.status == 202
    assert [attrs["task_gid"] for _, attrs in topic.messages] == ["1201", "1202"]
    data, attrs = topic.messages[0]
    assert data == hook.body
    assert attrs == {"source": "asana", "resource": "task", "action": "changed",
                     "alert_key": "asana:task:1201", "task_gid": "1201", "project": PROJECT,
                     "received_at": "2026-11-25T12:00:00.000+00:00", "request_id": "req-a"}


def test_heartbeat_is_answered_and_publishes_nothing() -> None:
    topic = FakeTopic()
    answer = handle_webhook(delivery([]), deps(topic, confirmed()))
    assert (answer.status, topic.messages) == (200, [])


@pytest.mark.parametrize("hook", [
    pytest.param(delivery([event("1201")], secret=None), id="unsigned"),
    pytest.param(delivery([event("1201")], secret="wrong"), id="wrong-secret"),
    pytest.param(delivery([event("1201")], signature="00" * 32), id="forged"),
    pytest.param(delivery([], secret=None), id="unsigned-heartbeat"),
    pytest.param(delivery([event("1201")], query={"source": "asana", "project": "999"}),
                 id="project-never-registered"),
    pytest.param(delivery([event("1201")], query={"source": "asana"}), id="no-project"),
])
def test_unsigned_or_wrongly_signed_delivery_is_refused(hook: Webhook) -> None:
    topic = FakeTopic()
    answer = handle_webhook(hook, deps(topic, confirmed()))
    assert (answer.status, answer.body, topic.messages) == (401, {"error": "unauthorized"}, [])


def test_a_delivery_before_the_handshake_is_refused() -> None:
    store = MemoryHooks(Hook(PROJECT, pending_until=NOW + timedelta(seconds=30)))
    assert handle_webhook(delivery([event("1")]), deps(FakeTopic(), store)).status == 401


@pytest.mark.parametrize("body", [b"not json", b"[" * 4_000, b'{"events": ' * 360],
                         ids=["not-json", "nested-arrays", "nested-objects"])
def test_signed_body_that_is_not_json_is_malformed(body: bytes) -> None:
    hook = Webhook("POST", {"x-hook-signature": asana_webhooks.signature(SECRET, body)}, body,
                   "r", QUERY)
    assert handle_webhook(hook, deps(FakeTopic(), confirmed())).status == 400


def test_target_url_names_the_source_and_project() -> None:
    assert asana_webhooks.target_url("https://x.run.app", "12") == (
        "https://x.run.app?source=asana&project=12")
