"""Severity to priority: defaults for Sentry and Datadog, and teams.yaml overrides."""

from __future__ import annotations

import pytest

from shared.core.alert import Action, Alert
from shared.routing.priority import explain_priority, priority_for
from shared.routing.teams import PriorityMap
from shared.routing.teams_file import parse_teams


def alert(source: str, *, level: str | None = None, priority: str | None = None) -> Alert:
    return Alert(source=source, resource="datadog" if source == "datadog" else "event_alert",
                 key="k", action=Action.TRIGGERED, title="t", level=level, priority=priority)


@pytest.mark.parametrize(
    ("source", "level", "dd_priority", "expected"),
    [
        ("sentry", "fatal", None, "High"),
        ("sentry", "error", None, "High"),
        ("sentry", "warning", None, "Medium"),
        ("sentry", "info", None, "Low"),
        ("sentry", "debug", None, "Low"),
        ("sentry", "ERROR", None, "High"),
        ("sentry", None, None, "High"),
        ("sentry", "critical", None, "High"),
        ("datadog", None, "P1", "High"),
        ("datadog", None, "P2", "High"),
        ("datadog", None, "P3", "Medium"),
        ("datadog", None, "P4", "Low"),
        ("datadog", None, "p5", "Low"),
        ("datadog", None, None, "High"),
        ("datadog", "info", None, "High"),
    ],
    ids=["fatal", "error", "warning", "info", "debug", "level-case-insensitive", "no-level",
         "unknown-level-default", "P1", "P2", "P3", "P4", "p5-lowercase", "datadog-no-priority",
         "datadog-ignores-level"],
)
def test_default_priorities(source: str, level: str | None, dd_priority: str | None,
                            expected: str) -> None:
    assert priority_for(alert(source, level=level, priority=dd_priority), PriorityMap()) == expected


def test_teams_yaml_overrides_priorities() -> None:
    config = parse_teams("""
settings:
  default_team: P
  priority: {sentry: {warning: High, error: Medium}, datadog: {P1: Medium}, default: Low}
teams: [{name: P, asana_backlog_id: "1"}]
""")
    assert priority_for(alert("sentry", level="warning"), config.priority) == "High"
    assert priority_for(alert("sentry", level="error"), config.priority) == "Medium"
    assert priority_for(alert("sentry", level="fatal"), config.priority) == "High"
    assert priority_for(alert("datadog", priority="P1"), config.priority) == "Medium"
    assert priority_for(alert("datadog"), config.priority) == "Low"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (alert("sentry", level="warning"), "Sentry level 'warning' → Medium"),
        (alert("datadog", priority="P4"), "Datadog priority P4 → Low"),
        (alert("datadog"), "no Datadog priority → High (default)"),
        (alert("sentry"), "no Sentry level → High (default)"),
    ],
    ids=["sentry", "datadog", "datadog-none", "sentry-none"],
)
def test_explain_priority(case: Alert, expected: str) -> None:
    assert explain_priority(case, PriorityMap()) == expected
