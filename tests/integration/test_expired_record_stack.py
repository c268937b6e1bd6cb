"""An expired ledger record that Firestore's TTL has not purged yet: the alert gets a new task.

The decision table treats an expired record as absent, so the worker claims the key anew;
the claim must then replace the old document instead of failing on it (which answered 503
to every delivery until the purge, up to a day later).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import requests

from scripts.localstack import Stack, sentry_headers
from shared.core.alert import Action
from shared.core.ledger import RETENTION, Delivery, Record, Step, after, claim
from shared.sources import parse_alert
from tests.fakes.asana_server import FakeAsana
from tests.polling import eventually

from .test_worker_stack import DATA, tasks_named


def test_an_alert_whose_record_expired_gets_a_new_task(stack: Stack, asana: FakeAsana) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    payload = json.loads((DATA / "sentry_event_alert.json").read_text())
    payload["data"]["event"]["issue_id"] = issue_id
    payload["data"]["event"]["title"] = f"expired record #{issue_id}"
    body = json.dumps(payload).encode()
    key = parse_alert(body, {"source": "sentry", "resource": "event_alert"}).key
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.env["FIRESTORE_EMULATOR_HOST"]
    from shared.adapters.firestore_ledger import FirestoreLedger

    ledger = FirestoreLedger(stack.env["GOOGLE_CLOUD_PROJECT"],
                             stack.env.get("LEDGER_COLLECTION", "alert_ledger"))
    then = datetime.now(UTC) - RETENTION - timedelta(days=1)
    old = after(claim(key, then, project_gid="1"), Step.CREATE,
                Delivery(action=Action.TRIGGERED, digest="old", source_time=then), then,
                task_gid="1")
    assert ledger.create(old) is not None

    answer = requests.post(stack.url("ingest"), data=body, timeout=10,
                           headers=sentry_headers(body, "event_alert"))
    assert answer.status_code == 202, answer.text
    [task] = eventually(lambda: tasks_named(asana, f"#{issue_id}"), what="a new task")
    # The ledger is written after Asana answers: wait for the worker to record the new task.
    record = eventually(lambda: _with_task(ledger.get(key)[0]),
                        what="the ledger names the new task")
    assert record.task_gid == task["gid"]


def _with_task(record: Record | None) -> Record | None:
    return record if record is not None and record.task_gid else None
