"""Two-way sync to Datadog: an event on the monitor's stream says what happened to the task.

Datadog has no API to resolve an alert cycle: the monitor decides. The event tells the people
watching the monitor that the task was completed or reopened.
"""

from __future__ import annotations

from typing import Any

from shared.core.ledger import Record, Step
from shared.core.links import LinkRequest, task_url
from shared.core.settings import Settings
from shared.sources.datadog.keys import CYCLE_PREFIX


def sync_request(record: Record, step: Step, task_gid: str,
                 settings: Settings) -> LinkRequest | None:
    """Return the event that tells Datadog, or None for an alert without a cycle key."""
    if not record.key.startswith(CYCLE_PREFIX):
        return None
    return datadog_event(record, step, task_gid)


def datadog_event(record: Record, step: Step, task_gid: str) -> LinkRequest:
    """Return a Datadog event on the monitor's stream saying what happened to the task."""
    cycle = record.key.removeprefix(CYCLE_PREFIX)
    done = step is Step.RESOLVE
    verb = "completed" if done else "reopened"
    url = task_url(task_gid, record.project_gid)
    tags = [f"alert_cycle_key:{cycle}", f"asana_task:{task_gid}", "source:alert-bridge"]
    if record.external_id:
        tags.insert(0, f"monitor_id:{record.external_id}")
    body: dict[str, Any] = {
        "title": f"Asana task {verb}" + (f" (monitor {record.external_id})"
                                         if record.external_id else ""),
        "text": f"%%%\nThe [Asana task]({url}) of this alert was {verb}"
                + (f" by team **{record.team}**" if record.team else "") + ".\n%%%",
        "tags": [tag[:200] for tag in tags],
        "alert_type": "success" if done else "warning",
        "aggregation_key": cycle[:100],
        "source_type_name": "my_apps",
    }
    return LinkRequest("datadog", "POST", "/api/v1/events", body)
