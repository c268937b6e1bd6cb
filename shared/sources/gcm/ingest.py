"""Cloud Monitoring's webhook channels at ingest: check the token, key the incident, publish it.

``webhook_tokenauth`` channels cannot set headers, so the secret travels in the URL
(``?source=gcm&auth_token=...``); ``webhook_basicauth`` channels send it as the Basic password.
Both are compared in constant time against GCM_WEBHOOK_TOKEN's active values (two during a
rotation). The preferred ``pubsub`` channel never comes here (see pubsub.py).
"""

from __future__ import annotations

import base64
import binascii

from shared.core.errors import ConfigError, Permanent, Rejected, Unauthorized
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
from shared.sources.gcm.keys import KEY_FIELDS, RESOURCE, UNIT, alert_key

NAME = "gcm"
TOKEN_PARAMETER = "auth_token"
CREDENTIAL = "GCM_WEBHOOK_TOKEN"


def claims(hook: Webhook) -> bool:
    """Tell whether a request was sent to the channel's URL (it names the source)."""
    return hook.query.get("source") == NAME


def accept(hook: Webhook, context: IngestContext) -> Accepted:
    """Check the URL token or the Basic password and return the incident's message."""
    try:
        tokens = context.secret(CREDENTIAL)
    except ConfigError as error:
        # The webhook channels are off (Terraform creates the secret only when they are on):
        # a request naming this source is then refused like a wrong token, never a 503 that
        # anyone on the internet could cause.
        raise Unauthorized(f"cloud monitoring webhook channels not configured: {error}") \
            from error
    if not verify_token(given_secret(hook), tokens):
        raise Unauthorized("cloud monitoring token missing or wrong (URL auth_token or Basic "
                           "password): checked against " + checked_against(CREDENTIAL))
    payload = json_payload(hook.body)
    return Accepted((Message(hook.body, attributes(hook, payload, context)),))


def given_secret(hook: Webhook) -> str | None:
    """Return the secret a request carries: the URL token, else the Basic password."""
    if TOKEN_PARAMETER in hook.query:
        return hook.query[TOKEN_PARAMETER]  # when given, it alone decides
    scheme, _, encoded = hook.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon else None


def attributes(hook: Webhook, payload: dict[str, object], context: IngestContext
               ) -> dict[str, str]:
    """Return the message attributes of a verified incident; Rejected (400) when unusable."""
    from shared.sources.gcm import incident  # off the cold-start path of other webhooks

    now = context.now()
    try:
        incident.action_of(payload)
    except Permanent as error:
        raise Rejected(str(error), reason="malformed") from error
    found = alert_attributes(hook, now, source=NAME, resource=RESOURCE,
                             action=incident.state_of(payload),
                             key=alert_key(RESOURCE, payload), unit=UNIT, key_fields=KEY_FIELDS)
    said = incident.source_time(payload)
    if said is not None:
        found["source_time"] = min(said, now).isoformat(timespec="milliseconds")
    return found
