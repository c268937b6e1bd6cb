"""Reconciliation on the real emulators: lost webhooks become exactly one task each.

The run is in-process (the reconcile core with its real Pub/Sub, Firestore and HTTP adapters)
against the stack's emulators, the fake Sentry and Datadog APIs, and the running worker.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from scripts.localstack import Stack, free_port, start_function
from shared.adapters.ledger_queries import LedgerQueries
from shared.adapters.pubsub import Publisher
from shared.adapters.reconcile_sources import DatadogReader, SentryReader
from shared.reconcile import ReconcileDeps, reconcile
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeDatadogApi, FakeSentryApi

from .conftest import DATADOG_API_KEY, SENTRY_TOKEN
from .pubsub_helpers import pull, tap
from .test_worker_stack import eventually, send_datadog, send_sentry, tasks_named

PROJECT_SLUG = "panther-alerts-api"
DD_APP_KEY = "integration-datadog-app-key"


@pytest.fixture
def emulators(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Point this process's Google clients at the stack's emulators."""
    for name in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.setenv(name, stack.env[name])
    return stack


@pytest.fixture
def firestore_client(emulators: Stack) -> Iterator[Any]:
    from google.cloud import firestore

    client = firestore.Client(project=emulators.env["GOOGLE_CLOUD_PROJECT"])
    yield client
    client.close()


@pytest.fixture
def events_tap(emulators: Stack, subscriber: Any) -> str:
    """A pull subscription that sees everything published to the events topic from now on."""
    return tap(subscriber, emulators.env["GOOGLE_CLOUD_PROJECT"], emulators.env["EVENTS_TOPIC"])


def collection(stack: Stack) -> str:
    return stack.env.get("LEDGER_COLLECTION", "alert_ledger")


