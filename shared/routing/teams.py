"""The routing configuration read from teams.yaml, as plain frozen data.

Loading and validation live in ``shared/routing/teams_file.py``; matching lives in
``shared/routing/ownership.py``. Both old (list of teams) and new (settings + teams) files load
into these types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PRIORITIES = ("High", "Medium", "Low")
#: Webhook resources that may open a task: every resource a registered source publishes
#: (tests/unit/test_architecture.py holds this to the source table). Sentry's `issue` and `error`
#: webhooks fire for every new issue / every error event, so by default they only update tasks
#: that alert rules opened.
CREATING_RESOURCES = ("event_alert", "issue", "metric_alert", "error", "datadog", "azure",
                      "alertmanager", "grafana", "gcm_incident", "cloudwatch")
DEFAULT_CREATE_TASKS_FROM = ("event_alert", "metric_alert", "datadog", "azure", "alertmanager",
                             "grafana", "gcm_incident", "cloudwatch")


@dataclass(frozen=True)
class Matcher:
    """One ``key:value`` (exact) or ``key:/regex/`` (re.search) ownership matcher."""

    key: str
    raw: str  # as written in teams.yaml, for explanations and error messages
    exact: str | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Team:
    """A team that owns alerts, with the Asana places its tasks go to."""

    name: str
    backlog_project_gid: str
    asana_team_gid: str | None = None
    sprint_portfolio_gid: str | None = None
    sandbox_portfolio_gid: str | None = None
    # Each entity is one AND-group of matchers; a team owns an alert if any group matches.
    entities: tuple[tuple[Matcher, ...], ...] = ()
    followers: tuple[str, ...] = ()  # Asana user gids or emails
    assignee: str | None = None
    team_field_option_gid: str | None = None  # enum option of the "team" custom field
    sentry_team: str | None = None  # slug of the Sentry team that owns its Sentry issues
    sync_back: bool = False  # completing / reopening its tasks resolves / unresolves the alert


@dataclass(frozen=True)
class CustomFields:
    """Asana custom field gids; every one optional."""

    priority_field_gid: str | None = None
    priority_option_gids: Mapping[str, str] = field(default_factory=dict)  # "High" -> option gid
    team_field_gid: str | None = None
    # Fields with a fixed value on every task: field gid -> option gid or literal value.
    fixed: Mapping[str, str] = field(default_factory=dict)


#: Datadog's priorities, which CloudWatch alarms borrow as a P1-P5 word.
P1_TO_P5 = (("P1", "High"), ("P2", "High"), ("P3", "Medium"), ("P4", "Low"), ("P5", "Low"))
#: The usual values of the ``severity`` label of Prometheus and Grafana alert rules.
SEVERITY_LABELS = (("critical", "High"), ("page", "High"), ("high", "High"), ("error", "High"),
                   ("warning", "Medium"), ("medium", "Medium"), ("info", "Low"),
                   ("low", "Low"), ("none", "Low"))


@dataclass(frozen=True)
class PriorityMap:
    """How source severities become High / Medium / Low."""

    sentry: Mapping[str, str] = field(
        default_factory=lambda: {
            "fatal": "High",
            "error": "High",
            "warning": "Medium",
            "info": "Low",
            "debug": "Low",
        }
    )
    datadog: Mapping[str, str] = field(default_factory=lambda: dict(P1_TO_P5))
    # A Prometheus / Grafana alert rule's ``severity`` label (free-form; lower-case here).
    alertmanager: Mapping[str, str] = field(default_factory=lambda: dict(SEVERITY_LABELS))
    grafana: Mapping[str, str] = field(default_factory=lambda: dict(SEVERITY_LABELS))
    gcm: Mapping[str, str] = field(
        default_factory=lambda: {"critical": "High", "error": "High", "warning": "Medium"}
    )  # Cloud Monitoring incident.severity (or the policy's severity label)
    default: str = "High"  # no level / no Datadog priority
    # Azure Monitor's severities, named as Azure does: Critical, Error, Warning, Informational,
    # Verbose (read like Sentry's levels).
    azure: Mapping[str, str] = field(
        default_factory=lambda: {
            "Sev0": "High",
            "Sev1": "High",
            "Sev2": "Medium",
            "Sev3": "Low",
            "Sev4": "Low",
        }
    )
    # A P1-P5 word in a CloudWatch alarm's description or name (alarms carry no severity).
    cloudwatch: Mapping[str, str] = field(default_factory=lambda: dict(P1_TO_P5))


@dataclass(frozen=True)
class TaskTemplate:
    """Pieces of the task body that deployments configure."""

    runbook_url: str | None = None
    # (label, URL template with {tag} placeholders); a link whose tags are missing is left out.
    links: tuple[tuple[str, str], ...] = ()
    # Tag keys worth showing in the task body, in this order; empty means all tags.
    highlighted_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamsConfig:
    """Everything teams.yaml says."""

    teams: tuple[Team, ...]
    default_team: str
    # Why that team is the default (check-teams prints it); not part of the configuration.
    default_team_reason: str = field(default="", compare=False)
    workspace_gid: str | None = None
    priority: PriorityMap = field(default_factory=PriorityMap)
    custom_fields: CustomFields = field(default_factory=CustomFields)
    template: TaskTemplate = field(default_factory=TaskTemplate)
    create_tasks_from: tuple[str, ...] = DEFAULT_CREATE_TASKS_FROM

    def team(self, name: str) -> Team:
        """Return the team called ``name`` (names are unique, checked on load)."""
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)
