"""Parse Datadog webhooks sent with the payload template in docs/datadog-webhook-template.json."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from shared.core.alert import Action, Alert
from shared.core.payload import clean_text, parse_time
from shared.sources.base import json_message
from shared.sources.datadog.keys import UNIT, require_key

_PRIORITY = re.compile(r"P[1-5]")
# Datadog prefixes event titles with the priority and the transition, e.g.
# "[P2] [Triggered on {env:prod}] Checkout errors"; a task name wants the monitor's own words.
_TITLE_PREFIX = re.compile(
    r"^\s*(\[(P[1-5]|Re-Triggered|Triggered|Recovered|Re-Warn|Warn|Re-No Data|No Data|Renotify)"
    r"\b[^\]]*\]\s*)+",
    re.IGNORECASE,
)


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published webhook body; Permanent if it never can be."""
    return parse(json_message(body, UNIT), parse_time(attributes.get("received_at")))


def parse(payload: Mapping[str, object], received_at: datetime | None) -> Alert:
    """Parse one Datadog webhook body (template variables already substituted)."""
    key = require_key(payload)
    tags = parse_tags(payload.get("tags"))
    scope = clean_text(payload.get("alert_scope"))
    # Scope tags name the group that fired; keep them matchable when $TAGS lacks them.
    tag_keys = {k for k, _ in tags}
    tags += tuple((k, v) for k, v in parse_tags(scope) if k not in tag_keys)
    tag_map = dict(tags)
    transition = clean_text(payload.get("alert_transition"))
    monitor_id = clean_text(payload.get("alert_id"))
    return Alert(
        source="datadog",
        resource="datadog",
        key=key,
        action=_action(transition),
        title=_title(payload, monitor_id),
        external_id=monitor_id,
        url=clean_text(payload.get("link")),
        priority=_priority(payload.get("alert_priority")),
        environment=tag_map.get("env") or tag_map.get("environment") or None,
        occurred_at=parse_time(payload.get("date")) or received_at,
        request_url=tag_map.get("url") or None,
        monitor_id=monitor_id,
        scope=scope,
        transition=transition,
        tags=tags,
        description=clean_text(payload.get("body")) or clean_text(payload.get("alert_status")),
        host=clean_text(payload.get("hostname")),
    )


def parse_tags(value: object) -> tuple[tuple[str, str], ...]:
    """Split "k:v,k2:v2" into pairs; only the first colon separates, a bare tag has value ""."""
    items = value if isinstance(value, list) else (clean_text(value) or "").split(",")
    pairs = []
    for item in items:
        text = clean_text(item)
        if not text:
            continue
        key, _, tag_value = text.partition(":")
        if key.strip():
            pairs.append((key.strip(), tag_value.strip()))
    return tuple(pairs)


def _action(transition: str | None) -> Action:
    # Triggered, Warn, No Data, Renotify and their Re-* forms all mean "firing".
    return Action.RESOLVED if transition and "recovered" in transition.lower() else Action.TRIGGERED


def _priority(value: object) -> str | None:
    text = (clean_text(value) or "").upper()
    return text if _PRIORITY.fullmatch(text) else None


def _title(payload: Mapping[str, object], monitor_id: str | None) -> str:
    for name in ("title", "alert_title"):
        raw = clean_text(payload.get(name))
        if raw:
            return clean_text(_TITLE_PREFIX.sub("", raw)) or raw
    if monitor_id:
        return f"Datadog monitor {monitor_id}"
    event_id = clean_text(payload.get("id")) or clean_text(payload.get("alert_cycle_key"))
    return f"Datadog event {event_id}"
