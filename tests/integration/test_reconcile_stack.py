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
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from scripts.localstack import Stack, free_port, start_function
from shared.adapters.firestore_ledger import document_id
from shared.adapters.ledger_queries import LedgerQueries
from shared.adapters.pubsub import Publisher
from shared.adapters.reconcile_cursor import FirestoreCursors
from shared.flows.reconcile import ReconcileDeps, reconcile
from shared.sources.datadog.reconcile import reconciler as datadog_reconciler
from shared.sources.datadog.reconcile_reader import DatadogReader
from shared.sources.sentry.reconcile import reconciler as sentry_reconciler
from shared.sources.sentry.reconcile_reader import SentryReader
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
             datadog: DatadogReader | None, **more: Any) -> ReconcileDeps:
    # Each test keeps its own cursors: another test's run must not move where this one starts.
    cursors = FirestoreCursors(stack.env["GOOGLE_CLOUD_PROJECT"],
                               f"cursors-{uuid.uuid4().hex[:8]}", client)
    # No grace: instead of waiting five minutes, a test waits until the worker is done with
    # the records it compares (settled()).
    reads = {"issues_per_read": more.pop("issues_per_read")} if "issues_per_read" in more else {}
    reconcilers = []
    if sentry is not None:
        reconcilers.append(sentry_reconciler(sentry, org="acme",
                                             api_url=stack.env["SENTRY_API_URL"], **reads))
    if datadog is not None:
        reconcilers.append(datadog_reconciler(datadog.monitors, webhook="alert-bridge",
                                              app_url="https://app.datadoghq.com"))
    return ReconcileDeps(
        ledger=LedgerQueries(stack.env["GOOGLE_CLOUD_PROJECT"], collection(stack), client),
        publish=Publisher(stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"]).publish,
        now=lambda: datetime.now(UTC), lookback_minutes=60, grace_minutes=0,
        reconcilers=reconcilers, cursors=cursors, **more)


def reconciled(subscriber: Any, subscription: str, want: int) -> list[str]:
    """Return the alert keys reconciliation published among ``want`` messages (0: expect none,
    so wait a little for any)."""
    messages = pull(subscriber, subscription, want=max(want, 1), timeout=5 if want else 2)
    return sorted(m.attributes["alert_key"] for m in messages
                  if m.attributes.get("source_reason") == "reconcile")


def issue_id() -> str:
    return str(uuid.uuid4().int % 10**12)


def completed(asana: FakeAsana, gid: str) -> bool:
    return bool(asana.tasks[gid]["completed"])


def settled(stack: Stack, client: Any, *keys: str) -> None:
    """Wait until the worker is done with these records: created, and no lease held."""
    def done(key: str) -> bool:
        snapshot = client.collection(collection(stack)).document(document_id(key)).get()
        record = snapshot.to_dict() or {}
        lease = record.get("lease_expires_at")
        return record.get("state") in ("open", "resolved") and (
            lease is None or lease <= datetime.now(UTC))

    for key in keys:
        eventually(partial(done, key), what=f"{key} settled")


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
    settled(emulators, firestore_client, f"sentry:issue:{resolved}", f"sentry:issue:{delivered}")
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


def test_a_reconcile_opened_datadog_alert_completes_in_asana_once_its_monitor_is_ok(
        emulators: Stack, firestore_client: Any, asana: FakeAsana,
        datadog_api: FakeDatadogApi, subscriber: Any, events_tap: str) -> None:
    datadog_api.app_key = DD_APP_KEY
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:10]
    monitor = random.randrange(10**8, 10**9)
    datadog_api.add_monitor(monitor, f"Queue backlog {run}", changed=now - timedelta(minutes=15),
                            message="Backlog @webhook-alert-bridge",
                            tags=["team:payments", "env:prod", f"run:{run}"])
    reader = DatadogReader(datadog_api.url, lambda: DATADOG_API_KEY, lambda: DD_APP_KEY,
                           f"run:{run}", sleep=lambda _: None)
    deps = run_deps(emulators, firestore_client, None, reader)
    # The Triggered webhook was lost: reconciliation opens the task under a synthetic key.
    [opened] = reconcile(deps, "run-1").planned
    [task] = eventually(lambda: tasks_named(asana, run))
    assert not task["completed"]
    settled(emulators, firestore_client, opened.alert_key)
    pull(subscriber, events_tap, want=1)
    # The monitor recovers, and that webhook is lost too (no cycle key would match it anyway).
    ok_since = datetime.now(UTC).replace(microsecond=0)
    datadog_api.set_state(monitor, "OK", changed=ok_since)

    second = reconcile(deps, "run-2")

    assert [(p.alert_key, p.reason) for p in second.planned] == [
        (opened.alert_key, "recovered")]
    assert second.counts()["datadog_recovered"] == 1
    eventually(lambda: asana.tasks[task["gid"]]["completed"], what="task completed")
    [message] = [m for m in pull(subscriber, events_tap, want=1)
                 if m.attributes["alert_key"] == opened.alert_key]
    assert message.attributes["delivery_id"] == "reconcile:run-2"
    assert datetime.fromisoformat(message.attributes["source_time"]) == ok_since
    # Completed in Asana, resolved in the ledger: the next run leaves it alone.
    eventually(lambda: not reconcile(deps, "run-3").planned, what="nothing left to publish")
    assert len(tasks_named(asana, run)) == 1


