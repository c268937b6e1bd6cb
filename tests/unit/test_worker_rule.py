"""The worker with Sentry alert rules' settings: routing, the task's note, one task per issue."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from shared.core.ledger import RECURRENCE_COMMENT_INTERVAL
from tests.unit.test_worker import CONFIG, World

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = json.loads((DATA / "sentry_rule_event_alert.json").read_text())
PEOPLE = {"ana.silva@example.com": "9101", "li.wei@example.com": "9102"}


def _with_settings(settings: list[dict[str, str]], rule: str = "Checkout errors in the web shop",
                   issue: str = "4567890456", event: str = "e1") -> bytes:
    payload: dict[str, Any] = json.loads(json.dumps(SAMPLE))
    payload["data"]["event"].update(issue_id=issue, event_id=event)
    payload["data"]["triggered_rule"] = rule
    payload["data"]["issue_alert"].update(title=rule, settings=settings)
    return json.dumps(payload).encode()


def _world() -> World:
    world = World()
    world.deps = dataclasses.replace(world.deps, people=PEOPLE.get)
    return world


def test_the_rule_routes_the_task_and_its_note_says_so() -> None:
    world = _world()
    assert world.push("sentry_rule_event_alert.json", "event_alert").status == 200
    task = world.tracker.tasks[world.only_task()]
    payments = CONFIG.team("Payments")
    # teams.yaml alone sends this web-frontend checkout error to the default team, as Medium.
    assert task.projects == (payments.backlog_project_gid,)  # no current sprint: backlog
    assert task.name.startswith("[High] ")
    assert task.assignee == "9101"
    assert task.followers == (*payments.followers, "9102")
    assert ("Team Payments: from alert rule 'Checkout errors in the web shop': team Payments, "
            "board current sprint, priority High, assignee ana.silva@example.com, followers "
            "li.wei@example.com") in task.notes


def test_an_update_only_rule_opens_no_task_but_updates_one() -> None:
    world = _world()
    update_only = [{"name": "team", "value": "Payments"}, {"name": "update_only", "value": "yes"}]
    world.push("", "event_alert", body=_with_settings(update_only, event="e1"))
    assert world.tracker.tasks == {}
    world.push("", "event_alert", body=_with_settings([{"name": "team", "value": "Growth"}],
                                                      rule="Any error", event="e2"))
    gid = world.only_task()
    world.push("", "event_alert", body=_with_settings(update_only, event="e3"))
    assert world.only_task() == gid


def test_a_second_rule_comments_on_the_first_rules_task_which_stays_put() -> None:
    world = _world()
    world.push("", "event_alert", body=_with_settings(
        [{"name": "team", "value": "Payments"}, {"name": "priority", "value": "High"}],
        rule="Checkout errors", event="e1"))
    world.now += RECURRENCE_COMMENT_INTERVAL * 2  # past the burst window: a comment
    world.push("", "event_alert", body=_with_settings(
        [{"name": "team", "value": "Growth"}, {"name": "priority", "value": "Low"},
         {"name": "board", "value": "backlog"}], rule="Frontend errors", event="e2"))
    gid = world.only_task()
    task = world.tracker.tasks[gid]
    assert task.projects == (CONFIG.team("Payments").backlog_project_gid,)
    assert task.name.startswith("[High] ")
    record, _ = world.ledger.get("sentry:issue:4567890456")
    assert record is not None and record.team == "Payments"
    [comment] = world.tracker.comments[gid]
    assert "Fired again" in comment


@pytest.mark.parametrize(("settings", "reason", "note"), [
    ([{"name": "team", "value": "Fraud"}], "team_unknown",
     "alert rule 'Checkout errors in the web shop' names team 'Fraud', which is not in "
     "teams.yaml: routed by teams.yaml instead: no team matched; default team 'Platform'"),
    ([{"name": "team", "value": "Payments"}, {"name": "assignee", "value": "gone@example.com"}],
     "person_unknown", "assignee gone@example.com is not an Asana user: kept the team's "
                       "assignee 1209000000009002"),
], ids=["team-gone", "assignee-unknown"])
def test_a_rule_not_followed_in_full_says_so_on_the_task_and_in_the_log(
        settings: list[dict[str, str]], reason: str, note: str,
        caplog: pytest.LogCaptureFixture) -> None:
    world = _world()
    with caplog.at_level(logging.WARNING, logger="shared.flows.worker"):
        world.push("", "event_alert", body=_with_settings(settings))
    task = world.tracker.tasks[world.only_task()]
    assert note in task.notes
    [logged] = [r for r in caplog.records if getattr(r, "event", "") == "alert_rule_fallback"]
    assert logged.__dict__["reason"] == reason
    assert logged.__dict__["rule"] == "Checkout errors in the web shop"
