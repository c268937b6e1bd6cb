"""Parse Sentry integration-platform webhooks (event_alert, error, issue, metric_alert)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from shared.core.alert import Action, Alert
from shared.core.errors import Permanent
from shared.core.payload import clean_text, parse_time
from shared.sources.base import json_message
from shared.sources.sentry.keys import CONTAINERS, RESOURCES, require_key, webhook_unit
from shared.sources.sentry.rule_payload import from_payload as rule_settings

ISSUE_ACTIONS = {
    "created": Action.TRIGGERED,
    "resolved": Action.RESOLVED,
    # Sentry sends "unresolved" both for regressions and for manual reopening: both reopen.
    "unresolved": Action.REOPENED,
    "assigned": Action.ASSIGNED,
    "ignored": Action.IGNORED,
    "archived": Action.IGNORED,
}

# Metric alert action -> (action, level); a critical incident is as urgent as an error.
METRIC_ACTIONS: dict[str, tuple[Action, str | None]] = {
    "critical": (Action.TRIGGERED, "error"),
    "warning": (Action.TRIGGERED, "warning"),
    "resolved": (Action.RESOLVED, None),
}

# The event's API url: .../api/0/projects/<org-slug>/<project-slug>/events/<event-id>/
_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/(?P<slug>[^/]+)/events/")

Json = Mapping[str, object]


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published webhook body by its ``resource`` attribute; Permanent if never."""
    received_at = parse_time(attributes.get("received_at"))
    resource = clean_text(attributes.get("resource"))
    if resource not in RESOURCES:
        raise Permanent(
            f"sentry webhook: attribute 'resource' is {resource!r}, expected one of "
            f"{', '.join(RESOURCES)}",
            reason="bad_payload",
        )
    return parse(resource, json_message(body, webhook_unit(resource)), received_at)


def parse(resource: str, payload: Json, received_at: datetime | None) -> Alert:
    """Parse one Sentry webhook payload whose Sentry-Hook-Resource is ``resource``."""
    unit = f"sentry {resource} webhook"
    data = _object(payload.get("data"), unit, "data")
    if resource == "issue":
        return _issue(payload, data, unit, received_at)
    if resource == "metric_alert":
        return _metric_alert(payload, data, unit, received_at)
    return _event(resource, payload, data, unit, received_at)


def _event(
    resource: str, payload: Json, data: Json, unit: str, received_at: datetime | None
) -> Alert:
    container = CONTAINERS[resource]
    event = _object(data.get(container), unit, f"data.{container}")
    key = require_key(resource, payload)
    issue_id = clean_text(event.get("issue_id"))
    tags = _tags(event.get("tags"))
    tag_map = dict(tags)
    exception = _last_exception(event)
    exception_type = clean_text(exception.get("type"))
    exception_value = clean_text(exception.get("value"))
    return Alert(
        source="sentry",
        resource=resource,
        key=key,
        action=Action.TRIGGERED,
        title=_first(
            event.get("title"),
            _joined(exception_type, exception_value),
            event.get("culprit"),
            f"Sentry issue {issue_id}",
        ),
        external_id=issue_id,
        url=clean_text(event.get("web_url")),
        level=_lower(event.get("level")) or _lower(tag_map.get("level")),
        environment=clean_text(event.get("environment")) or tag_map.get("environment"),
        occurred_at=_time(event.get("datetime"), event.get("timestamp"), received_at),
        project=_project_slug(event.get("url")),
        project_id=clean_text(event.get("project")),
        release=clean_text(event.get("release")) or tag_map.get("release"),
        culprit=clean_text(event.get("culprit")),
        exception_type=exception_type,
        exception_value=exception_value,
        top_frame=_top_frame(exception, event),
        request_url=_request_url(event) or tag_map.get("url"),
        transition=clean_text(payload.get("action")),
        tags=tags,
        rule=clean_text(data.get("triggered_rule")),
        installation_id=_installation(payload),
        rule_settings=rule_settings(resource, payload),
    )


