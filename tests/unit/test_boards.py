"""Board choice: kind from environment and priority, then a project from portfolio items."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest

from shared.routing.boards import (
    BoardKind,
    board_kind,
    board_reason,
    choose_board_gid,
    explain_board,
    pick_sandbox,
    pick_sprint,
)
from shared.routing.teams import Team

TODAY = date(2026, 11, 25)
TEAM = Team(name="Payments", backlog_project_gid="100", sprint_portfolio_gid="200",
            sandbox_portfolio_gid="300")
BARE = Team(name="Growth", backlog_project_gid="400")


def project(gid: str, created: str, *, start: str | None = None, due: str | None = None,
            archived: bool = False, kind: str = "project") -> dict[str, object]:
    """Return a portfolio item shaped like GET /portfolios/{gid}/items with opt_fields."""
    return {"gid": gid, "resource_type": kind, "name": f"Sprint {gid}", "archived": archived,
            "start_on": start, "due_on": due, "created_at": created}


SPRINTS = [
    project("11", "2026-10-27T09:00:00.000Z", start="2026-10-27", due="2026-11-09"),
    project("12", "2026-11-10T09:00:00.000Z", start="2026-11-10", due="2026-11-30"),
    project("13", "2026-11-20T09:00:00.000Z", start="2026-12-01", due="2026-12-14"),
]


@pytest.mark.parametrize(
    ("alert_env", "deployment", "priority", "expected"),
    [
        ("dev", "prod", "High", BoardKind.SANDBOX),
        ("development", "prod", "Low", BoardKind.SANDBOX),
        ("production", "dev", "High", BoardKind.SANDBOX),
        (None, "dev", "Low", BoardKind.SANDBOX),
        ("staging", "prod", "Low", BoardKind.SPRINT),
        ("Staging", "prod", "High", BoardKind.SPRINT),
        ("production", "prod", "High", BoardKind.SPRINT),
        (None, "prod", "High", BoardKind.SPRINT),
        ("production", "prod", "Medium", BoardKind.BACKLOG),
        ("production", "staging", "Low", BoardKind.BACKLOG),
        (None, "prod", "Low", BoardKind.BACKLOG),
    ],
    ids=["alert-dev", "alert-development", "deployment-dev-wins", "deployment-dev-no-env",
         "staging-low", "staging-case-insensitive", "prod-high", "no-env-high", "prod-medium",
         "staging-deployment-prod-alert-low", "no-env-low"],
)
def test_board_kind(alert_env: str | None, deployment: str, priority: str,
                    expected: BoardKind) -> None:
    assert board_kind(alert_env, deployment, priority) is expected


def test_board_reason_says_why() -> None:
    assert board_reason("production", "prod", "High") == (
        "High priority in 'production' goes to the current sprint"
    )
    assert board_reason(None, "dev", "Low") == "this deployment runs with ENVIRONMENT=dev: sandbox"


@pytest.mark.parametrize(
    ("items", "today", "expected"),
    [
        (SPRINTS, TODAY, "12"),
        (SPRINTS, date(2026, 11, 10), "12"),
        (SPRINTS, date(2026, 11, 30), "12"),
        (SPRINTS, date(2026, 12, 20), "13"),
        ([*SPRINTS[:2], project("14", "2026-11-21T00:00:00Z", start="2026-11-24",
                                due="2026-11-28")], TODAY, "14"),
        ([project("12", "2026-11-10T09:00:00Z", start="2026-11-10", due="2026-11-30",
                  archived=True), SPRINTS[0]], TODAY, "11"),
        ([project("9", "2026-12-01T00:00:00Z", start="2026-11-01", due="2026-11-30",
                  kind="portfolio"), SPRINTS[0]], TODAY, "11"),
        ([project("15", "2026-11-01T00:00:00Z", due="2026-11-30"), SPRINTS[0]], TODAY, "15"),
        ([project("16", "not a date", start="2026-11", due="soon"), SPRINTS[0]], TODAY, "11"),
        ([], TODAY, None),
        ([project("12", "2026-11-10T09:00:00Z", archived=True)], TODAY, None),
    ],
    ids=["dates-cover-today", "first-day", "last-day", "none-covers-newest-created",
         "two-cover-newest-created", "archived-skipped", "sub-portfolio-skipped",
         "no-start-date-falls-back-to-newest", "bad-dates-ignored", "empty", "only-archived"],
)
def test_pick_sprint(items: list[Mapping[str, object]], today: date,
                     expected: str | None) -> None:
    assert pick_sprint(items, today) == expected


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (SPRINTS, "13"),
        ([SPRINTS[2], SPRINTS[0]], "13"),
        ([SPRINTS[0], project("13", "2026-12-01T00:00:00Z", archived=True)], "11"),
        ([project("21", "2026-11-01T10:00:00+01:00"), project("22", "2026-11-01T09:30:00Z")],
         "22"),
        ([], None),
    ],
    ids=["newest", "order-independent", "archived-skipped", "timezones-compared", "empty"],
)
def test_pick_sandbox(items: list[Mapping[str, object]], expected: str | None) -> None:
    assert pick_sandbox(items) == expected


@pytest.mark.parametrize(
    ("kind", "team", "items", "gid", "explanation"),
    [
        (BoardKind.BACKLOG, TEAM, None, "100", "backlog project 100"),
        (BoardKind.SPRINT, TEAM, SPRINTS, "12", "sprint project 'Sprint 12' (12) of portfolio 200"),
        (BoardKind.SANDBOX, TEAM, SPRINTS, "13",
         "sandbox project 'Sprint 13' (13) of portfolio 300"),
        (BoardKind.SPRINT, TEAM, None, "100",
         "lookup of sprint portfolio 200 failed; backlog 100"),
        (BoardKind.SPRINT, TEAM, [], "100",
         "no unarchived project in sprint portfolio 200; backlog 100"),
        (BoardKind.SANDBOX, BARE, SPRINTS, "400",
         "team 'Growth' has no sandbox portfolio; backlog 400"),
    ],
    ids=["backlog", "sprint", "sandbox", "lookup-failed", "lookup-empty", "no-portfolio"],
)
def test_choose_board_gid(kind: BoardKind, team: Team,
                          items: list[Mapping[str, object]] | None, gid: str,
                          explanation: str) -> None:
    chosen = choose_board_gid(kind, team, items, TODAY)
    assert chosen == (gid, explanation)
    assert chosen[0] not in (team.sprint_portfolio_gid, team.sandbox_portfolio_gid)


@pytest.mark.parametrize(
    ("kind", "team", "expected"),
    [
        (BoardKind.SPRINT, TEAM, "current sprint of portfolio 200"),
        (BoardKind.SANDBOX, TEAM, "newest project of sandbox portfolio 300"),
        (BoardKind.BACKLOG, TEAM, "backlog project 100"),
        (BoardKind.SPRINT, BARE, "backlog project 400 (team 'Growth' has no sprint portfolio)"),
    ],
    ids=["sprint", "sandbox", "backlog", "missing-portfolio"],
)
def test_explain_board(kind: BoardKind, team: Team, expected: str) -> None:
    assert explain_board(kind, team) == expected
