"""Link a new Asana task back to the Sentry issue or Datadog alert it was created for."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from shared.core.alert import Alert
from shared.core.errors import AlertBridgeError, Permanent

log = logging.getLogger(__name__)

ASANA_APP_URL = "https://app.asana.com/0"
# Sentry resources whose webhooks name an issue; a metric-alert incident has none to link.
SENTRY_ISSUE_RESOURCES = ("event_alert", "issue", "error")
CYCLE_KEY_PREFIX = "datadog:cycle:"
DATADOG_TITLE_CHARS = 100
DATADOG_TEXT_CHARS = 4000
DATADOG_AGGREGATION_KEY_CHARS = 100
DATADOG_TAG_CHARS = 200
# Datadog's own source for API-submitted events; a made-up name is not a known source.
DATADOG_SOURCE_TYPE = "my_apps"
_DIGITS = re.compile(r"^\d+$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MARKDOWN_SPECIAL = re.compile(r"([\\\[\]()*_`#<>|])")


@dataclass(frozen=True)
class LinkRequest:
    """One HTTP request to Sentry or Datadog, relative to that service's API base URL."""

    service: str  # "sentry" | "datadog"
    method: str
    path: str
    body: Mapping[str, Any]


def task_url(task_gid: str, project_gid: str | None) -> str:
    """Return the Asana web URL of a task shown in its project."""
    project = quote(project_gid or "0", safe="")
    return f"{ASANA_APP_URL}/{project}/{quote(task_gid, safe='')}"


def link_request(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    """Return the request that links ``alert`` to its task, or None when nothing can be linked."""
    if alert.source == "sentry":
        return sentry_external_issue(alert, task_gid, url, team)
    if alert.source == "datadog":
        return datadog_event(alert, task_gid, url, team)
    return None


def sentry_external_issue(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    """Return Sentry's "create or update an external issue" request for an issue alert."""
    issue_id = alert.external_id or ""
    if alert.resource not in SENTRY_ISSUE_RESOURCES or not _DIGITS.match(issue_id):
        return None
    if not alert.installation_id:
        return None
    if not _UUID.fullmatch(alert.installation_id):
        # It comes from the webhook body and goes into an API path: only a UUID may.
        raise Permanent(f"installation.uuid {alert.installation_id[:40]!r} is not a UUID",
                        reason="bad_installation_uuid")
    path = f"/sentry-app-installations/{alert.installation_id.lower()}/external-issues/"
    # Sentry shows the link as "<project>#<identifier>": "Payments#1209…".
    body = {"issueId": int(issue_id), "webUrl": url, "project": team, "identifier": task_gid}
    return LinkRequest("sentry", "POST", path, body)


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


@dataclass(frozen=True)
class Sent:
    """A request its service accepted (always true in a condition)."""

    at: datetime | None = None  # the service's own clock when it answered (its Date header)


class LinkSender(Protocol):
    """Sends a link request to its service."""

    def send(self, request: LinkRequest) -> Sent | None:
        """Send ``request``; return None when the service's credential is not configured."""
        ...


class LinkBack:
    """Link each new task back to its alert's source; failures are logged, never raised."""

    def __init__(self, senders: Mapping[str, LinkSender]) -> None:
        self._senders = senders

    def __call__(self, alert: Alert, task_gid: str, url: str, team: str) -> None:
        """Send the link request for ``alert``, if any; a failure leaves the task as it is."""
        fields = {"source": alert.source, "alert_key": alert.key, "task_gid": task_gid}
        try:
            request = link_request(alert, task_gid, url, team)
            sender = self._senders.get(request.service) if request else None
            if request is None or sender is None:
                log.debug("nothing to link back for %s", alert.key,
                          extra={"event": "link_back_skipped", **fields})
                return
            sent = sender.send(request)
        except AlertBridgeError as error:
            log.warning("linking task %s back to %s failed: %s", task_gid, alert.key, error,
                        extra={"event": "link_back_failed", "reason": error.reason,
                               "status": getattr(error, "status", None), **fields})
            return
        if not sent:
            log.debug("no %s credential: task %s not linked back", request.service, task_gid,
                      extra={"event": "link_back_skipped", **fields})
            return
        log.info("task %s linked back to %s in %s", task_gid, alert.key, request.service,
                 extra={"event": "linked_back", **fields})
