"""A Sentry that lives: issues change state, and each change is sent as a webhook, as Sentry does.

Built on FakeSentryApi (its API answers, group history and issue reads stay as they are),
this adds what happens around an issue:

- people and events change issues (``open_issue``, ``new_event``, ``resolve``, ``unresolve``),
  and each change returns the webhooks Sentry sends for it, ready to post: the caller decides
  their fate (delivered, lost, duplicated, late), since Sentry does not retry;
- the service's own ``PUT /organizations/{org}/issues/{id}/`` changes the issue and Sentry then
  sends the resulting ``issue`` webhook (an *echo*, actor type ``application``) by itself;
- every answer about an issue carries Sentry's clock in its ``Date`` header.

Sentry's clock runs behind ours (vendor_world.WorldClock), each issue's actions a second or
more apart. Webhooks are signed like
Sentry's: ``Sentry-Hook-Signature`` is the hex HMAC-SHA256 of the raw body keyed with the
integration's client secret, with ``Sentry-Hook-Resource``, ``Sentry-Hook-Timestamp`` (unix
seconds on Sentry's clock) and a fresh ``Request-ID`` per request. Bodies are rendered from the
issue's state alone, so an issue resolved twice with nothing in between gives the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.fakes.link_target_servers import FakeSentryApi
from tests.fakes.vendor_world import (
    Outbox,
    Webhook,
    WorldClock,
    http_date,
    iso,
)

#: The installation of the integration that the fixtures in tests/data carry.
INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
#: Who Sentry names as the actor of a change it made itself (a regression).
SENTRY_ITSELF = {"type": "application", "id": "sentry", "name": "Sentry"}
#: Who Sentry names as the actor of a change made through the API with the integration's token.
INTEGRATION = {"type": "application", "id": "alert-bridge", "name": "alert-bridge"}
ORIGIN = "https://sentry.io"


@dataclass(frozen=True)
class Person:
    """Someone who uses Sentry's UI."""

    id: str
    name: str

    def actor(self) -> dict[str, str]:
        """Return the webhook's ``actor`` for a change this person made."""
        return {"type": "user", "id": self.id, "name": self.name}


@dataclass(frozen=True)
class StatusChange:
    """One change of an issue's status, and who made it."""

    issue: str
    status: str
    by: str  # a person's name, "event" (a regression) or "alert-bridge" (the service's PUT)
    at: datetime  # Sentry's clock


