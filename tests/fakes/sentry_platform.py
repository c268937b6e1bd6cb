"""Sentry's integration platform, seen from the integration's side.

``FakeSentry`` sends what Sentry sends an integration with an alert-rule-action UI component and
judges the answers as Sentry does. Each shape follows Sentry's source:

- the select options: ``GET`` on the webhook URL's host with the path replaced by the field's
  ``uri`` and the query by ``installationId``/``projectSlug``/``query``, signed
  ``Sentry-App-Signature`` = HMAC-SHA256 of the empty string; the answer must be a JSON list of
  ``{"label", "value"}`` strings (``external_requests/select_requester.py``, ``utils.py``);
- saving a rule: Sentry's own checks first (required fields present, a static select's value
  among its options, no unknown setting: ``rules/actions/sentry_apps/notify_event.py``), then
  ``POST`` of ``{"fields", "installationId"}`` to the component's ``uri``, signed over the body;
  an answer of 400 or more fails the save with "<app name>: <message>"
  (``external_requests/alert_rule_action_requester.py``);
- alert webhooks: ``data.issue_alert = {id, title, sentry_app_id, settings}`` for issue alerts
  (``tasks/sentry_apps.py``), per-trigger action ``settings`` for metric alerts, signed
  ``Sentry-Hook-Signature`` over the body.

``FakeSentryAppsApi`` is the custom-integration API (``GET``/``PUT
/api/0/sentry-apps/{slug}/``, ``PUT`` needs ``org:write``) refusing a schema the way
``sentry_apps/api/parsers/schema.py`` does (rules re-stated here, not copied).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from shared.flows.ingest import IngestDeps, Webhook, handle_webhook
from tests.fakes.link_target_servers import ApiError, Query, _FakeApi

INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
SENTRY_APP_ID = 19
DEFAULT_SUCCESS = "Success!"
DEFAULT_ERROR = "Something went wrong!"


@dataclass(frozen=True)
class Request:
    """One request Sentry sends."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


#: Sends a request; returns (status, body).
Transport = Callable[[Request], tuple[int, bytes]]


def http_transport(request: Request) -> tuple[int, bytes]:
    """Send over HTTP, as Sentry does (no redirects followed)."""
    response = requests.request(request.method, request.url, headers=request.headers,
                                data=request.body or None, timeout=30, allow_redirects=False)
    return response.status_code, response.content


def ingest_transport(deps: IngestDeps) -> Transport:
    """Hand requests straight to the ingest flow, in process."""

    def send(request: Request) -> tuple[int, bytes]:
        parts = urlsplit(request.url)
        hook = Webhook(request.method, {k.lower(): v for k, v in request.headers.items()},
                       request.body, "req-" + uuid.uuid4().hex[:8], dict(parse_qsl(parts.query)),
                       parts.path or "/")
        answer = handle_webhook(hook, deps)
        return answer.status, json.dumps(answer.body).encode()

    return send


