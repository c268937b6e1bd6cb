"""An alert's own routing settings (team, board, priority, people, update only), validated into
plain values. No I/O.

A source may carry them on the alert (Alert.rule_settings): Sentry's "Create an Asana task"
alert-rule action saves them with the rule, and shared/sources/sentry/rule_payload.py reads them
from its webhooks. The names and choices below are that action's form fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Setting names (snake_case: as Sentry's alert-rule action saves them, and a name never
#: depends on Sentry's conversion of metric-alert keys to snake_case).
TEAM, BOARD, PRIORITY, ASSIGNEE, FOLLOWERS, UPDATE_ONLY = (
    "team", "board", "priority", "assignee", "followers", "update_only")
FIELD_NAMES = (TEAM, BOARD, PRIORITY, ASSIGNEE, FOLLOWERS, UPDATE_ONLY)
#: How each field is named in messages shown to the person saving the rule.
LABELS = {TEAM: "Team", BOARD: "Board", PRIORITY: "Priority", ASSIGNEE: "Assignee",
          FOLLOWERS: "Followers", UPDATE_ONLY: "Update only"}

#: (value, label) of the static selects; the first value is what an empty field means.
BOARD_CHOICES = (("default", "Team default (by environment and priority)"),
                 ("sprint", "Current sprint"),
                 ("backlog", "Backlog"),
                 ("sandbox", "Sandbox"))
PRIORITY_CHOICES = (("default", "From the alert's severity"),
                    ("High", "High"), ("Medium", "Medium"), ("Low", "Low"))
UPDATE_ONLY_CHOICES = (("no", "No: create the task"),
                       ("yes", "Yes: only update a task another alert opened"))

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
    """A setting a rule saved or is about to save is unusable; the message names the field."""

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
