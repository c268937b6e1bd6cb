"""Map each source's severity (a Sentry level, a Datadog priority, an Azure severity, a
CloudWatch alarm's P1-P5, a severity label, ...) to High / Medium / Low, by the teams file's
tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from shared.core.alert import Alert
from shared.routing.teams import PriorityMap


def priority_for(alert: Alert, priorities: PriorityMap) -> str:
    """Return "High", "Medium" or "Low" for ``alert``."""
    return _decide(alert, priorities)[0]


def explain_priority(alert: Alert, priorities: PriorityMap) -> str:
    """Say which severity of ``alert`` gave its priority."""
    return _decide(alert, priorities)[1]


class _Scale(NamedTuple):
    """How one source says severity: the PriorityMap table, the alert's value as that table
    spells it, and how an explanation names it."""

    table: str
    read: Callable[[Alert], str]
    says: str
    quoted: bool = True  # 'warning' in quotes; P1 and Sev1 read fine without
    missing: str = ""  # what to say when the alert has none; default: "no <says>"


def _level(alert: Alert) -> str:
    return (alert.level or "").strip().lower()


_SENTRY = _Scale("sentry", _level, "Sentry level")
#: Per source, its severity scale; a source not listed speaks Sentry's levels.
_SCALES = {
    "datadog": _Scale("datadog", lambda alert: (alert.priority or "").strip().upper(),
                      "Datadog priority", quoted=False),
    "azure": _Scale("azure", lambda alert: (alert.priority or "").strip().capitalize(),
                    "Azure severity", quoted=False),
    "alertmanager": _Scale("alertmanager", _level, "Alertmanager severity label"),
    "grafana": _Scale("grafana", _level, "Grafana severity label"),
    "gcm": _Scale("gcm", _level, "Cloud Monitoring severity"),
    "cloudwatch": _Scale("cloudwatch", lambda alert: (alert.priority or "").strip().upper(),
                         "CloudWatch alarm priority", quoted=False,
                         missing="no P1-P5 in the alarm's description or name"),
}


def _decide(alert: Alert, priorities: PriorityMap) -> tuple[str, str]:
    scale = _SCALES.get(alert.source, _SENTRY)
    table: Mapping[str, str] = getattr(priorities, scale.table)
    value = scale.read(alert)
    shown = repr(value) if scale.quoted else value
    if value in table:
        return table[value], f"{scale.says} {shown} → {table[value]}"
    what = f"unknown {scale.says} {value!r}" if value else scale.missing or f"no {scale.says}"
    return priorities.default, f"{what} → {priorities.default} (default)"
