"""The real ingest function under functions-framework, publishing to the real emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack, free_port, sentry_headers, start_function

from .pubsub_helpers import pull, tap

SECRET = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
TOKEN = LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
TITLE = "Ошибка: 支払い失敗 — café"


def event_alert(issue_id: str) -> bytes:
    payload = {"action": "triggered", "installation": {"uuid": "inst-1"},
               "data": {"event": {"issue_id": issue_id, "title": TITLE, "level": "error"},
                        "triggered_rule": "Page on errors"}}
    return json.dumps(payload, ensure_ascii=False).encode()


def post_sentry(url: str, body: bytes, resource: str = "event_alert",
                secret: str = SECRET, **extra: Any) -> requests.Response:
    return requests.post(url, data=body, headers=sentry_headers(body, resource, secret),
                         timeout=10, **extra)


@pytest.fixture
def events(stack: Stack, subscriber: Any) -> str:
    return tap(subscriber, stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"])


def test_signed_event_alert_arrives_on_the_topic(stack: Stack, subscriber: Any,
                                                 events: str) -> None:
    body = event_alert("88001")
    response = post_sentry(stack.url("ingest"), body)
    assert response.status_code == 202
    assert set(response.json()) == {"status", "id"}
    [message] = pull(subscriber, events)
    assert message.data == body  # the raw bytes, non-ASCII intact
    assert message.message_id == response.json()["id"]
    attributes = dict(message.attributes)
    assert attributes.pop("received_at")
    assert attributes.pop("request_id")
    assert attributes.pop("source_time")  # Sentry-Hook-Timestamp, at most our receipt time
    assert attributes.pop("delivery_id") == response.request.headers["Request-ID"]
    assert attributes == {"source": "sentry", "resource": "event_alert", "action": "triggered",
                          "alert_key": "sentry:issue:88001"}


def test_datadog_webhook_arrives_on_the_topic(stack: Stack, subscriber: Any,
                                              events: str) -> None:
    body = json.dumps({"id": "7001", "alert_cycle_key": "cycle-7001",
                       "alert_transition": "Triggered", "title": "[P1] CPU high"}).encode()
    response = requests.post(stack.url("ingest"), data=body, timeout=10,
                             headers={"datadog-secret-token": TOKEN})
    assert response.status_code == 202
    [message] = pull(subscriber, events)
    assert message.attributes["alert_key"] == "datadog:cycle:cycle-7001"


@pytest.mark.parametrize(
    ("send", "status"),
    [
        (lambda url: post_sentry(url, event_alert("1"), secret="forged"), 401),
        (lambda url: requests.post(url, data=event_alert("1"), timeout=10,
                                   headers={"Sentry-Hook-Resource": "event_alert"}), 401),
        (lambda url: requests.post(url, data=b"{}", timeout=10,
                                   headers={"datadog-secret-token": "nope"}), 401),
        (lambda url: requests.post(url, data=b"{}", timeout=10), 401),
        (lambda url: post_sentry(url, b"x" * (1024 * 1024 + 1)), 413),
        (lambda url: post_sentry(url, b"{not json"), 400),
        (lambda url: post_sentry(url, b'{"action": "created", "data": {}}'), 400),
        (lambda url: post_sentry(url, b'{"action": "created", "data": {}}',
                                 resource="installation"), 200),
        (lambda url: requests.get(url, timeout=10), 405),
        (lambda url: post_sentry(url, b"[" * 50_000), 400),
        (lambda url: requests.post(url, timeout=10, headers={"datadog-secret-token": TOKEN},
                                   data=b'{"id": "1", "alert_cycle_key": "c\\ud800"}'), 400),
        (lambda url: requests.post(url, timeout=30, data=iter([b"x" * 65536] * 40)), 413),
    ],
    ids=["forged", "unsigned", "wrong-datadog-token", "no-credentials", "oversized",
         "malformed", "missing-fields", "unsupported-resource", "get", "deeply-nested",
         "lone-surrogate-in-alert-id", "oversized-chunked"],
)
def test_refused_requests_publish_nothing(stack: Stack, subscriber: Any, events: str,
                                          send: Any, status: int) -> None:
    response = send(stack.url("ingest"))
    assert response.status_code == status
    # A valid alert sent afterwards must be the only message: the refused one never got there.
    sentinel = json.dumps({"id": "1", "alert_cycle_key": "sentinel"}).encode()
    assert requests.post(stack.url("ingest"), data=sentinel, timeout=10,
                         headers={"datadog-secret-token": TOKEN}).status_code == 202
    messages = pull(subscriber, events, want=1)
    assert [m.attributes["alert_key"] for m in messages] == ["datadog:cycle:sentinel"]


def test_unreachable_pubsub_answers_503(stack: Stack, tmp_path: Path) -> None:
    env = {**stack.env, "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}  # nobody listens
    ingest = start_function("ingest", "ingest", free_port(), env, tmp_path)
    try:
        response = post_sentry(ingest.url, event_alert("2"))
    finally:
        ingest.stop()
    assert response.status_code == 503
    assert "retry" in response.json()["error"]


def test_configuration_error_answers_503_json_and_logs_the_key(stack: Stack,
                                                               tmp_path: Path) -> None:
    env = {**stack.env, "MAX_BODY_BYTES": "lots"}
    ingest = start_function("ingest", "ingest", free_port(), env, tmp_path)
    try:
        answers = [post_sentry(ingest.url, event_alert("3")), requests.get(ingest.url, timeout=10)]
    finally:
        ingest.stop()
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["error"] == "configuration error"
    lines = [json.loads(line) for line in ingest.log_path.read_text().splitlines()
             if line.startswith("{")]
    errors = [line for line in lines if line.get("event") == "config_error"]
    assert len(errors) >= 1 + len(answers)  # once when loaded, then per request (probes too)
    assert errors[0]["keys"] == ["MAX_BODY_BYTES"]
    assert all("MAX_BODY_BYTES" in line["message"] for line in errors)
    assert "Traceback" not in ingest.log_path.read_text()