def _issue(payload: Json, data: Json, unit: str, received_at: datetime | None) -> Alert:
    issue = _object(data.get("issue"), unit, "data.issue")
    key = require_key("issue", payload)
    raw_action = clean_text(payload.get("action"))
    action = ISSUE_ACTIONS.get(raw_action or "")
    if action is None:
        raise _unsupported(unit, "action", raw_action, ISSUE_ACTIONS)
    issue_id = clean_text(issue.get("id"))
    project = _optional_object(issue.get("project"))
    metadata = _optional_object(issue.get("metadata"))
    exception_type = clean_text(metadata.get("type"))
    exception_value = clean_text(metadata.get("value"))
    return Alert(
        source="sentry",
        resource="issue",
        key=key,
        action=action,
        title=_first(
            issue.get("title"),
            _joined(exception_type, exception_value),
            issue.get("culprit"),
            f"Sentry issue {issue_id}",
        ),
        external_id=issue_id,
        url=clean_text(issue.get("web_url")) or clean_text(issue.get("permalink")),
        level=_lower(issue.get("level")),
        occurred_at=_time(issue.get("lastSeen"), issue.get("firstSeen"), received_at),
        project=clean_text(project.get("slug")),
        project_id=clean_text(project.get("id")),
        culprit=clean_text(issue.get("culprit")),
        exception_type=exception_type,
        exception_value=exception_value,
        top_frame=_metadata_frame(metadata),
        transition=raw_action,
        actor=_person(payload.get("actor")),
        assignee=_assignee(issue.get("assignedTo")),
        status_details=_status_details(issue),
        installation_id=_installation(payload),
    )


def _metric_alert(payload: Json, data: Json, unit: str, received_at: datetime | None) -> Alert:
    incident = _object(data.get("metric_alert"), unit, "data.metric_alert")
    key = require_key("metric_alert", payload)
    raw_action = clean_text(payload.get("action"))
    if (raw_action or "") not in METRIC_ACTIONS:
        raise _unsupported(unit, "action", raw_action, METRIC_ACTIONS)
    action, level = METRIC_ACTIONS[raw_action or ""]
    incident_id = clean_text(incident.get("id"))
    rule = _optional_object(incident.get("alert_rule"))
    # A resolution's moment is when the incident closed; otherwise when it started.
    closed = incident.get("date_closed") if action is Action.RESOLVED else None
    return Alert(
        source="sentry",
        resource="metric_alert",
        key=key,
        action=action,
        title=_first(
            incident.get("title"),
            rule.get("name"),
            data.get("description_title"),
            f"Sentry metric alert {incident_id}",
        ),
        external_id=incident_id,
        url=clean_text(data.get("web_url")),
        level=level,
        environment=clean_text(rule.get("environment")),
        occurred_at=_time(closed, incident.get("date_started"), received_at),
        project=_first_item(rule.get("projects")) or _first_item(incident.get("projects")),
        transition=raw_action,
        rule=clean_text(rule.get("name")),
        description=clean_text(data.get("description_text")),
        installation_id=_installation(payload),
        rule_settings=rule_settings("metric_alert", payload),
    )


def _installation(payload: Json) -> str | None:
    return clean_text(_optional_object(payload.get("installation")).get("uuid"))


def _object(value: object, unit: str, name: str) -> Json:
    if not isinstance(value, dict):
        raise Permanent(f"{unit}: {name} missing", reason="bad_payload")
    return value


