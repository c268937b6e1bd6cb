"""The service's own errors reach a (fake) Sentry, and no credential or customer data does."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib import error, request

import pytest
import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    Stack,
    Topology,
    free_port,
    sentry_headers,
    start_stack,
)
from shared.core.logs import TRACE_FIELD
from tests.fakes.asana_server import FakeAsana
from tests.fakes.sentry_server import FakeSentry
from tests.polling import eventually

from .pubsub_helpers import pull

REPO = Path(__file__).resolve().parents[2]
SECRETS = {
    "ASANA_PAT": "super-secret-pat-123",
    "SENTRY_CLIENT_SECRET": "sentry-client-secret-456",
    "DATADOG_SECRET_TOKEN": "dd-webhook-token-789",
    "SENTRY_AUTH_TOKEN": "sntrys_auth_token_0001",
    "DATADOG_API_KEY": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "DATADOG_APP_KEY": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "AZURE_WEBHOOK_TOKEN": "azure-url-token-1357",
    "ALERTMANAGER_TOKEN": "am-bearer-token-2468",
    "GRAFANA_WEBHOOK_SECRET": "grafana-hmac-secret-3579",
    "GCM_WEBHOOK_TOKEN": "gcm-auth-token-4680",
}
CUSTOMER_EMAIL = "ann.customer@example.com"

# The same calls the deployed functions make: wiring.settings() starts reporting, the worker
# flow dead-letters a message, and a functions-framework app crashes inside a request.
SCENARIO = textwrap.dedent("""
    import logging, os, sys
    from datetime import UTC, datetime

    import functions_framework
    import sentry_sdk

    from shared.core import observability
    from shared import wiring
    from shared.core.envelope import PushMessage
    from shared.flows.worker import PortfolioCache, WorkerDeps, handle_push

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

    from shared.core.settings import SECRET_NAMES
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
           "SENTRY_RELEASE": "alert-bridge@1.2.3", "SENTRY_DSN": sentry.dsn(),
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
    assert event["logger"] == "shared.flows.worker"


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


# --- The deployed pipeline: a webhook through ingest, Pub/Sub and the worker to an Asana that
# refuses the task with personal data in its error text; what reaches Sentry, the logs and the
# dead letter. ---

PROJECT = "alert-bridge-sentry-test"
PIPELINE_PAT = "pipeline-asana-pat-7f3e9a1c"
DSN_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
GITHUB_TOKEN = "ghp_" + "Q7" * 18
# (id, text in Asana's error message, what must never leave the worker)
PERSONAL: list[tuple[str, str, str]] = [
    ("card-spaced", "card 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("card-unspaced", "card 5500000000000004", "5500000000000004"),
    ("phone", "call 555-123-4567", "555-123"),
    ("ipv4", "from 198.51.100.7", "198.51.100.7"),
    ("ssn", "ssn 123-45-6789", "123-45-6789"),
    ("token", f"invalid token {GITHUB_TOKEN}", GITHUB_TOKEN),
    ("email", "owner jane.roe@example.com", "jane.roe"),
    ("live-pat", f"bad header {PIPELINE_PAT}", PIPELINE_PAT),
]
ASANA_ERROR = "name: " + ", ".join(text for _, text, _ in PERSONAL)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FakeSentry,
                                                                       FakeAsana]]:
    """Run ingest and worker on the emulators, reporting to a fake Sentry."""
    log_dir = tmp_path_factory.mktemp("sentry-pipeline")
    suffix = uuid.uuid4().hex[:8]
    topology = Topology(PROJECT, f"events-{suffix}", f"dead-{suffix}", f"events-{suffix}-push",
                        f"dead-{suffix}-pull", max_delivery_attempts=5)
    with FakeSentry() as sentry, FakeAsana(token=PIPELINE_PAT) as asana:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
        env.update({**LOCAL_DEFAULTS, "ENVIRONMENT": "prod", "ASANA_API_URL": asana.url,
                    "ASANA_PAT": PIPELINE_PAT, "TEAMS_FILE": str(REPO / "teams.yaml"),
                    "SENTRY_DSN": sentry.dsn(key=DSN_KEY), "SENTRY_ENVIRONMENT": "prod-eu",
                    "SENTRY_RELEASE": "alert-bridge@5eed1e55", "SENTRY_TRACES_SAMPLE_RATE": "1.0",
                    "SENTRY_PROFILES_SAMPLE_RATE": "0", "DRY_RUN_FILE": str(log_dir / "dry")})
        ports = {name: free_port() for name in ("ingest", "worker", "pubsub", "firestore")}
        stack = start_stack(env=env, ports=ports, log_dir=log_dir, topology=topology)
        stack.env["_DEAD_LETTER_SUBSCRIPTION"] = topology.dead_letter_subscription
        try:
            # Every Asana call refuses: the portfolio lookup (backlog used), then the task.
            asana.fail_next(3, 400, message=ASANA_ERROR)
            body = (REPO / "tests" / "data" / "sentry_event_alert.json").read_bytes()
            answer = requests.post(stack.url("ingest"), data=body, timeout=10, headers={
                **sentry_headers(body), "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
            assert answer.status_code == 202, answer.text
            eventually(lambda: _dead_lettered_event(sentry.events()), 30.0)
            eventually(lambda: _transactions(sentry), 30.0)
            yield stack, sentry, asana
        finally:
            stack.stop()


def _dead_lettered_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in events if e.get("extra", {}).get("event") == "dead_lettered"), None)


