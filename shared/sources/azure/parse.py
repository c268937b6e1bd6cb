"""Azure Monitor's common-schema alert (alert.py) as the service's normalized alert.

Routing sees the alert's scope and origin as match fields (docs/azure-monitor.md):
``subscription``, ``resource_group``, ``resource_type`` (lower case, e.g.
``microsoft.compute/virtualmachines``), ``target_resource`` (the resource's name),
``target_resource_id``, ``monitoring_service``, ``alert_rule``, ``signal_type``, ``severity``
and ``monitor_condition``, after the rule's custom properties (which cannot hide them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from shared.core.alert import Action, Alert
from shared.core.errors import Permanent, Rejected
from shared.core.payload import parse_time
from shared.sources.azure.alert import AzureAction, AzureAlert, parse_alert
from shared.sources.azure.keys import PREFIX, RESOURCE, UNIT

#: The portal's page of one alert instance.
PORTAL_ALERT = ("https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/"
                "AlertDetails.ReactView/alertId~/{alert_id}")
_PROVIDERS = re.compile(r"/providers/", re.IGNORECASE)
_ACTIONS = {AzureAction.TRIGGER: Action.TRIGGERED, AzureAction.RESOLVE: Action.RESOLVED}


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published webhook body; Permanent if it never can be."""
    try:
        alert = parse_alert(body)
    except (Rejected, RecursionError) as error:
        raise Permanent(f"{UNIT}: {error}", reason="bad_payload") from error
    return to_alert(alert, attributes)


def to_alert(alert: AzureAlert, attributes: Mapping[str, str] | None = None) -> Alert:
    """Return the normalized alert of a parsed common-schema alert."""
    attributes = attributes or {}
    target = alert.target_ids[0] if alert.target_ids else None
    resource_type, name = resource_type_and_name(target)
    if name is None and alert.configuration_items:
        name = alert.configuration_items[0]
    properties = dict(alert.custom_properties)
    fields = {
        "subscription": alert.subscription_id,
        "resource_group": alert.resource_group,
        "resource_type": resource_type,
        "target_resource": name,
        "target_resource_id": target,
        "monitoring_service": alert.monitoring_service,
        "alert_rule": alert.rule,
        "signal_type": alert.signal_type,
        "severity": alert.severity,
        "monitor_condition": alert.condition,
    }
    tags = [(k, v) for k, v in alert.custom_properties if k not in fields]
    tags += [(k, v) for k, v in fields.items() if v]
    rule = alert.rule or "Azure Monitor alert"
    return Alert(
        source="azure",
        resource=RESOURCE,
        key=f"{PREFIX}{alert.key}",
        action=_ACTIONS[alert.action],
        title=f"{rule} on {name}" if name else rule,
        external_id=alert.key,
        url=PORTAL_ALERT.format(alert_id=quote(alert.key, safe="")),
        priority=alert.severity if alert.severity_level is not None else None,
        environment=properties.get("environment") or properties.get("env") or None,
        occurred_at=alert.occurred_at or parse_time(attributes.get("received_at")),
        transition=alert.condition,
        tags=tuple(tags),
        rule=alert.rule,
        description=alert.description,
    )


def resource_type_and_name(resource_id: str | None) -> tuple[str | None, str | None]:
    """Return the lower-case type and the name of an Azure Resource Manager id.

    ``…/providers/<namespace>/<type>/<name>[/<type>/<name>…]``, the last provider's part (an
    extension resource names its parent's provider first): ``microsoft.sql/servers/databases``
    and ``db1`` for ``…/providers/Microsoft.Sql/servers/s1/databases/db1``.
    """
    parts = _PROVIDERS.split(resource_id or "")
    if len(parts) < 2:
        return None, None
    namespace, *rest = parts[-1].strip("/").split("/")
    if not namespace or not rest or len(rest) % 2 or not all(rest):
        return None, None
    return "/".join([namespace, *rest[0::2]]).lower(), rest[-1]
