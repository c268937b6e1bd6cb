"""The dedup key of a Cloud Monitoring incident: its incident id, the same on open and close."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from shared.core.errors import Permanent
from shared.core.payload import clean_text
from shared.core.pubsub_attributes import MAX_VALUE_BYTES, encodable

RESOURCE = "gcm_incident"
INCIDENT_PREFIX = "gcm:incident:"
#: No incident id at all (Google's own test notifications): policy + condition + resource.
POLICY_PREFIX = "gcm:policy:"
UNIT = "cloud monitoring incident"
KEY_FIELDS = ("incident.incident_id, the incident id in incident.url, or incident.policy_name "
              "with its condition and resource")

# The console link names the incident: .../monitoring/alerting/incidents/<id>?project=...
# (and the older app.google.stackdriver.com/incidents/<id>).
_URL_INCIDENT = re.compile(r"/incidents/([A-Za-z0-9._-]{1,200})(?:[/?#]|$)")


def incident(payload: object) -> Mapping[str, object] | None:
    """Return the payload's ``incident`` object, None when it has none."""
    if not isinstance(payload, dict):
        return None
    inner = payload.get("incident")
    return inner if isinstance(inner, dict) else None


def alert_key(resource: str, payload: object) -> str | None:
    """Return the dedup key of an incident notification, None when it carries no usable id."""
    found = incident(payload)
    if found is None:
        return None
    incident_id = clean_text(found.get("incident_id"))
    if incident_id:
        return f"{INCIDENT_PREFIX}{incident_id}"
    from_url = _URL_INCIDENT.search(clean_text(found.get("url")) or "")
    if from_url:
        return f"{INCIDENT_PREFIX}{from_url.group(1)}"
    policy = clean_text(found.get("policy_name"))
    if not policy:
        return None
    # Stable across open and close, but also across two incidents of the same policy on the
    # same resource: the second one reopens the first one's task (docs/cloud-monitoring.md).
    parts = [project_of(found), policy, condition_of(found), *_resource_parts(found)]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
    return f"{POLICY_PREFIX}{digest}"


def require_key(payload: Mapping[str, object]) -> str:
    """Return the payload's dedup key, or raise Permanent naming the fields that carry it."""
    key = alert_key(RESOURCE, dict(payload))
    if key is None:
        raise Permanent(f"{UNIT}: none of {KEY_FIELDS}", reason="bad_payload")
    # Ingest refuses these (base.alert_attributes); the pubsub channel's messages skip ingest.
    if encodable(key) != key:
        raise Permanent(f"{UNIT}: incident id holds a lone UTF-16 surrogate",
                        reason="bad_payload")
    if len(key.encode("utf-8")) > MAX_VALUE_BYTES:
        raise Permanent(f"{UNIT}: incident id longer than {MAX_VALUE_BYTES} bytes",
                        reason="bad_payload")
    return key


def project_of(found: Mapping[str, object]) -> str | None:
    """Return the GCP project the incident is about (the scoping project, else the resource's)."""
    project = clean_text(found.get("scoping_project_id"))
    if project:
        return project
    resource = found.get("resource")
    labels = resource.get("labels") if isinstance(resource, dict) else None
    return clean_text(labels.get("project_id")) if isinstance(labels, dict) else None


def condition_of(found: Mapping[str, object]) -> str | None:
    """Return the condition's display name."""
    name = clean_text(found.get("condition_name"))
    if name:
        return name
    condition = found.get("condition")
    if isinstance(condition, dict):
        return clean_text(condition.get("displayName")) or clean_text(condition.get("name"))
    return None


def _resource_parts(found: Mapping[str, object]) -> list[str]:
    resource = found.get("resource")
    parts = [clean_text(found.get("resource_name")) or ""]
    if isinstance(resource, dict):
        parts.append(clean_text(resource.get("type")) or "")
        labels = resource.get("labels")
        if isinstance(labels, dict):
            parts += [f"{k}={clean_text(v) or ''}" for k, v in sorted(labels.items())]
    return parts
