"""The triage decision for one alert: owning team, priority and kind of board."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.alert import Action, Alert
from shared.routing.boards import BoardKind, board_kind
from shared.routing.ownership import Route, route
from shared.routing.priority import priority_for
from shared.routing.teams import TeamsConfig


@dataclass(frozen=True)
class Triage:
    """Where an alert goes, before any Asana lookup."""

    route: Route
    priority: str
    board: BoardKind


def triage(alert: Alert, config: TeamsConfig, deployment_environment: str) -> Triage:
    """Decide the team, priority and board kind of ``alert``, as the worker and CLI both do."""
    chosen = route(alert.match_fields(), config)
    priority = priority_for(alert, config.priority)
    return Triage(chosen, priority, board_kind(alert.environment, deployment_environment, priority))


def why_no_task(alert: Alert, config: TeamsConfig) -> str | None:
    """Say why ``alert`` would not open a task when none exists yet; None when it would."""
    if alert.action not in (Action.TRIGGERED, Action.REOPENED):
        return (f"a '{alert.action.value}' webhook never opens a task: it only updates the task "
                "an earlier alert opened")
    if alert.resource not in config.create_tasks_from:
        allowed = ", ".join(config.create_tasks_from) or "nothing"
        return (f"'{alert.resource}' webhooks do not open tasks (settings.create_tasks_from: "
                f"{allowed}): it only updates the task an alert rule or monitor opened for it")
    return None
