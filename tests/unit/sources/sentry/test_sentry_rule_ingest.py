"""Ingest's alert-rule endpoints, driven by a fake Sentry that signs and shapes its requests as
Sentry does: the team options, the form check on save, and everything refused unverified."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.core.errors import ConfigError
from shared.flows.ingest import IngestDeps, Webhook, handle_webhook
from shared.routing.teams_file import load_teams, parse_teams
from shared.sources.sentry.rule_ingest import RuleDeps
from shared.sources.sentry.rule_schema import ACTION_PATH, TEAMS_PATH, schema
from tests.fakes.sentry_platform import (
    FakeSentry,
    Request,
    SentryRefused,
    ingest_transport,
    sign,
)
from tests.unit.test_ingest import NOW, SENTRY_SECRET, FakeTopic, secrets

REPO = Path(__file__).resolve().parents[4]
CONFIG = load_teams(str(REPO / "teams.yaml"))
WORKSPACE = CONFIG.workspace_gid
TODAY = date(2026, 11, 25)
WEBHOOK_URL = "https://ingest-abc123-ew.a.run.app/"
PAYMENTS = CONFIG.team("Payments")


class MemoryAsana:
    """The Asana lookups, in memory; counts reads so a refusal can be shown to read nothing."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {
            "ana.silva@example.com": _user("9101", WORKSPACE),
            "li.wei@example.com": _user("9102", WORKSPACE),
            "outsider@example.com": _user("9103", "1209999999999999")}
        self.projects: dict[str, dict[str, Any]] = {
            team.backlog_project_gid: {"name": f"{team.name} backlog", "archived": False}
            for team in CONFIG.teams}
        self.portfolios: dict[str, list[dict[str, Any]]] = {
            str(PAYMENTS.sprint_portfolio_gid): [_project("7001", "Sprint 48", "2026-11-20",
                                                          "2026-12-03")]}
        self.reads = 0

    def user(self, email: str) -> Mapping[str, Any] | None:
        self.reads += 1
        return self.users.get(email)

    def project(self, gid: str) -> Mapping[str, Any] | None:
        self.reads += 1
        return self.projects.get(gid)

    def portfolio_items(self, gid: str) -> Sequence[Mapping[str, Any]] | None:
        self.reads += 1
        return self.portfolios.get(gid)


def _user(gid: str, workspace: str | None) -> dict[str, Any]:
    return {"gid": gid, "workspaces": [{"gid": workspace}]}


def _project(gid: str, name: str, start: str, due: str, archived: bool = False) -> dict[str, Any]:
    return {"gid": gid, "name": name, "resource_type": "project", "archived": archived,
            "start_on": start, "due_on": due}


