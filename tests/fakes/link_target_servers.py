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
    projects: set[str] = field(default_factory=set)  # project slugs of the organization
    teams: set[str] = field(default_factory=set)  # team slugs rules may name as #slug
    ownership: dict[str, dict[str, Any]] = field(default_factory=dict)  # by project slug

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(1)

    def add_installation(self, uuid: str) -> None:
        """Seed an installation of the integration."""
        self.installations.add(uuid)

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
            case ("GET" | "PUT"), ["projects", org, project, "ownership"]:
                if not path.endswith("/"):
                    raise ApiError(404, {"detail": "not found (Sentry paths end with /)"})
                if org != self.organization or project not in self.projects:
                    raise ApiError(404, {"detail": "The requested resource does not exist"})
                if method == "PUT":
                    return 200, self._update_ownership(project, body)
                return 200, self.ownership.get(project) or _ownership(None, None)
        raise ApiError(404, {"detail": "The requested resource does not exist"})

    def _update_ownership(self, project: str, body: Any) -> dict[str, Any]:
        """Apply Sentry's "update ownership configuration": only the attributes sent change."""
        if not isinstance(body, dict):
            raise ApiError(400, {"detail": "JSON parse error"})
        current = self.ownership.get(project) or _ownership(None, None)
        problems = _ownership_field_errors(body)
        if problems:
            raise ApiError(400, problems)
        raw = body.get("raw", current["raw"])
        rules = _parse_rules(raw or "", self.teams)
        updated = {**current, **{k: v for k, v in body.items() if k in _OWNERSHIP_FIELDS}}
        updated.update(_ownership(raw, rules, created=current["dateCreated"]))
        for key in ("fallthrough", "autoAssignment", "codeownersAutoSync"):
            updated[key] = body.get(key, current[key])
        self.ownership[project] = updated
        return updated

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


_OWNERSHIP_FIELDS = {"raw": str, "fallthrough": bool, "autoAssignment": str,
                     "codeownersAutoSync": bool}
_AUTO_ASSIGNMENT = ("Auto Assign to Issue Owner", "Auto Assign to Suspect Commits",
                    "Turn off Auto-Assignment")
_RULE_TYPES = ("path", "module", "url", "codeowners")


def _ownership(raw: str | None, rules: list[dict[str, Any]] | None, *,
               created: str | None = None) -> dict[str, Any]:
    """Return Sentry's ownership object; a project never configured has raw None."""
    now = "2026-11-20T10:00:00.000000Z"
    return {"raw": raw, "fallthrough": True, "dateCreated": created or (now if raw else None),
            "lastUpdated": now if raw is not None else None, "isActive": True,
            "autoAssignment": "Auto Assign to Issue Owner", "codeownersAutoSync": True,
            "schema": {"$version": 1, "rules": rules or []} if rules is not None else None}


def _ownership_field_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for name, expected in _OWNERSHIP_FIELDS.items():
        if name in body and not isinstance(body[name], expected):
            problems[name] = ["Not a valid string." if expected is str else
                              "Must be a valid boolean."]
    if "autoAssignment" in body and body["autoAssignment"] not in _AUTO_ASSIGNMENT:
        problems["autoAssignment"] = ["Invalid choice"]
    return problems


def _parse_rules(raw: str, teams: set[str]) -> list[dict[str, Any]]:
    """Parse ownership rules as Sentry does, or raise its 400 answer (``{"raw": [...]}``)."""
    rules = []
    for number, line in enumerate(raw.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue  # blank lines and comments
        matcher, _, owners_text = text.partition(" ")
        kind, colon, pattern = matcher.partition(":")
        owners = owners_text.split()
        valid_kind = kind in _RULE_TYPES or (kind.startswith("tags.") and len(kind) > 5)
        if not colon or not pattern or not valid_kind or not owners:
            raise ApiError(400, {"raw": [f"Parse error: line {number}: {line!r}"]})
        parsed = []
        for owner in owners:
            if owner.startswith("#") and owner[1:] in teams:
                parsed.append({"type": "team", "identifier": owner[1:]})
            elif "@" in owner and not owner.startswith("#"):
                parsed.append({"type": "user", "identifier": owner})
            else:
                raise ApiError(400, {"raw": [f"Invalid rule owners: {owner}"]})
        rules.append({"matcher": {"type": kind, "pattern": pattern}, "owners": parsed})
    return rules


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
