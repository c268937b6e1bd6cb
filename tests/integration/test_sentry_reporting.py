"""The service's own errors reach a (fake) Sentry, and no credential or customer data does."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib import error, request

import pytest

from tests.fakes.sentry_server import FakeSentry

REPO = Path(__file__).resolve().parents[2]
SECRETS = {
    "ASANA_PAT": "super-secret-pat-123",
    "SENTRY_CLIENT_SECRET": "sentry-client-secret-456",
    "DATADOG_SECRET_TOKEN": "dd-webhook-token-789",
    "SENTRY_AUTH_TOKEN": "sntrys_auth_token_0001",
    "DATADOG_API_KEY": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
}
CUSTOMER_EMAIL = "ann.customer@example.com"

# The same calls the deployed functions make: wiring.settings() starts reporting, the worker
# flow dead-letters a message, and a functions-framework app crashes inside a request.
SCENARIO = textwrap.dedent("""
    import logging, os, sys
    from datetime import UTC, datetime

    import functions_framework
    import sentry_sdk

    from shared import observability, wiring
    from shared.envelope import PushMessage
    from shared.worker import PortfolioCache, WorkerDeps, handle_push

    pat = os.environ["ASANA_PAT"]
    settings = wiring.settings()
    assert sentry_sdk.get_client().is_active(), "SENTRY_DSN did not start reporting"
    client = sentry_sdk.get_client()
    assert observability.init_error_reporting(settings, lambda: [])
    assert sentry_sdk.get_client() is client, "a second call replaced the client"

    log = logging.getLogger("shared.adapters.asana")
    log.warning("will retry: asana 503", extra={"event": "retry"})
    log.error("asana refused the request: %s", "Authorization: Bearer " + pat,
              extra={"event": "asana_failed", "token": pat})

    deps = WorkerDeps(config=lambda: None, environment="prod", tracker=None, ledger=None,
                      portfolios=PortfolioCache(lambda gid: []),
                      dead_letter=lambda data, attributes: "dead-1",
                      now=lambda: datetime.now(UTC))
    outcome = handle_push(PushMessage("m-1", b"{}", {"source": "bogus-" + pat}), deps)
    assert outcome.body["status"] == "dead-lettered", outcome

    from shared.settings import SECRET_NAMES
    log.error("credentials in use: %s", " ".join(os.environ[n] for n in SECRET_NAMES),
              extra={"event": "credential_dump"})

    app = functions_framework.create_app("crash", sys.argv[1], "http")
    answer = app.test_client().post(
        "/?token=" + pat, json={"user": {"email": sys.argv[2]}},
        headers={"datadog-secret-token": os.environ["DATADOG_SECRET_TOKEN"],
                 "Authorization": "Bearer " + pat, "User-Agent": "Datadog/Webhooks"})
    assert answer.status_code == 500, answer.status_code
    sentry_sdk.flush(timeout=10)
""")

CRASHING_FUNCTION = textwrap.dedent("""
    import os

    import functions_framework


    @functions_framework.http
    def crash(request):
        token = request.headers["datadog-secret-token"]
        raise RuntimeError("cannot verify " + token + " with " + os.environ["ASANA_PAT"])
""")


@pytest.fixture()
def sentry() -> Iterator[FakeSentry]:
    with FakeSentry() as fake:
        yield fake


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSentry]:
    """Run the scenario once, in a fresh interpreter so sentry_sdk's globals stay out of pytest."""
    with FakeSentry() as fake:
        yield _run_scenario(fake, tmp_path_factory.mktemp("sentry-scenario"))


