"""Parse one alert of a Grafana Alerting webhook notification."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.core.alert import Alert
from shared.core.payload import clean_text
from shared.sources.grafana.keys import RESOURCE, UNIT, key_of
from shared.sources.grouped import (
    Group,
    GroupedAlert,
    label,
    published_alert,
    severity,
    truncation_note,
)


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize the alert of a published notification its ``alert_key`` names."""
    return parse(*published_alert(body, attributes, UNIT, key_of))


def parse(alert: GroupedAlert, group: Group, received_at: datetime | None) -> Alert:
    """Return the normalized alert of one alert of a group."""
    name = label(alert.labels, "alertname")
    found = links(alert, group)
    return Alert(
        source="grafana",
        resource=RESOURCE,
        key=key_of(alert, group),
        action=alert.action,
        title=label(alert.annotations, "summary", "title") or name
        or clean_text(group.raw.get("title")) or f"Grafana alert {alert.fingerprint}",
        external_id=alert.fingerprint,
        url=next((url for kind, url in found if kind in ("Panel", "Dashboard")),
                 alert.generator_url),
        level=severity(alert.labels),
        environment=label(alert.labels, "environment", "env"),
        occurred_at=alert.said_at(received_at),
        project=label(alert.labels, "grafana_folder"),
        transition=alert.status,
        rule=name,
        tags=alert.labels,
        description=label(alert.annotations, "description", "message")
        or clean_text(alert.raw.get("valueString")),
        links=found,
        facts=truncation_note(group),
    )


def links(alert: GroupedAlert, group: Group) -> tuple[tuple[str, str], ...]:
    """Return the alert's pages in Grafana: panel, dashboard, rule, silence, runbook."""
    raw = alert.raw
    found = [("Panel", clean_text(raw.get("panelURL"))),
             ("Dashboard", clean_text(raw.get("dashboardURL"))),
             ("Alert rule", alert.generator_url),
             ("Silence", clean_text(raw.get("silenceURL"))),
             ("Runbook", label(alert.annotations, "runbook_url", "runbook")),
             ("Grafana", group.external_url)]
    return tuple((name, url) for name, url in found if url)
