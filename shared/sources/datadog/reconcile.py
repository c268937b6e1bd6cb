"""Reconciliation of Datadog: monitors in Alert whose Triggered webhook never arrived, and open
alert cycles whose monitor is back to OK. Pure decisions over the monitor list.

Datadog's monitor API gives no alert cycle key, so a lost Triggered webhook is published under a
synthetic cycle (``reconcile-<monitor>-<epoch>``), stable while the monitor stays in that Alert;
its real webhook, when it turns up late, joins that task (twins.py). An open cycle whose monitor
has been OK for longer than the grace gets its lost ``Recovered`` webhook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial

from shared.core.errors import Transient
from shared.core.payload import clean_text, parse_time
from shared.sources.datadog.keys import CYCLE_PREFIX as DATADOG_CYCLE_PREFIX
from shared.sources.datadog.keys import reconciled_cycle
from shared.sources.drift import (
    Check,
    Json,
    Publication,
    Reconciler,
    Run,
    Window,
    canonical_json,
    is_live,
    open_task,
    read_failed,
    settled,
)


def reconciler(monitors: Callable[[], Sequence[Json]], *, webhook: str, app_url: str,
               describes: str = "") -> Reconciler:
    """Return Datadog's part of a reconciliation run over the monitor list ``monitors``."""
    return Reconciler("datadog", partial(plan, monitors, webhook=webhook, app_url=app_url),
                      describes=describes)


def plan(monitors: Callable[[], Sequence[Json]], run: Run, *, webhook: str,
         app_url: str) -> Check:
    """Plan the missing alerts of the run's window and the drift of its slice of the ledger."""
    planned = Check()
    try:
        listed = list(monitors())
    except Transient as error:
        planned.read_failures += 1
        read_failed("datadog", "monitors", error)
        return planned
    alerting = alerting_monitors(listed, webhook, run.window)
    by_monitor = {str(m.get("id")): run.ledger.by_external_id("datadog", str(m.get("id")))
                  for m in alerting}
    records = run.ledger.by_keys(f"{DATADOG_CYCLE_PREFIX}{datadog_cycle(m)}" for m in alerting)
    planned.planned += missing_datadog(alerting, by_monitor, records, run.now, app_url=app_url)
    visited, after = run.visit(DATADOG_CYCLE_PREFIX)
    planned.visited = len(visited)
    by_id = {str(m.get("id")): m for m in listed}
    check = check_datadog(visited, by_id, now=run.now, grace=run.grace, app_url=app_url)
    planned.planned += check.planned
    planned.planned += superseded(_still_alerting(visited, by_id, run.now, run.grace),
                                  lambda monitor: run.ledger.by_external_id("datadog", monitor),
                                  by_id, app_url=app_url)
    planned.skipped += check.skipped
    planned.read_failures += check.read_failures
    planned.cursors["datadog"] = after
    return planned


# --- pure decisions ---------------------------------------------------------------------------

def alerting_monitors(monitors: Iterable[Json], webhook: str, win: Window) -> list[Json]:
    """Return the monitors in Alert since a moment in the window that notify our webhook."""
    mention = f"@webhook-{webhook}"
    chosen = []
    for monitor in monitors:
        if monitor.get("overall_state") != "Alert":
            continue
        # A monitor that does not mention the webhook never sends us anything: not lost.
        if not _mentions(str(monitor.get("message") or ""), mention):
            continue
        if win.holds(parse_time(monitor.get("overall_state_modified"))):
            chosen.append(monitor)
    return chosen


def datadog_cycle(monitor: Json) -> str:
    """Return a synthetic alert cycle key, stable while the monitor stays in this Alert."""
    return reconciled_cycle(monitor.get("id"), parse_time(monitor.get("overall_state_modified")))


def missing_datadog(monitors: Iterable[Json], by_monitor: Mapping[str, Sequence[Json]],
                    records: Mapping[str, Json], now: datetime, *,
                    app_url: str) -> list[Publication]:
    """Return a Triggered webhook for each alerting monitor with no live task in the ledger.

    ``by_monitor`` holds the ledger documents whose external_id is the monitor id (the real
    webhook's key has an alert cycle key the monitor API does not give); ``records`` holds
    the documents of the synthetic keys, so a second run publishes nothing again.
    """
    planned = []
    for monitor in monitors:
        monitor_id = clean_text(monitor.get("id"))
        if monitor_id is None:
            continue
        if any(open_task(r, now) for r in by_monitor.get(monitor_id, ())):
            continue
        cycle = datadog_cycle(monitor)
        key = f"{DATADOG_CYCLE_PREFIX}{cycle}"
        record = records.get(key)
        if record is not None and is_live(record, now):
            continue
        body = datadog_webhook(monitor, cycle, app_url=app_url)
        planned.append(Publication("datadog", "datadog", "Triggered", key, "missing", body))
    return planned


def datadog_app_url(api_url: str) -> str:
    """Return the web app's base URL of a Datadog site from its API base URL."""
    # api.datadoghq.com -> app.datadoghq.com, api.datadoghq.eu -> app.datadoghq.eu
    return api_url.rstrip("/").replace("://api.", "://app.", 1)


def _mentions(message: str, mention: str) -> bool:
    # "@webhook-alert-bridge" must not count as a mention of "@webhook-alert".
    start = message.find(mention)
    while start >= 0:
        after = message[start + len(mention):start + len(mention) + 1]
        if not after or not (after.isalnum() or after in "-_"):
            return True
        start = message.find(mention, start + 1)
    return False


