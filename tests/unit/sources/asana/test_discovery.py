"""Discovery's pure parts: the generated file's choices and the gid check over plain records."""

from __future__ import annotations

from typing import Any

import pytest

from shared.routing.teams_file import parse_teams
from shared.sources.asana.discovery import Directory, check_gids, render_teams_yaml

WS = {"gid": "1", "resource_type": "workspace", "name": "Acme"}


def records(*items: tuple[str, str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Index (kind, gid, extra fields) as a lookup table."""
    types = {"projects": "project", "portfolios": "portfolio", "teams": "team",
             "workspaces": "workspace", "custom_fields": "custom_field", "users": "user"}
    return {(kind, gid): {"gid": gid, "resource_type": types[kind], "name": f"{kind} {gid}",
                          **extra} for kind, gid, extra in items}


FILE = """
settings: {default_team: Core, workspace_gid: "1"}
teams:
  - name: Core
    asana_team_id: "10"
    asana_backlog_id: "11"
"""


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        (records(("workspaces", "1", {}), ("teams", "10", {"organization": {"gid": "1"}}),
                 ("projects", "11", {"team": {"gid": "10"}, "workspace": {"gid": "1"}})), []),
        (records(("workspaces", "1", {}), ("teams", "10", {"organization": {"gid": "1"}}),
                 ("portfolios", "11", {})),
         ["team 'Core': asana_backlog_id 11: is a portfolio, not a project"]),
        (records(("workspaces", "1", {}), ("teams", "10", {"organization": {"gid": "1"}}),
                 ("projects", "11", {"resource_type": "task"})),
         ["team 'Core': asana_backlog_id 11: is a task, not a project"]),
        (records(("workspaces", "1", {}), ("projects", "10", {}),
                 ("projects", "11", {"team": {"gid": "12"}})),
         ["team 'Core': asana_team_id 10: is a project, not a team",
          "team 'Core': asana_backlog_id 11: project 'projects 11' belongs to team 12, not "
          "asana_team_id 10"]),
        (records(("teams", "10", {"organization": {"gid": "2"}}),
                 ("projects", "11", {"archived": True, "workspace": {"gid": "2"}})),
         ["settings: workspace_gid 1: not found: no workspace with this gid, or the token "
          "cannot see it",
          "team 'Core': asana_team_id 10: team 'teams 10' is in workspace 2, not workspace_gid 1",
          "team 'Core': asana_backlog_id 11: project 'projects 11' is archived",
          "team 'Core': asana_backlog_id 11: project 'projects 11' is in workspace 2, not "
          "workspace_gid 1"]),
    ],
    ids=["all-good", "portfolio-as-backlog", "wrong-resource-type", "project-as-team",
         "other-workspace-and-archived"],
)
def test_check_gids(known: dict[tuple[str, str], dict[str, Any]], expected: list[str]) -> None:
    problems, _ = check_gids(parse_teams(FILE), lambda kind, gid: known.get((kind, gid)))
    assert problems == expected


@pytest.mark.parametrize(
    ("teams", "projects", "default", "backlog"),
    [
        ([{"gid": "10", "name": "Default"}, {"gid": "20", "name": "Web"}],
         {"10": [{"gid": "11", "name": "Inbox"}], "20": [{"gid": "21", "name": "Roadmap"},
                                                        {"gid": "22", "name": "web BACKLOG"}]},
         "Default", {"Default": "11", "Web": "22"}),
        ([{"gid": "20", "name": "Web"}, {"gid": "10", "name": "Observability and Performance"}],
         {"10": [{"gid": "11", "name": "O&P"}], "20": [{"gid": "21", "name": "Roadmap"}]},
         "Observability and Performance", {"Observability and Performance": "11", "Web": "21"}),
        ([{"gid": "20", "name": "Web"}, {"gid": "30", "name": "Data"}],
         {"30": [{"gid": "31", "name": "Data backlog"}], "20": [{"gid": "21", "name": "R"}]},
         "Web", {"Web": "21", "Data": "31"}),
    ],
    ids=["Default-team", "older-service-name", "first-team"],
)
def test_generated_file_picks_default_and_backlogs(
        teams: list[dict[str, Any]], projects: dict[str, list[dict[str, Any]]], default: str,
        backlog: dict[str, str]) -> None:
    config = parse_teams(render_teams_yaml(Directory(WS, teams, projects, [])))
    assert config.default_team == default
    assert {t.name: t.backlog_project_gid for t in config.teams} == backlog
