"""Asana over HTTP (requests), and a dry-run stand-in that records what it would send."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import requests

from shared.adapters import dry_run
from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.core.errors import Permanent, Transient
from shared.core.observability import scrub_text
from shared.routing.boards import PORTFOLIO_ITEM_FIELDS
from shared.routing.tasks import TaskDraft

log = logging.getLogger(__name__)

PAGE_LIMIT = 100
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
RETRY_AFTER_CAP_SECONDS = 30.0  # a longer wait is better spent by Pub/Sub redelivery
#: No retry of a call starts after this: with the 10-s read timeout, a call ends within about
#: 53 s, inside the worker's 60-s request timeout (two capped Retry-After waits would not fit).
DEADLINE_SECONDS = 40.0
MAX_ERROR_CHARS = 500
LOOKUP_SLACK = timedelta(minutes=5)  # clock skew between us and Asana's modified_at


class TaskTracker(Protocol):
    """The Asana operations the worker needs."""

    def create_task(self, draft: TaskDraft, marker: str) -> str:
        """Create a task carrying ``marker`` and return its gid, never creating it twice."""
        ...

    def find_task(self, project_gid: str, marker: str, modified_since: datetime) -> str | None:
        """Return the gid of the project's task whose notes carry ``marker``, if any."""
        ...

    def add_comment(self, task_gid: str, html_text: str) -> str:
        """Add a comment (story) to a task and return its gid."""
        ...

    def has_comment(self, task_gid: str, marker: str) -> bool:
        """Tell whether a comment of the task carries ``marker``."""
        ...

    def set_completed(self, task_gid: str, completed: bool) -> None:
        """Complete or reopen a task."""
        ...

    def get_task(self, task_gid: str) -> dict[str, Any]:
        """Return a task (raises AsanaRejected with status 404 when it is gone)."""
        ...

    def portfolio_items(self, portfolio_gid: str) -> list[dict[str, Any]]:
        """Return every item of a portfolio."""
        ...


class AsanaRejected(Permanent):
    """Asana refused the request (4xx other than 429); sending it again cannot help."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, reason=f"asana_http_{status}")
        self.status = status


def _gid(value: str) -> str:
    # Path segments come from stored data: quote them so nothing can alter the path.
    return quote(str(value), safe="")


def _created_gid(data: Any) -> str:
    gid = data.get("gid") if isinstance(data, dict) else None
    if not gid:
        raise Transient("asana: a create answered 2xx without a gid")
    return str(gid)


def _error_messages(response: requests.Response, token: str) -> str:
    """Return Asana's error messages (``{"errors": [{"message": ...}]}``), or the raw body."""
    try:
        errors = response.json().get("errors")
        text = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError):
        text = response.text.strip()
    # Error bodies may echo customer data (a card number in a task name) or the request's own
    # token: masked before this text reaches a log line, a dead-letter attribute or Sentry.
    text = scrub_text((text or response.reason or "no error message")[:4 * MAX_ERROR_CHARS],
                      (token,))
    return text[:MAX_ERROR_CHARS]


def _rejected(message: str, status: int) -> AsanaRejected:
    return AsanaRejected(message, status=status)


def _unavailable(message: str, status: int | None) -> Transient:
    return Transient(message)


