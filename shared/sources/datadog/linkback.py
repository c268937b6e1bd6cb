"""Link a new Asana task back to the Datadog alert it was created for (an event on its stream)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.core.alert import Alert
from shared.core.links import LinkRequest
from shared.sources.datadog.keys import CYCLE_PREFIX as CYCLE_KEY_PREFIX

DATADOG_TITLE_CHARS = 100
DATADOG_TEXT_CHARS = 4000
DATADOG_AGGREGATION_KEY_CHARS = 100
DATADOG_TAG_CHARS = 200
# Datadog's own source for API-submitted events; a made-up name is not a known source.
DATADOG_SOURCE_TYPE = "my_apps"
_DIGITS = re.compile(r"^\d+$")
_MARKDOWN_SPECIAL = re.compile(r"([\\\[\]()*_`#<>|])")


def datadog_event(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    """Return a Datadog event (v1 API) that names the task, next to the alert's own events."""
    cycle = _cycle_key(alert.key)
    tags = [_tag(k, v) for k, v in alert.tags]
    if cycle:
        tags.append(_tag("alert_cycle_key", cycle))
    tags += [_tag("asana_task", task_gid), "source:alert-bridge"]
    text = (f"%%%\nAsana task [{_markdown(alert.title)}]({url}) tracks this alert "
            f"for team **{_markdown(team)}**.\n%%%")
    body: dict[str, Any] = {
        "title": _clip(f"Asana task for {alert.title}", DATADOG_TITLE_CHARS),
        "text": _clip(text, DATADOG_TEXT_CHARS),
        "tags": list(dict.fromkeys(tags)),
        "alert_type": "info",
        "source_type_name": DATADOG_SOURCE_TYPE,
    }
    if cycle:
        body["aggregation_key"] = cycle[:DATADOG_AGGREGATION_KEY_CHARS]
    event_id = _event_id(alert.url)
    if event_id is not None:
        body["related_event_id"] = event_id
    if alert.host:
        body["host"] = alert.host
    return LinkRequest("datadog", "POST", "/api/v1/events", body)


def _cycle_key(key: str) -> str | None:
    return key.removeprefix(CYCLE_KEY_PREFIX) if key.startswith(CYCLE_KEY_PREFIX) else None


def _tag(key: str, value: str) -> str:
    return (f"{key}:{value}" if value else key)[:DATADOG_TAG_CHARS]


def _markdown(text: str) -> str:
    # A bracket or parenthesis in an alert title would end the link text early.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("%%%", "%"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _event_id(link: str | None) -> int | None:
    """Return the event id in Datadog's $LINK (…/event/event?id=N), the event that fired."""
    if not link:
        return None
    value = (parse_qs(urlsplit(link).query).get("id") or [""])[0]
    return int(value) if _DIGITS.match(value) else None
