"""Route an alert by its Sentry alert rule's settings, over teams.yaml's routing. No I/O.

The rule's settings override teams.yaml for that alert: team, board, priority, assignee and
followers. When they cannot be used, teams.yaml decides and the explanation says why:

- settings that do not validate (a rule saved before validation existed, or under another
  schema): all are ignored;
- a team that has since left teams.yaml: the settings that name a place or people of that team
  (team, board, assignee, followers) are dropped; those about the alert itself (priority,
  update only) still apply.

Only creation is affected: the ledger keeps one task per Sentry issue (or incident), so a second
rule firing for the same issue comments on the task the first one opened, wherever it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from shared.core.alert import Alert
from shared.routing.boards import DEV_ENVIRONMENTS, BoardKind, board_kind, board_reason
from shared.routing.ownership import Route
from shared.routing.priority import explain_priority
from shared.routing.rule_settings import InvalidSetting, RuleSettings, parse_settings
from shared.routing.teams import Team, TeamsConfig
from shared.routing.triage import Triage, triage

#: How a board setting reads in explanations.
BOARD_WORDS = {"default": "team default", "sprint": "current sprint", "backlog": "backlog",
               "sandbox": "sandbox"}


@dataclass(frozen=True)
class Routed:
    """Where an alert goes, after its rule's settings, and why."""

    triage: Triage  # team (with the routing explanation), priority, board kind
    priority_why: str
    board_why: str
    may_create: bool = True  # False: the rule is update-only
    assignee: str | None = None  # the rule's, replacing the team's
    followers: tuple[str, ...] = ()  # the rule's, added to the team's
    fallback: str | None = None  # why the rule's settings were (partly) not used
    overridden: Route | None = None  # teams.yaml's own route, when the rule chose the team


def route_alert(alert: Alert, config: TeamsConfig, deployment_environment: str) -> Routed:
    """Decide team, priority and board of ``alert``, honouring its rule's settings."""
    base = triage(alert, config, deployment_environment)
    plain = Routed(base, explain_priority(alert, config.priority),
                   board_reason(alert.environment, deployment_environment, base.priority))
    if not alert.rule_settings:
        return plain
    rule = alert.rule or "(unnamed)"
    try:
        settings = parse_settings(alert.rule_settings, rule)
    except InvalidSetting as error:
        return _explained(plain, f"alert rule '{rule}': its settings are ignored ({error}); "
                                 f"routed by teams.yaml: {base.route.explanation}",
                          fallback="invalid_settings")
    priority, priority_why = plain.triage.priority, plain.priority_why
    if settings.priority:
        priority, priority_why = settings.priority, (
            f"alert rule '{rule}' sets {settings.priority} ({plain.priority_why})")
    if settings.team not in {team.name for team in config.teams}:
        kind = board_kind(alert.environment, deployment_environment, priority)
        fallen = Routed(replace(base, priority=priority, board=kind), priority_why,
                        board_reason(alert.environment, deployment_environment, priority),
                        may_create=not settings.update_only)
        return _explained(fallen, f"alert rule '{rule}' names team '{settings.team}', which is "
                                  f"not in teams.yaml: routed by teams.yaml instead: "
                                  f"{base.route.explanation}", fallback="team_unknown")
    kind, board_why = _board(settings, alert, deployment_environment, priority)
    explanation = explain_rule(settings)
    if settings.board != "default" and kind.value != settings.board:
        # Only a dev deployment overrides the rule's board: the task's note must say so.
        explanation += f"; {kind.value} instead: this deployment runs with ENVIRONMENT=dev"
    route = Route(team=config.team(settings.team), matched=(), is_default=False,
                  explanation=explanation)
    return Routed(Triage(route, priority, kind), priority_why, board_why,
                  may_create=not settings.update_only, assignee=settings.assignee,
                  followers=settings.followers, overridden=base.route)


def explain_rule(settings: RuleSettings) -> str:
    """Say what a rule decided: "from alert rule 'X': team Payments, board current sprint"."""
    parts = [f"team {settings.team}", f"board {BOARD_WORDS[settings.board]}"]
    if settings.priority:
        parts.append(f"priority {settings.priority}")
    if settings.assignee:
        parts.append(f"assignee {settings.assignee}")
    if settings.followers:
        parts.append(f"followers {', '.join(settings.followers)}")
    if settings.update_only:
        parts.append("update only")
    return f"from alert rule '{settings.rule}': {', '.join(parts)}"


def may_create(alert: Alert) -> bool:
    """Tell whether the alert's rule lets it open a task (False only for update-only rules)."""
    if not alert.rule_settings:
        return True
    try:
        return not parse_settings(alert.rule_settings, alert.rule or "").update_only
    except InvalidSetting:
        return True  # unusable settings are ignored, as route_alert does


def with_people(routed: Routed, resolve: Callable[[str], str | None]) -> tuple[Team, list[str]]:
    """Return the team to render the task with (the rule's people resolved), and notes on who
    could not be resolved; ``resolve`` maps an e-mail to an Asana user (None: unknown)."""
    team = routed.triage.route.team
    notes = []
    assignee = team.assignee
    if routed.assignee:
        found = resolve(routed.assignee)
        if found is None:
            kept = f"kept the team's assignee {team.assignee}" if team.assignee else "unassigned"
            notes.append(f"assignee {routed.assignee} is not an Asana user: {kept}")
        assignee = found or team.assignee
    followers = list(team.followers)
    for email in routed.followers:
        found = resolve(email)
        if found is None:
            notes.append(f"follower {email} is not an Asana user: left out")
        elif found not in followers:
            followers.append(found)
    return replace(team, assignee=assignee, followers=tuple(followers)), notes


def _board(settings: RuleSettings, alert: Alert, deployment_environment: str,
           priority: str) -> tuple[BoardKind, str]:
    if settings.board == "default":
        return (board_kind(alert.environment, deployment_environment, priority),
                board_reason(alert.environment, deployment_environment, priority))
    asked = f"alert rule '{settings.rule}' asks for the {BOARD_WORDS[settings.board]}"
    # A dev deployment never writes outside the sandboxes, whatever a rule asks.
    if deployment_environment.strip().lower() in DEV_ENVIRONMENTS:
        return BoardKind.SANDBOX, f"this deployment runs with ENVIRONMENT=dev ({asked})"
    return BoardKind(settings.board), asked


def _explained(routed: Routed, explanation: str, *, fallback: str) -> Routed:
    route = replace(routed.triage.route, explanation=explanation)
    return replace(routed, triage=replace(routed.triage, route=route), fallback=fallback)
