"""Grafana Alerting: a webhook contact point signed with HMAC-SHA256, one task per alert
fingerprint, firing and resolved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.sources.base import Source
from shared.sources.grafana import ingest, keys

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.sources.build import Build


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.grafana import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


def _signing(build: Build) -> Any:
    from shared.sources.grafana import build as grafana_build

    return grafana_build.signing(build)


def _sniff(payload: object) -> str | None:
    # Grafana's body is Alertmanager's shape with version "1", an orgId and its own URLs.
    if isinstance(payload, dict) and isinstance(payload.get("alerts"), list) \
            and (str(payload.get("version")) == "1" or "orgId" in payload):
        return keys.RESOURCE
    return None


SOURCE = Source(
    name="grafana",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header=ingest.HEADER,
    credentials=(ingest.CREDENTIAL,),
    ingest_service=_signing,
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    sniff=_sniff,
)
