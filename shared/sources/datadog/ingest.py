"""Datadog's webhooks at ingest: check the shared-secret header, key the alert, publish it."""

from __future__ import annotations

from shared.core.errors import Unauthorized
from shared.core.settings import checked_against
from shared.core.signatures import verify_token
from shared.sources.base import (
    Accepted,
    IngestContext,
    Message,
    Webhook,
    alert_attributes,
    json_payload,
)
from shared.sources.datadog.keys import KEY_FIELDS, RESOURCE, UNIT, alert_key

HEADER = "datadog-secret-token"


def claims(hook: Webhook) -> bool:
    """Tell whether a request carries the webhook's shared-secret header."""
    return HEADER in hook.headers


def accept(hook: Webhook, context: IngestContext) -> Accepted:
    """Check the token and return the webhook's message."""
    if not verify_token(hook.headers.get(HEADER), context.secret("DATADOG_SECRET_TOKEN")):
        raise Unauthorized("datadog token wrong: checked against "
                           + checked_against("DATADOG_SECRET_TOKEN"))
    payload = json_payload(hook.body)
    attributes = alert_attributes(hook, context.now(), source="datadog", resource=RESOURCE,
                                  action=payload.get("alert_transition"),
                                  key=alert_key(RESOURCE, payload), unit=UNIT,
                                  key_fields=KEY_FIELDS)
    return Accepted((Message(hook.body, attributes),))