def _run_scenario(sentry: FakeSentry, tmp_path: Path) -> FakeSentry:
    source = tmp_path / "main.py"
    source.write_text(CRASHING_FUNCTION)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO),
           "GOOGLE_CLOUD_PROJECT": "alert-bridge-test", "ENVIRONMENT": "staging",
           "ALERT_BRIDGE_RELEASE": "alert-bridge@1.2.3", "SENTRY_DSN": sentry.dsn(),
           **SECRETS}
    done = subprocess.run([sys.executable, "-c", SCENARIO, str(source), CUSTOMER_EMAIL],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return sentry


def _event(events: list[dict[str, Any]], message: str) -> dict[str, Any]:
    for event in events:
        if event.get("logentry", {}).get("message") == message:
            return event
    raise AssertionError(f"no event for {message!r} in {[e.get('logentry') for e in events]}")


def _crash(events: list[dict[str, Any]]) -> dict[str, Any]:
    for event in events:
        values = event.get("exception", {}).get("values", [])
        if any(v.get("type") == "RuntimeError" for v in values):
            return event
    raise AssertionError("the crash inside the request was not reported")


@pytest.mark.parametrize("value", [*SECRETS.values(), CUSTOMER_EMAIL],
                         ids=[*SECRETS, "customer-email"])
def test_nothing_sensitive_reaches_sentry(reported: FakeSentry, value: str) -> None:
    assert reported.events(), "no event reached the fake Sentry"
    assert value.encode() not in reported.received_bytes()


def test_secret_values_are_replaced_not_the_whole_message(reported: FakeSentry) -> None:
    event = _event(reported.events(), "credentials in use: %s")
    filtered = " ".join(["[Filtered]"] * len(SECRETS))
    assert event["logentry"]["formatted"] == "credentials in use: " + filtered


def test_error_logs_become_events_tagged_with_the_deployment(reported: FakeSentry) -> None:
    event = _event(reported.events(), "asana refused the request: %s")
    assert (event["level"], event["environment"], event["release"]) == (
        "error", "staging", "alert-bridge@1.2.3")
    assert event["extra"]["event"] == "asana_failed"


def test_dead_lettered_messages_become_events(reported: FakeSentry) -> None:
    event = _event(reported.events(), "dead-lettered: %s")
    assert event["extra"]["event"] == "dead_lettered"
    assert event["extra"]["reason"] == "bad_payload"
    assert event["logger"] == "shared.worker"


def test_warnings_are_breadcrumbs_not_events(reported: FakeSentry) -> None:
    events = reported.events()
    assert all(e.get("level") != "warning" for e in events)
    dead_lettered = _event(events, "dead-lettered: %s")
    crumbs = [c.get("message") for c in dead_lettered["breadcrumbs"]["values"]]
    assert "will retry: asana 503" in crumbs


def test_a_crash_in_a_request_is_reported_without_credentials(reported: FakeSentry) -> None:
    event = _crash(reported.events())
    headers = event["request"]["headers"]
    assert headers["Datadog-Secret-Token"] == "[Filtered]"
    assert headers["Authorization"] == "[Filtered]"
    assert headers["User-Agent"] == "Datadog/Webhooks"
    assert "data" not in event["request"] and "query_string" not in event["request"]
    assert "user" not in event
    assert event["exception"]["values"][-1]["value"] == "cannot verify [Filtered] with [Filtered]"


def _post(sentry: FakeSentry, body: bytes, encoding: str = "", path: str = "/api/1/envelope/"
          ) -> int:
    headers = {"Content-Type": "application/x-sentry-envelope"}
    if encoding:
        headers["Content-Encoding"] = encoding
    req = request.Request(f"http://127.0.0.1:{sentry.port}{path}", data=body, headers=headers)
    try:
        with request.urlopen(req, timeout=5) as answer:
            return int(answer.status)
    except error.HTTPError as refused:
        return refused.code


EVENT = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "m"}).encode()
ENVELOPES: list[tuple[str, bytes, str, int]] = [
    ("plain", b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n' + EVENT,
     "", 200),
    ("gzip-with-length", gzip.compress(
        b'{}\n{"type":"event","length":%d}\n' % len(EVENT) + EVENT + b"\n"), "gzip", 200),
    ("header-not-json", b"not json\n{\"type\":\"event\"}\n{}", "", 400),
    ("item-without-type", b'{}\n{"length":2}\n{}', "", 400),
    ("length-too-long", b'{}\n{"type":"event","length":99}\n{}', "", 400),
    ("bad-gzip", b"plainly not gzip", "gzip", 400),
]


@pytest.mark.parametrize(("body", "encoding", "status"), [e[1:] for e in ENVELOPES],
                         ids=[e[0] for e in ENVELOPES])
def test_fake_sentry_parses_envelopes_and_rejects_malformed_ones(
        sentry: FakeSentry, body: bytes, encoding: str, status: int) -> None:
    assert _post(sentry, body, encoding) == status
    assert sentry.events() == ([{"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "m"}]
                               if status == 200 else [])


def test_fake_sentry_only_serves_the_envelope_endpoint(sentry: FakeSentry) -> None:
    assert _post(sentry, b"{}\n", path="/api/1/store/") == 404