def run_deps(stack: Stack, client: Any, sentry: SentryReader | None,
             datadog: DatadogReader | None) -> ReconcileDeps:
    return ReconcileDeps(
        ledger=LedgerQueries(stack.env["GOOGLE_CLOUD_PROJECT"], collection(stack), client),
        publish=Publisher(stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"]).publish,
        now=lambda: datetime.now(UTC), lookback_minutes=60, grace_minutes=5,
        sentry=sentry, sentry_org="acme", sentry_api_url=stack.env["SENTRY_API_URL"],
        monitors=None if datadog is None else datadog.monitors,
        datadog_webhook="alert-bridge", datadog_app_url="https://app.datadoghq.com")


def reconciled(subscriber: Any, subscription: str, want: int) -> list[str]:
    """Return the alert keys reconciliation published among ``want`` messages (0: expect none,
    so wait a little for any)."""
    messages = pull(subscriber, subscription, want=max(want, 1), timeout=5 if want else 2)
    return sorted(m.attributes["alert_key"] for m in messages
                  if m.attributes.get("source_reason") == "reconcile")


def issue_id() -> str:
    return str(uuid.uuid4().int % 10**12)


def test_lost_sentry_webhooks_become_one_task_each_and_none_twice(
        emulators: Stack, firestore_client: Any, asana: FakeAsana, sentry_api: FakeSentryApi,
        subscriber: Any, events_tap: str) -> None:
    now = datetime.now(UTC)
    rule = str(random.randrange(10**6, 10**7))  # this test's rule: other tests don't see it
    delivered, lost, resolved = issue_id(), issue_id(), issue_id()
    for issue in (delivered, lost, resolved):
        sentry_api.add_issue(PROJECT_SLUG, issue, first_seen=now - timedelta(minutes=20),
                             title=f"KeyError: 'owner' #{issue}")
        sentry_api.fire_rule(PROJECT_SLUG, rule, issue, now - timedelta(minutes=20))
    # Two webhooks arrive; the third issue is then resolved in Sentry and that webhook is lost.
    send_sentry(emulators, "sentry_event_alert.json", "event_alert", delivered)
    send_sentry(emulators, "sentry_event_alert.json", "event_alert", resolved)
    [open_task] = eventually(lambda: tasks_named(asana, f"#{resolved}"))
    eventually(lambda: tasks_named(asana, f"#{delivered}"))
    sentry_api.issues[resolved]["status"] = "resolved"
    reader = SentryReader(sentry_api.url, "acme", lambda: SENTRY_TOKEN, [(PROJECT_SLUG, rule)],
                          [], sleep=lambda _: None)
    deps = run_deps(emulators, firestore_client, reader, None)
    time.sleep(1)  # let the tap drain the two real webhooks first

    first = reconcile(deps, "run-1")

    assert sorted(p.alert_key for p in first.planned) == sorted(
        [f"sentry:issue:{lost}", f"sentry:issue:{resolved}"])
    assert first.published == 2
    [created] = eventually(lambda: tasks_named(asana, f"#{lost}"))
    eventually(lambda: asana.tasks[open_task["gid"]]["completed"])
    assert reconciled(subscriber, events_tap, want=4) == sorted(
        [f"sentry:issue:{lost}", f"sentry:issue:{resolved}"])

    second = reconcile(deps, "run-2")

    assert second.planned == [] and reconciled(subscriber, events_tap, want=0) == []
    # The lost webhook turns up late after all: still one task.
    send_sentry(emulators, "sentry_event_alert.json", "event_alert", lost)
    time.sleep(2)
    for issue in (delivered, lost, resolved):
        assert len(tasks_named(asana, f"#{issue}")) == 1, issue
    assert asana.tasks[created["gid"]]["completed"] is False


def test_a_lost_datadog_webhook_becomes_one_task_and_none_twice(
        emulators: Stack, firestore_client: Any, asana: FakeAsana,
        datadog_api: FakeDatadogApi, subscriber: Any, events_tap: str) -> None:
    datadog_api.app_key = DD_APP_KEY
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:10]
    lost, delivered = random.randrange(10**8, 10**9), random.randrange(10**8, 10**9)
    for monitor, name in ((lost, f"Disk almost full {run}-lost"),
                          (delivered, f"Disk almost full {run}-delivered")):
        datadog_api.add_monitor(monitor, name, changed=now - timedelta(minutes=15), priority=4,
                                message="Disk full @webhook-alert-bridge",
                                tags=["team:payments", "env:prod", f"run:{run}"])
    cycle = uuid.uuid4().hex
    send_datadog(emulators, {"id": "1", "alert_cycle_key": cycle, "alert_transition": "Triggered",
                             "alert_id": str(delivered), "alert_priority": "P4",
                             "title": f"Disk almost full {run}-delivered",
                             "tags": "team:payments,env:prod"})
    eventually(lambda: tasks_named(asana, f"{run}-delivered"))
    # The worker records which monitor the task is for: that is what reconciliation finds.
    ledger = firestore_client.collection(collection(emulators))
    key_is = FieldFilter("key", "==", f"datadog:cycle:{cycle}")
    [document] = list(ledger.where(filter=key_is).stream())
    assert (document.get("source"), document.get("external_id")) == ("datadog", str(delivered))
    reader = DatadogReader(datadog_api.url, lambda: DATADOG_API_KEY, lambda: DD_APP_KEY,
                           f"run:{run}", sleep=lambda _: None)
    deps = run_deps(emulators, firestore_client, None, reader)
    time.sleep(1)

    first = reconcile(deps, "run-1")

    [planned] = first.planned
    assert planned.alert_key.startswith(f"datadog:cycle:reconcile-{lost}-")
    eventually(lambda: tasks_named(asana, f"{run}-lost"))
    assert reconciled(subscriber, events_tap, want=2) == [planned.alert_key]

    second = reconcile(deps, "run-2")

    assert second.planned == [] and reconciled(subscriber, events_tap, want=0) == []
    time.sleep(1)
    assert len(tasks_named(asana, f"{run}-lost")) == 1
    assert len(tasks_named(asana, f"{run}-delivered")) == 1


def test_the_scheduled_function_runs_a_reconciliation(
        emulators: Stack, asana: FakeAsana, sentry_api: FakeSentryApi,
        tmp_path: Path) -> None:
    rule = str(random.randrange(10**6, 10**7))
    lost = issue_id()
    sentry_api.add_issue(PROJECT_SLUG, lost, first_seen=datetime.now(UTC) - timedelta(minutes=20),
                         title=f"KeyError: 'owner' #{lost}")
    sentry_api.fire_rule(PROJECT_SLUG, rule, lost, datetime.now(UTC) - timedelta(minutes=20))
    env = {**emulators.env, "SENTRY_ORG": "acme",
           "RECONCILE_SENTRY_RULES": f"{PROJECT_SLUG}:{rule}"}
    function = start_function("reconcile", "reconcile", free_port(), env, tmp_path)
    try:
        assert requests.get(function.url, timeout=10).status_code == 405
        answer = requests.post(function.url, timeout=60)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["sentry_missing"], answer.json()["published"]) == (1, 1)
        eventually(lambda: tasks_named(asana, f"#{lost}"))
        assert requests.post(function.url, timeout=60).json()["published"] == 0
    finally:
        function.stop()
    logged = (tmp_path / "reconcile.log").read_text()
    assert '"event": "alert_reconciled"' in logged and SENTRY_TOKEN not in logged
