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
import itertools
import json
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.tasks import validate_rich_text
from shared.teams import TeamsConfig
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


@dataclass
class FakeAsana(ServedFake):
    """Asana on 127.0.0.1 with an ephemeral port; state is public for assertions."""

    prefix = API_PREFIX

    token: str = "test-token"
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    stories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by task gid
    requests: list[Recorded] = field(default_factory=list)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    portfolios: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._gids = itertools.count(1_200_000_000_000_001)
        self._failures = InjectedFailures()
        self._http = LocalServer(self.handle)

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

    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``Retry-After`` when given)."""
        self._failures.add(n, status, retry_after)

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
                Recorded(method, path, parse_qs(parts.query), body, headers.get("authorization"))
            )
        failure = self._failures.take()
        if failure is not None:
            status, _, extra = failure
            return status, _errors(f"injected failure {status}"), extra
        try:
            if not parts.path.startswith(API_PREFIX + "/"):
                raise ApiError(404, "No matching route for request")
            if headers.get("authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Not Authorized")
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
            case "GET", ["tasks", gid]:
                return 200, {"data": self._task(gid)}
            case "PUT", ["tasks", gid]:
                return 200, {"data": self._update_task(gid, _data(raw, body))}
            case "POST", ["tasks", gid, "stories"]:
                return 201, {"data": self._add_story(gid, _data(raw, body))}
            case "GET", ["portfolios", gid, "items"]:
                return 200, self._portfolio_page(gid, query)
        raise ApiError(404, "No matching route for request")

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
            "created_at": _now(),
            "permalink_url": f"https://app.asana.com/0/{projects[0] if projects else 0}/{gid}",
        }
        self.tasks[gid] = task
        return task

    def _task(self, gid: str) -> dict[str, Any]:
        if gid not in self.tasks:
            raise ApiError(404, f"task: Unknown object: {gid}")
        return self.tasks[gid]

    def _update_task(self, gid: str, data: dict[str, Any]) -> dict[str, Any]:
        task = self._task(gid)
        _reject_unknown(data, _UPDATE_FIELDS)
        _check_notes(data, "notes", "html_notes", story=False, required=False)
        if "completed" in data and not isinstance(data["completed"], bool):
            raise ApiError(400, "completed: Not a boolean")
        task.update(data)
        return task

    def _add_story(self, gid: str, data: dict[str, Any]) -> dict[str, Any]:
        self._task(gid)
        _reject_unknown(data, frozenset({"text", "html_text", "is_pinned"}))
        _check_notes(data, "text", "html_text", story=True, required=True)
        story = {
            "gid": str(next(self._gids)),
            "resource_type": "story",
            "resource_subtype": "comment_added",
            "type": "comment",
            "text": data.get("text", ""),
            "html_text": data.get("html_text", ""),
            "created_at": _now(),
        }
        self.stories.setdefault(gid, []).append(story)
        return story

    def _portfolio_page(self, gid: str, query: dict[str, list[str]]) -> dict[str, Any]:
        if gid not in self.portfolios:
            raise ApiError(404, f"portfolio: Unknown object: {gid}")
        items = self.portfolios[gid]
        limit = _int_param(query, "limit", default=len(items) or 1)
        if not 1 <= limit <= 100:
            raise ApiError(400, "limit: Must be between 1 and 100")
        start = 0
        if "offset" in query:
            start = _int_param(query, "offset", default=0, prefix="o")
            if not 0 <= start <= len(items):
                raise ApiError(400, "offset: Your pagination token is invalid")
        fields = {f for v in query.get("opt_fields", []) for f in v.split(",") if f}
        page = [_compact(item, fields) for item in items[start : start + limit]]
        end = start + limit
        next_page = None
        if end < len(items):
            path = f"/portfolios/{gid}/items?limit={limit}&offset=o{end}"
            next_page = {"offset": f"o{end}", "path": path, "uri": API_PREFIX + path}
        return {"data": page, "next_page": next_page}


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


def _compact(item: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    compact = {k: item.get(k) for k in ("gid", "resource_type", "name")}
    compact.update({f: item.get(f) for f in fields})
    return compact


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        from shared.teams_file import load_teams

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
