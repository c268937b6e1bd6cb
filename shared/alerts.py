"""One normalized alert model for every Sentry and Datadog webhook the service accepts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Action(enum.StrEnum):
    """What the webhook says happened to the alert."""

    TRIGGERED = "triggered"  # new, or fired again: the ledger decides create vs. comment
    RESOLVED = "resolved"  # complete the task
    REOPENED = "reopened"  # regression / unresolved / re-triggered after recovery: reopen
    ASSIGNED = "assigned"  # informational: comment only
    IGNORED = "ignored"  # archived/ignored in Sentry: comment only


@dataclass(frozen=True)
class Alert:
    """A source-independent alert; every field except the first five may be missing."""

    source: str  # "sentry" | "datadog"
    resource: str  # "event_alert" | "issue" | "metric_alert" | "error" | "datadog"
    key: str  # dedup key, e.g. "sentry:issue:123", "sentry:metric:77", "datadog:cycle:abc"
    action: Action
    title: str
    external_id: str | None = None  # Sentry issue id / incident id; Datadog alert (monitor) id
    url: str | None = None  # link to the Sentry issue / Datadog event
    level: str | None = None  # Sentry level: fatal|error|warning|info|debug (lowercase)
    priority: str | None = None  # Datadog priority "P1".."P5" (uppercase)
    environment: str | None = None
    occurred_at: datetime | None = None  # timezone-aware UTC
    project: str | None = None  # Sentry project slug
    project_id: str | None = None
    release: str | None = None
    culprit: str | None = None
    exception_type: str | None = None
    exception_value: str | None = None
    top_frame: str | None = None  # "module.function (file:line)" of the top in-app frame
    request_url: str | None = None
    monitor_id: str | None = None
    scope: str | None = None
    transition: str | None = None  # raw Datadog transition / Sentry action
    tags: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def match_fields(self) -> dict[str, str]:
        """Return the key/value pairs teams.yaml matchers look at: tags plus derived keys."""
        fields = {k: v for k, v in self.tags}
        derived = {
            "url": self.request_url or fields.get("url"),
            "project": self.project,
            "environment": self.environment,
            "level": self.level,
            "monitor": self.monitor_id,
            "priority": self.priority,
            "source": self.source,
            "title": self.title,
            "release": self.release,
            "culprit": self.culprit,
        }
        for key, value in derived.items():
            if value and key not in fields:
                fields[key] = value
        return fields


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def alert_key(source: str, resource: str, payload: object) -> str | None:
    """Return the dedup key of a webhook payload, or None when it carries no usable id.

    One key per Sentry issue (event_alert, issue and error webhooks of the same issue share
    it), per Sentry metric-alert incident, and per Datadog alert cycle (else per event).
    """
    if not isinstance(payload, dict):
        return None
    if source == "datadog":
        cycle = _text(payload.get("alert_cycle_key"))
        if cycle:
            return f"datadog:cycle:{cycle}"
        event_id = _text(payload.get("id"))
        return f"datadog:event:{event_id}" if event_id else None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    if resource == "metric_alert":
        incident = data.get("metric_alert")
        incident_id = _text(incident.get("id")) if isinstance(incident, dict) else None
        return f"sentry:metric:{incident_id}" if incident_id else None
    container = {"event_alert": "event", "error": "error", "issue": "issue"}.get(resource)
    body = data.get(container) if container else None
    if not isinstance(body, dict):
        return None
    issue_id = _text(body.get("id") if resource == "issue" else body.get("issue_id"))
    return f"sentry:issue:{issue_id}" if issue_id else None
