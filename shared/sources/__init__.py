"""The alert sources, registered in one table: adding a source is its folder plus one line here.

The flows (shared/flows/) look a source up in ``SOURCES`` and never name one; the Source type
and what it is called with are in ``base.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.sources import asana, datadog, sentry
from shared.sources.base import Sources

if TYPE_CHECKING:
    from shared.core.alert import Alert

SOURCES = Sources(
    sentry.SOURCE,
    datadog.SOURCE,
    asana.SOURCE,
)


def parse_alert(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published body by its ``source`` attribute; Permanent if it never can be."""
    return SOURCES.parse_alert(body, attributes)


def alert_key(source: str, resource: str, payload: object) -> str | None:
    """Return the dedup key ``source`` gives a payload, None when it carries no usable id."""
    return SOURCES.alert_key(source, resource, payload)
