"""A dependency that refuses connections, or accepts them and never answers, fails in seconds.

Every Firestore, Pub/Sub and Secret Manager call has a deadline and a bounded retry, so the
real functions answer 503 and the command lines exit non-zero with one line naming the
dependency. Before the bounds, the ingest's Asana path, the worker's sync path and the
Firestore command lines took 260-300 s. BOUND is a safety limit, not a benchmark.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.localstack import LOCAL_DEFAULTS, REPO, free_port, sentry_headers, start_function
from shared.core.errors import Transient
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeSentryApi

from .conftest import ASANA_TOKEN, SENTRY_TOKEN

BOUND = 15.0  # seconds, a safety limit: the bounded calls give up after about 5
BACKLOG = "1209000000003001"
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def black_hole() -> Iterator[str]:
    """Return an address that accepts every connection and never answers on it."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for connection in held:
        connection.close()


@pytest.fixture(scope="module")
def apis() -> Iterator[tuple[FakeAsana, FakeSentryApi]]:
    """Asana and Sentry that answer, so that only the Google dependency fails."""
    with FakeAsana(token=ASANA_TOKEN) as asana, \
            FakeSentryApi(token=SENTRY_TOKEN, org="acme") as sentry:
        asana.add_project(BACKLOG, "backlog")
        sentry.projects.add("panther-alerts-api")
        yield asana, sentry


def dead(how: str, black_hole: str) -> str:
    """Return a Google endpoint that refuses connections, or one that never answers."""
    return f"127.0.0.1:{free_port()}" if how == "refused" else black_hole


def environment(google: str, apis: tuple[FakeAsana, FakeSentryApi],
                tmp_path: Path) -> dict[str, str]:
    """Return the environment of a function or command whose Google endpoints are ``google``."""
    asana, sentry = apis
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update({**LOCAL_DEFAULTS, "GOOGLE_CLOUD_PROJECT": "bounded-test",
                "FIRESTORE_EMULATOR_HOST": google, "PUBSUB_EMULATOR_HOST": google,
                "ASANA_PAT": ASANA_TOKEN, "ASANA_API_URL": asana.url, "ASANA_MAX_ATTEMPTS": "2",
                "SENTRY_API_URL": sentry.url, "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
                "SENTRY_ORG": "acme", "RECONCILE_SENTRY_PROJECTS": "panther-alerts-api",
                "ASANA_WEBHOOK_TARGET_URL": "https://alert-bridge.invalid/ingest",
                "DRY_RUN_FILE": str(tmp_path / "dry-run.jsonl"),
                "TEAMS_FILE": str(REPO / "teams.yaml"), "PYTHONPATH": str(REPO)})
    return env


def _envelope(data: bytes, attributes: dict[str, str]) -> bytes:
    return json.dumps({"subscription": "projects/p/subscriptions/s", "message": {
        "data": base64.b64encode(data).decode(), "messageId": uuid.uuid4().hex,
        "attributes": attributes}}).encode()


ALERT = (DATA / "sentry_event_alert.json").read_bytes()
TASK_CHANGED = json.dumps({"events": [{
    "user": {"gid": "1209990000000042"}, "action": "changed",
    "resource": {"gid": "1209000000000077", "resource_type": "task"}}]}).encode()
JSON = {"Content-Type": "application/json"}

# (id, function, query string, body, headers, dependency the log names)
REQUESTS: list[tuple[str, str, str, bytes, dict[str, str], str]] = [
    ("worker-alert", "worker", "", _envelope(ALERT, {
        "source": "sentry", "resource": "event_alert",
        "received_at": "2026-11-25T12:00:00.000+00:00"}), JSON, "FIRESTORE_EMULATOR_HOST"),
    ("worker-sync", "worker", "", _envelope(TASK_CHANGED, {
        "source": "asana", "resource": "task", "action": "changed",
        "alert_key": "asana:task:1209000000000077", "task_gid": "1209000000000077",
        "project": BACKLOG, "received_at": "2026-11-25T12:00:00.000+00:00"}), JSON,
     "FIRESTORE_EMULATOR_HOST"),
    # The token is checked against the hook store, so the store must be asked.
    ("ingest-asana-handshake", "ingest", f"?source=asana&project={BACKLOG}&token={'t' * 43}", b"",
     {"X-Hook-Secret": "h" * 32}, "FIRESTORE_EMULATOR_HOST"),
    ("ingest-sentry-publish", "ingest", "", ALERT, sentry_headers(ALERT),
     "PUBSUB_EMULATOR_HOST"),
]
FUNCTION_CASES = [pytest.param(how, *r[1:], id=f"{r[0]}-{how}")
                  for how in ("refused", "black-hole") for r in REQUESTS]


