"""Map a Sentry level, a Datadog priority or a CloudWatch alarm's P1-P5 to High / Medium / Low."""

from __future__ import annotations

from shared.core.alert import Alert
from shared.routing.teams import PriorityMap


def priority_for(alert: Alert, priorities: PriorityMap) -> str:
    """Return "High", "Medium" or "Low" for ``alert``."""
    return _decide(alert, priorities)[0]


def explain_priority(alert: Alert, priorities: PriorityMap) -> str:
    """Say which severity of ``alert`` gave its priority."""
    return _decide(alert, priorities)[1]


def _decide(alert: Alert, priorities: PriorityMap) -> tuple[str, str]:
    if alert.source == "datadog":
        severity = (alert.priority or "").strip().upper()
        if severity in priorities.datadog:
            priority = priorities.datadog[severity]
            return priority, f"Datadog priority {severity} → {priority}"
        what = f"unknown Datadog priority {severity!r}" if severity else "no Datadog priority"
        return priorities.default, f"{what} → {priorities.default} (default)"
    if alert.source == "cloudwatch":
        severity = (alert.priority or "").strip().upper()
        if severity in priorities.cloudwatch:
            priority = priorities.cloudwatch[severity]
            return priority, f"CloudWatch alarm priority {severity} → {priority}"
        what = "no P1-P5 in the alarm's description or name"
        return priorities.default, f"{what} → {priorities.default} (default)"
    level = (alert.level or "").strip().lower()
    if level in priorities.sentry:
        priority = priorities.sentry[level]
        return priority, f"Sentry level '{level}' → {priority}"
    what = f"unknown level {level!r}" if level else "no level"
    return priorities.default, f"{what} → {priorities.default} (default)"