def test_one_failed_sentry_read_does_not_stop_the_other_records(
        emulators: Stack, firestore_client: Any, asana: FakeAsana,
        sentry_api: FakeSentryApi) -> None:
    first_seen = datetime.now(UTC) - timedelta(minutes=20)
    healthy, failing, other = issue_id(), issue_id(), issue_id()
    for issue in (healthy, failing, other):
        sentry_api.add_issue(PROJECT_SLUG, issue, first_seen=first_seen,
                             title=f"KeyError: 'owner' #{issue}")
        send_sentry(emulators, "sentry_event_alert.json", "event_alert", issue)
    tasks = {issue: eventually(partial(tasks_named, asana, f"#{issue}"))[0]
             for issue in (healthy, failing, other)}
    settled(emulators, firestore_client, *(f"sentry:issue:{i}" for i in tasks))
    # All three are resolved in Sentry and their webhooks lost; reading one of them fails.
    for issue in (healthy, failing, other):
        sentry_api.issues[issue]["status"] = "resolved"
    sentry_api.failing_issues = {failing}
    reader = SentryReader(sentry_api.url, "acme", lambda: SENTRY_TOKEN, [], [],
                          sleep=lambda _: None)
    deps = run_deps(emulators, firestore_client, reader, None, issues_per_read=1)
    try:
        report = reconcile(deps, "run-1")

        assert report.read_failures == 1
        mine = {p.alert_key for p in report.planned if p.reason == "resolved"}
        assert mine >= {f"sentry:issue:{healthy}", f"sentry:issue:{other}"}
        assert f"sentry:issue:{failing}" not in mine
        for issue in (healthy, other):
            eventually(partial(completed, asana, tasks[issue]["gid"]),
                       what=f"task of {issue} completed")
        time.sleep(1)
        assert asana.tasks[tasks[failing]["gid"]]["completed"] is False
    finally:
        sentry_api.failing_issues = set()
        sentry_api.issues[failing]["status"] = "unresolved"  # agree again for later tests


def test_ledger_pages_stay_within_their_prefix_and_the_cursor_is_kept(
        emulators: Stack, firestore_client: Any) -> None:
    name = f"ledger-{uuid.uuid4().hex[:8]}"
    documents = firestore_client.collection(name)
    keys = ["sentry:issue:10", "sentry:issue:11", "sentry:issue:9", "sentry:metric:1",
            "sentry:issue", "datadog:cycle:a", "datadog:event:b"]
    for n, key in enumerate(keys):
        documents.document(str(n)).set({"key": key, "state": "open"})
    ledger = LedgerQueries(emulators.env["GOOGLE_CLOUD_PROJECT"], name, firestore_client)
    assert [d["key"] for d in ledger.page("sentry:issue:", None, 10)] == [
        "sentry:issue:10", "sentry:issue:11", "sentry:issue:9"]
    assert [d["key"] for d in ledger.page("sentry:issue:", "sentry:issue:10", 1)] == [
        "sentry:issue:11"]
    assert [d["key"] for d in ledger.page("datadog:cycle:", None, 10)] == ["datadog:cycle:a"]
    cursors = FirestoreCursors(emulators.env["GOOGLE_CLOUD_PROJECT"], f"{name}_reconcile",
                               firestore_client)
    assert cursors.load("sentry") is None
    cursors.save("sentry", "sentry:issue:11")
    assert (cursors.load("sentry"), cursors.load("datadog")) == ("sentry:issue:11", None)
    cursors.save("sentry", None)
    assert cursors.load("sentry") is None


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
        counts = answer.json()
        assert (counts["sentry_missing"], counts["published"]) == (1, counts["planned"])
        eventually(lambda: tasks_named(asana, f"#{lost}"))
        again = requests.post(function.url, timeout=60).json()
        assert again.get("sentry_missing", 0) == 0 and again["read_failures"] == 0
    finally:
        function.stop()
    logged = (tmp_path / "reconcile.log").read_text()
    assert '"event": "alert_reconciled"' in logged and SENTRY_TOKEN not in logged
