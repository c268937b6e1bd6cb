"""A Datadog whose monitors trigger and recover, each transition sent as the webhook Datadog sends.

Built on FakeDatadogApi (``GET /api/v1/monitor`` for reconciliation and ``POST /api/v1/events``
for the link back and the sync stay as they are). A monitor moves ``OK`` -> ``Alert``
(``trigger``: a new alert cycle, a ``Triggered`` webhook) and back (``recover``: the cycle's
``Recovered`` webhook). Webhooks take the payload template of docs/datadog-webhook-template.json
with its variables filled in as Datadog does ($ID the event's id, $ALERT_CYCLE_KEY the id of
the cycle's first event, $DATE milliseconds on Datadog's clock), with the
``datadog-secret-token`` custom header. Datadog's clock runs behind ours.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime

from tests.fakes.link_target_servers import FakeDatadogApi
from tests.fakes.vendor_world import Webhook, WorldClock


@dataclass(frozen=True)
class Cycle:
    """One alert cycle of a monitor: from its Triggered to its Recovered."""

    monitor: int
    key: str  # $ALERT_CYCLE_KEY
    triggered_at: datetime
    recovered_at: datetime | None = None


@dataclass
class DatadogWorld(FakeDatadogApi):
    """Datadog's monitors and the webhooks of their transitions (see module doc)."""

    ingest_url: str = ""
    secret_token: str = "local-datadog-token"
    webhook_name: str = "alert-bridge"  # the @webhook-<name> monitors notify

    def __post_init__(self) -> None:
        super().__post_init__()
        self.clocks: dict[int, WorldClock] = {}
        self.cycles: dict[int, list[Cycle]] = {}
        self._event_ids = itertools.count(7_460_500_000_000_000_001)

    def add_world_monitor(self, monitor_id: int, name: str, clock: WorldClock,
                          tags: list[str], priority: int = 3) -> None:
        """Seed a monitor in ``OK`` that notifies the service's webhook."""
        self.clocks[monitor_id] = clock
        self.cycles[monitor_id] = []
        self.add_monitor(monitor_id, name, state="OK", changed=clock.tick(), tags=tags,
                         priority=priority,
                         message=f"{name} is over its threshold @webhook-{self.webhook_name}")

    def state(self, monitor_id: int) -> str:
        """Return the monitor's overall state (``OK`` or ``Alert``)."""
        with self._lock:
            return str(self.monitors[monitor_id]["overall_state"])

    def trigger(self, monitor_id: int) -> list[Webhook]:
        """The metric crosses the threshold: a new cycle; nothing if already in Alert."""
        with self._lock:
            monitor = self.monitors[monitor_id]
            if monitor["overall_state"] == "Alert":
                return []
            now = self.clocks[monitor_id].tick()
            event_id = next(self._event_ids)
            self.cycles[monitor_id].append(Cycle(monitor_id, str(event_id), now))
            monitor.update(overall_state="Alert", overall_state_modified=now.isoformat())
            return [self._hook(monitor, "Triggered", event_id, str(event_id), now)]

    def recover(self, monitor_id: int) -> list[Webhook]:
        """The metric is back under the threshold: the cycle ends; nothing if already OK."""
        with self._lock:
            monitor = self.monitors[monitor_id]
            if monitor["overall_state"] != "Alert":
                return []
            now = self.clocks[monitor_id].tick()
            cycle = self.cycles[monitor_id][-1]
            self.cycles[monitor_id][-1] = Cycle(monitor_id, cycle.key, cycle.triggered_at, now)
            monitor.update(overall_state="OK", overall_state_modified=now.isoformat())
            return [self._hook(monitor, "Recovered", next(self._event_ids), cycle.key, now)]

    def _hook(self, monitor: dict[str, object], transition: str, event_id: int, cycle: str,
              at: datetime) -> Webhook:
        name = str(monitor["name"])
        priority = f"P{monitor['priority']}" if monitor.get("priority") else ""
        tags = monitor.get("tags")
        payload = {
            "id": str(event_id), "alert_cycle_key": cycle, "alert_transition": transition,
            "alert_id": str(monitor["id"]), "alert_priority": priority, "alert_scope": "",
            "alert_status": f"{name}: {'above' if transition == 'Triggered' else 'below'} "
                            "the threshold",
            "alert_title": f"[{transition}] {name}",
            "title": f"[{priority}] [{transition}] {name}" if priority else
                     f"[{transition}] {name}",
            "body": str(monitor.get("message") or ""),
            "link": f"https://app.datadoghq.com/monitors/{monitor['id']}",
            "tags": ",".join(str(t) for t in tags) if isinstance(tags, list) else "",
            "date": str(int(at.timestamp() * 1000)), "hostname": "",
        }
        headers = {"Content-Type": "application/json", "datadog-secret-token": self.secret_token}
        return Webhook("datadog", str(monitor["id"]), transition, self.ingest_url,
                       json.dumps(payload).encode(), headers)
