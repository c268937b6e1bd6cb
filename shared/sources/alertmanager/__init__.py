"""Prometheus Alertmanager: a receiver's webhook_config (payload version 4), one task per alert
fingerprint, firing and resolved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.sources.alertmanager import ingest, keys
from shared.sources.base import Source

if TYPE_CHECKING:
    from shared.core.alert import Alert


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.alertmanager import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


def _sniff(payload: object) -> str | None:
    # Payload version 4 with a groupKey is Alertmanager's; Grafana's says version "1".
    if isinstance(payload, dict) and isinstance(payload.get("alerts"), list) \
            and str(payload.get("version")) == "4" and "groupKey" in payload:
        return keys.RESOURCE
    return None


SOURCE = Source(
    name="alertmanager",
    claims=ingest.claims,
    accept=ingest.accept,
    credentials=(ingest.CREDENTIAL,),
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    sniff=_sniff,
)
