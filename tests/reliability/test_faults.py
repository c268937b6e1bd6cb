"""Break the dependencies while alerts flow, then count what a user sees in Asana.

Asana failing (500s, answers lost after the task was stored, bursts of 429), Firestore and
Pub/Sub unreachable, dead letters replayed twice, one webhook delivered 50 times at once.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.core.ledger import Record
from tests.polling import eventually
from tests.reliability import summary
from tests.reliability.rig import (
    REPO,
    Deployment,
    Rig,
    datadog_firing,
    sentry_firing,
)


@pytest.fixture
def ledger(rig: Rig) -> Iterator[Any]:
    """Read the ledger the workers write, on the Firestore emulator."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = rig.env["FIRESTORE_EMULATOR_HOST"]
    from shared.adapters.firestore_ledger import FirestoreLedger

    yield FirestoreLedger(rig.env["GOOGLE_CLOUD_PROJECT"], "alert_ledger")


def issues_of(count: int) -> list[int]:
    base = random.randrange(10**9, 9 * 10**9)
    return [base + n for n in range(count)]


def occurrences(ledger: Any, issues: list[int]) -> int:
    """Return how many firings the ledger counted over ``issues`` (each applied once)."""
    total = 0
    for issue in issues:
        record: Record | None = ledger.get(f"sentry:issue:{issue}")[0]
        total += record.occurrences if record else 0
    return total


def count(deployment: Deployment, issues: list[int]) -> tuple[int, int, int]:
    """Return (tasks, lost alerts, duplicated tasks) for ``issues``."""
    tasks = deployment.tasks()
    per_issue = [len(tasks.get(issue, [])) for issue in issues]
    return sum(per_issue), per_issue.count(0), sum(n - 1 for n in per_issue if n > 1)


def send_all(deployment: Deployment, bodies: list[bytes], threads: int = 8,
             request_id: str | None = None) -> list[int]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda body: deployment.send(body, "event_alert", timeout=30,
                                                          request_id=request_id), bodies))


def test_asana_failing_30_percent_and_rate_limiting_over_1000_alerts(
        rig: Rig, ledger: Any) -> None:
    started = time.monotonic()
    deployment = rig.deploy("chaos")
    issues = issues_of(100)
    bodies = [sentry_firing(deployment.tag, issue, event)
              for event in range(10) for issue in issues]
    rig.asana.chaos(0.3, 500, lost_ratio=0.3, seed=7)
    stop = threading.Event()

    def rate_limit_bursts() -> None:
        while not stop.wait(5.0):
            rig.asana.fail_next(5, 429, retry_after=1)

    bursts = threading.Thread(target=rate_limit_bursts, daemon=True)
    bursts.start()
    try:
        statuses = send_all(deployment, bodies)
        assert statuses.count(202) == len(bodies)
        eventually(lambda: occurrences(ledger, issues) >= len(bodies), 300,
                   what="every firing counted in the ledger")
    finally:
        stop.set()
        rig.asana.calm()
    time.sleep(2)
    tasks, lost, duplicated = count(deployment, issues)
    summary.record("Asana 30% 5xx + 429 bursts", alerts=len(bodies), tasks=tasks, lost=lost,
                   duplicated=duplicated, seconds=time.monotonic() - started)
    assert (tasks, lost, duplicated) == (100, 0, 0)
    assert occurrences(ledger, issues) == len(bodies)  # none lost, none counted twice


def test_firestore_unreachable_for_20_seconds_mid_burst(rig: Rig, ledger: Any) -> None:
    started = time.monotonic()
    deployment = rig.deploy("firestore-down")
    issues = issues_of(20)
    bodies = [sentry_firing(deployment.tag, issue, event)
              for event in range(5) for issue in issues]
    assert send_all(deployment, bodies[:40]).count(202) == 40
    with rig.outage("firestore-emulator", 20):
        assert send_all(deployment, bodies[40:80]).count(202) == 40
    assert send_all(deployment, bodies[80:]).count(202) == 20
    eventually(lambda: occurrences(ledger, issues) >= len(bodies), 240,
               what="every firing counted in the ledger")
    time.sleep(2)
    tasks, lost, duplicated = count(deployment, issues)
    summary.record("Firestore down 20 s mid-burst", alerts=len(bodies), tasks=tasks, lost=lost,
                   duplicated=duplicated, seconds=time.monotonic() - started)
    assert (tasks, lost, duplicated) == (20, 0, 0)
    assert occurrences(ledger, issues) == len(bodies)


