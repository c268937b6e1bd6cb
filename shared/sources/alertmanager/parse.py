"""Parse one alert of an Alertmanager notification (webhook_config, payload version 4)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.core.alert import Alert
from shared.sources.alertmanager.keys import RESOURCE, UNIT, key_of
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
    return Alert(
        source="alertmanager",
        resource=RESOURCE,
        key=key_of(alert, group),
        action=alert.action,
        title=label(alert.annotations, "summary", "title") or name
        or f"Alertmanager alert {alert.fingerprint}",
        external_id=alert.fingerprint,
        url=alert.generator_url,
        level=severity(alert.labels),
        environment=label(alert.labels, "environment", "env"),
        occurred_at=alert.said_at(received_at),
        transition=alert.status,
        rule=name,
        tags=alert.labels,
        description=label(alert.annotations, "description", "message"),
        links=links(alert, group),
        facts=truncation_note(group),
    )


def links(alert: GroupedAlert, group: Group) -> tuple[tuple[str, str], ...]:
    """Return the alert's pages: its rule's expression, the Alertmanager, its runbook."""
    found = [("Prometheus expression", alert.generator_url),
             ("Alertmanager", group.external_url),
             ("Runbook", label(alert.annotations, "runbook_url", "runbook"))]
    return tuple((name, url) for name, url in found if url)
