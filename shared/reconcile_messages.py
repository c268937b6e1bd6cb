"""The synthetic webhooks reconciliation publishes: their bodies and their Pub/Sub attributes.

Each body has the shape of the webhook that was lost, so the worker parses it like the real one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.payload import clean_text, parse_time

SOURCE_REASON = "reconcile"
SENTRY_ISSUE_PREFIX = "sentry:issue:"
DATADOG_CYCLE_PREFIX = "datadog:cycle:"
# A record being created is as good as an open one: its task is on the way.
LIVE_STATES = ("open", "creating")
ACTOR = {"type": "application", "id": "alert-bridge", "name": "alert-bridge reconciliation"}

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Publication:
    """One synthetic alert to publish, with the attributes ingest would have set."""

    source: str
    resource: str
    action: str
    alert_key: str
    #: "missing" (no webhook arrived), or the state a lost webhook would have brought:
    #: "resolved", "unresolved" (Sentry), "recovered" (Datadog).
    reason: str
    body: bytes
    #: When the source was seen in this state, on the source's own clock (None: the body's).
    source_time: datetime | None = None
    #: A state correction is a delivery of its run (two runs, two deliveries); a missing alert
    #: has no delivery id, so the same body planned by two runs is one delivery.
    correction: bool = False

    def attributes(self, received_at: datetime, request_id: str) -> dict[str, str]:
        """Return the Pub/Sub attributes of the message."""
        attributes = {"source": self.source, "resource": self.resource, "action": self.action,
                      "alert_key": self.alert_key, "received_at": rfc3339(received_at),
                      "request_id": request_id, "source_reason": SOURCE_REASON}
        if self.correction:
            attributes["delivery_id"] = f"{SOURCE_REASON}:{request_id}"
        if self.source_time is not None:
            attributes["source_time"] = rfc3339(self.source_time)
        return attributes


def rfc3339(moment: datetime) -> str:
    """Return a time as the attributes carry it: RFC 3339 in UTC, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def is_live(record: Json, now: datetime) -> bool:
    """Tell whether a ledger document still counts ("expired" is computed, never stored)."""
    expires = record.get("expires_at")
    return not isinstance(expires, datetime) or expires > now


def issue_key(issue_id: str) -> str:
    """Return the alert key the Sentry webhooks of this issue carry."""
    return f"{SENTRY_ISSUE_PREFIX}{issue_id}"


def sentry_issue_webhook(action: str, issue: Json) -> bytes:
    """Return an ``issue`` webhook body (``resolved``, ``unresolved``) around the API's issue."""
    return canonical_json({"action": action, "data": {"issue": dict(issue)}, "actor": ACTOR})


def datadog_webhook(monitor: Json, cycle: str, *, app_url: str,
                    transition: str = "Triggered") -> bytes:
    """Return a body in the webhook template's shape (docs/datadog-webhook-template.json)."""
    monitor_id = str(monitor.get("id"))
    name = clean_text(monitor.get("name")) or f"Datadog monitor {monitor_id}"
    priority = monitor.get("priority")
    tags = monitor.get("tags")
    tags = tags if isinstance(tags, list) else []
    changed = parse_time(monitor.get("overall_state_modified"))
    state = clean_text(monitor.get("overall_state")) or "unknown"
    return canonical_json({
        "id": cycle, "alert_cycle_key": cycle, "alert_transition": transition,
        "alert_id": monitor_id,
        "alert_priority": f"P{priority}" if isinstance(priority, int) else "",
        "alert_scope": "", "alert_status": f"reconciled: the monitor is {state}",
        "alert_title": name, "title": f"[{transition}] {name}",
        "body": str(monitor.get("message") or ""),
        "link": f"{app_url}/monitors/{monitor_id}", "tags": ",".join(str(t) for t in tags),
        "date": int(changed.timestamp() * 1000) if changed else "", "hostname": "",
    })


def as_object(value: object) -> Json:
    """Return ``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def canonical_json(value: object) -> bytes:
    """Return compact JSON: the same value always gives the same bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
