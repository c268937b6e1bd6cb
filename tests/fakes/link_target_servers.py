"""Local fakes of the two link-back endpoints: Sentry external issues and Datadog events.

Each answers with the documented shapes and refuses what the real API refuses (wrong auth,
missing or mistyped fields)::

    with FakeSentryApi(token="t") as sentry:
        sentry.add_installation("7a485448-...")
        client = LinkClient("sentry", sentry.url, sentry_auth(lambda: "t"))
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.json_server import InjectedFailures, LocalServer, ServedFake

Answer = tuple[int, Any, dict[str, str]]


class ApiError(Exception):
    """An answer with an error status and body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Recorded:
    """One request a fake received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # decoded JSON, or the raw text when it was not JSON


@dataclass
class _FakeApi(ServedFake):
    """A JSON API on 127.0.0.1 with an ephemeral port, failure injection and a request log."""

    prefix = ""
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = InjectedFailures()
        self._http = LocalServer(self.handle)

    def fail_next(self, n: int, status: int, retry_after: float | None = None,
                  body: Any = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After``, ``body``)."""
        self._failures.add(n, status, retry_after, body)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Return (status, JSON answer, extra headers) for one request."""
        path = urlsplit(raw_path).path
        body = _decode(raw)
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body))
        failure = self._failures.take()
        if failure is not None:
            status, answer, extra = failure
            return status, answer or self.error_body("injected failure"), extra
        try:
            if not path.startswith(self.prefix + "/"):
                raise ApiError(404, self.error_body("not found"))
            self.authenticate(headers)
            with self._lock:
                status, answer = self.route(method, path.removeprefix(self.prefix), body)
        except ApiError as error:
            return error.status, error.body, {}
        return status, answer, {}

    def error_body(self, message: str) -> Any:
        """Return an error answer in the service's shape."""
        raise NotImplementedError

    def authenticate(self, headers: dict[str, str]) -> None:
        """Raise ApiError unless the request carries the right credential."""
        raise NotImplementedError

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Answer an authenticated request."""
        raise NotImplementedError


@dataclass
class FakeSentryApi(_FakeApi):
    """Sentry's "create or update an external issue" endpoint of the integration platform."""

    prefix = "/api/0"
    token: str = "sentry-integration-token"
    installations: set[str] = field(default_factory=set)
    #: (installation uuid, issue id) -> external issue; Sentry keeps one link per issue and
    #: integration, so a second link for the same issue replaces the first.
    external_issues: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    organization: str = "acme"
    #: The token's scopes; updating an issue needs event:write ("Issue & Event: Read & Write").
    scopes: set[str] = field(default_factory=lambda: {"event:read", "event:write"})
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # by issue id

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(1)

    def add_installation(self, uuid: str) -> None:
        """Seed an installation of the integration."""
        self.installations.add(uuid)

    def add_issue(self, issue_id: str, status: str = "unresolved") -> dict[str, Any]:
        """Seed an issue of the organization."""
        issue = {"id": issue_id, "status": status, "statusDetails": {}}
        self.issues[issue_id] = issue
        return issue

    def error_body(self, message: str) -> Any:
        return {"detail": message}

    def authenticate(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization")
        if not value:
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        if value != f"Bearer {self.token}":
            raise ApiError(401, {"detail": "Invalid token"})

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        segments = path.strip("/").split("/")
        match method, segments:
            case "POST", ["sentry-app-installations", uuid, "external-issues"]:
                if not path.endswith("/"):
                    raise ApiError(404, {"detail": "not found (Sentry paths end with /)"})
                return 200, self._link(uuid, body)
            case "PUT", ["organizations", org, "issues", issue_id]:
                if not path.endswith("/"):
                    raise ApiError(404, {"detail": "not found (Sentry paths end with /)"})
                return 200, self._update_issue(org, issue_id, body)
        raise ApiError(404, {"detail": "The requested resource does not exist"})

    def _link(self, uuid: str, body: Any) -> dict[str, Any]:
        if uuid not in self.installations:
            raise ApiError(404, {"detail": "The requested resource does not exist"})
        if not isinstance(body, dict):
            raise ApiError(400, {"detail": "JSON parse error"})
        problems = _sentry_field_errors(body)
        if problems:
            raise ApiError(400, problems)
        key = (uuid, body["issueId"])
        issue = self.external_issues.get(key) or {"id": str(next(self._ids))}
        issue.update({"issueId": str(body["issueId"]), "serviceType": "alert-bridge",
                      "displayName": f"{body['project']}#{body['identifier']}",
                      "webUrl": body["webUrl"]})
        self.external_issues[key] = issue
        return issue


    def _update_issue(self, org: str, issue_id: str, body: Any) -> dict[str, Any]:
        if org != self.organization or issue_id not in self.issues:
            raise ApiError(404, {"detail": "The requested resource does not exist"})
        if "event:write" not in self.scopes:
            raise ApiError(403, {"detail": "You do not have permission to perform this action."})
        if not isinstance(body, dict):
            raise ApiError(400, {"detail": "JSON parse error"})
        unknown = set(body) - _ISSUE_FIELDS
        if unknown:
            raise ApiError(400, {name: ["Unknown field."] for name in sorted(unknown)})
        if "status" in body and body["status"] not in _ISSUE_STATUSES:
            raise ApiError(400, {"status": [f'"{body["status"]}" is not a valid choice.']})
        issue = self.issues[issue_id]
        issue.update(body)
        return issue


_ISSUE_FIELDS = {"status", "statusDetails", "substatus", "assignedTo", "hasSeen",
                 "isBookmarked", "isSubscribed", "isPublic"}
_ISSUE_STATUSES = {"resolved", "resolvedInNextRelease", "unresolved", "ignored"}


def _sentry_field_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name in ("issueId", "webUrl", "project", "identifier"):
        value = body.get(name)
        if value is None or value == "":
            problems[name] = ["This field is required."]
        elif name == "issueId" and (isinstance(value, bool) or not isinstance(value, int)):
            problems[name] = ["A valid integer is required."]
        elif name != "issueId" and not isinstance(value, str):
            problems[name] = ["Not a valid string."]
        elif name == "webUrl" and not value.startswith(("https://", "http://")):
            problems[name] = ["Enter a valid URL."]
    return problems


_DATADOG_FIELDS = {"title": str, "text": str, "aggregation_key": str, "alert_type": str,
                   "date_happened": int, "device_name": str, "host": str, "priority": str,
                   "related_event_id": int, "source_type_name": str, "tags": list}
_ALERT_TYPES = {"error", "warning", "info", "success", "user_update", "recommendation",
                "snapshot"}


@dataclass
class FakeDatadogApi(_FakeApi):
    """Datadog's v1 "post an event" endpoint."""

    api_key: str = "datadog-api-key"
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(7_460_400_000_000_000_001)

    def error_body(self, message: str) -> Any:
        return {"errors": [message]}

    def authenticate(self, headers: dict[str, str]) -> None:
        if headers.get("dd-api-key") != self.api_key:
            raise ApiError(403, {"errors": ["Forbidden"]})

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) != ("POST", "/api/v1/events"):
            raise ApiError(404, {"errors": ["Not found"]})
        if not isinstance(body, dict):
            raise ApiError(400, {"errors": ["Payload is not in the expected format"]})
        problem = _datadog_problem(body)
        if problem:
            raise ApiError(400, {"errors": [problem]})
        event_id = next(self._ids)
        event = {**body, "id": event_id, "id_str": str(event_id),
                 "url": f"https://app.datadoghq.com/event/event?id={event_id}"}
        self.events.append(event)
        return 202, {"status": "ok", "event": event}


def _datadog_problem(body: dict[str, Any]) -> str | None:
    for name in ("title", "text"):
        if not body.get(name):
            return f"Event {name} is required"
    for name, value in body.items():
        expected = _DATADOG_FIELDS.get(name)
        if expected is None:
            return f"Unknown field: {name}"
        if isinstance(value, bool) or not isinstance(value, expected):
            return f"{name}: expected {expected.__name__}"
    if len(body["text"]) > 4000:
        return "text: must be at most 4000 characters"
    if len(body.get("aggregation_key", "")) > 100:
        return "aggregation_key: must be at most 100 characters"
    if body.get("alert_type", "info") not in _ALERT_TYPES:
        return f"alert_type: invalid value {body['alert_type']!r}"
    if not all(isinstance(tag, str) for tag in body.get("tags", [])):
        return "tags: expected a list of strings"
    return None


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")
