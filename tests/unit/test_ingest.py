"""The ingest flow over in-memory doubles: every answer, and what gets published."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from shared.errors import ConfigError, Transient
from shared.ingest import IngestDeps, Webhook, handle_webhook, read_body
from shared.signatures import sentry_signature

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
    ],
    ids=["sentry-event-alert", "sentry-issue", "sentry-metric-alert", "sentry-error",
         "sentry-previous-secret", "datadog", "sentry-installation-ignored",
         "sentry-comment-ignored", "sentry-forged", "sentry-unsigned", "datadog-wrong-token",
         "no-credentials", "not-json", "not-utf8", "not-an-object", "no-issue-id",
         "datadog-no-id", "get", "oversized"],
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


def test_malformed_answer_says_what_is_wrong() -> None:
    answer = handle_webhook(datadog({"title": "no id"}), deps(FakeTopic()))
    assert "no alert id" in str(answer.body["detail"])


def test_rejections_are_logged_with_reason_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared")
    handle_webhook(datadog(DATADOG, token="wrong-token-value"), deps(FakeTopic()))
    record = next(r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected")
    assert record.reason == "unauthorized"  # type: ignore[attr-defined]
    assert record.source == "datadog"  # type: ignore[attr-defined]
    assert DATADOG_TOKEN not in caplog.text and "wrong-token-value" not in caplog.text


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
