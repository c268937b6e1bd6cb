"""The normalized alert model of every Sentry and Datadog webhook, and its parsers' shared helpers.

Dependencies point one way: ``alerts_sentry`` and ``alerts_datadog`` import this module, and
``alerts_parse`` picks the parser of a message.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.core.errors import Permanent

#: Each Sentry webhook resource and the key under ``data`` that holds its object.
SENTRY_CONTAINERS = {"event_alert": "event", "issue": "issue", "metric_alert": "metric_alert",
                     "error": "error"}
SENTRY_RESOURCES = tuple(SENTRY_CONTAINERS)


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
    rule: str | None = None  # Sentry alert rule that fired
    description: str | None = None  # Sentry metric-alert text / Datadog event message
    host: str | None = None  # Datadog $HOSTNAME
    actor: str | None = None  # who changed a Sentry issue (user name, or "Sentry")
    assignee: str | None = None  # Sentry issue assignee name or email ("team <name>" for a team)
    # Sentry's statusDetails (ignoreUntil, ignoreCount, ...) and substatus, as (key, text) pairs.
    status_details: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    installation_id: str | None = None  # Sentry integration installation uuid (link-back)
    # (name, value) settings the alert rule's action saved (Sentry's "Create an Asana task";
    # shared/routing/rule_settings.py); empty when the rule sent none.
    rule_settings: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def match_fields(self) -> dict[str, str]:
        """Return the key/value pairs teams.yaml matchers look at: tags plus derived keys."""
        fields = {k: v for k, v in self.tags}
        derived = {
            "url": self.request_url or fields.get("url"),
            # Sentry calls the host server_name; let one matcher cover Datadog hosts too.
            "server_name": self.host,
            "host": self.host,
            "project": self.project,
            "environment": self.environment,
            "env": self.environment,
            "level": self.level,
            "monitor": self.monitor_id,
            "priority": self.priority,
            "source": self.source,
            "title": self.title,
            "release": self.release,
            "culprit": self.culprit,
            "exception": self.exception_type,
            "rule": self.rule,
            "resource": self.resource,
            "transition": self.transition,
        }
        for key, value in derived.items():
            # A bare tag (empty value) must not hide a derived key of the same name.
            if value and not fields.get(key):
                fields[key] = value
        return fields


def clean_text(value: object) -> str | None:
    """Return a scalar as stripped text, or None when it is missing, empty or not a scalar."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
# Epoch values at or above this are milliseconds: as seconds it would be the year 5138.
_EPOCH_MS_THRESHOLD = 100_000_000_000


def parse_time(value: object) -> datetime | None:
    """Return an ISO 8601 string or epoch (s or ms) as an aware UTC datetime, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    text = clean_text(value)
    if text is None:
        return None
    if _NUMBER.fullmatch(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Sentry sometimes omits the offset; its timestamps are always UTC.
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(value: float) -> datetime | None:
    seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def alert_key(source: str, resource: str, payload: object) -> str | None:
    """Return the dedup key of a webhook payload, or None when it carries no usable id.

    One key per Sentry issue (event_alert, issue and error webhooks of the same issue share
    it), per Sentry metric-alert incident, and per Datadog alert cycle (else per event).
    """
    if not isinstance(payload, dict):
        return None
    if source == "datadog":
        cycle = clean_text(payload.get("alert_cycle_key"))
        if cycle:
            return f"datadog:cycle:{cycle}"
        event_id = clean_text(payload.get("id"))
        return f"datadog:event:{event_id}" if event_id else None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    if resource == "metric_alert":
        incident = data.get("metric_alert")
        incident_id = clean_text(incident.get("id")) if isinstance(incident, dict) else None
        return f"sentry:metric:{incident_id}" if incident_id else None
    container = SENTRY_CONTAINERS.get(resource)
    body = data.get(container) if container else None
    if not isinstance(body, dict):
        return None
    issue_id = clean_text(body.get("id") if resource == "issue" else body.get("issue_id"))
    return f"sentry:issue:{issue_id}" if issue_id else None


def key_fields(source: str, resource: str) -> str:
    """Name the payload field(s) that carry the alert's id, for error messages."""
    if source == "datadog":
        return "alert_cycle_key or id"
    if resource in ("issue", "metric_alert"):
        return f"data.{SENTRY_CONTAINERS[resource]}.id"
    return f"data.{SENTRY_CONTAINERS.get(resource, resource)}.issue_id"


def webhook_unit(source: str, resource: str) -> str:
    """Name a webhook in messages: "datadog webhook", "sentry issue webhook"."""
    return "datadog webhook" if source == "datadog" else f"{source} {resource} webhook"


def require_key(source: str, resource: str, payload: Mapping[str, object]) -> str:
    """Return the payload's dedup key, or raise Permanent naming the field that carries it."""
    key = alert_key(source, resource, dict(payload))
    if key is None:
        raise Permanent(f"{webhook_unit(source, resource)}: {key_fields(source, resource)} "
                        "missing", reason="bad_payload")
    return key


def json_object(body: bytes) -> dict[str, object]:
    """Decode a webhook body that must be a JSON object; ValueError says what it is instead."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError("body is not valid UTF-8") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"body is not JSON ({error.msg})") from error
    except RecursionError as error:
        raise ValueError("body is nested too deeply") from error
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    return payload
