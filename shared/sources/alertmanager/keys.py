"""The dedup key of an Alertmanager alert: its fingerprint, one task per alert."""

from __future__ import annotations

from shared.core.payload import clean_text
from shared.sources.grouped import Group, GroupedAlert

RESOURCE = "alertmanager"
PREFIX = "alertmanager:"
UNIT = "alertmanager webhook"


def key_of(alert: GroupedAlert, group: Group) -> str:
    """Return the key of one alert of a notification (the group does not enter it).

    The fingerprint is Alertmanager's hash of the alert's label set: it stays the same while the
    alert fires, is repeated and resolves, whatever group or receiver carries it. A group key
    would merge unrelated alerts (every pod of a deployment) into one task whose resolve comes
    only when the last of them resolves.
    """
    return f"{PREFIX}{alert.fingerprint}"


def alert_key(resource: str, payload: object) -> str | None:
    """Return the key of a payload's first alert (a body, or one alert), None without one."""
    if not isinstance(payload, dict):
        return None
    alerts = payload.get("alerts")
    first = alerts[0] if isinstance(alerts, list) and alerts else payload
    fingerprint = clean_text(first.get("fingerprint")) if isinstance(first, dict) else None
    return f"{PREFIX}{fingerprint}" if fingerprint else None
