"""End to end: Sentry's alert-rule form, select and rule-carrying webhooks against the real
ingest and worker (functions-framework) on the emulators, with a fake Sentry that signs and
shapes each request as Sentry does and a fake Asana that knows the boards and people."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    Stack,
    Topology,
    create_topology,
    free_port,
    start_function,
)
from shared.routing.teams_file import load_teams
from shared.sources.sentry.rule_schema import ACTION_PATH, schema
from tests.fakes.asana_server import FakeAsana, seed_teams
from tests.fakes.sentry_platform import FakeSentry, SentryRefused, http_transport, sign
from tests.polling import eventually

from .pubsub_helpers import pull, tap

DATA = Path(__file__).resolve().parent.parent / "data"
REPO = DATA.parent.parent
CONFIG = load_teams(str(REPO / "teams.yaml"))
TOKEN = "rule-stack-asana-token"
SECRET = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
PEOPLE = {"ana.silva@example.com": "9101", "li.wei@example.com": "9102"}
RULE = "Checkout errors in the web shop"


@dataclass
class RuleStack:
    """This module's own ingest and worker, on the session's emulators."""

    ingest: str
    worker_log: Path
    asana: FakeAsana
    sentry: FakeSentry
    project: str
    events_topic: str


@pytest.fixture(scope="module")
def rule_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuleStack]:
    """Start a worker and an ingest in ENVIRONMENT=prod against an Asana with boards and
    people, on topics and a ledger collection of their own."""
    log_dir = tmp_path_factory.mktemp("rule-stack")
    suffix = uuid.uuid4().hex[:8]
    asana = FakeAsana(token=TOKEN)
    seed_teams(asana, CONFIG, date.today())
    assert CONFIG.workspace_gid
    asana.add_workspace(CONFIG.workspace_gid, "Acme")
    for email, gid in PEOPLE.items():
        asana.add_user(gid, email.split("@")[0], email, [CONFIG.workspace_gid])
    topology = Topology(stack.env["GOOGLE_CLOUD_PROJECT"], f"rule-events-{suffix}",
                        f"rule-dead-{suffix}", f"rule-events-{suffix}-push",
                        f"rule-dead-{suffix}-pull")
    ports = {"worker": free_port(), "ingest": free_port()}
    create_topology(topology, f"http://127.0.0.1:{ports['worker']}/",
                    stack.env["PUBSUB_EMULATOR_HOST"])
    with asana:
        env = {**stack.env, "EVENTS_TOPIC": topology.events_topic,
               "DEAD_LETTER_TOPIC": topology.dead_letter_topic, "ENVIRONMENT": "prod",
               "ASANA_API_URL": asana.url, "ASANA_PAT": TOKEN,
               "LEDGER_COLLECTION": f"rule_ledger_{suffix}"}
        worker = start_function("worker", "worker", ports["worker"], env, log_dir)
        try:
            ingest = start_function("ingest", "ingest", ports["ingest"], env, log_dir)
            try:
                # Sentry knows the integration by its webhook URL: the ingest's own root.
                sentry = FakeSentry(ingest.url + "/", SECRET, schema(), http_transport)
                yield RuleStack(ingest.url, worker.log_path, asana, sentry, topology.project,
                                topology.events_topic)
            finally:
                ingest.stop()
        finally:
            worker.stop()


def settings(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def sample(issue_id: str, title: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / "sentry_rule_event_alert.json").read_text())
    payload["data"]["event"].update(issue_id=issue_id, title=title,
                                    event_id=uuid.uuid4().hex)
    return payload


def tasks_named(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def decisions(log: Path, key: str) -> list[str]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [e["step"] for e in lines if e.get("event") == "decision" and e.get("alert_key") == key]


def test_the_form_lists_teams_yaml_and_saves_a_rule_that_resolves_in_asana(
        rule_stack: RuleStack) -> None:
    sentry = rule_stack.sentry
    assert sentry.load_options("team") == [[t.name, t.name] for t in CONFIG.teams]
    shown = sentry.save_rule(settings(team="Payments", board="sprint", priority="High",
                                      assignee="ana.silva@example.com",
                                      followers="li.wei@example.com"))
    assert shown == "alert-bridge: Tasks go to team Payments, board current sprint, priority High."


@pytest.mark.parametrize(("fields", "message"), [
    (settings(team="Fraud"),
     "Team 'Fraud' is not in teams.yaml (teams: Platform, Payments, Investigations, Growth)."),
    (settings(team="Growth", board="sandbox"),
     "Board 'sandbox': team Growth has no sandbox portfolio in teams.yaml "
     "(asana_sandbox_portfolio_id)."),
    (settings(team="Payments", assignee="nobody@example.com"),
     "Assignee nobody@example.com is not an Asana user, or the token cannot see them."),
    (settings(team="Payments", followers="li.wei@example.com, ghost@example.com"),
     "Followers: ghost@example.com is not an Asana user, or the token cannot see them."),
], ids=["team", "board", "assignee", "follower"])
def test_a_bad_field_fails_the_save_with_its_sentence(rule_stack: RuleStack,
                                                      fields: list[dict[str, str]],
                                                      message: str) -> None:
    with pytest.raises(SentryRefused) as refused:
        rule_stack.sentry.save_rule(fields)
    assert (refused.value.status, refused.value.message) == (400, f"alert-bridge: {message}")


def test_unsigned_form_requests_are_refused_and_publish_nothing(rule_stack: RuleStack,
                                                                 subscriber: Any) -> None:
    events = tap(subscriber, rule_stack.project, rule_stack.events_topic)
    body = json.dumps({"fields": settings(team="Payments"), "installationId": "x"}).encode()
    forged = requests.post(rule_stack.ingest + ACTION_PATH, data=body, timeout=10,
                           headers={"Sentry-App-Signature": sign("guess", body)})
    unsigned = requests.get(rule_stack.ingest + "/sentry/alert-rule-action/teams", timeout=10)
    assert (forged.status_code, forged.json()) == (401, {"message": "unauthorized"})
    assert unsigned.status_code == 401
    assert pull(subscriber, events, want=1, timeout=2) == []


def test_an_issue_alert_with_rule_settings_becomes_a_task_where_the_rule_says(
        rule_stack: RuleStack) -> None:
    issue = str(uuid.uuid4().int % 10**12)
    title = f"TypeError: totals #{issue}"
    status, _ = rule_stack.sentry.issue_alert(sample(issue, title), RULE, settings(
        team="Payments", board="sprint", priority="High", assignee="ana.silva@example.com",
        followers="li.wei@example.com"))
    assert status == 202
    [task] = eventually(lambda: tasks_named(rule_stack.asana, f"#{issue}"), what="the task")
    sprint_project = f"{CONFIG.team('Payments').sprint_portfolio_gid}1"  # seed_teams' sprint
    assert [p["gid"] for p in task["projects"]] == [sprint_project]
    assert task["name"] == f"[High] {title}"
    assert task["assignee"] == {"gid": "9101"}  # resolved from the e-mail
    assert {"gid": "9102"} in task["followers"]
    assert (f"Team Payments: from alert rule '{RULE}': team Payments, board current sprint, "
            "priority High, assignee ana.silva@example.com, followers li.wei@example.com"
            ) in task["notes"]

    # A second rule with other settings fires for the same issue: no second task, no move.
    rule_stack.sentry.issue_alert(sample(issue, title), "Frontend errors", settings(
        team="Growth", board="backlog", priority="Low"))
    key = f"sentry:issue:{issue}"
    eventually(lambda: len(decisions(rule_stack.worker_log, key)) == 2, what="second decision")
    assert decisions(rule_stack.worker_log, key) == ["create", "count"]
    assert len(tasks_named(rule_stack.asana, f"#{issue}")) == 1
    assert [p["gid"] for p in task["projects"]] == [sprint_project]


def test_an_update_only_rule_opens_no_task(rule_stack: RuleStack) -> None:
    issue = str(uuid.uuid4().int % 10**12)
    status, _ = rule_stack.sentry.issue_alert(sample(issue, f"TypeError #{issue}"), RULE,
                                              settings(team="Payments", update_only="yes"))
    assert status == 202
    key = f"sentry:issue:{issue}"
    eventually(lambda: decisions(rule_stack.worker_log, key), what="the decision")
    assert decisions(rule_stack.worker_log, key) == ["skip"]
    assert tasks_named(rule_stack.asana, f"#{issue}") == []


def test_a_metric_alert_follows_its_firing_triggers_settings(rule_stack: RuleStack) -> None:
    payload: dict[str, Any] = json.loads((DATA / "sentry_rule_metric_alert.json").read_text())
    incident = str(uuid.uuid4().int % 10**9)
    payload["data"]["metric_alert"].update(id=incident, title=f"Checkout rate #{incident}")
    payload["action"] = "warning"  # the warning trigger's action: backlog, Medium
    status, _ = rule_stack.sentry.webhook("metric_alert", payload)
    assert status == 202
    [task] = eventually(lambda: tasks_named(rule_stack.asana, f"#{incident}"), what="the task")
    assert [p["gid"] for p in task["projects"]] == [CONFIG.team("Payments").backlog_project_gid]
    assert task["name"].startswith("[Medium] ")
    assert ("from alert rule 'Checkout error rate in the web shop': team Payments, board "
            "backlog, priority Medium") in task["notes"]
