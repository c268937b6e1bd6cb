"""Asana webhooks at ingest: the handshake, token and signature, heartbeats, what gets published."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.core.errors import Transient
from shared.flows.ingest import IngestDeps, Webhook, handle_webhook
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.webhooks import Hook
from tests.unit.test_ingest import FakeTopic, secrets

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROJECT = "1209000000000201"
SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
TOKEN = "Xq3-zL9_pW2vN8kR5tY1uI4oP7aS0dF6gH3jK9lZ2xC"
TOKEN_HASH = asana_webhooks.token_hash(TOKEN)
QUERY = {"source": "asana", "project": PROJECT, "token": TOKEN}


class MemoryHooks:
    """Hook documents by project with versions, like FirestoreHooks."""

    def __init__(self, *hooks: Hook) -> None:
        self.hooks = {hook.project_gid: hook for hook in hooks}
        self.versions = {gid: 1 for gid in self.hooks}
        self.fail_touch = False

    def get(self, project_gid: str) -> tuple[Hook | None, Any]:
        return self.hooks.get(project_gid), self.versions.get(project_gid)

    def all(self) -> list[Hook]:
        return list(self.hooks.values())

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

    def touch(self, project_gid: str, at: datetime) -> bool:
        if self.fail_touch:
            raise Transient("firestore: ServiceUnavailable")
        if project_gid not in self.hooks:
            return False
        return self._set(project_gid, last_delivery_at=at)

    def compared(self, project_gid: str, at: datetime) -> None:
        self.hooks.setdefault(project_gid, Hook(project_gid))
        self.versions.setdefault(project_gid, 0)
        self._set(project_gid, compared_at=at)

    def delete(self, project_gid: str) -> None:
        self.hooks.pop(project_gid, None)
        self.versions.pop(project_gid, None)

    def _set(self, project_gid: str, **fields: Any) -> bool:
        self.hooks[project_gid] = replace(self.hooks[project_gid], **fields)
        self.versions[project_gid] += 1
        return True


def deps(topic: FakeTopic, store: MemoryHooks, now: datetime = NOW) -> IngestDeps:
    return IngestDeps(secret=secrets, publish=topic.publish, now=lambda: now,
                      max_body_bytes=4096, services={"asana": lambda: store})


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


def handshake(secret: str = SECRET, query: dict[str, str] = QUERY) -> Webhook:
    return Webhook("POST", {"x-hook-secret": secret}, b"", "req-h", query)


def pending(seconds: float = 30) -> Hook:
    return Hook(PROJECT, pending_until=NOW + timedelta(seconds=seconds), token_hash=TOKEN_HASH)


def confirmed(**fields: Any) -> MemoryHooks:
    return MemoryHooks(Hook(PROJECT, secret=SECRET, webhook_gid="43214", token_hash=TOKEN_HASH,
                            **fields))


def without_token() -> dict[str, str]:
    return {"source": "asana", "project": PROJECT}


def wrong_token() -> dict[str, str]:
    return {**QUERY, "token": TOKEN[:-1] + "Y"}


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


def test_handshake_at_the_pending_registrations_url_is_echoed_and_its_secret_kept() -> None:
    topic, store = FakeTopic(), MemoryHooks(pending())
    answer = handle_webhook(handshake(), deps(topic, store))
    assert (answer.status, answer.headers) == (200, {"X-Hook-Secret": SECRET})
    assert store.hooks[PROJECT] == Hook(PROJECT, secret=SECRET, token_hash=TOKEN_HASH)
    assert topic.messages == []


@pytest.mark.parametrize(("store", "query"), [
    pytest.param(MemoryHooks(), QUERY, id="unsolicited"),
    pytest.param(MemoryHooks(pending(seconds=-1)), QUERY, id="registration-lapsed"),
    pytest.param(confirmed(), QUERY, id="already-confirmed"),
    pytest.param(MemoryHooks(pending()), without_token(), id="pending-but-no-token"),
    pytest.param(MemoryHooks(pending()), wrong_token(), id="pending-but-wrong-token"),
    pytest.param(MemoryHooks(Hook(PROJECT, pending_until=NOW + timedelta(seconds=30))), QUERY,
                 id="pending-of-a-version-without-tokens"),
])
def test_handshake_nobody_asked_for_is_refused(store: MemoryHooks,
                                               query: dict[str, str]) -> None:
    before = dict(store.hooks)
    answer = handle_webhook(handshake("attacker-secret", query), deps(FakeTopic(), store))
    assert (answer.status, answer.headers) == (401, {})
    assert store.hooks == before


def test_an_attacker_in_the_pending_window_does_not_stop_the_real_handshake() -> None:
    store = MemoryHooks(pending())
    for query in (without_token(), wrong_token()):
        assert handle_webhook(handshake("attacker", query), deps(FakeTopic(), store)).status == 401
    assert handle_webhook(handshake(), deps(FakeTopic(), store)).status == 200
    assert store.hooks[PROJECT].secret == SECRET


def test_a_replayed_handshake_is_refused_once_the_first_consumed_the_registration() -> None:
    store = MemoryHooks(pending())
    assert handle_webhook(handshake(), deps(FakeTopic(), store)).status == 200
    assert handle_webhook(handshake("other"), deps(FakeTopic(), store)).status == 401
    assert store.hooks[PROJECT].secret == SECRET


def test_only_the_tokens_hash_is_stored_and_it_matches_in_constant_time() -> None:
    assert TOKEN_HASH == asana_webhooks.token_hash(TOKEN) != TOKEN
    assert len(TOKEN_HASH) == 64 and TOKEN not in TOKEN_HASH
    assert asana_webhooks.token_matches(TOKEN, TOKEN_HASH)
    assert not asana_webhooks.token_matches(TOKEN.upper(), TOKEN_HASH)
    assert not asana_webhooks.token_matches("", TOKEN_HASH)
    assert not asana_webhooks.token_matches(TOKEN, None)


def test_each_registration_gets_a_fresh_32_byte_token() -> None:
    tokens = {asana_webhooks.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


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


@pytest.mark.parametrize(("last", "recorded"), [
    pytest.param(None, NOW, id="first-delivery"),
    pytest.param(NOW - timedelta(minutes=9), NOW - timedelta(minutes=9), id="throttled"),
    pytest.param(NOW - timedelta(minutes=10), NOW, id="due"),
    pytest.param(NOW + timedelta(hours=1), NOW, id="from-a-clock-ahead"),
])
def test_a_verified_delivery_is_recorded_at_most_every_ten_minutes(
        last: datetime | None, recorded: datetime) -> None:
    store = confirmed(last_delivery_at=last)
    assert handle_webhook(delivery([]), deps(FakeTopic(), store)).status == 200
    assert store.hooks[PROJECT].last_delivery_at == recorded


def test_a_delivery_that_cannot_be_recorded_is_still_accepted() -> None:
    store, topic = confirmed(), FakeTopic()
    store.fail_touch = True
    assert handle_webhook(delivery([event("1201")]), deps(topic, store)).status == 202
    assert len(topic.messages) == 1


def test_a_refused_delivery_is_not_recorded() -> None:
    store = confirmed()
    assert handle_webhook(delivery([], secret="wrong"), deps(FakeTopic(), store)).status == 401
    assert store.hooks[PROJECT].last_delivery_at is None


@pytest.mark.parametrize("hook", [
    pytest.param(delivery([event("1201")], secret=None), id="unsigned"),
    pytest.param(delivery([event("1201")], secret="wrong"), id="wrong-secret"),
    pytest.param(delivery([event("1201")], signature="00" * 32), id="forged"),
    pytest.param(delivery([], secret=None), id="unsigned-heartbeat"),
    pytest.param(delivery([event("1201")], query=without_token()), id="right-signature-no-token"),
    pytest.param(delivery([event("1201")], query=wrong_token()),
                 id="right-signature-wrong-token"),
    pytest.param(delivery([event("1201")], query={**QUERY, "project": "999"}),
                 id="project-never-registered"),
    pytest.param(delivery([event("1201")], query={"source": "asana", "token": TOKEN}),
                 id="no-project"),
])
def test_a_delivery_without_the_token_and_a_valid_signature_is_refused(hook: Webhook) -> None:
    topic = FakeTopic()
    answer = handle_webhook(hook, deps(topic, confirmed()))
    assert (answer.status, answer.body, topic.messages) == (401, {"error": "unauthorized"}, [])


def test_a_refused_asana_request_is_logged_as_asanas(caplog: pytest.LogCaptureFixture) -> None:
    handle_webhook(handshake("attacker", without_token()), deps(FakeTopic(), MemoryHooks()))
    [line] = [r for r in caplog.records if r.__dict__.get("event") == "webhook_rejected"]
    assert (line.__dict__["source"], line.__dict__["reason"]) == ("asana", "unauthorized")


def test_a_delivery_to_a_webhook_registered_without_a_token_is_refused() -> None:
    # Registered by a version whose URLs carried no token: reconciliation replaces it.
    store = MemoryHooks(Hook(PROJECT, secret=SECRET, webhook_gid="43214"))
    hook = delivery([event("1201")], query=without_token())
    assert handle_webhook(hook, deps(FakeTopic(), store)).status == 401


def test_a_delivery_before_the_handshake_is_refused() -> None:
    assert handle_webhook(delivery([event("1")]), deps(FakeTopic(), MemoryHooks(pending()))
                          ).status == 401


@pytest.mark.parametrize("body", [b"not json", b"[" * 4_000, b'{"events": ' * 360],
                         ids=["not-json", "nested-arrays", "nested-objects"])
def test_signed_body_that_is_not_json_is_malformed(body: bytes) -> None:
    hook = Webhook("POST", {"x-hook-signature": asana_webhooks.signature(SECRET, body)}, body,
                   "r", QUERY)
    assert handle_webhook(hook, deps(FakeTopic(), confirmed())).status == 400


def test_target_url_names_the_source_the_project_and_the_token() -> None:
    url = asana_webhooks.target_url("https://x.run.app", "12", "a-b_c")
    assert url == "https://x.run.app?source=asana&project=12&token=a-b_c"
    assert asana_webhooks.parse_target(url, "https://x.run.app/") == ("12", "a-b_c")


@pytest.mark.parametrize(("target", "parsed"), [
    pytest.param("https://x.run.app?source=asana&project=12", ("12", None), id="no-token"),
    pytest.param("https://y.run.app?source=asana&project=12&token=t", None, id="other-host"),
    pytest.param("https://x.run.app/other?source=asana&project=12&token=t", None,
                 id="other-path"),
    pytest.param("https://x.run.app?source=sentry&project=12", None, id="other-source"),
    pytest.param("https://x.run.app?source=asana&project=abc", None, id="bad-project"),
    pytest.param(None, None, id="none"),
])
def test_parse_target_recognises_only_this_services_urls(
        target: str | None, parsed: tuple[str, str | None] | None) -> None:
    assert asana_webhooks.parse_target(target, "https://x.run.app") == parsed