class SentryRefused(Exception):
    """What Sentry would show the person: the rule is not saved, or the form cannot load."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def sign(secret: str, body: bytes) -> str:
    """Return Sentry's signature of ``body``: lower-case hex HMAC-SHA256."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class FakeSentry:
    """An organization with the integration installed, its schema and client secret."""

    webhook_url: str
    client_secret: str
    schema: Mapping[str, Any]
    send: Transport
    app_name: str = "alert-bridge"
    installation: str = INSTALLATION
    sent: list[Request] = field(default_factory=list)

    def component(self) -> Mapping[str, Any]:
        """Return the schema's alert-rule-action element."""
        found = [e for e in self.schema.get("elements", []) if e.get("type") == "alert-rule-action"]
        if len(found) != 1:
            raise SentryRefused(f"Alert Rule Actions are not enabled for the {self.app_name} "
                                "integration.")
        return found[0]

    def fields(self) -> list[Mapping[str, Any]]:
        """Return the form's fields, required first."""
        settings = self.component()["settings"]
        return [*settings.get("required_fields", []), *settings.get("optional_fields", [])]

    def load_options(self, name: str, project_slug: str | None = None,
                     query: str | None = None) -> list[list[str]]:
        """Fetch a select field's options as the form does: [[value, label], ...]."""
        select = next(f for f in self.fields() if f["name"] == name)
        if "uri" not in select:
            return [list(option) for option in select["options"]]
        params = {"installationId": self.installation}
        if project_slug:
            params["projectSlug"] = project_slug
        if query:
            params["query"] = query
        request = Request("GET", self._url(select["uri"], urlencode(params)),
                          self._headers(b""), b"")
        status, body = self._send(request)
        if status >= 400:
            raise SentryRefused(_message(body) or "Something went wrong while getting options "
                                f"for Select FormField from {self.app_name}", status)
        options = json.loads(body)
        if not isinstance(options, list) or not all(
                isinstance(o, dict) and isinstance(o.get("label"), str)
                and isinstance(o.get("value"), str) for o in options):
            raise SentryRefused(f"Invalid response format for Select FormField in "
                                f"{self.app_name} from uri: {select['uri']}")
        return [[o["value"], o["label"]] for o in options]

    def save_rule(self, settings: list[dict[str, Any]]) -> str:
        """Save a rule's action settings; return Sentry's success text or raise SentryRefused."""
        self._check_like_sentry(settings)
        body = json.dumps({"fields": settings, "installationId": self.installation}).encode()
        request = Request("POST", self._url(self.component()["settings"]["uri"]),
                          self._headers(body), body)
        status, answer = self._send(request)
        if status >= 400:
            raise SentryRefused(f"{self.app_name}: {_message(answer) or DEFAULT_ERROR}", status)
        return f"{self.app_name}: {_message(answer) or DEFAULT_SUCCESS}"

    def issue_alert(self, payload: Mapping[str, Any], rule: str,
                    settings: list[dict[str, Any]]) -> tuple[int, bytes]:
        """Send an event_alert webhook from a rule whose action saved ``settings``."""
        sent = copy.deepcopy(dict(payload))
        sent["installation"] = {"uuid": self.installation}
        sent["data"]["triggered_rule"] = rule
        sent["data"]["issue_alert"] = {"id": 417, "title": rule, "sentry_app_id": SENTRY_APP_ID,
                                       "settings": settings}
        return self.webhook("event_alert", sent)

    def webhook(self, resource: str, payload: Mapping[str, Any]) -> tuple[int, bytes]:
        """Send a webhook to the webhook URL, signed as Sentry signs it."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex,
                   "Sentry-Hook-Resource": resource, "Sentry-Hook-Timestamp": "1795166067",
                   "Sentry-Hook-Signature": sign(self.client_secret, body)}
        return self._send(Request("POST", self.webhook_url, headers, body))

    def _check_like_sentry(self, settings: list[dict[str, Any]]) -> None:
        if not settings:
            raise SentryRefused(f"{self.app_name} requires settings to configure alert rules.")
        values = {s["name"]: s.get("value") for s in settings}
        component = self.component()["settings"]
        for required in component.get("required_fields", []):
            if not values.get(required["name"]):
                raise SentryRefused(f"{self.app_name} is missing required settings field: "
                                    f"'{required['name']}'")
        known = set()
        for candidate in self.fields():
            known.add(candidate["name"])
            value = values.get(candidate["name"])
            if candidate["type"] == "select" and "uri" not in candidate and value:
                allowed = [option[0] for option in candidate["options"]]
                if value not in allowed:
                    raise SentryRefused(f"{self.app_name} received {value} for "
                                        f"{candidate['label']} setting. Allowed values are "
                                        f"{', '.join(allowed)}'")
        extra = set(values) - known
        if extra:
            raise SentryRefused(f"Unexpected setting(s) '{', '.join(sorted(extra))}' configured "
                                f"for {self.app_name}")

    def _url(self, uri: str, query: str | None = None) -> str:
        """Replace the webhook URL's path with ``uri`` (and its query, for a select)."""
        parts = urlsplit(self.webhook_url)
        return urlunsplit((parts.scheme, parts.netloc, uri,
                           parts.query if query is None else query, parts.fragment))

    def _headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex,
                "Sentry-App-Signature": sign(self.client_secret, body)}

    def _send(self, request: Request) -> tuple[int, bytes]:
        self.sent.append(request)
        return self.send(request)


def _message(body: bytes) -> str | None:
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return str(decoded["message"]) if isinstance(decoded, dict) and decoded.get(
        "message") else None


