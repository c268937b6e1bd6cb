"""The ingest flow over in-memory doubles: every answer, and what gets published."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from shared.core.errors import ConfigError, Transient
from shared.flows.ingest import (
    Incoming,
    IngestDeps,
    Webhook,
    drain,
    handle_webhook,
    misconfigured,
    read_body,
    receive,
)
from shared.sources.sentry.ingest import delivery_attributes
from shared.sources.sentry.verify import sentry_signature

SENTRY_SECRET = "sentry-secret"
DATADOG_TOKEN = "dd-token"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeTopic:
    """Collect published messages; optionally fail like an unreachable Pub/Sub."""

    def __init__(self, fail: bool = False) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self.fail = fail

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if self.fail:
            raise Transient("publish to projects/p/topics/t failed: unavailable")
        self.messages.append((data, dict(attributes)))
        return str(len(self.messages))


def secrets(name: str) -> tuple[str, ...]:
    values = {"SENTRY_CLIENT_SECRET": (SENTRY_SECRET, "previous-secret"),
              "DATADOG_SECRET_TOKEN": (DATADOG_TOKEN,)}
    if name not in values:
        raise ConfigError(f"secret {name}: not set")
    return values[name]


def deps(topic: FakeTopic, max_body_bytes: int = 4096) -> IngestDeps:
    return IngestDeps(secret=secrets, publish=topic.publish, now=lambda: NOW,
                      max_body_bytes=max_body_bytes)


def sentry(resource: str, payload: object, secret: str = SENTRY_SECRET,
           method: str = "POST", raw: bytes | None = None) -> Webhook:
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    headers = {"sentry-hook-resource": resource,
               "sentry-hook-signature": sentry_signature(secret, body)}
    return Webhook(method, headers, body, "req-1")


def datadog(payload: object, token: str | None = DATADOG_TOKEN) -> Webhook:
    headers = {"datadog-secret-token": token} if token is not None else {}
    return Webhook("POST", headers, json.dumps(payload).encode(), "req-2")


EVENT_ALERT = {"action": "triggered", "data": {"event": {"issue_id": "1170", "title": "Ошибка"}}}
ISSUE = {"action": "resolved", "data": {"issue": {"id": "1170"}}}
METRIC = {"action": "critical", "data": {"metric_alert": {"id": "77"}}}
DATADOG = {"id": "9001", "alert_cycle_key": "cyc-1", "alert_transition": "Triggered"}


@pytest.mark.parametrize(
    ("hook", "status", "published"),
    [
        (sentry("event_alert", EVENT_ALERT), 202, 1),
        (sentry("issue", ISSUE), 202, 1),
        (sentry("metric_alert", METRIC), 202, 1),
        (sentry("error", {"action": "created", "data": {"error": {"issue_id": "5"}}}), 202, 1),
        (sentry("event_alert", EVENT_ALERT, secret="previous-secret"), 202, 1),
        (datadog(DATADOG), 202, 1),
        (sentry("installation", {"action": "created", "data": {}}), 200, 0),
        (sentry("comment", {"action": "created", "data": {}}), 200, 0),
        (sentry("event_alert", EVENT_ALERT, secret="forged"), 401, 0),
        (Webhook("POST", {"sentry-hook-resource": "event_alert"}, b"{}", "r"), 401, 0),
        (datadog(DATADOG, token="wrong"), 401, 0),
        (datadog(DATADOG, token=None), 401, 0),
        (sentry("event_alert", None, raw=b"not json"), 400, 0),
        (sentry("event_alert", None, raw=b"\xff\xfe"), 400, 0),
        (sentry("event_alert", ["a", "list"]), 400, 0),
        (sentry("event_alert", {"action": "triggered", "data": {"event": {}}}), 400, 0),
        (datadog({"title": "no id"}), 400, 0),
        (sentry("event_alert", EVENT_ALERT, method="GET"), 405, 0),
        (sentry("event_alert", {"pad": "x" * 5000}), 413, 0),
        (sentry("event_alert", None, raw=b"[" * 4000), 400, 0),
        (sentry("event_alert", None, raw=b'{"a":' * 800), 400, 0),
        (datadog({"id": "1", "alert_cycle_key": "c", "alert_transition": "Trig\ud800"}), 400, 0),
        (sentry("event_alert", None, raw=b'{"action": "triggered", "data": {"event": '
                                         b'{"issue_id": "\\udc00"}}}'), 400, 0),
        (datadog({"id": "1", "alert_cycle_key": "c" * 1100}), 400, 0),
        (datadog({"id": "1", "alert_cycle_key": "c", "title": "\ud800 is fine here"}), 202, 1),
    ],
    ids=["sentry-event-alert", "sentry-issue", "sentry-metric-alert", "sentry-error",
         "sentry-previous-secret", "datadog", "sentry-installation-ignored",
         "sentry-comment-ignored", "sentry-forged", "sentry-unsigned", "datadog-wrong-token",
         "no-credentials", "not-json", "not-utf8", "not-an-object", "no-issue-id",
         "datadog-no-id", "get", "oversized", "nested-arrays", "nested-objects",
         "lone-surrogate-action", "lone-surrogate-alert-id", "alert-id-too-long",
         "lone-surrogate-outside-attributes"],
)
def test_answers(hook: Webhook, status: int, published: int) -> None:
    topic = FakeTopic()
    answer = handle_webhook(hook, deps(topic))
    assert answer.status == status
    assert len(topic.messages) == published


def test_published_message_is_the_raw_body_with_documented_attributes() -> None:
    topic = FakeTopic()
    hook = sentry("event_alert", EVENT_ALERT)
    answer = handle_webhook(hook, deps(topic))
    assert answer.body == {"status": "accepted", "id": "1"}
    data, attributes = topic.messages[0]
    assert data == hook.body
    assert attributes == {"source": "sentry", "resource": "event_alert", "action": "triggered",
                          "alert_key": "sentry:issue:1170",
                          "received_at": "2026-11-25T12:00:00.000+00:00", "request_id": "req-1"}


@pytest.mark.parametrize(("headers", "expected"), [
    pytest.param({"request-id": "6b3e-41", "sentry-hook-timestamp": "1764068400"},
                 {"delivery_id": "6b3e-41", "source_time": "2025-11-25T11:00:00.000+00:00"},
                 id="sentry-sends-both"),
    pytest.param({}, {}, id="neither"),
    pytest.param({"sentry-hook-timestamp": "4102444800"},
                 {"source_time": "2026-11-25T12:00:00.000+00:00"}, id="future-is-clamped-to-now"),
    pytest.param({"sentry-hook-timestamp": "soon", "request-id": "x" * 129}, {},
                 id="unreadable-ignored"),
    pytest.param({"request-id": "tab\there"}, {}, id="unprintable-id-ignored"),
])
def test_sentry_delivery_id_and_send_time(headers: dict[str, str],
                                          expected: dict[str, str]) -> None:
    assert delivery_attributes(headers, NOW) == expected


def test_sentry_delivery_headers_travel_as_attributes() -> None:
    topic = FakeTopic()
    hook = sentry("event_alert", EVENT_ALERT)
    hook = Webhook(hook.method, {**hook.headers, "request-id": "r-9",
                                 "sentry-hook-timestamp": "1764068400"}, hook.body, "req-1")
    handle_webhook(hook, deps(topic))
    attributes = topic.messages[0][1]
    assert (attributes["delivery_id"], attributes["source_time"]) == (
        "r-9", "2025-11-25T11:00:00.000+00:00")


def test_datadog_attributes_use_the_alert_cycle() -> None:
    topic = FakeTopic()
    handle_webhook(datadog(DATADOG), deps(topic))
    attributes = topic.messages[0][1]
    assert attributes["source"] == "datadog"
    assert attributes["alert_key"] == "datadog:cycle:cyc-1"
    assert attributes["action"] == "Triggered"


def test_unreachable_pubsub_answers_503_never_202() -> None:
    answer = handle_webhook(sentry("event_alert", EVENT_ALERT), deps(FakeTopic(fail=True)))
    assert answer.status == 503
    assert "retry" in str(answer.body["error"])


def test_unauthorized_answers_are_identical_whatever_the_cause() -> None:
    forged = handle_webhook(sentry("event_alert", EVENT_ALERT, secret="x"), deps(FakeTopic()))
    missing = handle_webhook(datadog(DATADOG, token=None), deps(FakeTopic()))
    assert (forged.status, forged.body) == (missing.status, missing.body)


@pytest.mark.parametrize(
    ("hook", "detail"),
    [
        (datadog({"title": "no id"}),
         "datadog webhook carries no alert id (alert_cycle_key or id)"),
        (sentry("issue", {"action": "created", "data": {"issue": {"title": "no id"}}}),
         "sentry issue webhook carries no alert id (data.issue.id)"),
        (sentry("event_alert", {"action": "triggered", "data": {"event": {}}}),
         "sentry event_alert webhook carries no alert id (data.event.issue_id)"),
    ],
    ids=["datadog", "sentry-issue", "sentry-event-alert"],
)
def test_malformed_answer_names_the_missing_id_field(hook: Webhook, detail: str) -> None:
    answer = handle_webhook(hook, deps(FakeTopic()))
    assert (answer.status, answer.body["detail"]) == (400, detail)


def test_rejections_are_logged_with_reason_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared")
    handle_webhook(datadog(DATADOG, token="wrong-token-value"), deps(FakeTopic()))
    record = next(r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected")
    assert record.reason == "unauthorized"  # type: ignore[attr-defined]
    assert record.source == "datadog"  # type: ignore[attr-defined]
    assert DATADOG_TOKEN not in caplog.text and "wrong-token-value" not in caplog.text


@pytest.mark.parametrize("hook, checked", [
    (sentry("event_alert", EVENT_ALERT, secret="forged-secret-value"), "SENTRY_CLIENT_SECRET"),
    (datadog(DATADOG, token="wrong-token-value"), "DATADOG_SECRET_TOKEN"),
    (datadog(DATADOG, token=None), "datadog-secret-token header"),
], ids=["sentry-signature", "datadog-token", "no-credential-header"])
def test_a_401_log_line_names_the_credential_checked_never_a_value(
        caplog: pytest.LogCaptureFixture, hook: Webhook, checked: str) -> None:
    caplog.set_level(logging.INFO, logger="shared")
    assert handle_webhook(hook, deps(FakeTopic())).status == 401
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert checked in record.getMessage()
    for value in (SENTRY_SECRET, DATADOG_TOKEN, "wrong-token-value", "forged-secret-value"):
        assert value not in caplog.text


def test_missing_secret_is_a_503_that_names_it(caplog: pytest.LogCaptureFixture) -> None:
    def no_secrets(name: str) -> tuple[str, ...]:
        raise ConfigError(f"secret {name}: not set in the environment")

    topic = FakeTopic()
    answer = handle_webhook(sentry("event_alert", EVENT_ALERT),
                            IngestDeps(no_secrets, topic.publish, lambda: NOW, 4096))
    assert answer.status == 503
    assert answer.body["error"] == "configuration error"
    assert "SENTRY_CLIENT_SECRET" in caplog.text
    assert topic.messages == []


@pytest.mark.parametrize(("size", "limit", "read"), [(10, 100, 10), (100, 100, 100),
                                                     (500, 100, 101), (200_000, 150_000, 150_001)],
                         ids=["small", "at-limit", "over-limit", "over-limit-many-chunks"])
def test_read_body_stops_one_byte_past_the_limit(size: int, limit: int, read: int) -> None:
    assert len(read_body(io.BytesIO(b"x" * size), limit)) == read


@pytest.mark.parametrize(("payload", "detail"), [
    ({"id": "1", "alert_cycle_key": "c", "alert_transition": "\ud800"}, "lone UTF-16 surrogate"),
    ({"id": "1", "alert_cycle_key": "c" * 1100}, "longer than 1024 bytes"),
], ids=["lone-surrogate", "alert-id-too-long"])
def test_unpublishable_values_are_a_400_that_says_why(payload: object, detail: str) -> None:
    answer = handle_webhook(datadog(payload), deps(FakeTopic()))
    assert answer.status == 400
    assert detail in str(answer.body["detail"])


class CountingStream(io.BytesIO):
    """A request body that remembers the largest single read asked of it."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest = max(self.largest, size if size is not None and size >= 0 else 1 << 62)
        return super().read(size)


