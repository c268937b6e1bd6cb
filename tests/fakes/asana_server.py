"""A local fake of the Asana REST API endpoints alert-bridge uses, with Asana's shapes.

Run in a test::

    with FakeAsana(token="t") as asana:
        asana.add_project("1201")
        client = AsanaClient(asana.url, "t")

or standalone for ``make run``, knowing every project and portfolio of a teams.yaml:
``python -m tests.fakes.asana_server --port 8091 --token t --teams teams.yaml``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests import Response

from shared.routing.tasks import validate_rich_text
from shared.routing.teams import TeamsConfig
from tests.fakes.json_server import InjectedFailures, LocalServer, ServedFake, handler_for

API_PREFIX = "/api/1.0"
_GID = re.compile(r"^\d+$")
_TASK_FIELDS = frozenset(
    {
        "name",
        "notes",
        "html_notes",
        "projects",
        "workspace",
        "custom_fields",
        "followers",
        "assignee",
        "completed",
        "due_on",
        "due_at",
        "start_on",
        "parent",
        "tags",
        "memberships",
        "resource_subtype",
    }
)
#: Fields a task read may ask for (opt_fields).
_TASK_READ_FIELDS = _TASK_FIELDS | {"completed_by", "completed_at", "modified_at", "created_at",
                                    "permalink_url"}
_UPDATE_FIELDS = frozenset(
    {"name", "notes", "html_notes", "completed", "custom_fields", "assignee", "due_on", "due_at"}
)


class ApiError(Exception):
    """An answer in Asana's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str  # without the /api/1.0 prefix and the query
    query: dict[str, list[str]]
    body: Any  # decoded JSON, or the raw text when it was not JSON
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


