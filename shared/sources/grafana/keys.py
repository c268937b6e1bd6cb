"""The dedup key of a Grafana alert: its organization and fingerprint, one task per alert."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.payload import clean_text
from shared.sources.grouped import Group, GroupedAlert

RESOURCE = "grafana"
PREFIX = "grafana:"
UNIT = "grafana webhook"


def key_of(alert: GroupedAlert, group: Group) -> str:
    """Return the key of one alert of a notification (the group does not enter it).

    Grafana's fingerprint hashes the alert instance's labels, the same from firing to resolved;
    its organization keeps two organizations' alerts of the same labels apart.
    """
    return _key(alert.raw, group.raw, alert.fingerprint)


def alert_key(resource: str, payload: object) -> str | None:
    """Return the key of a payload's first alert (a body, or one alert), None without one."""
    if not isinstance(payload, dict):
        return None
    alerts = payload.get("alerts")
    first = alerts[0] if isinstance(alerts, list) and alerts else payload
    if not isinstance(first, dict):
        return None
    fingerprint = clean_text(first.get("fingerprint"))
    return _key(first, payload, fingerprint) if fingerprint else None


def _key(alert: Mapping[str, object], body: Mapping[str, object], fingerprint: str) -> str:
    org = clean_text(alert.get("orgId")) or clean_text(body.get("orgId"))
    return f"{PREFIX}{org}:{fingerprint}" if org else f"{PREFIX}{fingerprint}"
