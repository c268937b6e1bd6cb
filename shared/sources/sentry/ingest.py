"""Sentry's webhooks at ingest: verify the signature, key the alert, publish its resources."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from shared.core.errors import Unauthorized
from shared.core.settings import checked_against
from shared.sources.base import (
    Accepted,
    Answer,
    IngestContext,
    Message,
    Webhook,
    alert_attributes,
    json_payload,
)
from shared.sources.sentry.keys import RESOURCES, alert_key, key_fields, webhook_unit
from shared.sources.sentry.verify import verify_sentry

log = logging.getLogger(__name__)

#: Requests under this path are the alert-rule UI's (rule_ingest.py, rule_schema.py), answered
#: whatever their method and never published.
RULE_PATHS = "/sentry/"
#: Longest sender delivery id kept; Sentry's Request-ID is a UUID.
MAX_DELIVERY_ID_CHARS = 128


def claims(hook: Webhook) -> bool:
    """Tell whether a request carries Sentry's webhook headers."""
    return any(name.startswith("sentry-hook-") for name in hook.headers)


def accept(hook: Webhook, context: IngestContext) -> Accepted | Answer:
    """Verify a webhook and return its message; a resource that opens no task is ignored."""
    if not verify_sentry(hook.body, hook.headers.get("sentry-hook-signature"),
                         context.secret("SENTRY_CLIENT_SECRET")):
        # Logged only (the answer is a bare 401): which credential was checked, never a value.
        raise Unauthorized("sentry signature missing or wrong: checked against "
                           + checked_against("SENTRY_CLIENT_SECRET"))
    resource = hook.headers.get("sentry-hook-resource", "").strip()
    if resource not in RESOURCES:
        log.info("webhook ignored", extra={"event": "webhook_ignored", "source": "sentry",
                                           "resource": hook.headers.get("sentry-hook-resource",
                                                                        ""),
                                           "request_id": hook.request_id})
        return Answer(200, {"status": "ignored"})
    payload = json_payload(hook.body)
    now = context.now()
    attributes = alert_attributes(hook, now, source="sentry", resource=resource,
                                  action=payload.get("action"),
                                  key=alert_key(resource, payload), unit=webhook_unit(resource),
                                  key_fields=key_fields(resource))
    return Accepted((Message(hook.body, {**attributes,
                                         **delivery_attributes(hook.headers, now)}),))


def delivery_attributes(headers: Mapping[str, str], now: datetime) -> dict[str, str]:
    """Return the sender's id of this delivery and its send time, where the sender gives them.

    Sentry sends a ``Request-ID`` and a ``Sentry-Hook-Timestamp`` (unix seconds, Sentry's
    clock) with every request. Neither is signed, so neither is trusted beyond what it can
    do: the id only tells a new delivery from a redelivery of one we published, and the time
    is never later than our receipt, so a forged one cannot make a webhook outrank what the
    source says next.
    """
    found: dict[str, str] = {}
    delivery_id = headers.get("request-id", "").strip()
    if delivery_id and len(delivery_id) <= MAX_DELIVERY_ID_CHARS and delivery_id.isprintable() \
            and delivery_id.isascii():
        found["delivery_id"] = delivery_id
    stamp = headers.get("sentry-hook-timestamp", "").strip()
    if stamp.isdigit() and stamp.isascii():
        try:
            sent = datetime.fromtimestamp(int(stamp), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return found
        found["source_time"] = min(sent, now).isoformat(timespec="milliseconds")
    return found