@dataclass
class FakeAsana(ServedFake):
    """Asana on 127.0.0.1 with an ephemeral port; state is public for assertions."""

    prefix = API_PREFIX

    token: str = "test-token"
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    stories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by task gid
    requests: list[Recorded] = field(default_factory=list)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    portfolios: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # gid -> items
    # The workspace directory that asana-discover reads (full records, by gid).
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    portfolio_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The user the token acts as (GET /users/me); changes made through the API are its own.
    me: str = "1200000000009999"
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (webhook gid, HTTP status of the target, 0 when unreachable) of every delivery,
    #: handshakes excluded.
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    #: The workspace of projects seeded without one (Asana's projects all have one); None
    #: leaves their ``workspace`` empty, as older tests expect.
    default_workspace: str | None = None
    #: How far Asana's own clock (created_at, modified_at, ...) is behind ours.
    lag: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._gids = itertools.count(1_200_000_000_000_001)
        self._failures = InjectedFailures()
        self._lost: list[tuple[int, float]] = []  # (status, delay) of answers to lose
        self._chaos: tuple[float, int, float, random.Random] | None = None
        self._http = LocalServer(self.handle)
        self._hook_secrets: dict[str, str] = {}  # webhook gid -> X-Hook-Secret
        self._delivering: list[threading.Thread] = []

    def _stamp(self) -> str:
        """Return the time now on Asana's clock."""
        return _now(self.lag)

    # -- seeding and failure injection -------------------------------------------------

    def add_project(self, gid: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
        """Seed a project that tasks may be created in."""
        project = {"gid": gid, "resource_type": "project", "name": name or f"Project {gid}"}
        project.update(fields)
        self.projects[gid] = project
        return project

    def add_portfolio(self, gid: str, items: list[dict[str, Any]]) -> None:
        """Seed a portfolio; items are projects (also seeded as projects)."""
        for item in items:
            item.setdefault("resource_type", "project")
            self.projects.setdefault(item["gid"], item)
        self.portfolios[gid] = list(items)

    def add_workspace(self, gid: str, name: str) -> dict[str, Any]:
        """Seed a workspace (an organization)."""
        self.workspaces[gid] = {"gid": gid, "resource_type": "workspace", "name": name,
                                "is_organization": True, "email_domains": []}
        return self.workspaces[gid]

    def add_team(self, gid: str, name: str, workspace: str) -> dict[str, Any]:
        """Seed a team of ``workspace``."""
        self.teams[gid] = {"gid": gid, "resource_type": "team", "name": name,
                           "organization": _ref(self.workspaces[workspace]),
                           "description": "", "visibility": "secret"}
        return self.teams[gid]

    def add_team_project(self, gid: str, name: str, team: str, *,
                         archived: bool = False) -> dict[str, Any]:
        """Seed a project that belongs to ``team`` (and the team's workspace)."""
        owner = self.teams[team]
        return self.add_project(gid, name, team=_ref(owner), workspace=owner["organization"],
                                archived=archived)

    def add_portfolio_record(self, gid: str, name: str, workspace: str,
                             owner: str | None = None,
                             items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Seed a portfolio of ``workspace`` owned by ``owner`` (default: the token's user)."""
        self.portfolio_records[gid] = {
            "gid": gid, "resource_type": "portfolio", "name": name,
            "workspace": _ref(self.workspaces[workspace]),
            "owner": {"gid": owner or self.me, "resource_type": "user"}}
        self.add_portfolio(gid, items or [])
        return self.portfolio_records[gid]

    def add_custom_field(self, gid: str, name: str, workspace: str,
                         options: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Seed a custom field: an enum with ``options`` (gid, name), else a text field."""
        subtype = "enum" if options is not None else "text"
        self.custom_fields[gid] = {
            "gid": gid, "resource_type": "custom_field", "name": name,
            "resource_subtype": subtype, "type": subtype, "enabled": True,
            "enum_options": [{"gid": g, "resource_type": "enum_option", "name": n,
                              "enabled": True, "color": "none"} for g, n in options or []],
            "workspace": workspace,  # not in Asana's answer: used to list a workspace's fields
        }
        return self.custom_fields[gid]

    def add_user(self, gid: str, name: str, email: str, workspaces: list[str]) -> dict[str, Any]:
        """Seed a user who is a member of ``workspaces``."""
        self.users[gid] = {"gid": gid, "resource_type": "user", "name": name, "email": email,
                           "workspaces": [_ref(self.workspaces[w]) for w in workspaces]}
        return self.users[gid]

    def fail_next(self, n: int, status: int, retry_after: float | None = None,
                  message: str | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (``Retry-After``, error ``message``)."""
        self._failures.add(n, status, retry_after, _errors(message) if message else None)

    def lose_next_answers(self, n: int, status: int = 500, delay: float = 0.0) -> None:
        """Carry out the next ``n`` requests, then answer ``status`` after ``delay`` seconds.

        What a client sees when Asana stored the task but the answer was lost: a 5xx, or
        (with a delay longer than the client's read timeout) no answer at all.
        """
        with self._lock:
            self._lost += [(status, delay)] * n

    def chaos(self, ratio: float, status: int = 500, lost_ratio: float = 0.0,
              seed: int = 0) -> None:
        """Fail ``ratio`` of requests with ``status``, ``lost_ratio`` of them after doing them."""
        self._chaos = (ratio, status, lost_ratio, random.Random(seed))

    def calm(self) -> None:
        """Stop the chaos and drop every queued failure and lost answer."""
        self._chaos = None
        self._failures.clear()
        with self._lock:
            self._lost.clear()

    # -- request handling -------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Return (status, JSON answer, extra headers) for one request."""
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix(API_PREFIX)
        body = _decode(raw_body)
        with self._lock:
            self.requests.append(
                Recorded(method, path, parse_qs(parts.query), body, headers.get("authorization"),
                         {k.lower(): v for k, v in headers.items()})
            )
        failure = self._failures.take()
        if failure is not None:
            status, answer, extra = failure
            return status, answer or _errors(f"injected failure {status}"), extra
        lost = self._take_lost()
        if lost is None and self._chaos is not None:
            ratio, chaos_status, lost_ratio, rng = self._chaos
            with self._lock:
                fails, after = rng.random() < ratio, rng.random() < lost_ratio
            if fails and not after:
                return chaos_status, _errors(f"injected failure {chaos_status}"), {}
            if fails:
                lost = (chaos_status, 0.0)
        answer = self._answer(method, parts, headers, raw_body, body)
        if lost is None:
            return answer
        status, delay = lost
        time.sleep(delay)
        return status, _errors(f"injected failure {status} after the request was carried out"), {}

    def _take_lost(self) -> tuple[int, float] | None:
        with self._lock:
            return self._lost.pop(0) if self._lost else None

    def _answer(self, method: str, parts: Any, headers: dict[str, str], raw_body: bytes,
                body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        path = parts.path.removeprefix(API_PREFIX)
        try:
            if not parts.path.startswith(API_PREFIX + "/"):
                raise ApiError(404, "No matching route for request")
            if headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Not Authorized")
            if (method, path.rstrip("/")) == ("POST", "/webhooks"):
                # Not under the lock: Asana answers only after the target's handshake.
                return 201, {"data": self._create_webhook(_data(raw_body, body))}, {}
            with self._lock:
                status, answer = self._route(method, path, parse_qs(parts.query), raw_body, body)
        except ApiError as exc:
            return exc.status, _errors(exc.message), {}
        return status, answer, {}

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes, body: Any
    ) -> tuple[int, dict[str, Any]]:
        segments = path.strip("/").split("/")
        match method, segments:
            case "POST", ["tasks"]:
                return 201, {"data": self._create_task(_data(raw, body))}
            case "GET", ["tasks"]:
                return 200, self._task_page(query)
            case "GET", ["tasks", gid, "stories"]:
                return 200, self._story_page(gid, query)
            case "GET", ["tasks", gid]:
                return 200, {"data": _fields(self._task(gid), query)}
            case "PUT", ["tasks", gid]:
                return 200, {"data": self._update_task(gid, _data(raw, body), self.me)}
            case "GET", ["users", "me"] if self.me not in self.users:
                return 200, {"data": {"gid": self.me, "resource_type": "user",
                                      "name": "alert-bridge", "email": "alert-bridge@example.com"}}
            case "GET", ["webhooks"]:
                return 200, self._webhook_page(query)
            case "DELETE", ["webhooks", gid]:
                if self.webhooks.pop(gid, None) is None:
                    raise ApiError(404, f"webhook: Unknown object: {gid}")
                return 200, {"data": {}}
            case "POST", ["tasks", gid, "stories"]:
                return 201, {"data": self._add_story(gid, _data(raw, body))}
            case "GET", ["portfolios", gid, "items"]:
                _check_query(query)
                return 200, self._portfolio_page(gid, query)
            case "GET", _:
                return 200, self._read([unquote(part) for part in segments], query)
        raise ApiError(404, "No matching route for request")

    def _read(self, segments: list[str], query: dict[str, list[str]]) -> dict[str, Any]:
        """Answer the directory reads: one record, or a page of compact records."""
        path = "/" + "/".join(segments)
        match segments:
            case ["workspaces"]:
                return self._list(path, list(self.workspaces.values()), query, "workspace")
            case ["workspaces", gid, "teams"]:
                self._get(self.workspaces, "workspace", gid)
                teams = [t for t in self.teams.values() if t["organization"]["gid"] == gid]
                return self._list(path, teams, query, "team")
            case ["workspaces", gid, "custom_fields"]:
                self._get(self.workspaces, "workspace", gid)
                fields = [f for f in self.custom_fields.values() if f["workspace"] == gid]
                return self._list(path, fields, query, "custom_field")
            case ["teams", gid, "projects"]:
                self._get(self.teams, "team", gid)
                projects = [p for p in self.projects.values()
                            if (p.get("team") or {}).get("gid") == gid
                            and _archived_filter(query, p)]
                return self._list(path, projects, query, "project", extra=("archived",))
            case ["portfolios"]:
                return self._list(path, self._owned_portfolios(query), query, "portfolio",
                                  extra=("workspace", "owner"))
            case [kind, gid] if kind in _RECORD_KINDS:
                _check_query(query, fields=_FIELDS[_RECORD_KINDS[kind]])
                record = self._get(self._store(kind), _RECORD_KINDS[kind], gid)
                if kind == "projects" and record.get("workspace") is None:
                    record = {**record, "workspace": self._default_workspace_ref()}
                return {"data": _selected(record, _opt_fields(query))}
        raise ApiError(404, "No matching route for request")

    def _default_workspace_ref(self) -> dict[str, Any] | None:
        if self.default_workspace is None:
            return None
        known = self.workspaces.get(self.default_workspace)
        return {"gid": self.default_workspace, "resource_type": "workspace",
                "name": known["name"] if known else "Workspace"}

    def _project_workspace(self, gid: str) -> str | None:
        workspace = (self.projects.get(gid) or {}).get("workspace") \
            or self._default_workspace_ref()
        return str(workspace["gid"]) if isinstance(workspace, dict) else workspace

    def _store(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"workspaces": self.workspaces, "teams": self.teams, "projects": self.projects,
                "portfolios": self.portfolio_records, "custom_fields": self.custom_fields,
                "users": self.users}[kind]

    def _get(self, store: dict[str, dict[str, Any]], kind: str, gid: str) -> dict[str, Any]:
        if kind == "user":
            gid = self.me if gid == "me" else next(
                (u["gid"] for u in store.values() if u.get("email") == gid), gid)
        elif not _GID.match(gid):
            raise ApiError(400, f"{kind}: Not a valid gid: {gid}")
        if gid not in store:
            raise ApiError(404, f"{kind}: Unknown object: {gid}")
        return store[gid]

    def _owned_portfolios(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        workspace = (query.get("workspace") or [""])[0]
        if not workspace:
            raise ApiError(400, "workspace: Missing input")
        self._get(self.workspaces, "workspace", workspace)
        owner = (query.get("owner") or ["me"])[0]
        owner = self.me if owner == "me" else owner
        return [p for p in self.portfolio_records.values()
                if p["workspace"]["gid"] == workspace and p["owner"]["gid"] == owner]

    def _list(self, path: str, records: list[dict[str, Any]], query: dict[str, list[str]],
              kind: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        _check_query(query, fields=_FIELDS[kind], extra=extra)
        return self._paged(records, query, path)

    def _create_task(self, data: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(data, _TASK_FIELDS)
        projects = data.get("projects") or []
        workspace = data.get("workspace")
        if not projects and not workspace and not data.get("parent"):
            raise ApiError(400, "You should specify one of workspace, parent, projects")
        if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
            raise ApiError(400, "projects: Value is not an array of IDs")
        for gid in projects:
            if gid not in self.projects:
                raise ApiError(400, f"project: Not a recognized ID: {gid}")
        if workspace is not None and not (isinstance(workspace, str) and _GID.match(workspace)):
            raise ApiError(400, f"workspace: Not a recognized ID: {workspace}")
        _check_notes(data, "notes", "html_notes", story=False)
        _check_strings(data, "name", "assignee")
        _check_string_list(data, "followers")
        _check_custom_fields(data.get("custom_fields"))
        gid = str(next(self._gids))
        task = {
            "gid": gid,
            "resource_type": "task",
            "name": data.get("name", ""),
            "notes": data.get("notes") or _plain_text(data.get("html_notes", "")),
            "html_notes": data.get("html_notes", ""),
            "completed": bool(data.get("completed", False)),
            "projects": [self.projects[p] for p in projects],
            "workspace": {"gid": workspace, "resource_type": "workspace"} if workspace else None,
            "custom_fields": data.get("custom_fields", {}),
            "followers": [{"gid": f} for f in data.get("followers", [])],
            "assignee": {"gid": data["assignee"]} if data.get("assignee") else None,
            "created_at": self._stamp(),
            "modified_at": self._stamp(),
            "permalink_url": f"https://app.asana.com/0/{projects[0] if projects else 0}/{gid}",
        }
        self.tasks[gid] = task
        return task

    def _task(self, gid: str) -> dict[str, Any]:
        if gid not in self.tasks:
            raise ApiError(404, f"task: Unknown object: {gid}")
        return self.tasks[gid]

    def _update_task(self, gid: str, data: dict[str, Any], user_gid: str) -> dict[str, Any]:
        task = self._task(gid)
        _reject_unknown(data, _UPDATE_FIELDS)
        _check_notes(data, "notes", "html_notes", story=False, required=False)
        if "completed" in data and not isinstance(data["completed"], bool):
            raise ApiError(400, "completed: Not a boolean")
        was = bool(task.get("completed"))
        task.update(data)
        task["modified_at"] = self._stamp()
        if bool(task.get("completed")) != was:
            task["completed_by"] = ({"gid": user_gid, "resource_type": "user"}
                                    if task["completed"] else None)
            task["completed_at"] = task["modified_at"] if task["completed"] else None
            self._emit(task, user_gid, "completed")
        return task

    # -- webhooks ----------------------------------------------------------------------------

    def complete_as(self, task_gid: str, completed: bool, user_gid: str) -> None:
        """Complete or reopen a task as a person in Asana's app would (webhooks fire)."""
        with self._lock:
            self._update_task(task_gid, {"completed": completed}, user_gid)

    def deliver(self, webhook_gid: str, events: list[dict[str, Any]],
                secret: str | None = None) -> Response:
        """POST a delivery to the webhook's target, signed with its secret (or ``secret``).

        Like Asana, the webhook records the outcome: ``last_success_at`` after a 2xx,
        ``last_failure_at`` and ``last_failure_content`` otherwise (an unreachable target
        raises after recording it).
        """
        hook = self.webhooks[webhook_gid]
        body = json.dumps({"events": events}).encode()
        key = secret if secret is not None else self._hook_secrets[webhook_gid]
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        try:
            response = requests.post(hook["target"], data=body, timeout=10, headers={
                "Content-Type": "application/json", "X-Hook-Signature": signature})
        except requests.RequestException as error:
            self._delivered(webhook_gid, 0, f"Could not connect: {type(error).__name__}")
            raise
        self._delivered(webhook_gid, response.status_code,
                        f"{response.status_code} {response.reason}\n\n{response.text[:200]}")
        return response

    def _delivered(self, webhook_gid: str, status: int, failure: str) -> None:
        with self._lock:
            self.deliveries.append((webhook_gid, status))
            hook = self.webhooks.get(webhook_gid)
            if hook is None:
                return
            if 200 <= status < 300:
                hook["last_success_at"] = self._stamp()
            else:
                hook["last_failure_at"], hook["last_failure_content"] = self._stamp(), failure

    def heartbeat(self, webhook_gid: str) -> Response:
        """Send the webhook's periodic empty delivery."""
        return self.deliver(webhook_gid, [])

    def drop_webhook(self, webhook_gid: str) -> None:
        """Delete a webhook the way Asana does after 24 h of failed deliveries: gone, and the
        events it would have carried are never sent."""
        with self._lock:
            self.webhooks.pop(webhook_gid)
            self._hook_secrets.pop(webhook_gid, None)

    def deactivate_webhook(self, webhook_gid: str, failure: str = "") -> None:
        """Mark a webhook inactive (``active: false``): it sends no more events."""
        with self._lock:
            hook = self.webhooks[webhook_gid]
            hook["active"] = False
            if failure:
                hook["last_failure_at"], hook["last_failure_content"] = self._stamp(), failure

    def webhooks_of(self, project_gid: str) -> list[dict[str, Any]]:
        """Return the webhooks on a project (with their targets, tokens included)."""
        with self._lock:
            return [dict(h) for h in self.webhooks.values()
                    if h["resource"]["gid"] == project_gid]

    def wait_for_deliveries(self, timeout: float = 10) -> None:
        """Wait until the deliveries of past task changes were answered."""
        with self._lock:
            threads, self._delivering = self._delivering, []
        for thread in threads:
            thread.join(timeout)

    def _emit(self, task: dict[str, Any], user_gid: str, changed: str) -> None:
        """Deliver a task change to every webhook of its projects whose filters take it."""
        projects = {p["gid"] for p in task["projects"]}
        event = {"user": {"gid": user_gid, "resource_type": "user"},
                 "created_at": self._stamp(),
                 "action": "changed",
                 "resource": {"gid": task["gid"], "resource_type": "task",
                              "resource_subtype": "default_task"},
                 "parent": None, "change": {"field": changed, "action": "changed"}}
        for gid, hook in self.webhooks.items():
            if (hook["active"] and hook["resource"]["gid"] in projects
                    and _passes(hook["filters"], event)):
                thread = threading.Thread(target=self._deliver_quietly, args=(gid, [event]),
                                          daemon=True)
                self._delivering.append(thread)
                thread.start()

    def _deliver_quietly(self, webhook_gid: str, events: list[dict[str, Any]]) -> None:
        # At most once, like Asana's: an unreachable target loses the event (it is recorded).
        with contextlib.suppress(requests.RequestException, KeyError):
            self.deliver(webhook_gid, events)

    def _create_webhook(self, data: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(data, frozenset({"resource", "target", "filters"}))
        resource, target = data.get("resource"), data.get("target")
        if not isinstance(resource, str) or not _GID.match(resource):
            raise ApiError(400, "resource: Missing input")
        if not isinstance(target, str) or not target.startswith(("https://", "http://")):
            raise ApiError(400, "target: Not a valid URL")
        filters = data.get("filters", [])
        with self._lock:
            project = self.projects.get(resource)
            if project is None:
                raise ApiError(404, f"resource: Unknown object: {resource}")
        _check_filters(filters)
        secret = secrets.token_hex(32)
        try:
            answer = requests.post(target, data=b"", timeout=10,
                                   headers={"X-Hook-Secret": secret})
        except requests.RequestException as error:
            raise ApiError(400, f"Could not complete the handshake: {error}") from None
        if answer.status_code not in (200, 204) or answer.headers.get("X-Hook-Secret") != secret:
            raise ApiError(400, "The remote server did not respond with the handshake secret")
        with self._lock:
            gid = str(next(self._gids))
            hook = {"gid": gid, "resource_type": "webhook", "active": True,
                    "resource": {"gid": resource, "resource_type": "project",
                                 "name": project["name"]},
                    "target": target, "filters": filters, "created_at": self._stamp(),
                    "last_failure_at": None, "last_failure_content": "",
                    "last_success_at": None}
            self.webhooks[gid] = hook
            self._hook_secrets[gid] = secret
        return hook

    def _webhook_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        workspace = (query.get("workspace") or [""])[0]
        if not _GID.match(workspace):
            raise ApiError(400, "workspace: Missing input")
        resource = query["resource"][0] if query.get("resource") else None
        _check_query(query, extra=("workspace", "resource"))
        hooks = [h for h in self.webhooks.values()
                 if (resource is None or h["resource"]["gid"] == resource)
                 and self._project_workspace(h["resource"]["gid"]) in (None, workspace)]
        return self._paged([{k: v for k, v in h.items()} for h in hooks], query,
                           f"/webhooks?workspace={workspace}")

    def _add_story(self, gid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._task(gid)
        _reject_unknown(data, frozenset({"text", "html_text", "is_pinned"}))
        _check_notes(data, "text", "html_text", story=True, required=True)
        story = {
            "gid": str(next(self._gids)),
            "resource_type": "story",
            "resource_subtype": "comment_added",
            "type": "comment",
            # Asana derives the plain text of a rich-text comment.
            "text": data.get("text") or _plain_text(data.get("html_text", "")),
            "html_text": data.get("html_text", ""),
            "created_at": self._stamp(),
        }
        self.stories.setdefault(gid, []).append(story)
        self.tasks[gid]["modified_at"] = self._stamp()
        return story

    def _task_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        # Asana: a task list needs a project, a section, a tag or an assignee + workspace.
        project = (query.get("project") or [""])[0]
        if not project:
            raise ApiError(400, "Must specify exactly one of project, tag, section, "
                                "user task list, or assignee + workspace")
        if project not in self.projects:
            raise ApiError(404, f"project: Unknown object: {project}")
        _check_query(query, fields=_TASK_READ_FIELDS,
                     extra=("project", "modified_since", "completed_since"))
        since = _time_param(query, "modified_since")
        tasks = [t for t in self.tasks.values()
                 if any(p["gid"] == project for p in t["projects"])
                 and (since is None or _parse(t["modified_at"]) >= since)]
        return self._paged(tasks, query, f"/tasks?project={project}")

    def _story_page(self, gid: str, query: dict[str, list[str]]) -> dict[str, Any]:
        self._task(gid)
        return self._paged(self.stories.get(gid, []), query, f"/tasks/{gid}/stories")

    def _paged(self, records: list[dict[str, Any]], query: dict[str, list[str]],
               path: str) -> dict[str, Any]:
        limit = _int_param(query, "limit", default=100)
        if not 1 <= limit <= 100:
            raise ApiError(400, "limit: Must be between 1 and 100")
        start = _int_param(query, "offset", default=0, prefix="o") if "offset" in query else 0
        if not 0 <= start <= len(records):
            raise ApiError(400, "offset: Your pagination token is invalid")
        fields = {f for v in query.get("opt_fields", []) for f in v.split(",") if f}
        page = [_compact(r, fields) for r in records[start : start + limit]]
        end = start + limit
        next_page = None
        if end < len(records):
            sep = "&" if "?" in path else "?"
            more = f"{path}{sep}limit={limit}&offset=o{end}"
            next_page = {"offset": f"o{end}", "path": more, "uri": API_PREFIX + more}
        return {"data": page, "next_page": next_page}

    def _portfolio_page(self, gid: str, query: dict[str, list[str]]) -> dict[str, Any]:
        if gid not in self.portfolios:
            raise ApiError(404, f"portfolio: Unknown object: {gid}")
        return self._paged(self.portfolios[gid], query, f"/portfolios/{gid}/items")


_HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)


def seed_teams(fake: FakeAsana, config: TeamsConfig, today: date) -> None:
    """Seed every team's backlog, and each portfolio with one current project, so that every
    board teams.yaml can route to exists."""
    for team in config.teams:
        fake.add_project(team.backlog_project_gid, f"{team.name} backlog")
        if team.sprint_portfolio_gid:
            fake.add_portfolio(team.sprint_portfolio_gid, [{
                "gid": team.sprint_portfolio_gid + "1", "name": f"{team.name} sprint",
                "start_on": (today - timedelta(days=7)).isoformat(),
                "due_on": (today + timedelta(days=7)).isoformat(), "archived": False}])
        if team.sandbox_portfolio_gid:
            fake.add_portfolio(team.sandbox_portfolio_gid, [{
                "gid": team.sandbox_portfolio_gid + "1", "name": f"{team.name} sandbox",
                "created_at": _now(), "archived": False}])


def _errors(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "help": _HELP}]}


def _plain_text(html: str) -> str:
    return "".join(ET.fromstring(html).itertext()) if html else ""


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")


def _data(raw: bytes, body: Any) -> dict[str, Any]:
    if not raw or isinstance(body, str):
        raise ApiError(400, "Could not parse request data, invalid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ApiError(400, "Request data must be a JSON object with a 'data' object")
    return body["data"]


def _reject_unknown(data: dict[str, Any], known: frozenset[str]) -> None:
    for key in data:
        if key not in known:
            raise ApiError(400, f"{key}: Unknown field")


def _check_notes(
    data: dict[str, Any], plain: str, html: str, *, story: bool, required: bool = False
) -> None:
    if plain in data and html in data:
        raise ApiError(400, f"You may only provide one of {plain} or {html}")
    if required and plain not in data and html not in data:
        raise ApiError(400, f"You should specify one of {plain}, {html}")
    _check_strings(data, plain, html)
    if html in data:
        try:
            validate_rich_text(data[html], story=story)
        except ValueError as exc:
            raise ApiError(400, f"{html}: XML is invalid: {exc}") from None


def _check_strings(data: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if key in data and not isinstance(data[key], str):
            raise ApiError(400, f"{key}: Not a string")


def _check_string_list(data: dict[str, Any], key: str) -> None:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{key}: Value is not an array of IDs")


def _check_custom_fields(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ApiError(400, "custom_fields: Not an object")
    for gid, option in value.items():
        if not _GID.match(gid):
            raise ApiError(400, f"custom_fields: Not a recognized ID: {gid}")
        if not isinstance(option, (str, int, float, list)):
            raise ApiError(400, f"custom_fields: {gid}: Invalid value")


def _int_param(query: dict[str, list[str]], key: str, *, default: int, prefix: str = "") -> int:
    values = query.get(key)
    if not values:
        return default
    raw = values[0]
    if prefix and not raw.startswith(prefix):
        raise ApiError(400, f"{key}: Your pagination token is invalid")
    try:
        return int(raw.removeprefix(prefix))
    except ValueError:
        raise ApiError(400, f"{key}: Not a number") from None


#: Path kinds with a "get one record" endpoint, and the resource_type each returns.
_RECORD_KINDS = {"workspaces": "workspace", "teams": "team", "projects": "project",
                 "portfolios": "portfolio", "custom_fields": "custom_field", "users": "user"}
#: Fields each resource has (opt_fields may only name these, or their sub-fields).
_FIELDS: dict[str, frozenset[str]] = {
    "workspace": frozenset({"name", "is_organization", "email_domains"}),
    "team": frozenset({"name", "organization", "description", "visibility", "permalink_url"}),
    "project": frozenset({"name", "archived", "team", "workspace", "start_on", "due_on",
                          "created_at", "color", "owner", "permalink_url"}),
    "portfolio": frozenset({"name", "workspace", "owner", "color", "permalink_url"}),
    "custom_field": frozenset({"name", "resource_subtype", "type", "enum_options", "enabled",
                               "description"}),
    "user": frozenset({"name", "email", "workspaces", "photo"}),
}
_COMMON_PARAMS = frozenset({"limit", "offset", "opt_fields", "opt_pretty"})


def _ref(record: dict[str, Any]) -> dict[str, Any]:
    return {"gid": record["gid"], "resource_type": record["resource_type"],
            "name": record.get("name")}


def _opt_fields(query: dict[str, list[str]]) -> set[str]:
    return {f for v in query.get("opt_fields", []) for f in v.split(",") if f}


def _check_query(query: dict[str, list[str]], *, fields: frozenset[str] | None = None,
                 extra: tuple[str, ...] = ()) -> None:
    """Refuse what Asana refuses: unknown parameters and fields the resource does not have."""
    for name in query:
        if name not in _COMMON_PARAMS and name not in extra:
            raise ApiError(400, f"{name}: Unknown parameter")
    if fields is None:
        return
    for requested in _opt_fields(query):
        if requested.split(".")[0] not in fields | {"gid", "resource_type"}:
            raise ApiError(400, f"opt_fields: Unknown field: {requested}")


def _archived_filter(query: dict[str, list[str]], project: dict[str, Any]) -> bool:
    raw = (query.get("archived") or [""])[0]
    if raw == "":
        return True
    if raw not in ("true", "false"):
        raise ApiError(400, "archived: Not a boolean")
    return bool(project.get("archived")) == (raw == "true")


def _selected(record: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """Return a full record, or gid + the requested fields when opt_fields is given."""
    public = {k: v for k, v in record.items() if not (k == "workspace" and isinstance(v, str))}
    if not fields:
        return public
    return {"gid": record["gid"], **{f.split(".")[0]: public.get(f.split(".")[0])
                                     for f in fields}}


_FILTER_ACTIONS = frozenset({"added", "removed", "deleted", "undeleted", "changed"})


def _check_filters(filters: Any) -> None:
    if not isinstance(filters, list):
        raise ApiError(400, "filters: Not an array")
    for item in filters:
        if not isinstance(item, dict):
            raise ApiError(400, "filters: Not an object")
        _reject_unknown(item, frozenset({"resource_type", "resource_subtype", "action",
                                         "fields"}))
        if not isinstance(item.get("resource_type"), str):
            raise ApiError(400, "filters.resource_type: Missing input")
        if item.get("action") is not None and item["action"] not in _FILTER_ACTIONS:
            raise ApiError(400, f"filters.action: Invalid value {item['action']!r}")
        fields = item.get("fields")
        if fields is not None:
            if item.get("action") != "changed":
                raise ApiError(400, "filters.fields: only allowed with action 'changed'")
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise ApiError(400, "filters.fields: Not an array of strings")


def _passes(filters: list[dict[str, Any]], event: dict[str, Any]) -> bool:
    """Tell whether a webhook with ``filters`` delivers ``event`` (no filters: everything)."""
    if not filters:
        return True
    return any(f["resource_type"] == event["resource"]["resource_type"]
               and f.get("action") in (None, event["action"])
               and (f.get("fields") is None or event["change"]["field"] in f["fields"])
               for f in filters)


def _fields(item: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    """Return the record, or only its ``opt_fields`` (Asana's compact form plus those)."""
    fields = {f for v in query.get("opt_fields", []) for f in v.split(",") if f}
    return _compact(item, fields) if fields else item


def _compact(item: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    compact = {k: item.get(k) for k in ("gid", "resource_type", "name")}
    compact.update({f.split(".")[0]: item.get(f.split(".")[0]) for f in fields})
    return compact


def _time_param(query: dict[str, list[str]], key: str) -> datetime | None:
    values = query.get(key)
    if not values:
        return None
    try:
        return _parse(values[0])
    except ValueError:
        raise ApiError(400, f"{key}: Not a valid date-time: {values[0]}") from None


def _parse(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(text)
    return parsed


def _now(lag: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) - lag).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main() -> None:
    """Serve a fake Asana until interrupted, seeded from the command line."""
    parser = argparse.ArgumentParser(description="Serve a fake Asana API.")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--project", action="append", default=[], help="project gid to accept")
    parser.add_argument("--teams", help="accept every project and portfolio of this teams.yaml")
    args = parser.parse_args()
    fake = FakeAsana(token=args.token)
    for gid in args.project:
        fake.add_project(gid)
    if args.teams:
        from shared.routing.teams_file import load_teams

        seed_teams(fake, load_teams(args.teams), date.today())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(fake.handle))
    print(f"fake asana on http://127.0.0.1:{args.port}{API_PREFIX}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
