"""Datadog: monitor notifications through a webhook integration, link-back as events, two-way
sync as events, and reconciliation of alerting monitors."""

from __future__ import annotations

from shared.sources.base import Source
from shared.sources.datadog import ingest, keys

SOURCE = Source(
    name="datadog",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header=ingest.HEADER,
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
)
