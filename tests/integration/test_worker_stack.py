"""End to end: signed webhook → ingest → Pub/Sub emulator push → worker → (fake) Asana."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack, sentry_headers
from shared.routing.teams_file import load_teams
from shared.sources.sentry.keys import CONTAINERS as SENTRY_CONTAINERS
from tests.fakes.asana_server import FakeAsana
from tests.polling import eventually

from .pubsub_helpers import pull

DATA = Path(__file__).resolve().parent.parent / "data"
CONFIG = load_teams(str(DATA.parent.parent / "teams.yaml"))


def send_sentry(stack: Stack, fixture: str, resource: str, issue_id: str) -> None:
    payload = json.loads((DATA / fixture).read_text())
    container = SENTRY_CONTAINERS[resource]
    body = payload["data"][container]
    body["issue_id" if container != "issue" else "id"] = issue_id
    body["title"] = f"{body['title']} #{issue_id}"  # lets the test find its task
    body = json.dumps(payload, ensure_ascii=False).encode()
    response = requests.post(stack.url("ingest"), data=body, timeout=10,
                             headers=sentry_headers(body, resource))
    assert response.status_code == 202, response.text


def send_datadog(stack: Stack, payload: dict[str, Any]) -> None:
    response = requests.post(stack.url("ingest"), data=json.dumps(payload).encode(), timeout=10,
                             headers={"datadog-secret-token":
                                      LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]})
    assert response.status_code == 202, response.text


def tasks_named(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def test_signed_event_alert_becomes_one_task_on_the_owning_team_board(
        stack: Stack, asana: FakeAsana) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    send_sentry(stack, "sentry_event_alert.json", "event_alert", issue_id)
    [task] = eventually(lambda: tasks_named(asana, f"#{issue_id}"))
    backlog = CONFIG.team("Investigations").backlog_project_gid
    assert [p["gid"] for p in task["projects"]] == [backlog]
    assert "<body>" in task["html_notes"] and "Investigations" in task["html_notes"]


def test_recurrence_and_resolution_update_the_same_task(stack: Stack, asana: FakeAsana) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    send_sentry(stack, "sentry_event_alert.json", "event_alert", issue_id)
    [task] = eventually(lambda: tasks_named(asana, f"#{issue_id}"))
    send_sentry(stack, "sentry_issue_resolved.json", "issue", issue_id)
    eventually(lambda: asana.tasks[task["gid"]]["completed"])
    send_sentry(stack, "sentry_issue_unresolved_regressed.json", "issue", issue_id)
    eventually(lambda: not asana.tasks[task["gid"]]["completed"])
    assert len(tasks_named(asana, f"#{issue_id}")) == 1
    assert len(asana.stories.get(task["gid"], [])) == 2


def test_transient_asana_failure_is_retried_by_pubsub_and_succeeds(
        stack: Stack, asana: FakeAsana) -> None:
    # Three 503s outlast the worker's two attempts (each create attempt that may have
    # landed is followed by a lookup): the worker answers 503, Pub/Sub redelivers, the
    # redelivery looks the task up and creates it once. (P4: backlog, no portfolio read.)
    asana.fail_next(3, 503)
    cycle = uuid.uuid4().hex
    send_datadog(stack, {"id": "1", "alert_cycle_key": cycle, "alert_transition": "Triggered",
                         "title": f"Disk almost full {cycle}", "tags": "team:payments,env:prod",
                         "alert_priority": "P4"})
    [task] = eventually(lambda: tasks_named(asana, cycle), timeout=30)
    assert [p["gid"] for p in task["projects"]] == [CONFIG.team("Payments").backlog_project_gid]
    attempts = [r for r in list(asana.requests)
                if r.method == "POST" and cycle in json.dumps(r.body)]
    assert len(attempts) == 2  # the failed one, then the one that created the task
    time.sleep(1)
    assert len(tasks_named(asana, cycle)) == 1


def test_asana_rejection_ends_in_the_dead_letter_topic_with_its_reason(
        stack: Stack, asana: FakeAsana, subscriber: Any) -> None:
    cycle = uuid.uuid4().hex
    send_datadog(stack, {"id": "2", "alert_cycle_key": cycle, "alert_transition": "Triggered",
                         "title": f"Signup errors {cycle}", "tags": "team:growth"})
    dead_subscription = subscriber.subscription_path(
        stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["_DEAD_LETTER_SUBSCRIPTION"])
    messages = eventually(lambda: [m for m in pull(subscriber, dead_subscription, timeout=1)
                                   if m.attributes.get("alert_key") == f"datadog:cycle:{cycle}"])
    attributes = messages[0].attributes
    assert attributes["dead_letter_reason"] == "asana_http_400"
    assert "Not a recognized ID" in attributes["dead_letter_error"]
    assert json.loads(messages[0].data)["alert_cycle_key"] == cycle
    assert tasks_named(asana, cycle) == []


@pytest.mark.parametrize("body", [b"not an envelope", b'{"message": {}}'],
                         ids=["not-json", "no-message"])
def test_worker_answers_400_to_requests_that_are_not_push_envelopes(stack: Stack,
                                                                    body: bytes) -> None:
    assert requests.post(stack.url("worker"), data=body, timeout=10).status_code == 400


def test_the_same_alert_sent_concurrently_makes_exactly_one_task(stack: Stack,
                                                                 asana: FakeAsana) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: send_sentry(stack, "sentry_event_alert.json", "event_alert",
                                            issue_id), range(6)))
    eventually(lambda: tasks_named(asana, f"#{issue_id}"))
    time.sleep(3)  # long enough for every losing delivery to be redelivered and settle
    assert len(tasks_named(asana, f"#{issue_id}")) == 1