class AsanaClient:
    """A small Asana REST client: bearer auth, timeouts, retries with backoff."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 10),
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._timeout = timeout
        self._policy = RetryPolicy(max_attempts, BACKOFF_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS,
                                   BACKOFF_BASE_SECONDS, sleep, DEADLINE_SECONDS)

    def create_task(self, draft: TaskDraft, marker: str) -> str:
        """Create a task carrying ``marker`` and return its gid, never creating it twice.

        When an attempt got no answer (or a 5xx), Asana may have stored the task anyway:
        before sending it again, look for the marker and adopt the task found.
        """
        since = self._clock() - LOOKUP_SLACK
        project = draft.projects[0] if draft.projects else None

        def recover() -> str | None:
            return self.find_task(project, marker, since) if project else None

        answer = self._send("POST", "/tasks", params=None, body={"data": draft.to_asana()},
                            recover=recover)
        if isinstance(answer, str):
            return answer
        return _created_gid(answer.get("data"))

    def find_task(self, project_gid: str, marker: str, modified_since: datetime) -> str | None:
        """Return the gid of the project's task whose notes carry ``marker``, if any."""
        params: dict[str, str | int] = {
            "project": project_gid, "opt_fields": "notes", "limit": PAGE_LIMIT,
            "modified_since": modified_since.astimezone(UTC).isoformat(timespec="seconds")}
        for task in self._pages("/tasks", params):
            if marker in str(task.get("notes") or ""):
                return str(task.get("gid"))
        return None

    def add_comment(self, task_gid: str, html_text: str) -> str:
        """Add a comment (story) to a task and return its gid."""
        path = f"/tasks/{_gid(task_gid)}/stories"
        return _created_gid(self._request("POST", path, body={"data": {"html_text": html_text}}))

    def has_comment(self, task_gid: str, marker: str) -> bool:
        """Tell whether a comment of the task carries ``marker``."""
        params: dict[str, str | int] = {"opt_fields": "text,resource_subtype",
                                        "limit": PAGE_LIMIT}
        return any(story.get("resource_subtype") == "comment_added"
                   and marker in str(story.get("text") or "")
                   for story in self._pages(f"/tasks/{_gid(task_gid)}/stories", params))

    def set_completed(self, task_gid: str, completed: bool) -> None:
        """Complete or reopen a task."""
        self._request("PUT", f"/tasks/{_gid(task_gid)}", body={"data": {"completed": completed}})

    def get_task(self, task_gid: str) -> dict[str, Any]:
        """Return a task (raises AsanaRejected with status 404 when it is gone)."""
        data = self._request("GET", f"/tasks/{_gid(task_gid)}")
        return data if isinstance(data, dict) else {}

    def portfolio_items(self, portfolio_gid: str) -> list[dict[str, Any]]:
        """Return every item of a portfolio, following pagination."""
        path = f"/portfolios/{_gid(portfolio_gid)}/items"
        params: dict[str, str | int] = {"opt_fields": PORTFOLIO_ITEM_FIELDS, "limit": PAGE_LIMIT}
        return list(self._pages(path, params))

    def record(self, kind: str, gid: str, opt_fields: str | None = None) -> dict[str, Any]:
        """Return one record, e.g. ``record("projects", gid)``; AsanaRejected when refused."""
        params: dict[str, str | int] = {"opt_fields": opt_fields} if opt_fields else {}
        data = self._send("GET", f"/{kind}/{_gid(gid)}", params=params, body=None).get("data")
        return data if isinstance(data, dict) else {}

    def list_all(self, path: str, params: dict[str, str] | None = None, *,
                 opt_fields: str | None = None) -> list[dict[str, Any]]:
        """Return every compact record a list endpoint has, following ``next_page``."""
        query: dict[str, str | int] = {**(params or {}), "limit": PAGE_LIMIT}
        if opt_fields:
            query["opt_fields"] = opt_fields
        return list(self._pages(path, query))

    def _pages(self, path: str, params: dict[str, str | int]) -> Iterator[dict[str, Any]]:
        """Yield every record of a paginated list."""
        while True:
            page = self._send("GET", path, params=params, body=None)
            yield from (item for item in page.get("data") or [] if isinstance(item, dict))
            offset = (page.get("next_page") or {}).get("offset")
            if not offset:
                return
            params = {**params, "offset": offset}

    def _request(self, method: str, path: str, *, body: dict[str, Any] | None = None) -> Any:
        return self._send(method, path, params=None, body=body).get("data")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None,
        body: dict[str, Any] | None,
        recover: Callable[[], str | None] | None = None,
    ) -> Any:
        """Send one request, retrying what a retry can fix; return the decoded JSON answer.

        A comment POST is retried blindly: the worker checks for its marker before posting
        again after a crash, and a comment repeated by a lost answer is the lesser harm.
        """
        where = f"asana {method} {path}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        response = send_with_retries(
            self._session, method, self._base_url + path, where=where, policy=self._policy,
            error_text=lambda answer: _error_messages(answer, self._token),
            rejected=_rejected, unavailable=_unavailable, recover=recover,
            params=params, json=body, headers=headers, timeout=self._timeout)
        if isinstance(response, str):
            return response
        return self._decode(response, where)

    @staticmethod
    def _decode(response: requests.Response, where: str) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            decoded = response.json()
        except ValueError:
            # A proxy or gateway page, not Asana: worth another try later.
            raise Transient(f"{where}: {response.status_code} answer is not JSON") from None
        return decoded if isinstance(decoded, dict) else {}


class DryRunAsana:
    """Stand-in used without ASANA_PAT: logs and records each write instead of sending it."""

    def __init__(self, path: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._count = 0

    def create_task(self, draft: TaskDraft, marker: str) -> str:
        """Record the task creation and return a fake gid."""
        return self._record("POST", "/tasks", {"data": draft.to_asana()}, preview=draft.notes)

    def find_task(self, project_gid: str, marker: str, modified_since: datetime) -> str | None:
        """Find nothing: dry-run creates no task that a retry could find."""
        return None

    def has_comment(self, task_gid: str, marker: str) -> bool:
        """Find nothing: dry-run posts no comment."""
        return False

    def add_comment(self, task_gid: str, html_text: str) -> str:
        """Record the comment and return a fake gid."""
        path = f"/tasks/{_gid(task_gid)}/stories"
        return self._record("POST", path, {"data": {"html_text": html_text}})

    def set_completed(self, task_gid: str, completed: bool) -> None:
        """Record the completion change."""
        self._record("PUT", f"/tasks/{_gid(task_gid)}", {"data": {"completed": completed}})

    def get_task(self, task_gid: str) -> dict[str, Any]:
        """Pretend the task exists; reads are not recorded."""
        return {"gid": task_gid, "resource_type": "task", "completed": False}

    def portfolio_items(self, portfolio_gid: str) -> list[dict[str, Any]]:
        """Return no items, so boards fall back to the backlog."""
        return []

    def _record(
        self, method: str, path: str, body: dict[str, Any], *, preview: str | None = None
    ) -> str:
        line: dict[str, Any] = {
            "method": method,
            "path": path,
            "body": body,
            "at": self._clock().isoformat(),
        }
        if preview is not None:
            line["preview"] = preview  # the plain-text body, easier to read than html_notes
        with self._lock:
            self._count += 1
            gid = f"dry-run-{self._count}"
        text = dry_run.record(self.path, line)
        log.info("dry-run asana %s %s (recorded in %s): %s", method, path, self.path, text)
        return gid
