"""Grafana Alerting's webhook contact point at ingest: check the HMAC signature (and its
timestamp), publish one message per alert of the notification."""

from __future__ import annotations

from shared.core.errors import Unauthorized
from shared.core.settings import checked_against
from shared.sources.base import Accepted, IngestContext, Webhook, json_payload
from shared.sources.grafana.keys import RESOURCE, UNIT, key_of
from shared.sources.grafana.verify import DEFAULT_SIGNATURE_HEADER, Signing, why_refused
from shared.sources.grouped import messages, read_group, rejected

#: The path of the URL the contact point posts to (docs/grafana.md).
PATH = "/grafana"
CREDENTIAL = "GRAFANA_WEBHOOK_SECRET"
HEADER = DEFAULT_SIGNATURE_HEADER.lower()


def claims(hook: Webhook) -> bool:
    """Tell whether a request is Grafana's: posted to its path, or with its signature header."""
    return hook.path.rstrip("/") == PATH or HEADER in hook.headers


def accept(hook: Webhook, context: IngestContext) -> Accepted:
    """Check the signature and return one message per alert of the notification."""
    signing = context.service("grafana") or Signing()
    now = context.now()
    why = why_refused(hook.body, hook.headers, context.secret(CREDENTIAL), signing, now)
    if why is not None:
        raise Unauthorized(f"grafana signature refused ({why}): checked against "
                           + checked_against(CREDENTIAL))
    group = read_group(json_payload(hook.body), UNIT, rejected)
    return Accepted(messages(hook, now, group, source="grafana", resource=RESOURCE,
                             key=key_of, unit=UNIT))
