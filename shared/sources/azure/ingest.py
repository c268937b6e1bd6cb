"""Azure Monitor's webhooks at ingest: check the caller, key the alert, publish it.

A request is Azure's when it is posted to ``/azure`` (the URL the action group is given). Two
ways in, either or both configured:

* Secure Webhook: ``Authorization: Bearer`` with an Entra ID token, verified against the
  configured tenant's signing keys, issuer, audience and the ``ActionGroupsSecureWebhook`` role
  (entra.py); a request carrying an ``Authorization`` header is judged by it alone;
* a plain webhook: ``?token=`` in the URL (the action group's webhook sends no headers), equal
  to one of the ``AZURE_WEBHOOK_TOKEN`` values (two during a rotation), compared in constant time.

Failures that a retry can fix (the tenant's keys unreachable, Pub/Sub down) are ``Transient``:
ingest answers them 503, one of the only statuses Azure retries (408, 429, 503, 504).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shared.core.errors import ConfigError, Rejected, Unauthorized
from shared.core.settings import checked_against
from shared.sources.azure.keys import KEY_FIELDS, PREFIX, RESOURCE, UNIT
from shared.sources.base import Accepted, IngestContext, Message, Webhook, alert_attributes

if TYPE_CHECKING:
    from shared.sources.azure.build import AzureIngest

#: The path the action group posts to: ``<ingest URL>/azure`` (and ``?token=…`` without Entra).
PATH = "/azure"
QUERY_TOKEN = "token"
CREDENTIAL = "AZURE_WEBHOOK_TOKEN"


def claims(hook: Webhook) -> bool:
    """Tell whether a request is posted to the Azure Monitor path."""
    return hook.path.rstrip("/") == PATH


def accept(hook: Webhook, context: IngestContext) -> Accepted:
    """Verify the caller, then parse the common-schema body and return its message."""
    now = context.now()
    _verify(hook, context, now)
    from shared.sources.azure.alert import parse_alert  # light, but off the cold-start path

    try:
        alert = parse_alert(hook.body)
    except RecursionError as error:
        raise Rejected("azure: body is nested too deeply", reason="malformed") from error
    attributes = alert_attributes(hook, now, source="azure", resource=RESOURCE,
                                  action=alert.condition, key=f"{PREFIX}{alert.key}",
                                  unit=UNIT, key_fields=KEY_FIELDS)
    if alert.occurred_at is not None:
        # firedDateTime / resolvedDateTime: Azure's clock, never later than our receipt.
        attributes["source_time"] = min(alert.occurred_at, now).isoformat(
            timespec="milliseconds")
    return Accepted((Message(hook.body, attributes),))


def _verify(hook: Webhook, context: IngestContext, now: datetime) -> None:
    from shared.sources.azure import entra  # jwt and cryptography: only for Azure's requests

    service: AzureIngest | None = context.service("azure")
    secure = service.secure if service is not None else None
    authorization = hook.headers.get("authorization")
    if authorization is not None:
        if secure is None:
            raise Unauthorized("azure: a bearer token came but Secure Webhook is off "
                               "(AZURE_TENANT_ID is not set)")
        entra.verify_bearer(authorization, secure.policy, secure.keys, now)
        return
    given = hook.query.get(QUERY_TOKEN)
    if not given:
        raise Unauthorized(f"azure: no Authorization header and no ?{QUERY_TOKEN}= in the URL")
    try:
        expected = context.secret(CREDENTIAL)
    except ConfigError as error:
        # Not set: URL tokens are not a way in (Secure Webhook alone, or Azure Monitor not
        # used). A 401, not a 503: a forged request must not make the deployment answer 5xx
        # or log a configuration error. Secret Manager unreachable stays Transient (503).
        raise Unauthorized(f"azure: a URL token came but {CREDENTIAL} is not set"
                           f"{'' if secure is not None else ' and neither is AZURE_TENANT_ID'}"
                           f" ({error})") from None
    if not entra.verify_query_token(given, expected):
        raise Unauthorized("azure URL token wrong: checked against " + checked_against(CREDENTIAL))
