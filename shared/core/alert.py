"""The normalized alert every source's parser returns.

Dependencies point one way: each source's parser (shared/sources/<name>/parse.py) imports this
module; the source table picks the parser of a message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Action(enum.StrEnum):
    """What the webhook says happened to the alert."""

    TRIGGERED = "triggered"  # new, or fired again: the ledger decides create vs. comment
    RESOLVED = "resolved"  # complete the task
    REOPENED = "reopened"  # regression / unresolved / re-triggered after recovery: reopen
    ASSIGNED = "assigned"  # informational: comment only
    IGNORED = "ignored"  # archived/ignored in Sentry: comment only
    NOTED = "noted"  # informational (CloudWatch INSUFFICIENT_DATA): comment only


@dataclass(frozen=True)
class Alert:
    """A source-independent alert; every field except the first five may be missing."""

    source: str  # "sentry" | "datadog"
    resource: str  # "event_alert" | "issue" | "metric_alert" | "error" | "datadog"
    key: str  # dedup key, e.g. "sentry:issue:123", "sentry:metric:77", "datadog:cycle:abc"
    action: Action
    title: str
    external_id: str | None = None  # Sentry issue id / incident id; Datadog alert (monitor) id
    url: str | None = None  # link to the Sentry issue / Datadog event
    level: str | None = None  # Sentry level: fatal|error|warning|info|debug (lowercase)
    priority: str | None = None  # Datadog priority "P1".."P5" (uppercase)
    environment: str | None = None
    occurred_at: datetime | None = None  # timezone-aware UTC
    project: str | None = None  # Sentry project slug
    project_id: str | None = None
    release: str | None = None
    culprit: str | None = None
    exception_type: str | None = None
    exception_value: str | None = None
    top_frame: str | None = None  # "module.function (file:line)" of the top in-app frame
    request_url: str | None = None
    monitor_id: str | None = None
    scope: str | None = None
    transition: str | None = None  # raw Datadog transition / Sentry action
    tags: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    rule: str | None = None  # Sentry alert rule that fired
    description: str | None = None  # Sentry metric-alert text / Datadog event message
    host: str | None = None  # Datadog $HOSTNAME
    actor: str | None = None  # who changed a Sentry issue (user name, or "Sentry")
    assignee: str | None = None  # Sentry issue assignee name or email ("team <name>" for a team)
    # Sentry's statusDetails (ignoreUntil, ignoreCount, ...) and substatus, as (key, text) pairs.
    status_details: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    installation_id: str | None = None  # Sentry integration installation uuid (link-back)
    # (name, value) settings the alert rule's action saved (Sentry's "Create an Asana task";
    # shared/routing/rule_settings.py); empty when the rule sent none.
    rule_settings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # (label, URL) pages the source itself links to (Alertmanager, Grafana's dashboard / panel /
    # silence), shown among the task's links.
    links: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # (label, text) facts the source adds to the task (alerts a grouped body left out).
    facts: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def match_fields(self) -> dict[str, str]:
        """Return the key/value pairs teams.yaml matchers look at: tags plus derived keys."""
        fields = {k: v for k, v in self.tags}
        derived = {
            "url": self.request_url or fields.get("url"),
            # Sentry calls the host server_name; let one matcher cover Datadog hosts too.
            "server_name": self.host,
            "host": self.host,
            "project": self.project,
            "environment": self.environment,
            "env": self.environment,
            "level": self.level,
            "monitor": self.monitor_id,
            "priority": self.priority,
            "source": self.source,
            "title": self.title,
            "release": self.release,
            "culprit": self.culprit,
            "exception": self.exception_type,
            "rule": self.rule,
            "resource": self.resource,
            "transition": self.transition,
        }
        for key, value in derived.items():
            # A bare tag (empty value) must not hide a derived key of the same name.
            if value and not fields.get(key):
                fields[key] = value
        return fields