@pytest.mark.parametrize(("how", "function", "query", "body", "headers", "named"),
                         FUNCTION_CASES)
def test_a_function_answers_503_in_seconds(
        how: str, function: str, query: str, body: bytes, headers: dict[str, str], named: str,
        black_hole: str, apis: tuple[FakeAsana, FakeSentryApi], tmp_path: Path) -> None:
    env = environment(dead(how, black_hole), apis, tmp_path)
    service = start_function(function, function, free_port(), env, tmp_path)
    try:
        started = time.monotonic()
        answer = requests.post(service.url + "/" + query, data=body, headers=headers,
                               timeout=BOUND * 3)
        took = time.monotonic() - started
    finally:
        service.stop()
    assert answer.status_code == 503, answer.text
    assert took < BOUND
    log = service.log_path.read_text()
    assert named in log and "Traceback" not in log, log


COMMANDS: list[tuple[str, list[str], str]] = [
    ("reconcile", ["shared.cli.reconcile"], "firestore at "),
    ("asana-webhooks-register", ["shared.sources.asana.webhooks_cli", "--workspace", "1",
                                 "register", "--project", BACKLOG], "firestore at "),
    ("replay-list", ["shared.cli.replay", "list"], "cannot reach Pub/Sub at "),
]
COMMAND_CASES = [pytest.param(how, *c[1:], id=f"{c[0]}-{how}")
                 for how in ("refused", "black-hole") for c in COMMANDS]


def _command(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                             float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", *argv], env=env, capture_output=True,
                          text=True, timeout=BOUND * 3, stdin=subprocess.DEVNULL, cwd=REPO)
    return done, time.monotonic() - started


@pytest.mark.parametrize(("how", "argv", "named"), COMMAND_CASES)
def test_a_command_exits_non_zero_with_one_line_in_seconds(
        how: str, argv: list[str], named: str, black_hole: str,
        apis: tuple[FakeAsana, FakeSentryApi], tmp_path: Path) -> None:
    google = dead(how, black_hole)
    done, took = _command(argv, environment(google, apis, tmp_path))
    assert done.returncode != 0
    assert took < BOUND
    [line] = done.stderr.strip().splitlines()
    assert named in line and google in line, line


@pytest.mark.parametrize("argv", [c[1] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_a_command_without_google_credentials_says_what_to_set(
        argv: list[str], apis: tuple[FakeAsana, FakeSentryApi], tmp_path: Path) -> None:
    env = environment("unused", apis, tmp_path)
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST",
                 "GOOGLE_APPLICATION_CREDENTIALS"):
        env.pop(name, None)
    # No gcloud login (an empty configuration directory) and no metadata server to ask.
    env.update({"CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "true"})
    done, _ = _command(argv, env)
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "GOOGLE_APPLICATION_CREDENTIALS" in line and "FIRESTORE_EMULATOR_HOST" in line, line


@pytest.mark.parametrize("how", ["refused", "black-hole"])
def test_a_secret_manager_read_fails_in_seconds(how: str, black_hole: str) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    from shared.adapters.secrets import secret_reader

    client = secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": dead(how, black_hole)})
    started = time.monotonic()
    with pytest.raises(Transient) as error:
        secret_reader(client, "bounded-test")("alert-bridge-asana-pat")
    assert time.monotonic() - started < BOUND
    assert "secret manager: reading alert-bridge-asana-pat failed" in str(error.value)
