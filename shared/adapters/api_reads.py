"""Read a source's API for reconciliation: GET JSON with retries, paged by the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.adapters.link_targets import error_text
from shared.core.errors import Permanent, Transient

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# A scheduled run has minutes to spare: honour the APIs' rate-limit waits.
RETRY_AFTER_CAP_SECONDS = 30.0
MAX_PAGES = 50  # 5000 issues or monitors: far beyond one window's worth

Params = Mapping[str, Any] | Sequence[tuple[str, str]]


class ReadRejected(Permanent):
    """The API refused a read (4xx other than 429): a token, a scope or a setting is wrong."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, reason=f"reconcile_http_{status}")
        self.status = status


class ReadUnavailable(Transient):
    """The API stayed unreachable or overloaded through every attempt."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message, reason="reconcile_unavailable")
        self.status = status


class Reader:
    """GET JSON from one API with retries; auth headers are built per request."""

    def __init__(self, service: str, base_url: str, auth: Callable[[], Mapping[str, str]],
                 session: requests.Session | None, max_attempts: int,
                 sleep: Callable[[float], None]) -> None:
        self.service = service
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._session = session or requests.Session()
        self._policy = RetryPolicy(max_attempts, BACKOFF_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS,
                                   BACKOFF_BASE_SECONDS, sleep)

    def get(self, path_or_url: str, params: Params | None = None) -> requests.Response:
        """Return the answer to one GET (a path under the base URL, or a full next-page URL)."""
        url = path_or_url if "://" in path_or_url else self._base_url + path_or_url
        where = f"{self.service} GET {url.removeprefix(self._base_url).split('?')[0]}"
        return send_with_retries(
            self._session, "GET", url, where=where, policy=self._policy,
            error_text=error_text,
            rejected=lambda message, status: ReadRejected(message, status=status),
            unavailable=lambda message, status: ReadUnavailable(message, status=status),
            params=params, headers={**self._auth(), "Accept": "application/json"},
            timeout=(3.05, 30))


def date_header(response: requests.Response) -> datetime | None:
    """Return the answer's Date header: when the API answered, on its own clock."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
