"""Load and validate teams.yaml (the legacy list of teams, or settings + teams) into TeamsConfig."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from shared.core.errors import ConfigError
from shared.core.settings import default_team as env_default_team
from shared.routing.teams import (
    CREATING_RESOURCES,
    DEFAULT_CREATE_TASKS_FROM,
    PRIORITIES,
    CustomFields,
    Matcher,
    PriorityMap,
    TaskTemplate,
    Team,
    TeamsConfig,
)

# Team keys: the legacy CamelCase spelling first, then its snake_case equivalent.
TEAM_KEYS: dict[str, tuple[str, str]] = {
    "name": ("Name", "name"),
    "asana_team_gid": ("AsanaTeamId", "asana_team_id"),
    "backlog_project_gid": ("AsanaBacklogId", "asana_backlog_id"),
    "sprint_portfolio_gid": ("AsanaSprintPortfolioId", "asana_sprint_portfolio_id"),
    "sandbox_portfolio_gid": ("AsanaSandboxPortfolioId", "asana_sandbox_portfolio_id"),
    "entities": ("Entities", "entities"),
    "followers": ("Followers", "followers"),
    "assignee": ("Assignee", "assignee"),
    "team_field_option_gid": ("TeamFieldOptionGid", "team_field_option_gid"),
    "sentry_team": ("SentryTeam", "sentry_team"),
    "sync_back": ("SyncBack", "sync_back"),
}
_TEAM_KEY_NAMES = frozenset(k for pair in TEAM_KEYS.values() for k in pair)
_TEAM_KEYS_SHOWN = ", ".join("/".join(pair) for pair in TEAM_KEYS.values())
ENTITY_KEYS = ("Matchers", "matchers")
SETTINGS_KEYS = ("workspace_gid", "default_team", "priority", "custom_fields", "template",
                 "create_tasks_from")
CUSTOM_FIELD_KEYS = ("priority_field_gid", "priority_option_gids", "team_field_gid", "fixed")
TEMPLATE_KEYS = ("runbook_url", "links", "highlighted_tags")
LINK_KEYS = ("label", "url")
SENTRY_LEVELS = ("fatal", "error", "warning", "info", "debug")
DATADOG_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
AZURE_SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
GCM_SEVERITIES = ("critical", "error", "warning")
#: Team names that are the default when neither settings.default_team nor DEFAULT_TEAM names
#: one: the older service required a team called "Observability and Performance".
LEGACY_DEFAULT_NAMES = ("Observability and Performance", "Default")

_GID = re.compile(r"[0-9]+")
# A {placeholder} names a tag or derived key: letters, digits, '_', '.', '-'.
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
# Sentry team slugs: lower-case letters, digits, '-' and '_'.
_SENTRY_SLUG = re.compile(r"[a-z0-9][a-z0-9_\-]*")


class _Problems:
    """Collect every problem of one file so the user fixes them in one pass."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


def load_teams(path: str, default_team: str | None = None) -> TeamsConfig:
    """Read and validate the teams file at ``path``: the one loader every caller uses.

    ``default_team`` is DEFAULT_TEAM; when not given it is read from the environment, so that
    the functions, the CLIs and ``make run``'s preflight agree on the same file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read teams file: {error.strerror or error}") from None
    chosen = default_team if default_team is not None else env_default_team(os.environ)
    return parse_teams(text, source=path, default_team=chosen)


def parse_teams(text: str, source: str = "teams.yaml",
                default_team: str | None = None) -> TeamsConfig:
    """Parse and validate teams.yaml text; raise one ConfigError listing every problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}{_position(error)}: not valid YAML: "
                          f"{_yaml_problem(error)}") from None
    problems = _Problems()
    config = _parse_document(document, default_team, problems)
    if problems.items:
        raise ConfigError("\n".join(f"{source}: {item}" for item in problems.items))
    assert config is not None  # no problems means the document parsed
    return config


def _parse_document(document: object, env_default: str | None,
                    problems: _Problems) -> TeamsConfig | None:
    if isinstance(document, list):
        return _build(document, {}, env_default, problems)
    if isinstance(document, dict):
        _reject_unknown(document, ("settings", "teams"), "", problems)
        settings = document.get("settings") or {}
        if not isinstance(settings, dict):
            problems.add("settings", "expected a mapping")
            settings = {}
        teams = document.get("teams")
        if not isinstance(teams, list):
            problems.add("teams", "required: a list of teams")
            teams = []
        return _build(teams, settings, env_default, problems)
    problems.add("", "expected a list of teams or a mapping with 'settings' and 'teams'")
    return None


