"""An Azure Monitor alert in the common alert schema, as an action group's webhook posts it.

Microsoft's "Common alert schema" page: ``schemaId`` is ``azureMonitorCommonAlertSchema``, and
``data.essentials`` holds what every alert type shares: ``alertId`` (the alert instance's resource
id, the same when it fires and when it resolves), ``monitorCondition`` ``Fired`` / ``Resolved``,
``severity`` ``Sev0``–``Sev4``, ``firedDateTime`` / ``resolvedDateTime`` (UTC; the latter "currently
only applicable for metric alerts"), ``alertTargetIDs`` (Azure Resource Manager ids of the affected
resources), ``alertRule``, ``signalType``, ``monitoringService``, ``description``. The result is
plain data; mapping it to the service's alert model is the slice's job.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.core.errors import Rejected

SCHEMA_ID = "azureMonitorCommonAlertSchema"


class AzureAction(enum.StrEnum):
    """What a notification asks of the alert's task."""

    TRIGGER = "trigger"  # monitorCondition Fired
    RESOLVE = "resolve"  # monitorCondition Resolved


CONDITIONS = {"Fired": AzureAction.TRIGGER, "Resolved": AzureAction.RESOLVE}
_SEVERITY = re.compile(r"Sev([0-4])")
#: ``/subscriptions/<id>/resourceGroups/<name>/…``; Azure spells the segments in any case.
_RESOURCE = re.compile(
    r"/subscriptions/(?P<subscription>[^/]+)(?:/resourcegroups/(?P<group>[^/]+))?", re.IGNORECASE)


@dataclass(frozen=True)
class AzureAlert:
    """One alert notification, with the fields routing and the task need."""

    key: str  # essentials.alertId
    action: AzureAction
    condition: str  # monitorCondition: Fired | Resolved
    severity: str | None  # "Sev0".."Sev4" as sent
    severity_level: int | None  # 0 (critical) .. 4 (verbose)
    occurred_at: datetime | None  # firedDateTime when Fired, resolvedDateTime when Resolved
    fired_at: datetime | None
    resolved_at: datetime | None
    rule: str | None  # alertRule
    signal_type: str | None  # Metric | Log | Activity Log
    monitoring_service: str | None
    description: str | None
    target_ids: tuple[str, ...]  # alertTargetIDs
    subscription_id: str | None  # of the first target naming a resource group (else alertId's)
    resource_group: str | None
    configuration_items: tuple[str, ...]
    custom_properties: tuple[tuple[str, str], ...]


def parse_alert(body: bytes) -> AzureAlert:
    """Return the alert of a common-schema webhook body; Rejected if it is not one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(f"azure: body is not JSON: {error}", reason="malformed") from error
    if not isinstance(payload, dict) or payload.get("schemaId") != SCHEMA_ID:
        raise Rejected(f"azure: body is not the common alert schema (schemaId {SCHEMA_ID!r}); "
                       "enable it on the action group's webhook", reason="malformed")
    data = payload.get("data")
    essentials = data.get("essentials") if isinstance(data, dict) else None
    if not isinstance(essentials, dict):
        raise Rejected("azure: common alert schema without data.essentials", reason="malformed")
    key = _text(essentials, "alertId")
    if key is None:
        raise Rejected("azure: essentials.alertId missing", reason="malformed")
    condition = _text(essentials, "monitorCondition") or ""
    action = CONDITIONS.get(condition)
    if action is None:
        raise Rejected(f"azure: monitorCondition {condition[:40]!r} is neither Fired nor "
                       "Resolved", reason="malformed")
    severity = _text(essentials, "severity")
    level = _SEVERITY.fullmatch(severity or "")
    fired = _time(essentials, "firedDateTime")
    resolved = _time(essentials, "resolvedDateTime")
    targets = _texts(essentials.get("alertTargetIDs"))
    subscription, group = _scope(targets, key)
    properties = data.get("customProperties") if isinstance(data, dict) else None
    return AzureAlert(
        key=key, action=action, condition=condition, severity=severity,
        severity_level=int(level[1]) if level else None,
        occurred_at=fired if action is AzureAction.TRIGGER else resolved,
        fired_at=fired, resolved_at=resolved, rule=_text(essentials, "alertRule"),
        signal_type=_text(essentials, "signalType"),
        monitoring_service=_text(essentials, "monitoringService"),
        description=_text(essentials, "description"), target_ids=targets,
        subscription_id=subscription, resource_group=group,
        configuration_items=_texts(essentials.get("configurationItems")),
        custom_properties=tuple((str(k), str(v)) for k, v in properties.items()
                                if isinstance(v, str | int | float | bool))
        if isinstance(properties, dict) else ())


def _text(essentials: Mapping[str, object], name: str) -> str | None:
    value = essentials.get(name)
    return value if isinstance(value, str) and value else None


def _texts(raw: object) -> tuple[str, ...]:
    return tuple(item for item in raw if isinstance(item, str)) if isinstance(raw, list) else ()


def _time(essentials: Mapping[str, object], name: str) -> datetime | None:
    text = _text(essentials, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)  # "2019-03-22T13:58:24.3713213Z"
    except ValueError as error:
        raise Rejected(f"azure: {name} {text[:40]!r} is not ISO 8601", reason="malformed") \
            from error
    if moment.tzinfo is None:
        raise Rejected(f"azure: {name} {text[:40]!r} has no time zone", reason="malformed")
    return moment


def _scope(targets: tuple[str, ...], alert_id: str) -> tuple[str | None, str | None]:
    """Return the subscription and resource group of the first target naming them (or alertId)."""
    matches = [m for m in map(_RESOURCE.match, (*targets, alert_id)) if m is not None]
    for match in matches:
        if match["group"]:
            return match["subscription"], match["group"]
    return (matches[0]["subscription"], None) if matches else (None, None)
