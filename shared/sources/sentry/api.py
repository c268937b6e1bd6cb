"""Sentry's API over HTTP for the operator tools: ownership rules and the custom integration.

Ownership: ``GET`` / ``PUT /api/0/projects/{org}/{project}/ownership/``. The custom
integration: ``GET`` and ``PUT /api/0/sentry-apps/{slug}/`` (docs.sentry.io, API → Integration
Platform → "Retrieve a custom integration" / "Update an existing custom integration"; the ``PUT``
needs ``org:write`` or ``org:admin``: ``SentryAppPermission`` in
``src/sentry/sentry_apps/api/bases/sentryapps.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.adapters.link_targets import error_text
from shared.core.errors import Permanent, Transient

MAX_ERROR_CHARS = 500  # room for the per-line parse errors of a long rules file


class SentryRejected(Permanent):
    """Sentry refused the request (4xx other than 429), e.g. an unknown team in a rule."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, reason=f"sentry_http_{status}")
        self.status = status


class SentryApi:
    """The tools' calls, with bearer auth, timeouts and retries on 5xx, 429 and no answer."""

    def __init__(self, base_url: str, token: str, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] = (3.05, 10), max_attempts: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._timeout = timeout
        self._policy = RetryPolicy(max_attempts, 4.0, 10.0, 0.5, sleep)

    def ownership(self, org: str, project: str) -> dict[str, Any]:
        """Return a project's ownership configuration (``raw``, ``fallthrough``, ...)."""
        return self._send("GET", _path(org, project), None)

    def put_ownership(self, org: str, project: str, raw: str) -> dict[str, Any]:
        """Replace a project's ownership rules with ``raw``; other settings stay as they are."""
        return self._send("PUT", _path(org, project), {"raw": raw})

    def app(self, slug: str) -> dict[str, Any]:
        """Return a custom integration: name, scopes, webhookUrl, isAlertable, schema, ..."""
        return self._send("GET", _app_path(slug), None)

    def update_app(self, slug: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update a custom integration with ``fields``; the others stay as they are."""
        return self._send("PUT", _app_path(slug), fields)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        response = send_with_retries(
            self._session, method, self._base_url + path, where=f"sentry {method} {path}",
            policy=self._policy, error_text=lambda response: error_text(response, MAX_ERROR_CHARS),
            rejected=lambda message, status: SentryRejected(message, status=status),
            unavailable=lambda message, status: Transient(message),
            json=body, headers={"Authorization": f"Bearer {self._token}",
                                "Accept": "application/json"},
            timeout=self._timeout)
        try:
            answer = response.json()
        except ValueError:
            raise Transient(f"sentry {method} {path}: answer is not JSON") from None
        return answer if isinstance(answer, dict) else {}


def _path(org: str, project: str) -> str:
    return f"/projects/{quote(org, safe='')}/{quote(project, safe='')}/ownership/"


def _app_path(slug: str) -> str:
    return f"/sentry-apps/{quote(slug, safe='')}/"
