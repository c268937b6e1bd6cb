"""Sentry's webhook resources and the dedup key of each: one per issue, one per metric incident."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.errors import Permanent
from shared.core.payload import clean_text

#: Each Sentry webhook resource and the key under ``data`` that holds its object.
CONTAINERS = {"event_alert": "event", "issue": "issue", "metric_alert": "metric_alert",
              "error": "error"}
RESOURCES = tuple(CONTAINERS)
#: Resources Sentry sends that carry no alert: ingest answers 200 and publishes nothing.
IGNORED = {
    "installation": "Sentry sends it when the integration is installed or uninstalled",
    "comment": "Sentry sends it when someone comments on an issue",
}
ISSUE_PREFIX = "sentry:issue:"
METRIC_PREFIX = "sentry:metric:"


def alert_key(resource: str, payload: object) -> str | None:
    """Return the dedup key of a webhook payload, or None when it carries no usable id.

    One key per Sentry issue (event_alert, issue and error webhooks of the same issue share
    it) and per metric-alert incident.
    """
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    if resource == "metric_alert":
        incident = data.get("metric_alert")
        incident_id = clean_text(incident.get("id")) if isinstance(incident, dict) else None
        return f"{METRIC_PREFIX}{incident_id}" if incident_id else None
    container = CONTAINERS.get(resource)
    body = data.get(container) if container else None
    if not isinstance(body, dict):
        return None
    issue_id = clean_text(body.get("id") if resource == "issue" else body.get("issue_id"))
    return f"{ISSUE_PREFIX}{issue_id}" if issue_id else None


def sniff(payload: object) -> str | None:
    """Return the resource a saved webhook body is, from its shape; None if not Sentry's."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return None
    for resource, container in CONTAINERS.items():
        if isinstance(data.get(container), dict):
            return resource
    # An installation body holds the installation object; a comment body the comment's text.
    if isinstance(data.get("installation"), dict):
        return "installation"
    if "comment" in data and "issue_id" in data:
        return "comment"
    return None


def key_fields(resource: str) -> str:
    """Name the payload field that carries the alert's id, for error messages."""
    if resource in ("issue", "metric_alert"):
        return f"data.{CONTAINERS[resource]}.id"
    return f"data.{CONTAINERS.get(resource, resource)}.issue_id"


def webhook_unit(resource: str) -> str:
    """Name a webhook in messages: "sentry issue webhook"."""
    return f"sentry {resource} webhook"


def require_key(resource: str, payload: Mapping[str, object]) -> str:
    """Return the payload's dedup key, or raise Permanent naming the field that carries it."""
    key = alert_key(resource, dict(payload))
    if key is None:
        raise Permanent(f"{webhook_unit(resource)}: {key_fields(resource)} missing",
                        reason="bad_payload")
    return key
