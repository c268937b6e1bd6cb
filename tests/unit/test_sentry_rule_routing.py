"""Routing by a Sentry alert rule's settings, over teams.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.core.alert import Action, Alert
from shared.routing.boards import BoardKind
from shared.routing.rules import may_create, route_alert, with_people
from shared.routing.teams_file import load_teams

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_teams(str(REPO / "teams.yaml"))


def alert(*settings: tuple[str, str], level: str = "warning", environment: str = "prod",
          server: str = "panther-alerts-api") -> Alert:
    """A Sentry alert teams.yaml gives Investigations (Medium, backlog) without a rule."""
    return Alert(source="sentry", resource="event_alert", key="sentry:issue:1",
                 action=Action.TRIGGERED, title="KeyError", level=level,
                 environment=environment, rule="Checkout errors",
                 tags=(("server_name", server),), rule_settings=tuple(settings))


@dataclass(frozen=True)
class Case:
    settings: tuple[tuple[str, str], ...]
    team: str
    priority: str
    board: BoardKind
    why: str  # the start of the routing explanation
    fallback: str | None = None
    environment: str = "prod"  # the deployment's
    followers: tuple[str, ...] = field(default=())


CASES = {
    "no-rule-settings": Case((), "Investigations", "Medium", BoardKind.BACKLOG,
                             "team 'Investigations': matched server_name:panther-alerts-api"),
    "rule-team-wins": Case((("team", "Payments"),), "Payments", "Medium", BoardKind.BACKLOG,
                           "from alert rule 'Checkout errors': team Payments, board team "
                           "default"),
    "priority-override-moves-the-default-board": Case(
        (("team", "Payments"), ("priority", "High")), "Payments", "High", BoardKind.SPRINT,
        "from alert rule 'Checkout errors': team Payments, board team default, priority High"),
    "explicit-board": Case((("team", "Growth"), ("board", "backlog"), ("priority", "High")),
                           "Growth", "High", BoardKind.BACKLOG,
                           "from alert rule 'Checkout errors': team Growth, board backlog"),
    "dev-deployment-keeps-the-sandbox": Case(
        (("team", "Payments"), ("board", "sprint")), "Payments", "Medium", BoardKind.SANDBOX,
        "from alert rule 'Checkout errors': team Payments, board current sprint",
        environment="dev"),
    "team-gone-falls-back-keeping-priority": Case(
        (("team", "Fraud"), ("board", "sprint"), ("priority", "Low")), "Investigations", "Low",
        BoardKind.BACKLOG, "alert rule 'Checkout errors' names team 'Fraud', which is not in "
        "teams.yaml: routed by teams.yaml instead: team 'Investigations'",
        fallback="team_unknown"),
    "invalid-settings-are-ignored": Case(
        (("board", "panther"),), "Investigations", "Medium", BoardKind.BACKLOG,
        "alert rule 'Checkout errors': its settings are ignored (Team is required",
        fallback="invalid_settings"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_rule_settings_route(case: Case) -> None:
    routed = route_alert(alert(*case.settings), CONFIG, case.environment)
    assert routed.triage.route.team.name == case.team
    assert routed.triage.priority == case.priority
    assert routed.triage.board is case.board
    assert routed.triage.route.explanation.startswith(case.why), routed.triage.route.explanation
    assert routed.fallback == case.fallback


def test_the_reasons_name_the_rule() -> None:
    routed = route_alert(alert(("team", "Payments"), ("board", "sprint"), ("priority", "Low")),
                         CONFIG, "prod")
    assert routed.priority_why == ("alert rule 'Checkout errors' sets Low (Sentry level "
                                   "'warning' → Medium)")
    assert routed.board_why == "alert rule 'Checkout errors' asks for the current sprint"


@pytest.mark.parametrize(("settings", "creates"), [
    ((), True),
    ((("team", "Payments"),), True),
    ((("team", "Payments"), ("update_only", "yes")), False),
    ((("team", "Fraud"), ("update_only", "yes")), False),  # a gone team keeps update only
    ((("update_only", "yes"),), True),  # no team: the settings are ignored as a whole
])
def test_update_only_rules_never_create(settings: tuple[tuple[str, str], ...],
                                        creates: bool) -> None:
    subject = alert(*settings)
    assert may_create(subject) is creates
    assert route_alert(subject, CONFIG, "prod").may_create is creates


def test_the_rule_people_replace_the_assignee_and_join_the_followers() -> None:
    routed = route_alert(alert(("team", "Payments"), ("assignee", "ana@example.com"),
                               ("followers", "li@example.com, gone@example.com")), CONFIG, "prod")
    known = {"ana@example.com": "501", "li@example.com": "502"}
    team, notes = with_people(routed, known.get)
    payments = CONFIG.team("Payments")
    assert team.assignee == "501"
    assert team.followers == (*payments.followers, "502")
    assert notes == ["follower gone@example.com is not an Asana user: left out"]


def test_an_unknown_assignee_keeps_the_team_assignee_and_says_so() -> None:
    routed = route_alert(alert(("team", "Payments"), ("assignee", "gone@example.com")),
                         CONFIG, "prod")
    team, notes = with_people(routed, lambda email: None)
    assert team.assignee == CONFIG.team("Payments").assignee
    assert notes == [f"assignee gone@example.com is not an Asana user: kept the team's assignee "
                     f"{CONFIG.team('Payments').assignee}"]


def test_a_gone_team_drops_the_rule_people() -> None:
    routed = route_alert(alert(("team", "Fraud"), ("assignee", "ana@example.com")), CONFIG,
                         "prod")
    team, notes = with_people(routed, lambda email: pytest.fail("no lookup expected"))
    assert team == CONFIG.team("Investigations") and notes == []


def test_a_dev_deployment_says_on_the_note_why_the_rules_board_was_not_used() -> None:
    routed = route_alert(alert(("team", "Payments"), ("board", "sprint")), CONFIG, "dev")
    assert routed.triage.route.explanation == (
        "from alert rule 'Checkout errors': team Payments, board current sprint; sandbox "
        "instead: this deployment runs with ENVIRONMENT=dev")
    assert routed.board_why == ("this deployment runs with ENVIRONMENT=dev (alert rule "
                                "'Checkout errors' asks for the current sprint)")
