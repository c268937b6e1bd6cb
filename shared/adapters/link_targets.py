"""Send a source's link-back and sync requests over HTTP, or record them in dry-run."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from shared.adapters import dry_run
from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.core.errors import Permanent, Transient
from shared.core.links import LinkRequest, Sent
from shared.core.observability import scrub_text

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 4.0
# Linking back is best effort and runs inside the worker's request: never wait long for it.
RETRY_AFTER_CAP_SECONDS = 5.0
#: No retry of a link starts after this: it is best effort, after the task is recorded.
DEADLINE_SECONDS = 15.0
MAX_ERROR_CHARS = 300

#: Returns the auth headers of a service, or None when its credential is not configured.
AuthHeaders = Callable[[], Mapping[str, str] | None]


class LinkRejected(Permanent):
    """Sentry or Datadog refused a link request (4xx other than 429)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, reason=f"link_http_{status}")
        self.status = status


class LinkUnavailable(Transient):
    """Sentry or Datadog stayed unreachable or overloaded through every attempt."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message, reason="link_unavailable")
        self.status = status


class LinkClient:
    """Send link requests to one service: timeouts, a few retries on 5xx, 429 and no answer."""

    def __init__(
        self,
        service: str,
        base_url: str,
        auth: AuthHeaders,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10),
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._session = session or requests.Session()
        self._timeout = timeout
        self._policy = RetryPolicy(max_attempts, BACKOFF_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS,
                                   BACKOFF_BASE_SECONDS, sleep, DEADLINE_SECONDS)

    def send(self, request: LinkRequest) -> Sent | None:
        """Send ``request``; return None, sending nothing, when no credential is configured.

        Retried POSTs are safe for Sentry (create-or-update); a Datadog event whose first
        answer was lost may appear twice, which beats not linking at all.
        """
        auth = self._auth()
        if auth is None:
            return None
        where = f"{self.service} {request.method} {request.path}"
        response = send_with_retries(
            self._session, request.method, self._base_url + request.path, where=where,
            policy=self._policy,
            error_text=lambda response: _redacted(error_text(response), auth.values()),
            rejected=lambda message, status: LinkRejected(message, status=status),
            unavailable=lambda message, status: LinkUnavailable(message, status=status),
            json=dict(request.body), headers={**auth, "Accept": "application/json"},
            timeout=self._timeout)
        return Sent(_date(response.headers.get("Date")))


class DryRunLinks:
    """Stand-in used in dry-run: records each link request in the dry-run file, sends nothing."""

    def __init__(self, path: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))

    def send(self, request: LinkRequest) -> Sent:
        """Append the request to the dry-run file as one JSON line."""
        dry_run.record(self.path, {"service": request.service, "method": request.method,
                                   "path": request.path, "body": dict(request.body),
                                   "at": self._clock().isoformat()})
        log.info("dry-run %s %s %s (recorded in %s)", request.service, request.method,
                 request.path, self.path)
        return Sent()


def error_text(response: requests.Response, limit: int = MAX_ERROR_CHARS) -> str:
    """Return Sentry's ``detail`` or Datadog's ``errors``, else the raw body, masked and cut."""
    try:
        answer: Any = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("errors"), list):
        text = "; ".join(str(e) for e in answer["errors"])
    elif isinstance(answer, dict) and "detail" in answer:
        text = str(answer["detail"])
    elif isinstance(answer, dict):
        text = json.dumps(answer, ensure_ascii=False)  # Sentry's per-field validation errors
    else:
        text = response.text.strip()
    # Error bodies may echo customer data (a card number in a task name): masked before this
    # text reaches a log line, a dead-letter attribute or Sentry.
    text = scrub_text((text or response.reason or "no error message")[:4 * limit])
    return text[:limit]


def _redacted(text: str, secrets: Iterable[str]) -> str:
    # An error page that echoes the request's headers must not carry the token into logs.
    for secret in secrets:
        for value in (secret, secret.removeprefix("Bearer ")):
            if value:
                text = text.replace(value, "[redacted]")
    return text


def _date(value: str | None) -> datetime | None:
    """Return an HTTP Date header as an aware datetime, None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None