def _optional_object(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _unsupported(unit: str, name: str, value: str | None, known: Mapping[str, object]) -> Permanent:
    expected = ", ".join(known)
    return Permanent(
        f"{unit}: {name} {value!r} not supported (expected one of {expected})",
        reason="bad_payload",
    )


def _tags(value: object) -> tuple[tuple[str, str], ...]:
    """Return Sentry tags given as [key, value] pairs (or {"key", "value"} objects)."""
    if not isinstance(value, list):
        return ()
    pairs = []
    for item in value:
        if isinstance(item, list) and len(item) == 2:
            key, text = clean_text(item[0]), clean_text(item[1])
        elif isinstance(item, dict):
            key, text = clean_text(item.get("key")), clean_text(item.get("value"))
        else:
            continue
        if key:
            pairs.append((key, text or ""))
    return tuple(pairs)


def _last_exception(event: Json) -> Json:
    """Return the exception that was raised: Sentry lists chained exceptions oldest-first."""
    container = _optional_object(event.get("exception"))
    values = container.get("values")
    if not isinstance(values, list):
        return {}
    candidates = [v for v in values if isinstance(v, dict) and (v.get("type") or v.get("value"))]
    return candidates[-1] if candidates else {}


def _top_frame(exception: Json, event: Json) -> str | None:
    """Describe the innermost in-app frame: the last one, since frames are oldest-first."""
    stacktrace = _optional_object(exception.get("stacktrace")) or _optional_object(
        event.get("stacktrace")
    )
    frames = stacktrace.get("frames")
    if not isinstance(frames, list):
        return None
    in_app = [f for f in frames if isinstance(f, dict) and f.get("in_app") is True]
    return _frame_label(in_app[-1]) if in_app else None


def _frame_label(frame: Json) -> str:
    module, function = clean_text(frame.get("module")), clean_text(frame.get("function"))
    filename = clean_text(frame.get("filename")) or clean_text(frame.get("abs_path"))
    lineno = frame.get("lineno")
    name = ".".join(part for part in (module, function) if part) or filename or "?"
    where = f"{filename}:{lineno}" if filename and isinstance(lineno, int) else filename
    return f"{name} ({where})" if where and where != name else name


def _metadata_frame(metadata: Json) -> str | None:
    function, filename = clean_text(metadata.get("function")), clean_text(metadata.get("filename"))
    if function and filename:
        return f"{function} ({filename})"
    return function or filename


def _request_url(event: Json) -> str | None:
    return clean_text(_optional_object(event.get("request")).get("url"))


def _project_slug(api_url: object) -> str | None:
    match = _PROJECT_IN_URL.search(clean_text(api_url) or "")
    return match.group("slug") if match else None


def _person(value: object) -> str | None:
    person = _optional_object(value)
    return clean_text(person.get("name")) or clean_text(person.get("email"))


def _assignee(value: object) -> str | None:
    name = _person(value)
    # Sentry assigns issues to users or to teams; a bare team slug reads like a person.
    if name and _optional_object(value).get("type") == "team":
        return f"team {name}"
    return name


def _status_details(issue: Json) -> tuple[tuple[str, str], ...]:
    """Return the scalar statusDetails of an issue (how long it is ignored) and its substatus."""
    details = _optional_object(issue.get("statusDetails"))
    pairs = [(key, text) for key, value in details.items()
             if (text := clean_text(value)) is not None]
    substatus = clean_text(issue.get("substatus"))
    return tuple(pairs + ([("substatus", substatus)] if substatus else []))


def _time(*candidates: object) -> datetime | None:
    for candidate in candidates:
        if isinstance(candidate, datetime):
            return candidate
        parsed = parse_time(candidate)
        if parsed is not None:
            return parsed
    return None


def _first(*candidates: object) -> str:
    """Return the first non-empty text; the last candidate is a never-empty fallback."""
    for candidate in candidates:
        text = clean_text(candidate)
        if text:
            return text
    return str(candidates[-1])


def _first_item(value: object) -> str | None:
    return clean_text(value[0]) if isinstance(value, list) and value else None


def _joined(exception_type: str | None, exception_value: str | None) -> str | None:
    if exception_type and exception_value:
        return f"{exception_type}: {exception_value}"
    return exception_type or exception_value


def _lower(value: object) -> str | None:
    text = clean_text(value)
    return text.lower() if text else None
