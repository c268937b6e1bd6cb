"""Check a rule's settings before Sentry saves them: the team is in teams.yaml, the board and
the people exist in Asana. Over injected lookups; the first problem is one sentence naming
the field, which Sentry shows to the person saving the rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from shared.routing.boards import BoardKind, pick_sandbox, pick_sprint, portfolio_gid
from shared.routing.people import in_workspace
from shared.routing.rule_settings import (
    ASSIGNEE,
    BOARD,
    FOLLOWERS,
    TEAM,
    InvalidSetting,
    RuleSettings,
    parse_settings,
)
from shared.routing.rules import BOARD_WORDS
from shared.routing.teams import Team, TeamsConfig
from shared.sources.sentry.rule_payload import setting_pairs

MAX_TEAMS_LISTED = 8


class Lookups(Protocol):
    """The Asana reads a check needs; each answers None when Asana has no such object."""

    def user(self, email: str) -> Mapping[str, Any] | None:
        """Return the user with this e-mail."""
        ...

    def project(self, gid: str) -> Mapping[str, Any] | None:
        """Return a project (name, archived)."""
        ...

    def portfolio_items(self, gid: str) -> Sequence[Mapping[str, Any]] | None:
        """Return a portfolio's items."""
        ...


def check_form(fields: object, config: TeamsConfig, lookups: Lookups | None,
               today: date) -> RuleSettings:
    """Return the settings of Sentry's form ``fields``; InvalidSetting says what to fix.

    ``lookups`` None (a dry-run deployment) checks teams.yaml only.
    """
    settings = parse_settings(setting_pairs(fields), rule="")
    names = [team.name for team in config.teams]
    if settings.team not in names:
        shown = ", ".join(names[:MAX_TEAMS_LISTED]) + (", …" if len(names) > MAX_TEAMS_LISTED
                                                       else "")
        raise InvalidSetting(TEAM, f"Team '{settings.team}' is not in teams.yaml (teams: "
                                   f"{shown}).")
    if lookups is None:
        return settings
    _check_board(config.team(settings.team), settings.board, lookups, today)
    if settings.assignee:
        _check_person(ASSIGNEE, "Assignee", settings.assignee, config.workspace_gid, lookups)
    for email in settings.followers:
        _check_person(FOLLOWERS, "Followers:", email, config.workspace_gid, lookups)
    return settings


def _check_board(team: Team, board: str, lookups: Lookups, today: date) -> None:
    """Check the board the rule names; "team default" needs the backlog every board falls
    back to."""
    said = f"Board '{BOARD_WORDS[board]}'"
    if board in ("default", "backlog"):
        gid = team.backlog_project_gid
        project = lookups.project(gid)
        if project is None:
            raise InvalidSetting(BOARD, f"{said}: the backlog project {gid} of team {team.name}"
                                        " is not in Asana, or the token cannot see it.")
        if project.get("archived"):
            raise InvalidSetting(BOARD, f"{said}: the backlog project "
                                        f"'{project.get('name', gid)}' ({gid}) of team "
                                        f"{team.name} is archived.")
        return
    kind = BoardKind(board)
    portfolio = portfolio_gid(kind, team)
    if portfolio is None:
        raise InvalidSetting(BOARD, f"{said}: team {team.name} has no {kind.value} portfolio in "
                                    f"teams.yaml (asana_{kind.value}_portfolio_id).")
    items = lookups.portfolio_items(portfolio)
    if items is None:
        raise InvalidSetting(BOARD, f"{said}: the {kind.value} portfolio {portfolio} of team "
                                    f"{team.name} is not in Asana, or the token cannot see it.")
    found = pick_sprint(items, today) if kind is BoardKind.SPRINT else pick_sandbox(items)
    if found is None:
        raise InvalidSetting(BOARD, f"{said}: the {kind.value} portfolio {portfolio} of team "
                                    f"{team.name} holds no unarchived project.")


def _check_person(name: str, label: str, email: str, workspace: str | None,
                  lookups: Lookups) -> None:
    user = lookups.user(email)
    if user is None:
        raise InvalidSetting(name, f"{label} {email} is not an Asana user, or the token cannot "
                                   "see them.")
    if not in_workspace(user, workspace):
        raise InvalidSetting(name, f"{label} {email} is not a member of the Asana workspace "
                                   f"{workspace}.")
