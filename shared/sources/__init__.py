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

from shared.sources import asana, cloudwatch, datadog, sentry
from shared.sources.base import Sources

if TYPE_CHECKING:
    from shared.core.alert import Alert

SOURCES = Sources(
    sentry.SOURCE,
    cloudwatch.SOURCE,  # before Datadog, whose explain-route guess takes any body
    datadog.SOURCE,
    asana.SOURCE,
)


def parse_alert(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published body by its ``source`` attribute; Permanent if it never can be."""
    return SOURCES.parse_alert(body, attributes)


def alert_key(source: str, resource: str, payload: object) -> str | None:
    """Return the dedup key ``source`` gives a payload, None when it carries no usable id."""
    return SOURCES.alert_key(source, resource, payload)