def _transactions(sentry: FakeSentry) -> list[dict[str, Any]]:
    return [item.payload for envelope in sentry.envelopes() for item in envelope.items
            if item.headers.get("type") == "transaction"]


def _log_text(stack: Stack, name: str) -> str:
    return next(s.log_path for s in stack.services if s.name == name).read_text()


def _log_lines(stack: Stack, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _log_text(stack, name).splitlines()
            if line.startswith("{")]


@pytest.mark.parametrize("leak", [p[2] for p in PERSONAL], ids=[p[0] for p in PERSONAL])
def test_asanas_refusal_reaches_sentry_without_personal_data(
        pipeline: tuple[Stack, FakeSentry, FakeAsana], leak: str) -> None:
    _, sentry, _ = pipeline
    assert leak.encode() not in sentry.received_bytes()


def test_the_event_says_what_happened_in_masked_form(
        pipeline: tuple[Stack, FakeSentry, FakeAsana]) -> None:
    _, sentry, _ = pipeline
    event = _dead_lettered_event(sentry.events())
    assert event is not None
    assert (event["environment"], event["release"]) == ("prod-eu", "alert-bridge@5eed1e55")
    formatted = event["logentry"]["formatted"]
    for masked in ("card XXXX-XXXX-XXXX-XXXX", "call XXX-XXX-4567", "from XXX.XXX.XXX.XXX",
                   "ssn XXX-XX-XXXX", "invalid token [Filtered]", "ja***@example.com"):
        assert masked in formatted


def test_each_pushed_message_is_a_transaction_of_the_configured_release(
        pipeline: tuple[Stack, FakeSentry, FakeAsana]) -> None:
    _, sentry, _ = pipeline
    transactions = _transactions(sentry)
    assert {(t["environment"], t["release"]) for t in transactions} == {
        ("prod-eu", "alert-bridge@5eed1e55")}


def test_no_trace_header_reaches_asana(pipeline: tuple[Stack, FakeSentry, FakeAsana]) -> None:
    _, _, asana = pipeline
    assert asana.requests, "the worker never called Asana"
    for recorded in asana.requests:
        assert not {"sentry-trace", "baggage", "traceparent"} & set(recorded.headers)


def test_the_dead_letter_attribute_is_masked(
        pipeline: tuple[Stack, FakeSentry, FakeAsana], monkeypatch: pytest.MonkeyPatch) -> None:
    stack, _, _ = pipeline
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", stack.env["PUBSUB_EMULATOR_HOST"])
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, stack.env["_DEAD_LETTER_SUBSCRIPTION"])
    [message] = pull(subscriber, path)
    subscriber.close()
    error_text = message.attributes["dead_letter_error"]
    assert error_text.startswith("asana POST /tasks: 400 name: card XXXX-XXXX-XXXX-XXXX")
    for _, _, leak in PERSONAL:
        assert leak not in error_text


def test_logs_follow_the_alert_from_webhook_to_dead_letter(
        pipeline: tuple[Stack, FakeSentry, FakeAsana]) -> None:
    stack, _, _ = pipeline
    ingest = _log_lines(stack, "ingest")
    [published] = [line for line in ingest if line.get("event") == "webhook_published"]
    assert published[TRACE_FIELD] == f"projects/{PROJECT}/traces/{TRACE_ID}"
    request_id = published["request_id"]
    worker = [line for line in _log_lines(stack, "worker")
              if line.get("logger", "").startswith("shared.flows.worker")]
    assert {line["event"] for line in worker} >= {"decision", "dead_lettered"}
    assert {line["request_id"] for line in worker} == {request_id}


@pytest.mark.parametrize("name", ["ingest", "worker"])
def test_one_start_up_line_says_reporting_is_on_without_the_dsn_key(
        pipeline: tuple[Stack, FakeSentry, FakeAsana], name: str) -> None:
    stack, _, _ = pipeline
    started = [line for line in _log_lines(stack, name)
               if line.get("event") == "error_reporting_started"]
    assert len(started) == 1
    assert (started[0]["environment"], started[0]["release"], started[0]["traces_sample_rate"],
            started[0]["profiles_sample_rate"]) == ("prod-eu", "alert-bridge@5eed1e55", 1.0, 0.0)
    assert DSN_KEY not in _log_text(stack, name)
