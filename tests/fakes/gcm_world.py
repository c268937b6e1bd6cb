"""A Google Cloud Monitoring whose alert policies open and close incidents, each sent as the
notification a ``webhook_tokenauth`` channel posts (payload version 1.2).

A policy watches one resource; ``open`` starts a new incident (a new ``incident_id``: a closed
incident never reopens in Cloud Monitoring) and ``close`` ends the current one. The same
incident id goes with its open and its close; ``started_at`` and ``ended_at`` are epoch seconds
on Cloud Monitoring's clock, which runs behind ours. The token travels in the URL, as the
channel sends it.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.fakes.vendor_world import Webhook, WorldClock

GCM_LAG = timedelta(minutes=6)


@dataclass
class Incident:
    """One incident of a policy: from its open to its close."""

    incident_id: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass
class GcmWorld:
    """Cloud Monitoring's policies and the notifications of their incidents (see module doc)."""

    ingest_url: str = ""
    token: str = "local-gcm-token"
    project: str = "hist-project"
    incidents: dict[str, list[Incident]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._clocks: dict[str, WorldClock] = {}
        self._titles: dict[str, str] = {}

    def add_policy(self, policy: str, name: str, clock: WorldClock) -> None:
        """Seed a policy with no incident; ``name`` is its display name."""
        with self._lock:
            self._clocks[policy], self._titles[policy] = clock, name
            self.incidents[policy] = []

    def state(self, policy: str) -> str:
        """Return ``open`` while the policy's latest incident is open, else ``closed``."""
        with self._lock:
            found = self.incidents[policy]
            return "open" if found and found[-1].ended_at is None else "closed"

    def open(self, policy: str) -> list[Webhook]:
        """The condition is met: a new incident; nothing if one is open already."""
        with self._lock:
            found = self.incidents[policy]
            if found and found[-1].ended_at is None:
                return []
            incident = Incident(f"0.{policy}-{len(found) + 1}", self._clocks[policy].tick())
            found.append(incident)
            return [self._hook(policy, incident, "open")]

    def close(self, policy: str) -> list[Webhook]:
        """The condition is no longer met: the incident closes; nothing if none is open."""
        with self._lock:
            found = self.incidents[policy]
            if not found or found[-1].ended_at is not None:
                return []
            found[-1].ended_at = self._clocks[policy].tick()
            return [self._hook(policy, found[-1], "closed")]

    def _hook(self, policy: str, incident: Incident, state: str) -> Webhook:
        url = (f"https://console.cloud.google.com/monitoring/alerting/incidents/"
               f"{incident.incident_id}?project={self.project}")
        ended = int(incident.ended_at.timestamp()) if incident.ended_at else None
        payload = {"incident": {
            "incident_id": incident.incident_id, "scoping_project_id": self.project,
            "url": url, "state": state, "severity": "Warning",
            "started_at": int(incident.started_at.timestamp()), "ended_at": ended,
            "policy_name": self._titles[policy], "policy_user_labels": {"team": "monitors"},
            "condition_name": "latency above 2 s",
            "resource": {"type": "cloud_run_revision",
                         "labels": {"project_id": self.project, "service_name": "checkout"}},
            "resource_display_name": "checkout",
            "summary": f"{self._titles[policy]}: {state}",
        }, "version": "1.2"}
        query = urllib.parse.urlencode({"source": "gcm", "auth_token": self.token})
        return Webhook("gcm", policy, f"incident {state}", f"{self.ingest_url}?{query}",
                       json.dumps(payload).encode(), {"Content-Type": "application/json"})
