"""Google Cloud Monitoring: incidents from a ``pubsub`` notification channel (pushed straight to
the worker) or from ``webhook_tokenauth`` / ``webhook_basicauth`` channels through ingest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from shared.sources.base import Source
from shared.sources.gcm import ingest, keys

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.core.envelope import PushMessage


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.gcm import incident  # off the cold-start path of ingest

    return incident.parse_message(body, attributes)


def _adopt(message: PushMessage, now: datetime, claimed: bool) -> PushMessage | None:
    from shared.sources.gcm import pubsub

    return pubsub.adopt(message, now, claimed)


def _sniff(payload: object) -> str | None:
    # Version 1.x incident notifications: {"incident": {...}, "version": "1.2"}.
    return keys.RESOURCE if keys.incident(payload) is not None else None


SOURCE = Source(
    name="gcm",
    claims=ingest.claims,
    accept=ingest.accept,
    credentials=(ingest.CREDENTIAL,),
    adopt=_adopt,
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    sniff=_sniff,
    # Its severity is Alert.level, as Sentry's: explain-route's key=value alerts name it with
    # source=gcm (a severity field would take level=error from Sentry).
)