class Setup:
    """Ingest's dependencies and a fake Sentry whose requests reach them in process."""

    def __init__(self, lookups: MemoryAsana | None = None, config: Any = CONFIG,
                 dry_run: bool = False) -> None:
        self.topic = FakeTopic()
        self.asana = lookups or MemoryAsana()
        self.config = config
        rules = RuleDeps(teams=self._teams, lookups=None if dry_run else self.asana,
                         today=lambda: TODAY)
        self.deps = IngestDeps(secret=secrets, publish=self.topic.publish, now=lambda: NOW,
                               max_body_bytes=64 * 1024, services={"sentry": lambda: rules})
        self.sentry = FakeSentry(WEBHOOK_URL, SENTRY_SECRET, schema(),
                                 ingest_transport(self.deps))

    def _teams(self) -> Any:
        if isinstance(self.config, Exception):
            raise self.config
        return self.config

    def send(self, method: str, path: str, body: bytes = b"", *, signature: str | None = None,
             headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """Send a request of our own making (not Sentry's) to ``path``."""
        sent = {"sentry-app-signature": signature} if signature is not None else {}
        hook = Webhook(method, {**sent, **(headers or {})}, body, "req-x", {}, path)
        answer = handle_webhook(hook, self.deps)
        return answer.status, answer.body


def settings(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


# -- the team select ----------------------------------------------------------------------


def test_the_team_select_lists_teams_yaml_in_order() -> None:
    setup = Setup()
    assert setup.sentry.load_options("team") == [[t.name, t.name] for t in CONFIG.teams]
    [request] = setup.sentry.sent
    assert request.method == "GET" and request.url.startswith(WEBHOOK_URL.rstrip("/") + TEAMS_PATH)
    assert setup.topic.messages == []


def test_the_team_select_filters_by_query_and_suggests_the_projects_owner() -> None:
    config = parse_teams("""
settings: {default_team: Platform}
teams:
  - {name: Payments, asana_backlog_id: "1", entities: [{matchers: ["project:billing"]}]}
  - {name: Platform, asana_backlog_id: "2"}
  - {name: Payments Ops, asana_backlog_id: "3"}
""")
    setup = Setup(config=config)
    assert setup.sentry.load_options("team", query="pay") == [["Payments", "Payments"],
                                                            ["Payments Ops", "Payments Ops"]]
    setup.sentry.installation = "other"
    assert setup.sentry.load_options("team", project_slug="billing")[0] == ["Payments",
                                                                            "Payments"]
    last = setup.sentry.sent[-1]
    assert "projectSlug=billing" in last.url and "installationId=other" in last.url
    direct = handle_webhook(Webhook("GET", {"sentry-app-signature": sign(SENTRY_SECRET, b"")},
                                    b"", "r", {"projectSlug": "billing"}, TEAMS_PATH), setup.deps)
    assert direct.body[0] == {"label": "Payments", "value": "Payments", "default": True}
    assert all("default" not in option for option in direct.body[1:])


# -- saving a rule ------------------------------------------------------------------------


def test_a_valid_rule_saves_and_says_where_tasks_go() -> None:
    setup = Setup()
    shown = setup.sentry.save_rule(settings(team="Payments", board="sprint", priority="High",
                                            assignee="ana.silva@example.com",
                                            followers="li.wei@example.com", update_only="no"))
    assert shown == "alert-bridge: Tasks go to team Payments, board current sprint, priority High."
    [request] = setup.sentry.sent
    assert request.url == WEBHOOK_URL.rstrip("/") + ACTION_PATH
    assert json.loads(request.body)["installationId"] == setup.sentry.installation
    assert setup.topic.messages == []  # a form is never an alert


def _archived_backlog(asana: MemoryAsana) -> None:
    asana.projects[PAYMENTS.backlog_project_gid]["archived"] = True


def _no_backlog(asana: MemoryAsana) -> None:
    del asana.projects[PAYMENTS.backlog_project_gid]


def _no_sprint_project(asana: MemoryAsana) -> None:
    asana.portfolios[str(PAYMENTS.sprint_portfolio_gid)] = [
        _project("7002", "Old sprint", "2026-01-01", "2026-01-14", archived=True)]


def _no_sprint_portfolio(asana: MemoryAsana) -> None:
    asana.portfolios.clear()


def _nothing(asana: MemoryAsana) -> None:
    pass


SPRINT_PORTFOLIO = PAYMENTS.sprint_portfolio_gid
BACKLOG = PAYMENTS.backlog_project_gid


# Each bad field that passes Sentry's own checks, and the one sentence Sentry shows.
SAVE_REFUSALS = {
    "team-not-in-teams-yaml": (
        settings(team="Fraud"), _nothing,
        "Team 'Fraud' is not in teams.yaml (teams: Platform, Payments, Investigations, Growth)."),
    "board-backlog-archived": (
        settings(team="Payments", board="backlog"), _archived_backlog,
        f"Board 'backlog': the backlog project 'Payments backlog' ({BACKLOG}) of team Payments "
        "is archived."),
    "board-default-backlog-missing": (
        settings(team="Payments"), _no_backlog,
        f"Board 'team default': the backlog project {BACKLOG} of team Payments is not in Asana,"
        " or the token cannot see it."),
    "board-sprint-without-project": (
        settings(team="Payments", board="sprint"), _no_sprint_project,
        f"Board 'current sprint': the sprint portfolio {SPRINT_PORTFOLIO} of team Payments "
        "holds no unarchived project."),
    "board-sprint-portfolio-missing": (
        settings(team="Payments", board="sprint"), _no_sprint_portfolio,
        f"Board 'current sprint': the sprint portfolio {SPRINT_PORTFOLIO} of team Payments is "
        "not in Asana, or the token cannot see it."),
    "board-sandbox-not-configured": (
        settings(team="Growth", board="sandbox"), _nothing,
        "Board 'sandbox': team Growth has no sandbox portfolio in teams.yaml "
        "(asana_sandbox_portfolio_id)."),
    "assignee-not-in-asana": (
        settings(team="Payments", assignee="nobody@example.com"), _nothing,
        "Assignee nobody@example.com is not an Asana user, or the token cannot see them."),
    "assignee-outside-the-workspace": (
        settings(team="Payments", assignee="outsider@example.com"), _nothing,
        f"Assignee outsider@example.com is not a member of the Asana workspace {WORKSPACE}."),
    "assignee-not-an-address": (
        settings(team="Payments", assignee="ana"), _nothing,
        "Assignee 'ana' is not an e-mail address."),
    "follower-not-in-asana": (
        settings(team="Payments", followers="li.wei@example.com, nobody@example.com"), _nothing,
        "Followers: nobody@example.com is not an Asana user, or the token cannot see them."),
    "follower-not-an-address": (
        settings(team="Payments", followers="li.wei@example.com bob"), _nothing,
        "Followers 'bob' is not an e-mail address."),
}


@pytest.mark.parametrize(("fields", "arrange", "message"), SAVE_REFUSALS.values(),
                         ids=SAVE_REFUSALS.keys())
def test_each_bad_field_fails_the_save_with_one_sentence_naming_it(
        fields: list[dict[str, str]], arrange: Any, message: str,
        caplog: pytest.LogCaptureFixture) -> None:
    setup = Setup()
    arrange(setup.asana)
    with caplog.at_level(logging.INFO), pytest.raises(SentryRefused) as refused:
        setup.sentry.save_rule(fields)
    assert refused.value.status == 400
    assert refused.value.message == f"alert-bridge: {message}"
    [logged] = [r for r in caplog.records if getattr(r, "event", "") == "rule_settings_checked"]
    assert logged.__dict__["accepted"] is False
    assert logged.__dict__["field"] in message.lower().replace("update only", "update_only")


# Values Sentry's own form refuses before calling us; sent directly, signed, we refuse them too.
DIRECT_REFUSALS = {
    "team-missing": (settings(board="sprint"),
                     "Team is required: pick the team that owns this rule's alerts."),
    "board-unknown": (settings(team="Payments", board="weekly"),
                      "Board 'weekly' is not one of default, sprint, backlog, sandbox."),
    "priority-unknown": (settings(team="Payments", priority="Urgent"),
                         "Priority 'Urgent' is not one of default, High, Medium, Low."),
    "update-only-unknown": (settings(team="Payments", update_only="maybe"),
                            "Update only 'maybe' is not one of no, yes."),
    "unknown-field": (settings(team="Payments", color="red"),
                      "Setting 'color' is not a field of this action (fields: team, board, "
                      "priority, assignee, followers, update_only)."),
}


@pytest.mark.parametrize(("fields", "message"), DIRECT_REFUSALS.values(),
                         ids=DIRECT_REFUSALS.keys())
def test_values_sentry_itself_refuses_are_refused_here_too(fields: list[dict[str, str]],
                                                          message: str) -> None:
    setup = Setup()
    with pytest.raises(SentryRefused):
        setup.sentry.save_rule(fields)  # Sentry does not even ask us
    assert setup.sentry.sent == []
    body = json.dumps({"fields": fields, "installationId": "i"}).encode()
    status, answer = setup.send("POST", ACTION_PATH, body, signature=sign(SENTRY_SECRET, body))
    assert (status, answer) == (400, {"message": message})


def test_a_dry_run_deployment_checks_teams_yaml_only_and_says_so() -> None:
    setup = Setup(dry_run=True)
    shown = setup.sentry.save_rule(settings(team="Growth", board="sandbox"))
    assert shown == ("alert-bridge: Tasks go to team Growth, board sandbox. (Asana not checked: "
                     "dry-run)")
    assert setup.asana.reads == 0


def test_an_invalid_teams_yaml_answers_503_so_nothing_is_saved_on_a_guess() -> None:
    setup = Setup(config=ConfigError("teams.yaml: no teams defined"))
    with pytest.raises(SentryRefused) as refused:
        setup.sentry.save_rule(settings(team="Payments"))
    assert refused.value.status == 503
    assert refused.value.message == "alert-bridge: Something went wrong!"


# -- nothing unverified -------------------------------------------------------------------


BODY = json.dumps({"fields": settings(team="Payments"), "installationId": "i"}).encode()
UNVERIFIED = {
    "post-unsigned": ("POST", ACTION_PATH, BODY, None, {}),
    "post-forged": ("POST", ACTION_PATH, BODY, sign("guess", BODY), {}),
    "post-signed-for-another-body": ("POST", ACTION_PATH, BODY, sign(SENTRY_SECRET, b"{}"), {}),
    "post-webhook-signature-only": ("POST", ACTION_PATH, BODY, None,
                                    {"sentry-hook-signature": sign(SENTRY_SECRET, BODY),
                                     "sentry-hook-resource": "event_alert"}),
    "get-unsigned": ("GET", TEAMS_PATH, b"", None, {}),
    "get-forged": ("GET", TEAMS_PATH, b"", sign("guess", b""), {}),
    "get-signed-over-the-query": ("GET", TEAMS_PATH, b"", sign(SENTRY_SECRET, b"query=p"), {}),
}


@pytest.mark.parametrize(("method", "path", "body", "signature", "headers"),
                         UNVERIFIED.values(), ids=UNVERIFIED.keys())
def test_unverified_requests_get_401_and_reach_nothing(
        method: str, path: str, body: bytes, signature: str | None, headers: dict[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    setup = Setup()
    with caplog.at_level(logging.WARNING):
        status, answer = setup.send(method, path, body, signature=signature, headers=headers)
    assert (status, answer) == (401, {"message": "unauthorized"})
    assert setup.asana.reads == 0 and setup.topic.messages == []
    [logged] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert logged.__dict__["reason"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", ACTION_PATH, 405), ("POST", TEAMS_PATH, 405), ("PUT", ACTION_PATH, 405),
    ("POST", "/sentry/alert-rule-action/other", 404), ("GET", "/sentry/", 404),
], ids=["get-action", "post-teams", "put-action", "unknown-path", "prefix-only"])
def test_other_methods_and_paths_are_refused_before_any_signature_check(
        method: str, path: str, status: int) -> None:
    setup = Setup()
    answer_status, _ = setup.send(method, path, BODY, signature=sign(SENTRY_SECRET, BODY))
    assert answer_status == status
    assert setup.topic.messages == []


def test_a_malformed_form_is_400_with_what_is_wrong() -> None:
    setup = Setup()
    for body, detail in ((b"[1]", "body is not a JSON object"), (b'{"installationId": "i"}',
                                                                  "no 'fields' list")):
        status, answer = setup.send("POST", ACTION_PATH, body, signature=sign(SENTRY_SECRET, body))
        assert (status, answer) == (400, {"message": f"malformed request body: {detail}"})


def test_a_signed_alert_rule_form_posted_to_the_webhook_url_is_not_an_alert() -> None:
    # The alert flow only takes Sentry-Hook-Signature: a form at "/" is refused, unpublished.
    setup = Setup()
    request = Request("POST", WEBHOOK_URL, {"Sentry-App-Signature": sign(SENTRY_SECRET, BODY)},
                      BODY)
    status, _ = ingest_transport(setup.deps)(request)
    assert status == 401 and setup.topic.messages == []


def test_a_webhook_with_rule_settings_is_published_as_before() -> None:
    setup = Setup()
    payload = json.loads((REPO / "tests" / "data" / "sentry_rule_event_alert.json").read_text())
    status, _ = setup.sentry.issue_alert(payload, "Checkout errors in the web shop",
                                         settings(team="Payments", board="sprint"))
    assert status == 202
    [(data, attributes)] = setup.topic.messages
    assert json.loads(data)["data"]["issue_alert"]["settings"][0] == {"name": "team",
                                                                      "value": "Payments"}
    assert attributes["alert_key"] == "sentry:issue:4567890456"
