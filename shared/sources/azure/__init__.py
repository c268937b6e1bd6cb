"""Azure Monitor alerts delivered by an action group's webhook or Secure Webhook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.sources.azure import ingest, keys
from shared.sources.base import Source

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.sources.build import Build

#: The common alert schema's id (alert.py's SCHEMA_ID, repeated here to keep this module light).
SCHEMA_ID = "azureMonitorCommonAlertSchema"


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.azure import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


def _ingest_service(build: Build) -> Any:
    from shared.sources.azure import build as azure_build

    return azure_build.ingest_service(build)


def _sniff(payload: object) -> str | None:
    is_azure = isinstance(payload, dict) and payload.get("schemaId") == SCHEMA_ID
    return keys.RESOURCE if is_azure else None


SOURCE = Source(
    name="azure",
    claims=ingest.claims,
    accept=ingest.accept,
    credentials=(ingest.CREDENTIAL,),
    ingest_service=_ingest_service,
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    sniff=_sniff,
    # Its severity (Sev0-Sev4) is in Alert.priority, as Datadog's P1-P5 is: explain-route's
    # key=value alerts name it with source=azure priority=Sev1, so priority=P2 stays Datadog's.
    severity_field=None,
)
