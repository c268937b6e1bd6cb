"""Turn a routed alert into an Asana task draft whose rich text Asana accepts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from shared.core.alert import Action, Alert
from shared.core.payload import parse_time
from shared.routing.teams import Team, TeamsConfig

MAX_NAME_CHARS = 200
MAX_VALUE_CHARS = 500  # one field or tag value in the body
MAX_TAGS = 30  # when every tag is shown

# Asana's rich text allow-list (developers.asana.com/docs/rich-text): the tags it accepts
# on write, the attributes each may carry, and what may nest where.
_INLINE = frozenset({"strong", "em", "u", "s", "code", "a"})
_BLOCK = frozenset({"ol", "ul", "blockquote", "pre", "h1", "h2", "hr"})
_CHILDREN: Mapping[str, frozenset[str]] = {
    "body": _INLINE | _BLOCK,
    "strong": _INLINE,
    "em": _INLINE,
    "u": _INLINE,
    "s": _INLINE,
    "code": _INLINE - {"code"},
    "a": _INLINE - {"a"},
    "ol": frozenset({"li"}),
    "ul": frozenset({"li"}),
    "li": _INLINE | {"ol", "ul"},
    "blockquote": _INLINE,
    "pre": _INLINE,
    "h1": _INLINE,
    "h2": _INLINE,
    "hr": frozenset(),
}
_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "a": frozenset(
        {"href", "data-asana-gid", "data-asana-project", "data-asana-type", "data-asana-dynamic"}
    ),
}
# Comments (stories) take no headers.
_STORY_FORBIDDEN = frozenset({"h1", "h2"})
_LISTS = frozenset({"ol", "ul"})  # whitespace is the only text a list takes

# Characters XML 1.0 cannot carry at all (C0 controls, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_SOURCE_LABELS = {"sentry": "Sentry", "datadog": "Datadog", "cloudwatch": "CloudWatch"}
_SOURCE_LABELS |= {"alertmanager": "Alertmanager", "grafana": "Grafana"}


@dataclass(frozen=True)
class TaskDraft:
    """Everything needed to create one Asana task."""

    name: str
    html_notes: str  # empty when rendering failed validation: ``notes`` is sent instead
    notes: str  # plain-text fallback, also what dry-run and logs show
    projects: tuple[str, ...]
    workspace: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    followers: tuple[str, ...] = ()
    assignee: str | None = None
    completed: bool = False  # an alert whose resolve arrived before its firing

    def to_asana(self) -> dict[str, Any]:
        """Return the ``data`` object of ``POST /tasks``."""
        # Asana refuses a request carrying both notes and html_notes.
        data: dict[str, Any] = {"name": self.name, "projects": list(self.projects)}
        if self.html_notes:
            data["html_notes"] = self.html_notes
        else:
            data["notes"] = self.notes
        if self.workspace:
            data["workspace"] = self.workspace
        if self.custom_fields:
            data["custom_fields"] = dict(self.custom_fields)
        if self.followers:
            data["followers"] = list(self.followers)
        if self.completed:
            data["completed"] = True
        if self.assignee:
            data["assignee"] = self.assignee
        return data


def validate_rich_text(html: str, *, story: bool = False) -> None:
    """Raise ValueError unless ``html`` is Asana rich text (``story``: a comment's html_text)."""
    try:
        root = ET.fromstring(html)
    except ET.ParseError as exc:
        raise ValueError(f"rich text: not well-formed XML: {exc}") from None
    if root.tag != "body":
        raise ValueError(f"rich text: root element must be <body>, got <{root.tag}>")
    _check_element(root, story=story)


def _check_element(element: ET.Element, *, story: bool) -> None:
    tag = element.tag
    unknown = set(element.attrib) - _ATTRIBUTES.get(tag, frozenset())
    if unknown:
        raise ValueError(f"rich text: <{tag}> does not take attribute {sorted(unknown)[0]!r}")
    if tag in {"h1", "h2"} and "\n" in "".join(element.itertext()):
        raise ValueError(f"rich text: <{tag}> cannot contain a line break")
    if tag in _LISTS and not _blank(element.text):
        raise ValueError(f"rich text: <{tag}> can only contain <li>, found text")
    for child in element:
        if not isinstance(child.tag, str) or child.tag not in _CHILDREN:
            raise ValueError(f"rich text: tag <{child.tag}> is not allowed")
        if story and child.tag in _STORY_FORBIDDEN:
            raise ValueError(f"rich text: <{child.tag}> is not allowed in a comment")
        if child.tag not in _CHILDREN[tag]:
            raise ValueError(f"rich text: <{child.tag}> is not allowed inside <{tag}>")
        if tag in _LISTS and not _blank(child.tail):
            raise ValueError(f"rich text: <{tag}> can only contain <li>, found text")
        _check_element(child, story=story)


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _xml_safe(text: str) -> str:
    """Drop the characters XML cannot carry (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


def _clip(text: str, limit: int) -> str:
    text = _xml_safe(text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    # Cut at a word boundary unless that throws away most of the text (one long token).
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def task_name(alert: Alert, priority: str) -> str:
    """Return ``[<priority>] <title>`` on one line, at most MAX_NAME_CHARS long."""
    title = " ".join(_xml_safe(alert.title).split())
    if not title:
        title = f"{_SOURCE_LABELS.get(alert.source, alert.source)} alert"
    prefix = f"[{priority}] "
    return prefix + _clip(title, MAX_NAME_CHARS - len(prefix))


def _e(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return escape(_clip(text, limit), {'"': "&quot;"})


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _link_html(label: str, url: str) -> str:
    if not _is_web_url(url):
        return f"{_e(label)}: <code>{_e(url)}</code>"
    return f'<a href="{_e(url, 2000)}">{_e(label)}</a>'


def fill_template(template: str, fields: Mapping[str, str]) -> str | None:
    """Fill ``{key}`` placeholders with URL-quoted values; None when one is missing."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = fields.get(match.group(1).strip())
        if not found:
            missing = True
            return ""
        return quote(found, safe="")

    filled = _PLACEHOLDER.sub(value, template)
    return None if missing else filled


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _facts(alert: Alert, priority: str) -> list[tuple[str, str, bool]]:
    """Return (label, value, monospaced) rows about the alert, skipping unknown values."""
    severity = alert.level or alert.priority
    exception = ": ".join(v for v in (alert.exception_type, alert.exception_value) if v)
    rows = [
        ("When", _when(alert.occurred_at), False),
        ("Environment", alert.environment, False),
        ("Severity", f"{severity} → {priority}" if severity else priority, False),
        ("Project", alert.project, False),
        ("Exception", exception or None, True),
        ("Culprit", alert.culprit, True),
        ("Top in-app frame", alert.top_frame, True),
        ("Release", alert.release, True),
        ("Request", alert.request_url, True),
        ("Scope", alert.scope, True),
        ("Monitor", alert.monitor_id, False),
        ("Transition", alert.transition, False),
        *((label, value, False) for label, value in alert.facts),
    ]
    return [(label, value, mono) for label, value, mono in rows if value]


def _tags(alert: Alert, highlighted: tuple[str, ...]) -> tuple[list[tuple[str, str]], int]:
    """Return the tags to show and how many were left out."""
    if highlighted:
        present = dict(alert.tags)
        return [(key, present[key]) for key in highlighted if present.get(key)], 0
    return list(alert.tags[:MAX_TAGS]), max(0, len(alert.tags) - MAX_TAGS)


def _links(alert: Alert, config: TeamsConfig) -> list[tuple[str, str]]:
    template = config.template
    fields = alert.match_fields()
    candidates = list(template.links)
    if template.runbook_url:
        candidates.insert(0, ("Runbook", template.runbook_url))
    links = [(label, url) for label, url in alert.links if _is_web_url(url)]
    for label, url_template in candidates:
        url = fill_template(url_template, fields)
        if url:
            links.append((label, url))
    return links


@dataclass(frozen=True)
class _Body:
    """The task body as data, rendered twice: rich text and plain text."""

    source: str
    url: str | None
    facts: list[tuple[str, str, bool]]
    tags: list[tuple[str, str]]
    tags_left_out: int
    links: list[tuple[str, str]]
    routing: list[str]


def _html(body: _Body) -> str:
    parts = ["<body>"]
    opening = f"{_e(body.source)} alert"
    if body.url:
        opening += f": {_link_html(f'Open in {body.source}', body.url)}"
    parts.append(f"<strong>{opening}</strong>")
    parts.append("<ul>")
    for label, value, mono in body.facts:
        shown = f"<code>{_e(value)}</code>" if mono else _e(value)
        parts.append(f"<li><strong>{_e(label)}:</strong> {shown}</li>")
    parts.append("</ul>")
    if body.tags:
        parts.append("<h2>Tags</h2><ul>")
        parts += [f"<li><code>{_e(k, 100)}</code>: {_e(v)}</li>" for k, v in body.tags]
        if body.tags_left_out:
            parts.append(f"<li><em>… and {body.tags_left_out} more</em></li>")
        parts.append("</ul>")
    if body.links:
        parts.append("<h2>Links</h2><ul>")
        parts += [f"<li>{_link_html(label, url)}</li>" for label, url in body.links]
        parts.append("</ul>")
    parts.append("<h2>Routing</h2><ul>")
    parts += [f"<li>{_e(line, 1000)}</li>" for line in body.routing]
    parts.append("</ul></body>")
    return "".join(parts)


def _plain(body: _Body) -> str:
    lines = [f"{body.source} alert" + (f": {body.url}" if body.url else "")]
    lines += [f"{label}: {_clip(value, MAX_VALUE_CHARS)}" for label, value, _ in body.facts]
    if body.tags:
        lines += ["", "Tags:"]
        lines += [f"- {_clip(k, 100)}: {_clip(v, MAX_VALUE_CHARS)}" for k, v in body.tags]
        if body.tags_left_out:
            lines.append(f"- … and {body.tags_left_out} more")
    if body.links:
        lines += ["", "Links:"] + [f"- {label}: {url}" for label, url in body.links]
    lines += ["", "Routing:"] + [f"- {_clip(line, 1000)}" for line in body.routing]
    return "\n".join(lines)


def _custom_fields(team: Team, config: TeamsConfig, priority: str) -> dict[str, str]:
    settings = config.custom_fields
    fields = dict(settings.fixed)
    option = settings.priority_option_gids.get(priority)
    if settings.priority_field_gid and option:
        fields[settings.priority_field_gid] = option
    if settings.team_field_gid and team.team_field_option_gid:
        fields[settings.team_field_gid] = team.team_field_option_gid
    return fields


def render_task(
    alert: Alert,
    team: Team,
    config: TeamsConfig,
    priority: str,
    project_gid: str,
    routing_explanation: str,
    board_explanation: str,
) -> TaskDraft:
    """Build the task for ``alert`` on ``team``'s board ``project_gid``."""
    tags, left_out = _tags(alert, config.template.highlighted_tags)
    body = _Body(
        source=_SOURCE_LABELS.get(alert.source, alert.source),
        url=alert.url,
        facts=_facts(alert, priority),
        tags=tags,
        tags_left_out=left_out,
        links=_links(alert, config),
        routing=[f"Team {team.name}: {routing_explanation}", f"Board: {board_explanation}"],
    )
    html = _html(body)
    try:
        validate_rich_text(html)
    except ValueError:
        # Should not happen; if it does, the plain text still reaches the team.
        html = ""
    return TaskDraft(
        name=task_name(alert, priority),
        html_notes=html,
        notes=_plain(body),
        projects=(project_gid,),
        workspace=config.workspace_gid,
        custom_fields=_custom_fields(team, config, priority),
        followers=team.followers,
        assignee=team.assignee,
    )


def ignore_condition(details: tuple[tuple[str, str], ...]) -> str:
    """Say how long a Sentry issue stays ignored, from its statusDetails and substatus."""
    found = dict(details)
    conditions = []
    if found.get("ignoreUntilEscalating") == "True" or (
            found.get("substatus") == "archived_until_escalating"):
        conditions.append("until it escalates")
    until = _when(parse_time(found.get("ignoreUntil")))
    if until:
        conditions.append(f"until {until}")
    if found.get("ignoreDuration"):
        conditions.append(f"for {found['ignoreDuration']} minutes")
    if found.get("ignoreCount"):
        conditions.append(f"until it occurs {found['ignoreCount']} more times"
                          + _within(found.get("ignoreWindow")))
    if found.get("ignoreUserCount"):
        conditions.append(f"until {found['ignoreUserCount']} more users are affected"
                          + _within(found.get("ignoreUserWindow")))
    return " or ".join(conditions) or "forever"


def _within(minutes: str | None) -> str:
    return f" within {minutes} minutes" if minutes else ""


def _change(alert: Alert) -> str:
    """Say who was assigned, or who ignored the issue: Sentry's assignedTo and actor."""
    text = ""
    if alert.action is Action.ASSIGNED:
        text = f" to {alert.assignee}" if alert.assignee else " (now unassigned)"
    return text + (f" by {alert.actor}" if alert.actor else "")


def render_comment(alert: Alert, what: str) -> str:
    """Return a comment's html_text, e.g. "Fired again at …" with a link to the alert."""
    when = _when(alert.occurred_at)
    if alert.action in (Action.ASSIGNED, Action.IGNORED):
        what += _change(alert)
    if alert.action is Action.NOTED and alert.transition:
        what += f" to {alert.transition}"
    headline = f"{what} at {when}" if when else what
    if alert.action is Action.IGNORED:
        headline += f", {ignore_condition(alert.status_details)}"
    parts = [f"<body><strong>{_e(headline)}</strong>"]
    if alert.url:
        parts.append(f": {_link_html(_SOURCE_LABELS.get(alert.source, alert.source), alert.url)}")
    details = [v for v in (alert.environment, alert.level or alert.priority, alert.release) if v]
    if details:
        parts.append(f" ({_e(', '.join(details))})")
    parts.append("</body>")
    html = "".join(parts)
    validate_rich_text(html, story=True)
    return html