def _build(raw_teams: list[Any], settings: Mapping[str, Any], env_default: str | None,
           problems: _Problems) -> TeamsConfig | None:
    _reject_unknown(settings, SETTINGS_KEYS, "settings", problems)
    teams = _parse_teams_list(raw_teams, settings, problems)
    default_team, why = _default_team(teams, settings.get("default_team"), env_default, problems)
    config = TeamsConfig(
        teams=tuple(teams),
        default_team=default_team or "",
        default_team_reason=why,
        workspace_gid=_gid(settings.get("workspace_gid"), "settings: workspace_gid", problems),
        priority=_parse_priority(settings.get("priority"), problems),
        custom_fields=_parse_custom_fields(settings.get("custom_fields"), teams, problems),
        template=_parse_template(settings.get("template"), problems),
        create_tasks_from=_parse_create_from(settings.get("create_tasks_from"), problems),
    )
    return config if default_team else None


def _parse_create_from(raw: object, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_CREATE_TASKS_FROM
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        problems.add("settings: create_tasks_from", "expected a list of webhook resources")
        return DEFAULT_CREATE_TASKS_FROM
    for item in raw:
        if item not in CREATING_RESOURCES:
            problems.add("settings: create_tasks_from",
                         f"unknown resource {item!r} (one of {', '.join(CREATING_RESOURCES)})")
    return tuple(raw)


def _parse_teams_list(raw_teams: list[Any], settings: Mapping[str, Any],
                      problems: _Problems) -> list[Team]:
    if not raw_teams:
        problems.add("", "no teams defined")
    teams: list[Team] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_teams, start=1):
        team = _parse_team(raw, index, problems)
        if team is None:
            continue
        if team.name.casefold() in seen:
            problems.add(f"team '{team.name}'", "duplicate team name")
            continue
        seen.add(team.name.casefold())
        teams.append(team)
    return teams


def _parse_team(raw: object, index: int, problems: _Problems) -> Team | None:
    if not isinstance(raw, dict):
        problems.add(f"team #{index}", "expected a mapping with Name, AsanaBacklogId, Entities")
        return None
    values = _team_values(raw, index, problems)
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"team #{index}", "Name: required, a non-empty string")
        return None
    name = name.strip()
    where = f"team '{name}'"
    _reject_unknown(raw, _TEAM_KEY_NAMES, where, problems, shown=_TEAM_KEYS_SHOWN)
    backlog = _gid(values.get("backlog_project_gid"), f"{where}: AsanaBacklogId", problems)
    if backlog is None and values.get("backlog_project_gid") is None:
        problems.add(where, "AsanaBacklogId: required (the project tasks fall back to)")
    return Team(
        name=name,
        backlog_project_gid=backlog or "",
        asana_team_gid=_gid(values.get("asana_team_gid"), f"{where}: AsanaTeamId", problems),
        sprint_portfolio_gid=_gid(values.get("sprint_portfolio_gid"),
                                  f"{where}: AsanaSprintPortfolioId", problems),
        sandbox_portfolio_gid=_gid(values.get("sandbox_portfolio_gid"),
                                   f"{where}: AsanaSandboxPortfolioId", problems),
        entities=_parse_entities(values.get("entities"), where, problems),
        followers=_parse_people(values.get("followers"), f"{where}: followers", problems),
        assignee=_person(values.get("assignee"), f"{where}: assignee", problems),
        team_field_option_gid=_gid(values.get("team_field_option_gid"),
                                   f"{where}: team_field_option_gid", problems),
        sentry_team=_sentry_team(values.get("sentry_team"), f"{where}: sentry_team", problems),
        sync_back=_flag(values.get("sync_back"), f"{where}: sync_back", problems),
    )


def _sentry_team(raw: object, where: str, problems: _Problems) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _SENTRY_SLUG.fullmatch(raw):
        problems.add(where, f"expected a Sentry team slug such as 'payments' (no '#'), got {raw!r}")
        return None
    return raw


def _flag(raw: object, where: str, problems: _Problems) -> bool:
    if raw is not None and not isinstance(raw, bool):
        problems.add(where, "expected true or false")
    return raw is True