@dataclass
class FakeSentryAppsApi(_FakeApi):
    """``/api/0/sentry-apps/{slug}/``: read and update custom integrations."""

    prefix = "/api/0"
    token: str = "sentry-user-token"
    scopes: set[str] = field(default_factory=lambda: {"org:read", "org:write"})
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_app(self, slug: str, webhook_url: str, *, name: str = "alert-bridge",
                scopes: list[str] | None = None, schema: dict[str, Any] | None = None,
                alertable: bool = False) -> dict[str, Any]:
        """Seed an internal integration."""
        self.apps[slug] = {"slug": slug, "name": name, "status": "internal",
                           "webhookUrl": webhook_url, "isAlertable": alertable,
                           "scopes": scopes or ["event:read", "event:write"],
                           "schema": schema or {}, "events": ["issue"]}
        return self.apps[slug]

    def error_body(self, message: str) -> Any:
        return {"detail": message}

    def authenticate(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.token}":
            raise ApiError(401, {"detail": "Invalid token"})

    def route(self, method: str, path: str, body: Any, query: Query,
              headers: dict[str, str]) -> tuple[Any, ...]:
        match method, path.strip("/").split("/"):
            case ("GET" | "PUT"), ["sentry-apps", slug] if path.endswith("/"):
                if slug not in self.apps:
                    raise ApiError(404, {"detail": "Could not find the requested sentry app"})
                if method == "GET":
                    return 200, self.apps[slug]
                return 200, self._update(self.apps[slug], body)
        raise ApiError(404, {"detail": "The requested resource does not exist"})

    def _update(self, app: dict[str, Any], body: Any) -> dict[str, Any]:
        if "org:write" not in self.scopes and "org:admin" not in self.scopes:
            raise ApiError(403, {"detail": "You do not have permission to perform this action."})
        if not isinstance(body, dict):
            raise ApiError(400, {"detail": "JSON parse error"})
        if "schema" in body:
            problem = schema_problem(body["schema"])
            if problem:
                raise ApiError(400, {"schema": [problem]})
        for key in ("name", "scopes", "schema", "isAlertable", "webhookUrl", "events"):
            if key in body:
                app[key] = body[key]
        return app


_ELEMENT_TYPES = ("issue-link", "alert-rule-action", "issue-media", "stacktrace-link")


def schema_problem(schema: Any) -> str | None:
    """Say why Sentry would refuse a UI-component schema, or None when it accepts it."""
    if schema in ("", {}):
        return None
    if not isinstance(schema, dict) or not isinstance(schema.get("elements"), list) or not (
            schema["elements"]):
        return "'elements' should be a non-empty array of objects"
    seen: set[str] = set()
    for element in schema["elements"]:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in _ELEMENT_TYPES:
            return f"Element has type '{kind}'. Type must be one of {list(_ELEMENT_TYPES)}"
        if kind in seen:
            return f"Multiple elements of type: {kind}"
        seen.add(kind)
        if kind == "alert-rule-action":
            problem = _action_problem(element)
            if problem:
                return f"{problem} for element of type 'alert-rule-action'"
    return None


def _action_problem(element: dict[str, Any]) -> str | None:
    settings = element.get("settings")
    if not isinstance(element.get("title"), str) or not isinstance(settings, dict):
        return "'title' and 'settings' are required"
    if settings.get("type") != "alert-rule-settings":
        return "settings 'type' must be 'alert-rule-settings'"
    if not _uri(settings.get("uri")):
        return "settings 'uri' must be a relative URI starting with '/'"
    description = settings.get("description")
    if description is not None and not (isinstance(description, str)
                                        and 1 <= len(description) <= 140):
        return "'description' must be 1 to 140 characters"
    if "required_fields" not in settings:
        return "'required_fields' is a required property"
    for key in ("required_fields", "optional_fields"):
        if key in settings:
            fields = settings[key]
            if not isinstance(fields, list) or not fields:
                return f"'{key}' must be a non-empty array"
            for form_field in fields:
                problem = _field_problem(form_field)
                if problem:
                    return problem
    return None


def _field_problem(form_field: Any) -> str | None:
    if not isinstance(form_field, dict) or form_field.get("type") not in ("select", "text",
                                                                          "textarea"):
        return f"{form_field!r} is not a select, text or textarea field"
    if not isinstance(form_field.get("name"), str) or not isinstance(form_field.get("label"), str):
        return f"field {form_field!r} needs a 'name' and a 'label'"
    if form_field["type"] != "select":
        default = form_field.get("default")
        if default is not None and default not in ("issue.title", "issue.description"):
            return f"text default {default!r} is not issue.title or issue.description"
        return None
    if ("uri" in form_field) == ("options" in form_field):
        return f"select {form_field['name']!r} needs exactly one of 'uri' and 'options'"
    if "uri" in form_field and not _uri(form_field["uri"]):
        return f"select {form_field['name']!r}: uri must start with '/'"
    if "async" in form_field and not isinstance(form_field["async"], bool):
        return f"select {form_field['name']!r}: async must be a boolean"
    options = form_field.get("options")
    if options is not None and (not isinstance(options, list) or not options or not all(
            isinstance(o, list) and len(o) == 2 and isinstance(o[0], str)
            and isinstance(o[1], (str, int, float)) for o in options)):
        return f"select {form_field['name']!r}: options must be [value, label] pairs"
    return None


def _uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/") and not value.startswith("//") and (
        "@" not in value)
