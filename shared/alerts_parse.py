"""Pick the parser of a Pub/Sub message by its attributes: the one entry point to the parsers."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.alert import Alert
from shared.core.errors import Permanent
from shared.core.payload import clean_text, json_object, parse_time
from shared.sources.datadog import parse as alerts_datadog
from shared.sources.sentry import parse as alerts_sentry
from shared.sources.sentry.keys import RESOURCES as SENTRY_RESOURCES


def parse_alert(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a raw webhook body and its Pub/Sub attributes; Permanent if it never can be."""
    source = clean_text(attributes.get("source"))
    resource = clean_text(attributes.get("resource"))
    received_at = parse_time(attributes.get("received_at"))
    if source == "datadog":
        return alerts_datadog.parse(_json_object(body, "datadog webhook"), received_at)
    if source != "sentry":
        raise Permanent(
            f"pubsub message: attribute 'source' is {source!r}, expected 'sentry' or 'datadog'",
            reason="bad_payload",
        )
    if resource not in SENTRY_RESOURCES:
        raise Permanent(
            f"sentry webhook: attribute 'resource' is {resource!r}, expected one of "
            f"{', '.join(SENTRY_RESOURCES)}",
            reason="bad_payload",
        )
    unit = f"sentry {resource} webhook"
    return alerts_sentry.parse(resource, _json_object(body, unit), received_at)


def _json_object(body: bytes, unit: str) -> dict[str, object]:
    try:
        return json_object(body)
    except ValueError as error:
        raise Permanent(f"{unit}: {error}", reason="bad_payload") from error
