"""Map a Sentry level or a Datadog priority to High / Medium / Low."""

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
    if alert.source == "gcm":
        severity = (alert.level or "").strip().lower()
        if severity in priorities.gcm:
            priority = priorities.gcm[severity]
            return priority, f"Cloud Monitoring severity '{severity}' → {priority}"
        what = f"unknown severity {severity!r}" if severity else "no Cloud Monitoring severity"
        return priorities.default, f"{what} → {priorities.default} (default)"
    level = (alert.level or "").strip().lower()
    if level in priorities.sentry:
        priority = priorities.sentry[level]
        return priority, f"Sentry level '{level}' → {priority}"
    what = f"unknown level {level!r}" if level else "no level"
    return priorities.default, f"{what} → {priorities.default} (default)"