def test_pubsub_unreachable_means_503_never_202(rig: Rig, ledger: Any) -> None:
    started = time.monotonic()
    deployment = rig.deploy("pubsub-down")
    issues = issues_of(10)
    bodies = [sentry_firing(deployment.tag, issue) for issue in issues]
    with rig.outage("pubsub-emulator", 0):
        during = send_all(deployment, bodies, threads=10)
    assert set(during) == {503}, during  # nothing acknowledged that was not published
    # A sender retries a 503 (Datadog does; for Sentry, reconciliation finds the alert).
    assert send_all(deployment, bodies).count(202) == len(bodies)
    eventually(lambda: count(deployment, issues)[0] >= len(issues), 120, what="tasks created")
    time.sleep(2)
    tasks, lost, duplicated = count(deployment, issues)
    summary.record("Pub/Sub down (ingest 503)", alerts=len(bodies), tasks=tasks, lost=lost,
                   duplicated=duplicated, seconds=time.monotonic() - started)
    assert (tasks, lost, duplicated) == (10, 0, 0)


def test_one_webhook_delivered_50_times_at_once_is_one_task(rig: Rig, ledger: Any) -> None:
    started = time.monotonic()
    deployment = rig.deploy("identical")
    [issue] = issues_of(1)
    body = sentry_firing(deployment.tag, issue)
    # One delivery, sent 50 times (its Request-ID too): what a sender's retries look like.
    assert send_all(deployment, [body] * 50, threads=50,
                    request_id=str(uuid.uuid4())).count(202) == 50
    eventually(lambda: count(deployment, [issue])[0] >= 1, 60, what="task created")
    time.sleep(5)  # every other delivery lands meanwhile
    tasks, lost, duplicated = count(deployment, [issue])
    summary.record("50 identical deliveries at once", alerts=50, tasks=tasks, lost=lost,
                   duplicated=duplicated, seconds=time.monotonic() - started)
    assert (tasks, lost, duplicated) == (1, 0, 0)
    assert occurrences(ledger, [issue]) == 1  # the same webhook, applied once


def test_dead_letters_replayed_twice_make_one_task_each(rig: Rig, subscriber: Any) -> None:
    started = time.monotonic()
    deployment = rig.deploy("replay", max_delivery_attempts=5)
    project = rig.env["GOOGLE_CLOUD_PROJECT"]
    dead = deployment.topology.dead_letter_topic
    second = subscriber.subscription_path(project, f"dl-second-{uuid.uuid4().hex[:6]}")
    subscriber.create_subscription(request={"name": second,
                                            "topic": f"projects/{project}/topics/{dead}"})
    growth = rig.growth_backlog()
    saved = rig.asana.projects.pop(growth)  # Asana refuses Growth's tasks: 400, dead-lettered
    cycles = list(range(5))
    try:
        for cycle in cycles:
            assert deployment.send_datadog(datadog_firing(deployment.tag, cycle)) == 202
        eventually(lambda: deployment.log().count('"event": "dead_lettered"') >= len(cycles),
                   60, what="alerts dead-lettered")
    finally:
        rig.asana.projects[growth] = saved
    for subscription in (deployment.topology.dead_letter_subscription, second.split("/")[-1]):
        replay = subprocess.run(
            [sys.executable, "-m", "shared.cli.replay", "replay", "--subscription", subscription],
            env={**deployment.env, "PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True,
            text=True, timeout=120)
        assert replay.returncode == 0, replay.stderr
    tag_tasks = lambda: [t for t in list(rig.asana.tasks.values())  # noqa: E731
                         if f"{deployment.tag}-" in t["name"]]
    eventually(lambda: len(tag_tasks()) >= len(cycles), 120, what="replayed alerts became tasks")
    time.sleep(3)
    names = sorted(t["name"] for t in tag_tasks())
    duplicated = len(names) - len(set(names))
    summary.record("dead letters replayed twice", alerts=len(cycles), tasks=len(names),
                   lost=len(cycles) - len(set(names)), duplicated=duplicated,
                   seconds=time.monotonic() - started)
    assert (len(set(names)), duplicated) == (len(cycles), 0)


@pytest.fixture
def subscriber(rig: Rig) -> Iterator[Any]:
    os.environ["PUBSUB_EMULATOR_HOST"] = rig.env["PUBSUB_EMULATOR_HOST"]
    from google.cloud import pubsub_v1

    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()
