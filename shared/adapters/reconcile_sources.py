"""Read what fired from the Sentry and Datadog APIs: paged, rate-limited, retried."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.adapters.link_targets import error_text
from shared.core.errors import ConfigError, Permanent, Transient
from shared.core.payload import clean_text, parse_time
from shared.flows.reconcile import SentryFinding
from shared.reconcile_drift import ISSUES_PER_READ, Observed

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
# A scheduled run has minutes to spare: honour Sentry's and Datadog's rate-limit waits.
RETRY_AFTER_CAP_SECONDS = 30.0
MAX_PAGES = 50  # 5000 issues or monitors: far beyond one window's worth
SENTRY_PAGE_SIZE = 100
DATADOG_PAGE_SIZE = 200
#: Left out of a by-id read: its event statistics are what make an issue list slow, and
#: reconciliation reads only the issue's status.
SENTRY_COLLAPSE = ("stats", "lifetime", "filtered", "unhandled")

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


class _Reader:
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


class SentryReader:
    """The issues Sentry alert rules fired for, and the current state of issues by id."""

    def __init__(self, base_url: str, org: str, token: Callable[[], str | None],
                 rules: Sequence[tuple[str, str]], projects: Sequence[str], *,
                 session: requests.Session | None = None, max_attempts: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._org = org
        self._rules = tuple(rules)
        self._projects = tuple(projects)
        self._http = _Reader("sentry", base_url, lambda: _sentry_headers(token), session,
                             max_attempts, sleep)

    def findings(self, start: datetime, end: datetime) -> list[SentryFinding]:
        """Return the issues each rule fired for in [start, end], and each project's search."""
        found: list[SentryFinding] = []
        for project, rule_id in self._rules:
            path = f"/projects/{self._org}/{project}/rules/{rule_id}/group-history/"
            try:
                rows = self._pages(path, {"start": _stamp(start), "end": _stamp(end),
                                          "per_page": SENTRY_PAGE_SIZE})
            except ReadRejected as error:
                # The endpoint is experimental and unpublished: where it is gone, search.
                if error.status != 404:
                    raise
                log.warning("sentry rule %s:%s has no group history (%s); searching issues",
                            project, rule_id, error, extra={"event": "reconcile_fallback"})
                found += self._search(project, start)
                continue
            found += [SentryFinding(project, row["group"], rule_id,
                                    parse_time(row.get("lastTriggered")),
                                    clean_text(row.get("eventId")))
                      for row in rows if isinstance(row, dict) and isinstance(row.get("group"),
                                                                              dict)]
        for project in self._projects:
            found += self._search(project, start)
        return found

    def issues(self, ids: Sequence[str]) -> Observed:
        """Return these issues as the API shows them now, in one request, and its Date.

        "List an organization's issues" with repeated ``group`` ids answers every issue found
        in one list, any age, and ignores the search query (Sentry's
        OrganizationGroupIndexEndpoint); ``project=-1`` is every project the token may see. An
        id left out of the answer was deleted (or is in a project the token cannot see).
        """
        if len(ids) > ISSUES_PER_READ:
            raise ValueError(f"at most {ISSUES_PER_READ} issue ids per read, got {len(ids)}")
        params = [("project", "-1"), *(("collapse", c) for c in SENTRY_COLLAPSE),
                  *(("group", i) for i in ids)]
        response = self._http.get(f"/organizations/{self._org}/issues/", params)
        rows = response.json()
        if not isinstance(rows, list):
            raise Permanent(f"sentry GET /organizations/{self._org}/issues/: expected a list, "
                            f"got {type(rows).__name__}", reason="reconcile_bad_answer")
        found = {str(row["id"]): row for row in rows
                 if isinstance(row, dict) and row.get("id") is not None}
        if not found.keys() <= set(ids):
            # A Sentry that ignored ``group`` would answer its default search instead.
            raise Permanent(f"sentry GET /organizations/{self._org}/issues/: answered issues "
                            "it was not asked for; the group parameter was not honoured",
                            reason="reconcile_bad_answer")
        return Observed(found, _date(response))

    def _search(self, project: str, start: datetime) -> list[SentryFinding]:
        # Everything seen since the window opened; the core keeps the new and regressed ones.
        query = f"is:unresolved lastSeen:>={_stamp(start)}"
        rows = self._pages(f"/projects/{self._org}/{project}/issues/",
                           {"query": query, "statsPeriod": "", "per_page": SENTRY_PAGE_SIZE})
        return [SentryFinding(project, row) for row in rows if isinstance(row, dict)]

    def _pages(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        """Follow the Link header's next cursor while it says results="true"."""
        rows: list[Any] = []
        target: str | None = path
        query: Mapping[str, Any] | None = params
        for _ in range(MAX_PAGES):
            if target is None:
                return rows
            response = self._http.get(target, query)
            page = response.json()
            if not isinstance(page, list):
                raise Permanent(f"sentry GET {path}: expected a list, got {type(page).__name__}",
                                reason="reconcile_bad_answer")
            rows += page
            following = response.links.get("next", {})
            target = following.get("url") if following.get("results") == "true" else None
            query = None  # the next URL carries the query and the cursor
        log.warning("sentry GET %s: stopped after %d pages", path, MAX_PAGES,
                    extra={"event": "reconcile_truncated"})
        return rows


class DatadogReader:
    """Datadog monitors, optionally filtered by monitor tags, every page."""

    def __init__(self, base_url: str, api_key: Callable[[], str | None],
                 app_key: Callable[[], str | None], monitor_tags: str | None = None, *,
                 session: requests.Session | None = None, max_attempts: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._monitor_tags = monitor_tags
        self._http = _Reader("datadog", base_url, lambda: _datadog_headers(api_key, app_key),
                             session, max_attempts, sleep)

    def monitors(self) -> list[Mapping[str, Any]]:
        """Return every monitor (the API cannot filter on overall_state; the core does)."""
        found: list[Mapping[str, Any]] = []
        for page in range(MAX_PAGES):
            params: dict[str, Any] = {"page": page, "page_size": DATADOG_PAGE_SIZE}
            if self._monitor_tags:
                params["monitor_tags"] = self._monitor_tags
            rows = self._http.get("/api/v1/monitor", params).json()
            if not isinstance(rows, list):
                raise Permanent("datadog GET /api/v1/monitor: expected a list",
                                reason="reconcile_bad_answer")
            found += [row for row in rows if isinstance(row, dict)]
            if len(rows) < DATADOG_PAGE_SIZE:
                return found
        log.warning("datadog GET /api/v1/monitor: stopped after %d pages", MAX_PAGES,
                    extra={"event": "reconcile_truncated"})
        return found


def _sentry_headers(token: Callable[[], str | None]) -> Mapping[str, str]:
    value = token()
    if not value:
        raise ConfigError("SENTRY_AUTH_TOKEN: not set; Sentry reconciliation reads issues "
                          "with it (scopes event:read, project:read, org:read)")
    return {"Authorization": f"Bearer {value}"}


def _datadog_headers(api_key: Callable[[], str | None],
                     app_key: Callable[[], str | None]) -> Mapping[str, str]:
    keys = {"DD-API-KEY": ("DATADOG_API_KEY", api_key()),
            "DD-APPLICATION-KEY": ("DATADOG_APP_KEY", app_key())}
    missing = [name for name, value in keys.values() if not value]
    if missing:
        raise ConfigError(f"{', '.join(missing)}: not set; Datadog reconciliation reads "
                          "monitors with the API and application keys")
    return {header: str(value) for header, (_, value) in keys.items()}


def _date(response: requests.Response) -> datetime | None:
    """Return the answer's Date header: when the API answered, on its own clock."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    """Return a UTC time the way Sentry's search and date-range parameters accept it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