def receive_body(body: bytes, content_length: int | None, limit: int = 4096,
                 ) -> tuple[int, CountingStream, FakeTopic]:
    stream, topic = CountingStream(body), FakeTopic()
    request = Incoming("POST", datadog(DATADOG).headers, {}, content_length, stream, "r")
    answer = receive(request, deps(topic, limit))
    return answer.status, stream, topic


SMALL = json.dumps(DATADOG).encode()
BIG = b"x" * 3_000_000


@pytest.mark.parametrize(("body", "declared", "status"), [
    (SMALL, len(SMALL), 202),
    (SMALL, None, 202),
    (BIG, len(BIG), 413),
    (BIG, None, 413),
    (SMALL + b" " * 5000, None, 413),
], ids=["small-declared", "small-chunked", "oversized-declared", "oversized-chunked",
        "just-over-chunked"])
def test_receive_reads_in_bounded_chunks_and_drains_an_oversized_body(
        body: bytes, declared: int | None, status: int) -> None:
    code, stream, topic = receive_body(body, declared)
    assert code == status
    assert len(topic.messages) == (status == 202)
    assert stream.largest <= 64 * 1024
    assert stream.read() == b""  # nothing left for the framework to buffer


def test_body_beyond_the_drain_limit_is_left_unread_and_logged(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("shared.flows.ingest.DRAIN_LIMIT_BYTES", 1_000_000)
    code, stream, _ = receive_body(BIG, None)
    assert code == 413
    assert len(stream.read()) == len(BIG) - 4097 - 1_000_000 - 1
    assert [r for r in caplog.records if getattr(r, "event", "") == "body_not_drained"]


def test_drain_stops_at_its_limit() -> None:
    stream = CountingStream(b"x" * 1000)
    assert drain(stream, 500) is False
    assert drain(stream, 10_000) is True
    assert stream.largest <= 64 * 1024


def test_misconfigured_service_answers_503_and_logs_the_key(
        caplog: pytest.LogCaptureFixture) -> None:
    handle = misconfigured(ConfigError("invalid configuration: GOOGLE_CLOUD_PROJECT: required"))
    stream = io.BytesIO(b"x" * 100_000)
    answer = handle(Incoming("POST", {}, {}, 100_000, stream, "r-1"))
    assert answer.status == 503
    assert answer.body["error"] == "configuration error"
    assert "GOOGLE_CLOUD_PROJECT" not in str(answer.body)  # named in the logs, not to callers
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "config_error"]
    assert "GOOGLE_CLOUD_PROJECT" in record.getMessage()
    assert stream.read() == b""
