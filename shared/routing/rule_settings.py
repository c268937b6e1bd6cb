"""The settings a Sentry alert rule saved for "Create an Asana task": where to find them in a
webhook, and their validation into plain values. No I/O.

Where Sentry puts them (verified in Sentry's source):

- issue alerts: ``data.issue_alert.settings``, a list of ``{"name", "value"}`` objects, next to
  the rule's ``title`` (``notify_sentry_app`` in ``src/sentry/sentry_apps/tasks/sentry_apps.py``
  attaches ``issue_alert`` only when the action has settings);
- metric alerts: each trigger's actions in ``data.metric_alert.alert_rule.triggers[]``; an action
  of ``type`` "sentry_app" carries its own ``settings`` (``AlertRuleTriggerActionSerializer``,
  converted to snake_case keys by ``build_incident_attachment``). A rule may set one action per
  trigger, so the trigger named like the webhook's ``action`` (critical, warning) wins;
- the form Sentry POSTs when a rule is saved: ``{"fields": [...], "installationId"}`` with the
  same list (``alert_rule_action_requester.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.core.payload import clean_text
from shared.sources.sentry.rule_schema import (
    ASSIGNEE,
    BOARD,
    BOARD_CHOICES,
    FIELD_NAMES,
    FOLLOWERS,
    LABELS,
    PRIORITY,
    PRIORITY_CHOICES,
    TEAM,
    UPDATE_ONLY,
    UPDATE_ONLY_CHOICES,
)

Pairs = tuple[tuple[str, str], ...]
MAX_FOLLOWERS = 20
MAX_EMAIL_CHARS = 254
# One address, deliberately loose (Asana decides who exists): something@domain.tld.
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+")
_SEPARATORS = re.compile(r"[,;\s]+")


@dataclass(frozen=True)
class RuleSettings:
    """One rule's saved settings, validated; empty fields hold their defaults."""

    rule: str  # the rule's name, for explanations
    team: str
    board: str = "default"  # default | sprint | backlog | sandbox
    priority: str | None = None  # High | Medium | Low; None: from the alert's severity
    assignee: str | None = None  # an e-mail address
    followers: tuple[str, ...] = ()  # e-mail addresses
    update_only: bool = False


class InvalidSetting(ValueError):
    """A setting Sentry saved or is about to save is unusable; the message names the field."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.field = name


def parse_settings(pairs: Iterable[tuple[str, str]], rule: str) -> RuleSettings:
    """Validate (name, value) pairs into RuleSettings; InvalidSetting names the first bad one."""
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in FIELD_NAMES:
            raise InvalidSetting(name, f"Setting '{name}' is not a field of this action (fields:"
                                       f" {', '.join(FIELD_NAMES)}).")
        if name in values:
            raise InvalidSetting(name, f"{LABELS[name]} is set twice.")
        values[name] = value.strip()
    team = values.get(TEAM, "")
    if not team:
        raise InvalidSetting(TEAM, "Team is required: pick the team that owns this rule's "
                                   "alerts.")
    return RuleSettings(
        rule=rule,
        team=team,
        board=_choice(BOARD, values.get(BOARD, ""), BOARD_CHOICES) or "default",
        priority=_priority(values.get(PRIORITY, "")),
        assignee=_email(ASSIGNEE, values[ASSIGNEE]) if values.get(ASSIGNEE) else None,
        followers=_emails(values.get(FOLLOWERS, "")),
        update_only=_choice(UPDATE_ONLY, values.get(UPDATE_ONLY, ""), UPDATE_ONLY_CHOICES)
        == "yes",
    )


def _choice(name: str, value: str, choices: tuple[tuple[str, str], ...]) -> str | None:
    """Return the option ``value`` names (case-insensitive), None when empty."""
    if not value:
        return None
    for option, _ in choices:
        if option.casefold() == value.casefold():
            return option
    allowed = ", ".join(option for option, _ in choices)
    raise InvalidSetting(name, f"{LABELS[name]} '{value}' is not one of {allowed}.")


def _priority(value: str) -> str | None:
    chosen = _choice(PRIORITY, value, PRIORITY_CHOICES)
    return None if chosen in (None, "default") else chosen


def _email(name: str, value: str) -> str:
    if len(value) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(value):
        raise InvalidSetting(name, f"{LABELS[name]} '{value[:80]}' is not an e-mail address.")
    return value.lower()


def _emails(value: str) -> tuple[str, ...]:
    found = [item for item in _SEPARATORS.split(value) if item]
    if len(found) > MAX_FOLLOWERS:
        raise InvalidSetting(FOLLOWERS, f"Followers lists {len(found)} addresses; at most "
                                        f"{MAX_FOLLOWERS} are allowed.")
    return tuple(dict.fromkeys(_email(FOLLOWERS, item) for item in found))


def setting_pairs(items: object) -> Pairs:
    """Return ``[{"name", "value"}, ...]`` as (name, text) pairs; empty values are left out."""
    if not isinstance(items, list):
        return ()
    pairs = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name, value = clean_text(item.get("name")), clean_text(item.get("value"))
        if name and value:
            pairs.append((name, value))
    return tuple(pairs)


def from_payload(resource: str, payload: Mapping[str, object]) -> Pairs:
    """Return the settings a webhook carries from its alert rule's action; () when none."""
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return ()
    if resource == "event_alert":
        issue_alert = data.get("issue_alert")
        return setting_pairs(issue_alert.get("settings")) if isinstance(
            issue_alert, Mapping) else ()
    if resource == "metric_alert":
        return _metric_settings(data.get("metric_alert"), clean_text(payload.get("action")))
    return ()


def _metric_settings(incident: object, action: str | None) -> Pairs:
    """Return the settings of this app's action, preferring the trigger the webhook is for."""
    rule = incident.get("alert_rule") if isinstance(incident, Mapping) else None
    triggers = rule.get("triggers") if isinstance(rule, Mapping) else None
    if not isinstance(triggers, list):
        return ()
    found: list[tuple[bool, Pairs]] = []
    for trigger in triggers:
        if not isinstance(trigger, Mapping) or not isinstance(trigger.get("actions"), list):
            continue
        for candidate in trigger["actions"]:
            if not isinstance(candidate, Mapping) or candidate.get("type") != "sentry_app":
                continue
            pairs = setting_pairs(candidate.get("settings"))
            # Another integration's alert-rule action has settings too: ours name a team.
            if pairs and any(name == TEAM for name, _ in pairs):
                found.append((clean_text(trigger.get("label")) == action, pairs))
    preferred = [pairs for matches, pairs in found if matches]
    return (preferred or [pairs for _, pairs in found] or [()])[0]
