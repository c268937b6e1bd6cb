"""The alert sources, registered in one table: adding a source is its folder plus one line here.

The flows (shared/flows/) look a source up in ``SOURCES`` and never name one; the Source type
and what it is called with are in ``base.py``. A new source also declares what the rest of the
deployment must know, each in its one place, and tests/unit/test_architecture.py names whatever
is missing: its webhook resources in teams.yaml's vocabulary (routing/teams.py
CREATING_RESOURCES, and DEFAULT_CREATE_TASKS_FROM if its alerts open tasks by default), its
credentials and settings (core/settings.py and Terraform), and its folder in .importlinter.
Its ``__init__.py`` stays light: ingest imports it on every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.sources import alertmanager, asana, azure, cloudwatch, datadog, gcm, grafana, sentry
from shared.sources.base import Sources

if TYPE_CHECKING:
    from shared.core.alert import Alert

SOURCES = Sources(
    sentry.SOURCE,
    # Before Datadog: explain-route asks each source's sniff in this order, and Datadog's
    # takes any body (its webhook's body is the service's own template).
    azure.SOURCE,
    alertmanager.SOURCE,
    grafana.SOURCE,
    gcm.SOURCE,
    cloudwatch.SOURCE,
    datadog.SOURCE,
    asana.SOURCE,
)


def parse_alert(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published body by its ``source`` attribute; Permanent if it never can be."""
    return SOURCES.parse_alert(body, attributes)


def alert_key(source: str, resource: str, payload: object) -> str | None:
    """Return the dedup key ``source`` gives a payload, None when it carries no usable id."""
    return SOURCES.alert_key(source, resource, payload)
