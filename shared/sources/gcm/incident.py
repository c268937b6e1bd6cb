"""Parse a Cloud Monitoring incident notification (payload version 1.2) into an Alert."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.core.alert import Action, Alert
from shared.core.errors import Permanent
from shared.core.payload import clean_text, parse_time
from shared.sources.base import json_message
from shared.sources.gcm.keys import (
    RESOURCE,
    UNIT,
    condition_of,
    incident,
    project_of,
    require_key,
)

STATES = {"open": Action.TRIGGERED, "closed": Action.RESOLVED}
#: incident.severity as Cloud Monitoring writes it ("Critical", "Error", "Warning", "No
#: severity"), or the policy's user label ``severity``; lower-cased into Alert.level.
SEVERITIES = ("critical", "error", "warning")
#: Matcher keys the parser sets itself: a policy user label of the same name does not hide them.
OWN_FIELDS = frozenset({"gcp_project", "policy", "condition", "resource_type", "metric_type",
                        "source", "resource", "title", "level", "severity", "rule", "project",
                        "state"})


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published incident body; Permanent if it never can be."""
    return parse(json_message(body, UNIT), parse_time(attributes.get("received_at")))


def state_of(payload: Mapping[str, object]) -> str:
    """Return the incident's ``state``, lower-cased ("" when missing)."""
    found = incident(payload) or {}
    return (clean_text(found.get("state")) or "").lower()


def action_of(payload: Mapping[str, object]) -> Action:
    """Return what the incident's ``state`` means; Permanent when it is neither open nor closed."""
    state = state_of(payload)
    if state not in STATES:
        raise Permanent(f"{UNIT}: incident.state is {state or 'missing'!r}, expected 'open' or "
                        "'closed'", reason="bad_payload")
    return STATES[state]


def source_time(payload: Mapping[str, object]) -> datetime | None:
    """Return when Cloud Monitoring says the state began: ended_at when closed, else started_at."""
    found = incident(payload) or {}
    closed = state_of(payload) == "closed"
    return (parse_time(found.get("ended_at")) if closed else None) \
        or parse_time(found.get("started_at"))


def parse(payload: Mapping[str, object], received_at: datetime | None) -> Alert:
    """Parse one incident notification."""
    found = incident(payload)
    if found is None:
        raise Permanent(f"{UNIT}: no 'incident' object", reason="bad_payload")
    key = require_key(payload)
    action = action_of(payload)
    tags = match_tags(found)
    labels = dict(tags)
    policy = clean_text(found.get("policy_name"))
    occurred = source_time(payload)
    if occurred is not None and received_at is not None:
        occurred = min(occurred, received_at)  # never later than our receipt
    return Alert(
        source="gcm",
        resource=RESOURCE,
        key=key,
        action=action,
        title=_title(found, policy),
        external_id=clean_text(found.get("incident_id")) or key.rpartition(":")[2],
        url=clean_text(found.get("url")),
        level=severity_of(found),
        environment=labels.get("environment") or labels.get("env") or None,
        occurred_at=occurred or received_at,
        project=project_of(found),
        monitor_id=policy,
        transition=clean_text(found.get("state")),
        tags=tags,
        rule=policy,
        description=_description(found),
        host=clean_text(found.get("resource_name")),
    )


def severity_of(found: Mapping[str, object]) -> str | None:
    """Return critical / error / warning, from the incident or the policy's severity label."""
    for raw in (found.get("severity"), _labels(found.get("policy_user_labels")).get("severity")):
        text = (clean_text(raw) or "").lower()
        if text in SEVERITIES:
            return text
    return None


def match_tags(found: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """Return what teams.yaml matchers see of an incident (docs/cloud-monitoring.md)."""
    resource, metric = _object(found.get("resource")), _object(found.get("metric"))
    own = {
        "gcp_project": project_of(found),
        "policy": clean_text(found.get("policy_name")),
        "condition": condition_of(found),
        "resource_type": clean_text(resource.get("type")),
        "metric_type": clean_text(metric.get("type")),
        "severity": severity_of(found),
        "state": (clean_text(found.get("state")) or "").lower() or None,
    }
    pairs = [(k, v) for k, v in _labels(found.get("policy_user_labels")).items()
             if k not in OWN_FIELDS]
    pairs += [(k, v) for k, v in own.items() if v]
    pairs += [(f"resource.{k}", v) for k, v in _labels(resource.get("labels")).items()]
    pairs += [(f"metric.{k}", v) for k, v in _labels(metric.get("labels")).items()]
    metadata = found.get("metadata")
    if isinstance(metadata, dict):
        pairs += [(f"metadata.{k}", v) for k, v in _labels(metadata.get("user_labels")).items()]
    return tuple(pairs)


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    pairs = ((clean_text(k), clean_text(v)) for k, v in value.items())
    return {k: v or "" for k, v in pairs if k}


def _title(found: Mapping[str, object], policy: str | None) -> str:
    resource = clean_text(found.get("resource_display_name")) \
        or clean_text(found.get("resource_name"))
    if policy:
        return f"{policy} on {resource}" if resource else policy
    summary = clean_text(found.get("summary"))
    if summary:
        return summary
    return f"Cloud Monitoring incident {clean_text(found.get('incident_id')) or ''}".strip()


def _description(found: Mapping[str, object]) -> str | None:
    parts = [clean_text(found.get("summary"))]
    documentation = found.get("documentation")
    if isinstance(documentation, dict):
        parts.append(clean_text(documentation.get("content")))
    return "\n\n".join(p for p in parts if p) or None
