"""The dedup key of an Azure Monitor alert: its ``data.essentials.alertId``.

Microsoft's common alert schema gives every alert instance one ``alertId`` (the resource id of
the alert in Alerts Management), sent unchanged when it fires and when it resolves: one task per
alert instance, its resolve closing that task. A rule that fires again after resolving opens a
new instance with a new ``alertId``, so a new task, as Azure's own alert list shows it.
"""

from __future__ import annotations

RESOURCE = "azure"
PREFIX = "azure:alert:"
UNIT = "azure monitor webhook"
KEY_FIELDS = "data.essentials.alertId"


def alert_key(resource: str, payload: object) -> str | None:
    """Return the dedup key of a common-schema body, or None when it carries no alertId."""
    data = payload.get("data") if isinstance(payload, dict) else None
    essentials = data.get("essentials") if isinstance(data, dict) else None
    alert_id = essentials.get("alertId") if isinstance(essentials, dict) else None
    # As alert.parse_alert reads it: a non-empty string, unchanged.
    return f"{PREFIX}{alert_id}" if isinstance(alert_id, str) and alert_id else None