def datadog_webhook(monitor: Json, cycle: str, *, app_url: str,
                    transition: str = "Triggered") -> bytes:
    """Return a body in the webhook template's shape (docs/datadog-webhook-template.json)."""
    monitor_id = str(monitor.get("id"))
    name = clean_text(monitor.get("name")) or f"Datadog monitor {monitor_id}"
    priority = monitor.get("priority")
    tags = monitor.get("tags")
    tags = tags if isinstance(tags, list) else []
    changed = parse_time(monitor.get("overall_state_modified"))
    state = clean_text(monitor.get("overall_state")) or "unknown"
    return canonical_json({
        "id": cycle, "alert_cycle_key": cycle, "alert_transition": transition,
        "alert_id": monitor_id,
        "alert_priority": f"P{priority}" if isinstance(priority, int) else "",
        "alert_scope": "", "alert_status": f"reconciled: the monitor is {state}",
        "alert_title": name, "title": f"[{transition}] {name}",
        "body": str(monitor.get("message") or ""),
        "link": f"{app_url}/monitors/{monitor_id}", "tags": ",".join(str(t) for t in tags),
        "date": int(changed.timestamp() * 1000) if changed else "", "hostname": "",
    })


def datadog_recovered(records: Iterable[Json], monitors: Mapping[str, Json], now: datetime,
                      grace: timedelta, *, app_url: str) -> list[Publication]:
    """Return a ``Recovered`` webhook for each open alert cycle whose monitor is back to OK.

    That closes both a cycle reconciliation opened (its synthetic key no real webhook carries)
    and a real cycle whose Recovered webhook was lost. A monitor OK for less than the grace
    period is left to its own webhook.
    """
    planned = []
    for record in records:
        key = str(record.get("key", ""))
        if not key.startswith(DATADOG_CYCLE_PREFIX) or record.get("state") != "open" \
                or not record.get("task_gid"):
            continue
        monitor = monitors.get(str(record.get("external_id")))
        if monitor is None or monitor.get("overall_state") != "OK":
            continue
        changed = parse_time(monitor.get("overall_state_modified"))
        if changed is None or changed > now - grace:
            continue
        body = datadog_webhook(monitor, key.removeprefix(DATADOG_CYCLE_PREFIX),
                               transition="Recovered", app_url=app_url)
        planned.append(Publication("datadog", "datadog", "Recovered", key, "recovered", body,
                                   changed, True))
    return planned


def _still_alerting(records: Sequence[Json], monitors: Mapping[str, Json], now: datetime,
                    grace: timedelta) -> list[Json]:
    """Return the settled open cycles (with a task) whose monitor is not back to OK."""
    return [r for r in records
            if r.get("state") == "open" and r.get("task_gid") and is_live(r, now)
            and settled(r, now, grace)
            and (monitors.get(str(r.get("external_id"))) or {}).get("overall_state") != "OK"]


def superseded(records: Sequence[Json], siblings: Callable[[str], Sequence[Json]],
               monitors: Mapping[str, Json], *, app_url: str) -> list[Publication]:
    """Return a ``Recovered`` for each open cycle a newer open cycle of its group followed.

    A monitor's group is in one alert cycle at a time: when a later cycle of the same monitor
    and group is open, the earlier one recovered, though its Recovered webhook was lost (the
    monitor back in Alert, datadog_recovered() cannot see it). ``siblings`` is read once per
    monitor; the correction says "recovered" as of the newer cycle's first word.
    """
    planned: list[Publication] = []
    seen: dict[str, Sequence[Json]] = {}
    for record in records:
        monitor_id = str(record.get("external_id"))
        monitor = monitors.get(monitor_id)
        if monitor is None:
            continue
        if monitor_id not in seen:
            seen[monitor_id] = siblings(monitor_id)
        newer = [_clock(s) for s in seen[monitor_id]
                 if s.get("key") != record.get("key") and s.get("state") == "open"
                 and s.get("task_gid") and s.get("group") == record.get("group")
                 and _clock(s) is not None and _later(_clock(s), _clock(record))]
        if not newer:
            continue
        key = str(record.get("key", ""))
        body = datadog_webhook(monitor, key.removeprefix(DATADOG_CYCLE_PREFIX),
                               transition="Recovered", app_url=app_url)
        planned.append(Publication("datadog", "datadog", "Recovered", key, "recovered", body,
                                   min(t for t in newer if t is not None), True))
    return planned


def _clock(record: Json) -> datetime | None:
    """Return the latest time Datadog said anything of this cycle (on Datadog's clock)."""
    clocks = record.get("clocks")
    value = clocks.get("datadog") if isinstance(clocks, Mapping) else None
    return value if isinstance(value, datetime) else None


def _later(first: datetime | None, second: datetime | None) -> bool:
    return first is not None and (second is None or first > second)


def check_datadog(records: Sequence[Json], monitors: Mapping[str, Json], *, now: datetime,
                  grace: timedelta, app_url: str) -> Check:
    """Compare open Datadog records with their monitors (no further read)."""
    check = Check()
    due = []
    for record in records:
        if record.get("state") != "open" or not is_live(record, now):
            continue
        if settled(record, now, grace):
            due.append(record)
        else:
            check.skipped += 1
    check.planned = datadog_recovered(due, monitors, now, grace, app_url=app_url)
    return check
