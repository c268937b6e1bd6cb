"""A failpoint is refused in prod: the real worker answers a configuration error and lives on.

The same failpoint in staging kills the worker right after its claim, which shows the prod
worker was given everything it needed to get there.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path

import pytest
import requests

from scripts.localstack import Stack, free_port, start_function
from shared.adapters.firestore_ledger import FirestoreLedger
from shared.core.failpoints import VARIABLE
from shared.core.ledger import State
from shared.sources import parse_alert

from .test_worker_stack import DATA


def _alert() -> tuple[bytes, str]:
    """Return a new Sentry event alert's envelope for the worker, and its alert key."""
    payload = json.loads((DATA / "sentry_event_alert.json").read_text())
    issue_id = str(uuid.uuid4().int % 10**12)
    payload["data"]["event"]["issue_id"] = issue_id
    payload["data"]["event"]["title"] = f"failpoint #{issue_id}"
    body = json.dumps(payload).encode()
    attributes = {"source": "sentry", "resource": "event_alert",
                  "received_at": "2026-11-25T12:00:00.000+00:00"}
    envelope = {"subscription": "projects/p/subscriptions/s", "message": {
        "data": base64.b64encode(body).decode(), "messageId": uuid.uuid4().hex,
        "attributes": attributes}}
    return json.dumps(envelope).encode(), parse_alert(body, attributes).key


def _ledger(stack: Stack) -> FirestoreLedger:
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.env["FIRESTORE_EMULATOR_HOST"]
    return FirestoreLedger(stack.env["GOOGLE_CLOUD_PROJECT"],
                           stack.env.get("LEDGER_COLLECTION", "alert_ledger"))


def _post(url: str, envelope: bytes) -> requests.Response:
    return requests.post(url, data=envelope, timeout=30,
                         headers={"Content-Type": "application/json"})


def test_a_failpoint_in_prod_is_a_config_error_and_the_worker_lives_on(
        stack: Stack, tmp_path: Path) -> None:
    env = {**stack.env, "ENVIRONMENT": "prod", VARIABLE: "after_claim"}
    worker = start_function("worker", "worker", free_port(), env, tmp_path)
    envelope, key = _alert()
    try:
        for _ in range(2):  # the first request and the next: answered, never killed
            answer = _post(worker.url + "/", envelope)
            assert answer.status_code == 503
            assert answer.json() == {"status": "retry", "reason": "config_error"}
        assert worker.process.poll() is None
    finally:
        worker.stop()
    assert _ledger(stack).get(key) == (None, None)  # nothing was claimed
    log = worker.log_path.read_text()
    assert "Traceback" not in log
    errors = [json.loads(line) for line in log.splitlines()
              if line.startswith("{") and '"config_error"' in line]
    assert errors and all(VARIABLE in entry["keys"] for entry in errors), log


def test_the_same_failpoint_in_staging_kills_the_worker_after_its_claim(
        stack: Stack, tmp_path: Path) -> None:
    env = {**stack.env, "ENVIRONMENT": "staging", VARIABLE: "after_claim"}
    worker = start_function("worker", "worker", free_port(), env, tmp_path)
    envelope, key = _alert()
    try:
        with pytest.raises(requests.ConnectionError):
            _post(worker.url + "/", envelope)
    finally:
        worker.stop()
    record, _ = _ledger(stack).get(key)
    assert record is not None and record.state is State.CREATING
