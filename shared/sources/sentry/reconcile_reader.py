"""Read what fired from Sentry's API: the rules' group history, the issue search, and the
current state of issues by id; paged, rate-limited, retried."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from shared.adapters.api_reads import MAX_PAGES, Reader, ReadRejected, date_header
from shared.core.errors import ConfigError, Permanent
from shared.core.payload import clean_text, parse_time
from shared.sources.sentry.reconcile import ISSUES_PER_READ, Observed, SentryFinding

log = logging.getLogger(__name__)

SENTRY_PAGE_SIZE = 100
#: Left out of a by-id read: its event statistics are what make an issue list slow, and
#: reconciliation reads only the issue's status.
SENTRY_COLLAPSE = ("stats", "lifetime", "filtered", "unhandled")


class SentryReader:
    """The issues Sentry alert rules fired for, and the current state of issues by id."""

    def __init__(self, base_url: str, org: str, token: Callable[[], str | None],
                 rules: Sequence[tuple[str, str]], projects: Sequence[str], *,
                 session: requests.Session | None = None, max_attempts: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._org = org
        self._rules = tuple(rules)
        self._projects = tuple(projects)
        self._http = Reader("sentry", base_url, lambda: _sentry_headers(token), session,
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
        return Observed(found, date_header(response))

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


def _sentry_headers(token: Callable[[], str | None]) -> Mapping[str, str]:
    value = token()
    if not value:
        raise ConfigError("SENTRY_AUTH_TOKEN: not set; Sentry reconciliation reads issues "
                          "with it (scopes event:read, project:read, org:read)")
    return {"Authorization": f"Bearer {value}"}


def _stamp(moment: datetime) -> str:
    """Return a UTC time the way Sentry's search and date-range parameters accept it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
