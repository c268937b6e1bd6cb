"""End to end: a new task is linked back to its Sentry issue / Datadog alert (fake APIs)."""

from __future__ import annotations

import uuid

from scripts.localstack import Stack
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeDatadogApi, FakeSentryApi

from .conftest import SENTRY_INSTALLATION
from .test_worker_stack import eventually, send_datadog, send_sentry, tasks_named


def test_sentry_event_alert_task_appears_on_the_sentry_issue(
        stack: Stack, asana: FakeAsana, sentry_api: FakeSentryApi) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    send_sentry(stack, "sentry_event_alert.json", "event_alert", issue_id)
    [task] = eventually(lambda: tasks_named(asana, f"#{issue_id}"))
    link = eventually(lambda: sentry_api.external_issues.get((SENTRY_INSTALLATION,
                                                              int(issue_id))))
    [project] = [p["gid"] for p in task["projects"]]
    assert link["webUrl"] == f"https://app.asana.com/0/{project}/{task['gid']}"
    assert link["displayName"] == f"Investigations#{task['gid']}"


def test_datadog_alert_task_is_announced_by_a_datadog_event(
        stack: Stack, asana: FakeAsana, datadog_api: FakeDatadogApi) -> None:
    cycle = uuid.uuid4().hex
    event_id = uuid.uuid4().int % 10**18
    send_datadog(stack, {"id": str(event_id), "alert_cycle_key": cycle,
                         "alert_transition": "Triggered", "alert_priority": "P4",
                         "title": f"[P4] [Triggered] Queue backlog {cycle}",
                         "link": f"https://app.datadoghq.com/event/event?id={event_id}",
                         "tags": "team:payments,env:prod"})
    [task] = eventually(lambda: tasks_named(asana, cycle))
    [event] = eventually(lambda: [e for e in list(datadog_api.events)
                                  if e.get("aggregation_key") == cycle])
    assert event["title"] == f"Asana task for Queue backlog {cycle}"
    assert f"/{task['gid']})" in event["text"]
    assert event["related_event_id"] == event_id
    assert {"team:payments", f"alert_cycle_key:{cycle}", "source:alert-bridge"} \
        <= set(event["tags"])
