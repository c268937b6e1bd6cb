"""Map a Sentry level, a Datadog priority or an Azure severity to High / Medium / Low."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.alert import Alert
from shared.routing.teams import PriorityMap


def priority_for(alert: Alert, priorities: PriorityMap) -> str:
    """Return "High", "Medium" or "Low" for ``alert``."""
    return _decide(alert, priorities)[0]


def explain_priority(alert: Alert, priorities: PriorityMap) -> str:
    """Say which severity of ``alert`` gave its priority."""
    return _decide(alert, priorities)[1]


#: Sources whose severity is their alert's ``severity`` label (Alert.level, lower-case).
_SEVERITY_LABEL = {"alertmanager": "Alertmanager", "grafana": "Grafana"}


def _decide(alert: Alert, priorities: PriorityMap) -> tuple[str, str]:
    if alert.source in _SEVERITY_LABEL:
        vendor = _SEVERITY_LABEL[alert.source]
        table: Mapping[str, str] = getattr(priorities, alert.source)
        label = (alert.level or "").strip().lower()
        if label in table:
            return table[label], f"{vendor} severity label '{label}' → {table[label]}"
        what = f"unknown {vendor} severity {label!r}" if label else f"no {vendor} severity label"
        return priorities.default, f"{what} → {priorities.default} (default)"
    if alert.source == "datadog":
        severity = (alert.priority or "").strip().upper()
        if severity in priorities.datadog:
            priority = priorities.datadog[severity]
            return priority, f"Datadog priority {severity} → {priority}"
        what = f"unknown Datadog priority {severity!r}" if severity else "no Datadog priority"
        return priorities.default, f"{what} → {priorities.default} (default)"
    if alert.source == "azure":
        severity = (alert.priority or "").strip().capitalize()
        if severity in priorities.azure:
            priority = priorities.azure[severity]
            return priority, f"Azure severity {severity} → {priority}"
        what = f"unknown Azure severity {severity!r}" if severity else "no Azure severity"
        return priorities.default, f"{what} → {priorities.default} (default)"
    level = (alert.level or "").strip().lower()
    if level in priorities.sentry:
        priority = priorities.sentry[level]
        return priority, f"Sentry level '{level}' → {priority}"
    what = f"unknown level {level!r}" if level else "no level"
    return priorities.default, f"{what} → {priorities.default} (default)"