@dataclass
class SentryWorld(FakeSentryApi):
    """Sentry's issues, their webhooks and the service's changes to them (see module doc)."""

    ingest_url: str = ""
    client_secret: str = "local-sentry-client-secret"
    installation: str = INSTALLATION
    outbox: Outbox = field(default_factory=Outbox)
    changes: list[StatusChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.clocks: dict[str, WorldClock] = {}
        self._rules: dict[str, str] = {}  # issue id -> the alert rule that fires for it
        self._events = itertools.count(1)
        self.add_installation(self.installation)

    # -- what happens in Sentry --------------------------------------------------------------

    def open_issue(self, issue_id: str, project: str, title: str, clock: WorldClock,
                   rule_id: str) -> list[Webhook]:
        """A first event creates the issue; its alert rule fires (``event_alert``)."""
        now = clock.tick()
        self.clocks[issue_id] = clock
        self._rules[issue_id] = rule_id
        self.add_issue(project, issue_id, first_seen=now, title=title)
        return [self._event_alert(issue_id, now)]

    def new_event(self, issue_id: str) -> list[Webhook]:
        """Another event: a resolved issue regresses (``issue.unresolved``); the rule fires."""
        now = self.clocks[issue_id].tick()
        with self._lock:
            issue = self.issues[issue_id]
            issue["lastSeen"] = iso(now)
            issue["count"] = str(int(issue["count"]) + 1)
            regressed = issue["status"] == "resolved"
            hooks = []
            if regressed:
                issue.update(status="unresolved", substatus="regressed", statusDetails={})
                self.changes.append(StatusChange(issue_id, "unresolved", "event", now))
                hooks.append(self._issue_hook(issue_id, "unresolved", SENTRY_ITSELF, now,
                                              "issue.unresolved (regression)"))
        return [*hooks, self._event_alert(issue_id, now)]

    def resolve(self, issue_id: str, person: Person) -> list[Webhook]:
        """A person resolves the issue; nothing happens if it is resolved already."""
        return self._set_status(issue_id, "resolved", person)

    def unresolve(self, issue_id: str, person: Person) -> list[Webhook]:
        """A person reopens a resolved issue; nothing happens if it is unresolved."""
        return self._set_status(issue_id, "unresolved", person)

    def status(self, issue_id: str) -> str:
        """Return the issue's status now."""
        with self._lock:
            return str(self.issues[issue_id]["status"])

    def changed_by_service(self, issue_id: str) -> list[StatusChange]:
        """Return the changes the service made to the issue through the API."""
        with self._lock:
            return [c for c in self.changes if c.issue == issue_id and c.by == "alert-bridge"]

    # -- the API the service calls -----------------------------------------------------------

    def route(self, method: str, path: str, body: Any, query: dict[str, list[str]],
              headers: dict[str, str]) -> tuple[Any, ...]:
        """Answer as FakeSentryApi does, with Sentry's clock in ``Date`` for issue answers."""
        answer = super().route(method, path, body, query, headers)
        moments = [self.clocks[i].now() for i in _issue_ids(answer[1]) if i in self.clocks]
        if not moments:
            return answer
        extra = dict(answer[2]) if len(answer) > 2 else {}
        extra["Date"] = http_date(max(moments))
        return answer[0], answer[1], extra

    def _update_issue(self, org: str, issue_id: str, body: Any) -> dict[str, Any]:
        """Apply the service's change; a change of status is echoed as Sentry's webhook."""
        before = self.issues.get(issue_id, {}).get("status")
        issue = super()._update_issue(org, issue_id, body)
        after = issue.get("status")
        clock = self.clocks.get(issue_id)
        if before == after or clock is None or after not in ("resolved", "unresolved"):
            return issue
        now = clock.tick()
        issue.update(substatus=None if after == "resolved" else "ongoing", statusDetails={})
        self.changes.append(StatusChange(issue_id, str(after), "alert-bridge", now))
        self.outbox.deliver(self._issue_hook(issue_id, str(after), INTEGRATION, now,
                                             f"issue.{after} (echo of the service's change)"))
        return issue

    # -- webhooks ----------------------------------------------------------------------------

    def _set_status(self, issue_id: str, status: str, person: Person) -> list[Webhook]:
        with self._lock:
            issue = self.issues[issue_id]
            if issue["status"] == status:
                return []
            now = self.clocks[issue_id].tick()
            issue.update(status=status, statusDetails={},
                         substatus=None if status == "resolved" else "ongoing")
            self.changes.append(StatusChange(issue_id, status, person.name, now))
            return [self._issue_hook(issue_id, status, person.actor(), now,
                                     f"issue.{status} by {person.name}")]

    def _issue_hook(self, issue_id: str, action: str, actor: dict[str, str], at: datetime,
                    label: str) -> Webhook:
        """Return the ``issue`` webhook of the issue as it stands (the caller holds the lock)."""
        issue = dict(self.issues[issue_id])
        issue.update(url=f"{ORIGIN}/api/0/organizations/{self.org}/issues/{issue_id}/",
                     web_url=issue["permalink"])
        payload = {"action": action, "installation": {"uuid": self.installation},
                   "data": {"issue": issue}, "actor": actor}
        return self._signed(issue_id, "issue", payload, at, label)

    def _event_alert(self, issue_id: str, at: datetime) -> Webhook:
        """Return the ``event_alert`` of a new event, and record that the rule fired."""
        with self._lock:
            issue = self.issues[issue_id]
            slug, title = issue["project"]["slug"], issue["title"]
        rule = self._rules[issue_id]
        event_id = f"{int(issue_id):016x}{next(self._events):016x}"
        self.fire_rule(slug, rule, issue_id, at, event_id)
        event = {
            "event_id": event_id, "issue_id": issue_id,
            "issue_url": f"{ORIGIN}/api/0/organizations/{self.org}/issues/{issue_id}/",
            "url": f"{ORIGIN}/api/0/projects/{self.org}/{slug}/events/{event_id}/",
            "web_url": f"https://{self.org}.sentry.io/issues/{issue_id}/events/{event_id}/",
            "project": 4505123456789, "platform": "python", "title": title, "message": "",
            "level": "error", "culprit": "panther.investigate.views in get_investigation",
            "datetime": iso(at), "timestamp": at.timestamp(),
            "tags": [["environment", "prod"], ["level", "error"]],
            "exception": {"values": [{"type": "KeyError", "value": "'owner'"}]},
        }
        payload = {"action": "triggered", "installation": {"uuid": self.installation},
                   "data": {"event": event, "triggered_rule": f"rule {rule}",
                            "issue_alert": {"title": f"rule {rule}", "settings": []}},
                   "actor": SENTRY_ITSELF}
        return self._signed(issue_id, "event_alert", payload, at, "event_alert")

    def _signed(self, issue_id: str, resource: str, payload: dict[str, Any], at: datetime,
                label: str) -> Webhook:
        body = json.dumps(payload).encode()
        signature = hmac.new(self.client_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "Request-ID": str(uuid.uuid4()),
                   "Sentry-Hook-Resource": resource,
                   "Sentry-Hook-Timestamp": str(int(at.timestamp())),
                   "Sentry-Hook-Signature": signature}
        return Webhook("sentry", issue_id, label, self.ingest_url, body, headers)


def _issue_ids(answer: Any) -> list[str]:
    """Return the issue ids an API answer is about (an issue, a list of them, history rows)."""
    items = answer if isinstance(answer, list) else [answer]
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        group = item.get("group")
        inner: dict[str, Any] = group if isinstance(group, dict) else item
        if isinstance(inner.get("id"), str):
            found.append(inner["id"])
    return found
