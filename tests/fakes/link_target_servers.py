"""Local fakes of the Sentry and Datadog endpoints the service calls: the link-back (Sentry
external issues, Datadog events) and reconciliation's reads (Sentry rule group history and issue
search with Link-header cursors, issue details, the organization's issues by id; Datadog's
paged monitor list).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.json_server import InjectedFailures, LocalServer, ServedFake

Answer = tuple[int, Any, dict[str, str]]
Query = dict[str, list[str]]


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
    query: dict[str, list[str]] = field(default_factory=dict)  # repeated names keep every value


@dataclass
class _FakeApi(ServedFake):
    """A JSON API on 127.0.0.1 with an ephemeral port, failure injection and a request log."""

    prefix = ""
    requests: list[Recorded] = field(default_factory=list)
    #: The service's own clock, sent as the Date header (None: the real time).
    clock: Callable[[], datetime] | None = None

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
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        body = _decode(raw)
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body, query))
        date = ({"Date": format_datetime(self.clock().astimezone(UTC), usegmt=True)}
                if self.clock else {})
        failure = self._failures.take()
        if failure is not None:
            status, answer, extra = failure
            return status, answer or self.error_body("injected failure"), {**extra, **date}
        try:
            if not path.startswith(self.prefix + "/"):
                raise ApiError(404, self.error_body("not found"))
            self.authenticate(headers)
            with self._lock:
                status, answer, *more = self.route(method, path.removeprefix(self.prefix), body,
                                                   query, headers)
        except ApiError as error:
            return error.status, error.body, date
        return status, answer, {**(more[0] if more else {}), **date}

    def count(self, method: str, path: str) -> int:
        """Return how many ``method`` requests reached ``path`` (under the prefix)."""
        with self._lock:
            return sum(1 for r in self.requests
                       if (r.method, r.path) == (method, self.prefix + path))

    def error_body(self, message: str) -> Any:
        """Return an error answer in the service's shape."""
        raise NotImplementedError

    def authenticate(self, headers: dict[str, str]) -> None:
        """Raise ApiError unless the request carries the right credential."""
        raise NotImplementedError

    def route(self, method: str, path: str, body: Any, query: Query,
              headers: dict[str, str]) -> tuple[Any, ...]:
        """Answer an authenticated request: (status, answer) or (status, answer, headers)."""
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
    org: str = "acme"
    projects: set[str] = field(default_factory=set)  # project slugs of the organization
    teams: set[str] = field(default_factory=set)  # team slugs rules may name as #slug
    ownership: dict[str, dict[str, Any]] = field(default_factory=dict)  # by project slug
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: set[tuple[str, str]] = field(default_factory=set)
    #: (project, rule id, issue id, fired at, event id)
    firings: list[tuple[str, str, str, datetime, str]] = field(default_factory=list)
    #: False answers 404 to group history, as a Sentry without the experimental endpoint would.
    group_history: bool = True
    #: The token's scopes; updating an issue needs event:write ("Issue & Event: Read & Write").
    scopes: set[str] = field(default_factory=lambda: {"event:read", "event:write"})
    #: Issue ids whose reads fail: a GET naming one (alone or among others) answers 503.
    failing_issues: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(1)

    def add_installation(self, uuid: str) -> None:
        """Seed an installation of the integration."""
        self.installations.add(uuid)

    def add_issue(self, project: str, issue_id: str, *, first_seen: datetime,
                  last_seen: datetime | None = None, status: str = "unresolved",
                  substatus: str = "new", title: str = "KeyError: 'owner'") -> dict[str, Any]:
        """Seed an issue of ``project``, shaped like the issues API answers it."""
        with self._lock:
            self.projects.add(project)
            self.issues[issue_id] = {
                "id": issue_id, "shortId": f"{project.upper()}-{issue_id[-3:]}",
                "title": title, "culprit": "panther.investigate.views in get_investigation",
                "permalink": f"https://{self.org}.sentry.io/issues/{issue_id}/",
                "level": "error", "status": status, "substatus": substatus,
                "statusDetails": {}, "isUnhandled": True, "type": "error",
                "metadata": {"type": title.partition(":")[0], "value": title.partition(": ")[2]},
                "project": {"id": "4505123456789", "name": project, "slug": project},
                "firstSeen": _iso(first_seen), "lastSeen": _iso(last_seen or first_seen),
                "count": "1", "userCount": 1, "numComments": 0, "assignedTo": None,
            }
            return self.issues[issue_id]

    def fire_rule(self, project: str, rule_id: str, issue_id: str, at: datetime,
                  event_id: str = "9f2c1e7a4b8d4c3e9a1b2c3d4e5f6a7b") -> None:
        """Record that issue alert ``rule_id`` fired for a seeded issue at ``at``."""
        with self._lock:
            self.rules.add((project, rule_id))
            self.firings.append((project, rule_id, issue_id, at, event_id))

    def _project(self, org: str, project: str) -> None:
        if org != self.org or project not in self.projects:
            raise ApiError(404, {"detail": "The requested resource does not exist"})

    def _group_history(self, project: str, rule_id: str, query: Query) -> list[dict[str, Any]]:
        if not self.group_history or (project, rule_id) not in self.rules:
            raise ApiError(404, {"detail": "The requested resource does not exist"})
        start, end = _date_param(query, "start"), _date_param(query, "end")
        if start > end:
            raise ApiError(400, {"detail": "start must be before end"})
        rows: dict[str, dict[str, Any]] = {}
        for fired_project, fired_rule, issue_id, at, event_id in self.firings:
            if (fired_project, fired_rule) != (project, rule_id) or not start <= at <= end:
                continue
            row = rows.setdefault(issue_id, {"group": self.issues[issue_id], "count": 0,
                                             "lastTriggered": _iso(at), "eventId": event_id})
            row["count"] += 1
            if _iso(at) >= row["lastTriggered"]:
                row.update(lastTriggered=_iso(at), eventId=event_id)
        # Sentry orders by how often the rule fired, most first.
        return sorted(rows.values(), key=lambda r: (-r["count"], r["group"]["id"]))

    def _search(self, project: str, query: Query) -> list[dict[str, Any]]:
        period = _single(query, "statsPeriod", "")
        if period not in ("", "24h", "14d"):
            raise ApiError(400, {"detail": "Invalid stats_period. Valid choices are '', '24h', "
                                           "and '14d'"})
        status, since = "unresolved", None  # no query means an implied is:unresolved
        for token in _single(query, "query", "is:unresolved").split():
            name, _, value = token.partition(":")
            if name == "is" and value in ("unresolved", "resolved", "ignored"):
                status = value
            elif name == "lastSeen" and value.startswith(">="):
                since = _parse_date(value[2:], "lastSeen")
            else:
                raise ApiError(400, {"detail": f"Invalid search query: {token!r}"})
        issues = [i for i in self.issues.values() if i["project"]["slug"] == project
                  and i["status"] == status
                  and (since is None or _parse_date(i["lastSeen"], "lastSeen") >= since)]
        return sorted(issues, key=lambda i: i["lastSeen"], reverse=True)  # sort=date

    def _page(self, path: str, query: Query, rows: list[Any]) -> tuple[Any, ...]:
        """Answer one page of ``rows`` with Sentry's Link header (cursor "0:<offset>:0")."""
        per_page = _int_param(query, "per_page", 100, 1, 100)
        cursor = _single(query, "cursor", "0:0:0").split(":")
        if len(cursor) != 3 or not cursor[1].isdigit():
            raise ApiError(400, {"detail": "Invalid cursor parameter."})
        offset = int(cursor[1])
        page = rows[offset:offset + per_page]
        links = []
        for rel, at, more in (("previous", max(offset - per_page, 0), offset > 0),
                              ("next", offset + per_page, offset + per_page < len(rows))):
            params = {k: v[0] for k, v in query.items() if k != "cursor"}
            target = f"{self.url}{path}?{urlencode({**params, 'cursor': f'0:{at}:0'})}"
            links.append(f'<{target}>; rel="{rel}"; results="{str(more).lower()}"; '
                         f'cursor="0:{at}:0"')
        return 200, page, {"Link": ", ".join(links)}

    def _issues_by_id(self, org: str, query: Query) -> list[dict[str, Any]]:
        """Answer "list an organization's issues" given ``group`` ids, as Sentry's
        OrganizationGroupIndexEndpoint does: every id found in one unpaged list (no Link
        header), the search query ignored, ids the token's projects do not hold left out."""
        if org != self.org:
            raise ApiError(404, {"detail": "The requested resource does not exist"})
        projects = query.get("project", [])
        if not all(_integer(p) for p in projects):
            raise ApiError(400, {"detail": "Invalid project parameter. Values must be numbers."})
        wanted = {p for p in projects if p != "-1"}  # -1: every project the token may see
        known = {_project_id(i) for i in self.issues.values()}
        if wanted - known:
            raise ApiError(403, {"detail": "You do not have permission to perform this action."})
        # Stricter than Sentry, which ignores an unknown value: it catches a typo here.
        unknown = set(query.get("collapse", [])) - _COLLAPSIBLE
        if unknown:
            raise ApiError(400, {"detail": f"collapse: unknown {sorted(unknown)}"})
        ids = query.get("group", [])
        if not ids:
            raise ApiError(400, {"detail": "this fake answers only lookups by group id"})
        if not all(_integer(i) for i in ids):
            raise ApiError(400, {"detail": "Group ids must be integers"})
        self._readable(ids)
        found = [self.issues[i] for i in dict.fromkeys(str(int(i)) for i in ids)
                 if i in self.issues]
        return [i for i in found if not wanted or _project_id(i) in wanted]

    def _readable(self, ids: list[str]) -> None:
        if self.failing_issues.intersection(ids):
            raise ApiError(503, {"detail": "Service unavailable (injected for these issues)"})

    def add_org_issue(self, issue_id: str, status: str = "unresolved") -> dict[str, Any]:
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

    def route(self, method: str, path: str, body: Any, query: Query,
              headers: dict[str, str]) -> tuple[Any, ...]:
        segments = path.strip("/").split("/")
        if not path.endswith("/"):
            raise ApiError(404, {"detail": "not found (Sentry paths end with /)"})
        match method, segments:
            case "POST", ["sentry-app-installations", uuid, "external-issues"]:
                return 200, self._link(uuid, body)
            case ("GET" | "PUT"), ["projects", org, project, "ownership"]:
                self._project(org, project)
                if method == "PUT":
                    return 200, self._update_ownership(project, body)
                return 200, self.ownership.get(project) or _ownership(None, None)
            case "GET", ["projects", org, project, "rules", rule_id, "group-history"]:
                self._project(org, project)
                return self._page(path, query, self._group_history(project, rule_id, query))
            case "GET", ["projects", org, project, "issues"]:
                self._project(org, project)
                return self._page(path, query, self._search(project, query))
            case "GET", ["organizations", org, "issues"]:
                return 200, self._issues_by_id(org, query)
            case "GET", ["organizations", org, "issues", issue_id]:
                if org != self.org or issue_id not in self.issues:
                    raise ApiError(404, {"detail": "The requested resource does not exist"})
                self._readable([issue_id])
                return 200, self.issues[issue_id]
            case "PUT", ["organizations", org, "issues", issue_id]:
                if not path.endswith("/"):
                    raise ApiError(404, {"detail": "not found (Sentry paths end with /)"})
                return 200, self._update_issue(org, issue_id, body)
        raise ApiError(404, {"detail": "The requested resource does not exist"})

    def _update_issue(self, org: str, issue_id: str, body: Any) -> dict[str, Any]:
        if org != self.org or issue_id not in self.issues:
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



