"""Requests to a source's API (link-back, two-way sync) as plain data, and who sends them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

ASANA_APP_URL = "https://app.asana.com/0"


@dataclass(frozen=True)
class LinkRequest:
    """One HTTP request to a source's API, relative to that service's API base URL."""

    service: str  # the source that sends it: "sentry", "datadog"
    method: str
    path: str
    body: Mapping[str, Any]


def task_url(task_gid: str, project_gid: str | None) -> str:
    """Return the Asana web URL of a task shown in its project."""
    project = quote(project_gid or "0", safe="")
    return f"{ASANA_APP_URL}/{project}/{quote(task_gid, safe='')}"


@dataclass(frozen=True)
class Sent:
    """A request its service accepted (always true in a condition)."""

    at: datetime | None = None  # the service's own clock when it answered (its Date header)


class LinkSender(Protocol):
    """Sends a link request to its service."""

    def send(self, request: LinkRequest) -> Sent | None:
        """Send ``request``; return None when the service's credential is not configured."""
        ...
