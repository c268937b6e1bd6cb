"""Choose the Asana board (sandbox, current sprint or backlog) a task goes to; no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from shared.routing.teams import Team

#: Fields to request from ``GET /portfolios/{gid}/items`` for pick_sprint / pick_sandbox.
PORTFOLIO_ITEM_FIELDS = "name,archived,start_on,due_on,created_at,resource_type"

DEV_ENVIRONMENTS = ("dev", "development")
STAGING_ENVIRONMENTS = ("staging", "stage")
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class BoardKind(enum.StrEnum):
    """Which of a team's boards a task belongs on."""

    SANDBOX = "sandbox"  # newest project of the team's sandbox portfolio
    SPRINT = "sprint"  # current project of the team's sprint portfolio
    BACKLOG = "backlog"  # the team's backlog project


def board_kind(alert_environment: str | None, deployment_environment: str,
               priority: str) -> BoardKind:
    """Decide the board kind from the alert's environment, the deployment's and the priority."""
    return _kind_and_reason(alert_environment, deployment_environment, priority)[0]


def board_reason(alert_environment: str | None, deployment_environment: str,
                 priority: str) -> str:
    """Say why board_kind chose what it chose."""
    return _kind_and_reason(alert_environment, deployment_environment, priority)[1]


def _kind_and_reason(alert_environment: str | None, deployment_environment: str,
                     priority: str) -> tuple[BoardKind, str]:
    env = (alert_environment or "").strip().lower()
    deployment = deployment_environment.strip().lower()
    if env in DEV_ENVIRONMENTS:
        return BoardKind.SANDBOX, f"alert environment '{env}' goes to the sandbox"
    if deployment in DEV_ENVIRONMENTS:
        return BoardKind.SANDBOX, "this deployment runs with ENVIRONMENT=dev: sandbox"
    if env in STAGING_ENVIRONMENTS:
        return BoardKind.SPRINT, f"alert environment '{env}' goes to the current sprint"
    shown = f"'{env}'" if env else "no environment"
    if priority == "High":
        return BoardKind.SPRINT, f"High priority in {shown} goes to the current sprint"
    return BoardKind.BACKLOG, f"{priority} priority in {shown} goes to the backlog"


def pick_sprint(items: Sequence[Mapping[str, object]], today: date) -> str | None:
    """Return the gid of the unarchived project whose dates cover today, else the newest one."""
    projects = _live_projects(items)
    current = [p for p in projects if _covers(p, today)]
    return _newest(current or projects)


def pick_sandbox(items: Sequence[Mapping[str, object]]) -> str | None:
    """Return the gid of the most recently created unarchived project."""
    return _newest(_live_projects(items))


def explain_board(kind: BoardKind, team: Team) -> str:
    """Describe, without looking anything up, where ``kind`` resolves to for ``team``."""
    portfolio = portfolio_gid(kind, team)
    if kind is BoardKind.SPRINT and portfolio:
        return f"current sprint of portfolio {portfolio}"
    if kind is BoardKind.SANDBOX and portfolio:
        return f"newest project of sandbox portfolio {portfolio}"
    backlog = f"backlog project {team.backlog_project_gid}"
    if kind is BoardKind.BACKLOG:
        return backlog
    return f"{backlog} (team '{team.name}' has no {kind.value} portfolio)"


def choose_board_gid(kind: BoardKind, team: Team,
                     items_or_none: Sequence[Mapping[str, object]] | None,
                     today: date) -> tuple[str, str]:
    """Return (project gid, explanation); fall back to the backlog, never to a portfolio gid."""
    backlog = team.backlog_project_gid
    portfolio = portfolio_gid(kind, team)
    if kind is BoardKind.BACKLOG:
        return backlog, f"backlog project {backlog}"
    if portfolio is None:
        return backlog, f"team '{team.name}' has no {kind.value} portfolio; backlog {backlog}"
    if items_or_none is None:
        return backlog, f"lookup of {kind.value} portfolio {portfolio} failed; backlog {backlog}"
    items = items_or_none
    gid = pick_sprint(items, today) if kind is BoardKind.SPRINT else pick_sandbox(items)
    if gid is None:
        return backlog, (f"no unarchived project in {kind.value} portfolio {portfolio}; "
                         f"backlog {backlog}")
    return gid, f"{kind.value} project {_name(items, gid)} of portfolio {portfolio}"


def portfolio_gid(kind: BoardKind, team: Team) -> str | None:
    """Return the portfolio to look up for ``kind``, or None when the backlog needs no lookup."""
    if kind is BoardKind.SPRINT:
        return team.sprint_portfolio_gid
    if kind is BoardKind.SANDBOX:
        return team.sandbox_portfolio_gid
    return None


def _live_projects(items: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    # A portfolio may hold other portfolios; only a project can receive a task.
    return [
        item for item in items
        if item.get("resource_type") == "project" and not item.get("archived")
        and isinstance(item.get("gid"), str) and item.get("gid")
    ]


def _covers(item: Mapping[str, object], today: date) -> bool:
    start, due = _date(item.get("start_on")), _date(item.get("due_on"))
    return start is not None and due is not None and start <= today <= due


def _newest(projects: list[Mapping[str, object]]) -> str | None:
    if not projects:
        return None
    # Ties (or missing created_at) go to the item listed last, which Asana adds last.
    ranked = [(_created(p), index, p) for index, p in enumerate(projects)]
    return str(max(ranked, key=lambda entry: (entry[0], entry[1]))[2]["gid"])


def _date(raw: object) -> date | None:
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _created(item: Mapping[str, object]) -> datetime:
    raw = item.get("created_at")
    if not isinstance(raw, str):
        return _EARLIEST
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return _EARLIEST
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _name(items: Sequence[Mapping[str, object]], gid: str) -> str:
    for item in items:
        if item.get("gid") == gid and item.get("name"):
            return f"'{item['name']}' ({gid})"
    return gid