_COLLAPSIBLE = {"stats", "lifetime", "base", "unhandled", "filtered"}
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
    app_key: str = "datadog-application-key"
    events: list[dict[str, Any]] = field(default_factory=list)
    monitors: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._ids = itertools.count(7_460_400_000_000_000_001)

    def error_body(self, message: str) -> Any:
        return {"errors": [message]}

    def authenticate(self, headers: dict[str, str]) -> None:
        if headers.get("dd-api-key") != self.api_key:
            raise ApiError(403, {"errors": ["Forbidden"]})

    def add_monitor(self, monitor_id: int, name: str, *, state: str = "Alert",
                    changed: datetime, message: str = "", tags: list[str] | None = None,
                    priority: int | None = None) -> dict[str, Any]:
        """Seed a monitor, shaped like GET /api/v1/monitor answers it."""
        with self._lock:
            self.monitors[monitor_id] = {
                "id": monitor_id, "name": name, "type": "metric alert",
                "query": "avg(last_5m):avg:system.disk.in_use{*} by {host} > 0.9",
                "message": message, "tags": tags or [], "priority": priority,
                "options": {"notify_no_data": False}, "overall_state": state,
                "overall_state_modified": changed.isoformat(), "multi": True,
                "created": "2026-01-05T10:00:00.000000+00:00",
                "modified": "2026-01-05T10:00:00.000000+00:00", "deleted": None,
                "restricted_roles": None, "creator": {"email": "ops@example.com"},
            }
            return self.monitors[monitor_id]

    def set_state(self, monitor_id: int, state: str, *, changed: datetime) -> None:
        """Move a seeded monitor to ``state`` (OK, Alert, Warn, No Data) at ``changed``."""
        with self._lock:
            self.monitors[monitor_id].update(overall_state=state,
                                             overall_state_modified=changed.isoformat())

    def route(self, method: str, path: str, body: Any, query: Query,
              headers: dict[str, str]) -> tuple[Any, ...]:
        if (method, path) == ("GET", "/api/v1/monitor"):
            # Reading monitors needs an application key besides the API key.
            if headers.get("dd-application-key") != self.app_key:
                raise ApiError(403, {"errors": ["Forbidden"]})
            return 200, self._monitor_page(query)
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


    def _monitor_page(self, query: Query) -> list[dict[str, Any]]:
        page = _int_param(query, "page", 0, 0, 10**6, errors=True)
        size = _int_param(query, "page_size", 100, 1, 1000, errors=True)
        wanted = [t for t in _single(query, "monitor_tags", "").split(",") if t]
        chosen = [m for _, m in sorted(self.monitors.items())
                  if all(tag in m["tags"] for tag in wanted)]
        return chosen[page * size:(page + 1) * size]


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


def _project_id(issue: dict[str, Any]) -> str | None:
    project = issue.get("project")
    return str(project.get("id")) if isinstance(project, dict) else None


def _integer(raw: str) -> bool:
    return raw.removeprefix("-").isdigit()


def _single(query: Query, name: str, default: str) -> str:
    values = query.get(name)
    return values[0] if values else default


def _int_param(query: Query, name: str, default: int, low: int, high: int, *,
               errors: bool = False) -> int:
    raw = _single(query, name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        detail = f"{name}: expected a whole number from {low} to {high}, got {raw!r}"
        raise ApiError(400, {"errors": [detail]} if errors else {"detail": detail})
    return int(raw)


def _parse_date(raw: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, {"detail": f"{name}: {raw!r} is not a valid date"}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_param(query: Query, name: str) -> datetime:
    raw = _single(query, name, "")
    if not raw:
        raise ApiError(400, {"detail": f"{name}: this parameter is required"})
    return _parse_date(raw, name)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")
