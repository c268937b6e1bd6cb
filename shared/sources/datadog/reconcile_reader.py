"""Read Datadog's monitors for reconciliation: every page, optionally filtered by monitor tags."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from shared.adapters.api_reads import MAX_PAGES, Reader
from shared.core.errors import ConfigError, Permanent

log = logging.getLogger(__name__)

DATADOG_PAGE_SIZE = 200


class DatadogReader:
    """Datadog monitors, optionally filtered by monitor tags, every page."""

    def __init__(self, base_url: str, api_key: Callable[[], str | None],
                 app_key: Callable[[], str | None], monitor_tags: str | None = None, *,
                 session: requests.Session | None = None, max_attempts: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._monitor_tags = monitor_tags
        self._http = Reader("datadog", base_url, lambda: _datadog_headers(api_key, app_key),
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


def _datadog_headers(api_key: Callable[[], str | None],
                     app_key: Callable[[], str | None]) -> Mapping[str, str]:
    keys = {"DD-API-KEY": ("DATADOG_API_KEY", api_key()),
            "DD-APPLICATION-KEY": ("DATADOG_APP_KEY", app_key())}
    missing = [name for name, value in keys.values() if not value]
    if missing:
        raise ConfigError(f"{', '.join(missing)}: not set; Datadog reconciliation reads "
                          "monitors with the API and application keys")
    return {header: str(value) for header, (_, value) in keys.items()}
