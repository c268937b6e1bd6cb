"""The dedup key of a Datadog webhook: one per alert cycle, else per event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from shared.core.errors import Permanent
from shared.core.payload import clean_text

RESOURCE = "datadog"
CYCLE_PREFIX = "datadog:cycle:"
#: The cycle key reconciliation gives an alert whose webhook was lost (the monitor API does not
#: give the real one): ``reconcile-<monitor id>-<epoch of the monitor's state change>``.
RECONCILED = "reconcile-"
RECONCILED_PREFIX = f"{CYCLE_PREFIX}{RECONCILED}"
EVENT_PREFIX = "datadog:event:"
UNIT = "datadog webhook"
KEY_FIELDS = "alert_cycle_key or id"


def alert_key(resource: str, payload: object) -> str | None:
    """Return the dedup key of a webhook payload, or None when it carries no usable id."""
    if not isinstance(payload, dict):
        return None
    cycle = clean_text(payload.get("alert_cycle_key"))
    if cycle:
        return f"{CYCLE_PREFIX}{cycle}"
    event_id = clean_text(payload.get("id"))
    return f"{EVENT_PREFIX}{event_id}" if event_id else None


def require_key(payload: Mapping[str, object]) -> str:
    """Return the payload's dedup key, or raise Permanent naming the fields that carry it."""
    key = alert_key(RESOURCE, dict(payload))
    if key is None:
        raise Permanent(f"{UNIT}: {KEY_FIELDS} missing", reason="bad_payload")
    return key


def reconciled_cycle(monitor_id: object, began: datetime | None) -> str:
    """Return the synthetic cycle key of a monitor's Alert that began at ``began``."""
    return f"{RECONCILED}{monitor_id}-{int(began.timestamp()) if began else 0}"


def reconciled_began(key: str) -> datetime | None:
    """Return when the Alert a synthetic key names began, None when the key does not say."""
    stamp = key.rsplit("-", 1)[-1]
    return datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() and stamp != "0" else None