def _team_values(raw: Mapping[str, Any], index: int, problems: _Problems) -> dict[str, Any]:
    """Read each team key under either spelling; both spellings at once is an error."""
    values: dict[str, Any] = {}
    for field_name, (camel, snake) in TEAM_KEYS.items():
        if camel in raw and snake in raw:
            label = raw.get("Name") or raw.get("name") or f"#{index}"
            problems.add(f"team '{label}'", f"both '{camel}' and '{snake}' given; keep one")
        values[field_name] = raw[camel] if camel in raw else raw.get(snake)
    return values


def _parse_entities(raw: object, where: str, problems: _Problems
                    ) -> tuple[tuple[Matcher, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, "Entities: expected a list of {Matchers: [...]} groups")
        return ()
    groups: list[tuple[Matcher, ...]] = []
    for index, entity in enumerate(raw, start=1):
        group = _parse_group(entity, f"{where}: entity #{index}", problems)
        if group:
            groups.append(group)
    return tuple(groups)


def _parse_group(entity: object, where: str, problems: _Problems) -> tuple[Matcher, ...]:
    if not isinstance(entity, dict):
        problems.add(where, "expected a mapping with Matchers")
        return ()
    _reject_unknown(entity, ENTITY_KEYS, where, problems)
    raw = entity.get("Matchers", entity.get("matchers"))
    if not isinstance(raw, list) or not raw:
        # An empty group would match every alert and silently steal the default team's work.
        problems.add(where, "Matchers: required, a non-empty list of 'key:value' strings")
        return ()
    matchers = [_parse_matcher(item, where, problems) for item in raw]
    return tuple(m for m in matchers if m is not None)


def parse_matcher(raw: str) -> Matcher:
    """Parse one ``key:value`` or ``key:/regex/`` matcher; raise ValueError saying what is wrong."""
    key, colon, value = raw.partition(":")
    key, value = key.strip(), value.strip()
    if not colon:
        raise ValueError("expected 'key:value' or 'key:/regex/'")
    if not key:
        raise ValueError("empty key")
    if not value:
        raise ValueError("empty value")
    if len(value) < 2 or not (value.startswith("/") and value.endswith("/")):
        return Matcher(key=key, raw=raw, exact=value)
    if len(value) == 2:
        raise ValueError("empty regex")
    try:
        pattern = re.compile(value[1:-1])
    except re.error as error:
        raise ValueError(f"bad regex: {error.msg}") from None
    return Matcher(key=key, raw=raw, pattern=pattern)


def _parse_matcher(item: object, where: str, problems: _Problems) -> Matcher | None:
    if isinstance(item, dict):
        problems.add(where, f"matcher {item!r}: write 'key:value' as one string, without a "
                            "space after the colon (YAML read it as a mapping)")
        return None
    if not isinstance(item, str):
        problems.add(where, f"matcher {item!r}: expected a 'key:value' string")
        return None
    try:
        return parse_matcher(item)
    except ValueError as error:
        problems.add(where, f"matcher '{item}': {error}")
        return None


def _default_team(teams: list[Team], configured: object, env_default: str | None,
                  problems: _Problems) -> tuple[str | None, str]:
    """Return the default team and why: settings.default_team, DEFAULT_TEAM, a legacy name."""
    names = {team.name.casefold(): team.name for team in teams}
    if configured is not None:
        if not isinstance(configured, str) or configured.casefold() not in names:
            problems.add("settings: default_team", f"no team named {configured!r}")
            return None, ""
        if env_default and env_default.casefold() != configured.casefold():
            problems.add("settings: default_team", f"{configured!r} but DEFAULT_TEAM is "
                                                   f"{env_default!r}: keep one of the two")
            return None, ""
        return names[configured.casefold()], "settings.default_team names it"
    if env_default:
        if env_default.casefold() not in names:
            problems.add("", f"DEFAULT_TEAM: no team named {env_default!r} in the file")
            return None, ""
        return names[env_default.casefold()], "DEFAULT_TEAM names it"
    for legacy in LEGACY_DEFAULT_NAMES:
        if legacy.casefold() in names:
            return names[legacy.casefold()], (f"it is named '{legacy}' and neither "
                                              "settings.default_team nor DEFAULT_TEAM is set")
    shown = " or ".join(f"'{name}'" for name in LEGACY_DEFAULT_NAMES)
    problems.add("", "no default team: set settings.default_team or DEFAULT_TEAM, or name a "
                     f"team {shown}")
    return None, ""


#: Per source, the severities its priority table may list (None: any value of a free-form
#: ``severity`` label) and how they are spelled.
_PRIORITY_TABLES: dict[str, tuple[tuple[str, ...] | None, Callable[[str], str]]] = {
    "sentry": (SENTRY_LEVELS, str.lower),
    "datadog": (DATADOG_PRIORITIES, str.upper),
    "azure": (AZURE_SEVERITIES, str.capitalize),
    "alertmanager": (None, str.lower),
    "grafana": (None, str.lower),
    "gcm": (GCM_SEVERITIES, str.lower),
    "cloudwatch": (DATADOG_PRIORITIES, str.upper),  # a P1-P5 word, as Datadog's
}


def _parse_priority(raw: object, problems: _Problems) -> PriorityMap:
    if raw is None:
        return PriorityMap()
    where = "settings: priority"
    if not isinstance(raw, dict):
        problems.add(where, f"expected a mapping with {', '.join(_PRIORITY_TABLES)}, default")
        return PriorityMap()
    _reject_unknown(raw, (*_PRIORITY_TABLES, "default"), where, problems)
    base = PriorityMap()
    tables = {name: {**getattr(base, name),
                     **_priority_table(raw.get(name), allowed, spell, f"{where}: {name}",
                                       problems)}
              for name, (allowed, spell) in _PRIORITY_TABLES.items()}
    default = base.default
    if "default" in raw:
        default = _priority_value(raw["default"], f"{where}: default", problems) or default
    return PriorityMap(default=default, **tables)


def _priority_table(raw: object, levels: tuple[str, ...] | None,
                    normalize: Callable[[str], str], where: str,
                    problems: _Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(where, f"expected a mapping of {', '.join(levels or ('label values',))} "
                            "to High/Medium/Low")
        return {}
    table: dict[str, str] = {}
    for level, value in raw.items():
        key = normalize(str(level))
        if levels is not None and key not in levels:
            problems.add(where, f"unknown priority level {level!r} (expected {', '.join(levels)})")
            continue
        priority = _priority_value(value, f"{where}: {level}", problems)
        if priority:
            table[key] = priority
    return table


def _as_priority(raw: object) -> str | None:
    for priority in PRIORITIES:
        if isinstance(raw, str) and raw.strip().casefold() == priority.casefold():
            return priority
    return None


def _priority_value(raw: object, where: str, problems: _Problems) -> str | None:
    priority = _as_priority(raw)
    if priority is None:
        problems.add(where, f"expected one of {', '.join(PRIORITIES)}, got {raw!r}")
    return priority


def _parse_custom_fields(raw: object, teams: list[Team], problems: _Problems) -> CustomFields:
    if raw is None:
        _check_team_options(teams, None, problems)
        return CustomFields()
    where = "settings: custom_fields"
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping")
        return CustomFields()
    _reject_unknown(raw, CUSTOM_FIELD_KEYS, where, problems)
    priority_field = _gid(raw.get("priority_field_gid"), f"{where}: priority_field_gid", problems)
    options = _priority_options(raw.get("priority_option_gids"), priority_field, where, problems)
    team_field = _gid(raw.get("team_field_gid"), f"{where}: team_field_gid", problems)
    _check_team_options(teams, team_field, problems)
    return CustomFields(
        priority_field_gid=priority_field,
        priority_option_gids=options,
        team_field_gid=team_field,
        fixed=_fixed_fields(raw.get("fixed"), f"{where}: fixed", problems),
    )


def _priority_options(raw: object, field_gid: str | None, where: str,
                      problems: _Problems) -> dict[str, str]:
    where = f"{where}: priority_option_gids"
    if raw is None:
        if field_gid:
            problems.add(where, "required when priority_field_gid is set (High, Medium, Low)")
        return {}
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping of High/Medium/Low to option gids")
        return {}
    if not field_gid:
        problems.add(where, "given without priority_field_gid")
    options: dict[str, str] = {}
    for key, value in raw.items():
        priority = _priority_value(key, f"{where}: {key}", problems)
        gid = _gid(value, f"{where}: {key}", problems)
        if priority and gid:
            options[priority] = gid
    given = {_as_priority(key) for key in raw}
    missing = [p for p in PRIORITIES if p not in given]
    if missing:
        problems.add(where, f"missing {', '.join(missing)}")
    return options


def _check_team_options(teams: list[Team], team_field: str | None, problems: _Problems) -> None:
    if team_field:
        return
    for team in teams:
        if team.team_field_option_gid:
            problems.add(f"team '{team.name}'", "team_field_option_gid given but "
                                                "settings.custom_fields.team_field_gid is not set")


def _fixed_fields(raw: object, where: str, problems: _Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping of custom field gid to value")
        return {}
    fixed: dict[str, str] = {}
    for key, value in raw.items():
        gid = _gid(key, f"{where}: {key}", problems)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.add(f"{where}: {key}", f"expected an option gid or a literal, got {value!r}")
            continue
        if gid:
            fixed[gid] = str(value)
    return fixed


def _parse_template(raw: object, problems: _Problems) -> TaskTemplate:
    if raw is None:
        return TaskTemplate()
    where = "settings: template"
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping")
        return TaskTemplate()
    _reject_unknown(raw, TEMPLATE_KEYS, where, problems)
    runbook = raw.get("runbook_url")
    if runbook is not None and not _is_url(runbook):
        problems.add(f"{where}: runbook_url", f"expected an http(s) URL, got {runbook!r}")
        runbook = None
    return TaskTemplate(
        runbook_url=runbook,
        links=_parse_links(raw.get("links"), f"{where}: links", problems),
        highlighted_tags=_string_list(raw.get("highlighted_tags"),
                                      f"{where}: highlighted_tags", problems),
    )


def _parse_links(raw: object, where: str, problems: _Problems) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, "expected a list of {label, url}")
        return ()
    links: list[tuple[str, str]] = []
    for index, link in enumerate(raw, start=1):
        if not isinstance(link, dict):
            problems.add(f"{where}: #{index}", "expected a mapping with label and url")
            continue
        label = link.get("label")
        at = f"{where}: '{label}'" if isinstance(label, str) else f"{where}: #{index}"
        _reject_unknown(link, LINK_KEYS, at, problems)
        url = link.get("url")
        if not isinstance(label, str) or not label.strip():
            problems.add(at, "label: required, a non-empty string")
        elif _check_link_url(url, at, problems):
            links.append((label.strip(), str(url)))
    return tuple(links)


def _check_link_url(url: object, where: str, problems: _Problems) -> bool:
    if not _is_url(url):
        problems.add(where, f"url: expected an http(s) URL template, got {url!r}")
        return False
    text = str(url)
    names = _PLACEHOLDER.findall(text)
    bad = [name for name in names if not _PLACEHOLDER_NAME.fullmatch(name)]
    if bad:
        problems.add(where, f"url: bad placeholder {{{bad[0]}}} (use {{tag_key}})")
        return False
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        problems.add(where, "url: unbalanced '{' or '}'")
        return False
    return True


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _string_list(raw: object, where: str, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        problems.add(where, "expected a list of non-empty strings")
        return ()
    return tuple(x.strip() for x in raw)


def _parse_people(raw: object, where: str, problems: _Problems) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(where, "expected a list of Asana user gids or emails")
        return ()
    people = [_person(item, where, problems) for item in raw]
    return tuple(p for p in people if p)


def _person(raw: object, where: str, problems: _Problems) -> str | None:
    """Accept an Asana user gid or an email, the two forms Asana takes for users."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)
    if isinstance(raw, str) and (_GID.fullmatch(raw.strip()) or "@" in raw):
        return raw.strip()
    problems.add(where, f"expected an Asana user gid or email, got {raw!r}")
    return None


def _gid(raw: object, where: str, problems: _Problems) -> str | None:
    """Return an Asana gid as a string; YAML may read an unquoted gid as an int."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)
    if isinstance(raw, str) and _GID.fullmatch(raw.strip()):
        return raw.strip()
    problems.add(where, f"not an Asana gid (a string of digits): {raw!r}")
    return None


def _reject_unknown(raw: Mapping[str, Any], allowed: Collection[str], where: str,
                    problems: _Problems, *, shown: str | None = None) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.add(where, f"unknown key {key!r} ({hint}allowed: "
                                f"{shown or ', '.join(allowed)})")


def _position(error: yaml.YAMLError) -> str:
    """Return ``:line:column`` of a YAML error (1-based, as editors count), or nothing."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Return what the parser found, without its '<unicode string>' position lines."""
    parts = [getattr(error, "context", None), getattr(error, "problem", None)]
    text = "; ".join(str(p) for p in parts if p)
    return text or str(error).splitlines()[0]
