"""Reconciliation: find alerts whose webhook never arrived and publish them as synthetic alerts.

Sentry does not retry the webhooks of internal integrations and a Datadog webhook can be lost
too. A scheduled run asks both APIs what fired, asks the ledger what the worker has seen, and
publishes what is missing through the events topic, shaped like the webhook that was lost, so
the worker makes it a task exactly once (the ledger de-duplicates by alert key).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.alerts import clean_text, parse_time
from shared.errors import AlertBridgeError, Transient, http_status

log = logging.getLogger(__name__)

SOURCE_REASON = "reconcile"
SENTRY_ISSUE_PREFIX = "sentry:issue:"
DATADOG_CYCLE_PREFIX = "datadog:cycle:"
# A record being created is as good as an open one: its task is on the way.
LIVE_STATES = ("open", "creating")

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Window:
    """The stretch of time a run looks at: from the lookback to a grace before now."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime | None) -> bool:
        """Tell whether ``moment`` lies in the window."""
        return moment is not None and self.start <= moment <= self.end


def window(now: datetime, lookback_minutes: int, grace_minutes: int) -> Window:
    """Return the window of a run at ``now``."""
    # The grace leaves alerts whose webhook may still be on its way to the next run.
    return Window(now - timedelta(minutes=lookback_minutes), now - timedelta(minutes=grace_minutes))


@dataclass(frozen=True)
class SentryFinding:
    """An issue an alert rule fired for (group history) or the issue search found."""

    project: str  # project slug
    issue: Json  # the API's issue object
    rule_id: str | None = None  # None: found by the issue search, not the rule's history
    fired_at: datetime | None = None  # group history's lastTriggered
    event_id: str | None = None


@dataclass(frozen=True)
class Publication:
    """One synthetic alert to publish, with the attributes ingest would have set."""

    source: str
    resource: str
    action: str
    alert_key: str
    reason: str  # "missing" (no webhook arrived) or "resolved" (the resolve webhook was lost)
    body: bytes

    def attributes(self, received_at: datetime, request_id: str) -> dict[str, str]:
        """Return the Pub/Sub attributes of the message."""
        return {"source": self.source, "resource": self.resource, "action": self.action,
                "alert_key": self.alert_key,
                "received_at": received_at.isoformat(timespec="milliseconds"),
                "request_id": request_id, "source_reason": SOURCE_REASON}


# --- pure decisions ---------------------------------------------------------------------------

def is_live(record: Json, now: datetime) -> bool:
    """Tell whether a ledger document still counts ("expired" is computed, never stored)."""
    expires = record.get("expires_at")
    return not isinstance(expires, datetime) or expires > now


def issue_key(issue_id: str) -> str:
    """Return the alert key the Sentry webhooks of this issue carry."""
    return f"{SENTRY_ISSUE_PREFIX}{issue_id}"


def fired_in_window(finding: SentryFinding, win: Window) -> bool:
    """Tell whether a finding is an alert the window should have delivered."""
    if finding.rule_id is not None:
        return win.holds(finding.fired_at)
    # The issue search cannot say that a rule fired: a new issue, or a regression, in the
    # window is what the rules this fallback stands for ("new issue", "regression") fire on.
    issue = finding.issue
    if win.holds(parse_time(issue.get("firstSeen"))):
        return True
    return issue.get("substatus") == "regressed" and win.holds(parse_time(issue.get("lastSeen")))


def missing_sentry(findings: Iterable[SentryFinding], records: Mapping[str, Json], win: Window,
                   now: datetime, *, org: str, api_url: str) -> list[Publication]:
    """Return an event_alert for each issue that fired in the window and has no ledger record."""
    planned: dict[str, Publication] = {}
    for finding in findings:
        issue_id = clean_text(finding.issue.get("id"))
        if issue_id is None or not fired_in_window(finding, win):
            continue
        key = issue_key(issue_id)
        record = records.get(key)
        if key in planned or (record is not None and is_live(record, now)):
            continue
        body = sentry_event_alert(finding, issue_id, org=org, api_url=api_url)
        planned[key] = Publication("sentry", "event_alert", "triggered", key, "missing", body)
    return list(planned.values())


def resolved_sentry(open_records: Iterable[Json], issues: Mapping[str, Json],
                    now: datetime) -> list[Publication]:
    """Return a resolved issue webhook for each open task whose Sentry issue is resolved."""
    planned = []
    for record in open_records:
        key = str(record.get("key", ""))
        if not key.startswith(SENTRY_ISSUE_PREFIX) or record.get("state") != "open":
            continue
        if not is_live(record, now):
            continue
        issue = issues.get(key.removeprefix(SENTRY_ISSUE_PREFIX))
        if issue is None or issue.get("status") != "resolved":
            continue
        body = _json({"action": "resolved", "data": {"issue": dict(issue)},
                      "actor": {"type": "application", "id": "alert-bridge",
                                "name": "alert-bridge reconciliation"}})
        planned.append(Publication("sentry", "issue", "resolved", key, "resolved", body))
    return planned


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
    changed = parse_time(monitor.get("overall_state_modified"))
    stamp = int(changed.timestamp()) if changed else 0
    return f"reconcile-{monitor.get('id')}-{stamp}"


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
        if any(r.get("state") in LIVE_STATES and is_live(r, now)
               for r in by_monitor.get(monitor_id, ())):
            continue
        cycle = datadog_cycle(monitor)
        key = f"{DATADOG_CYCLE_PREFIX}{cycle}"
        record = records.get(key)
        if record is not None and is_live(record, now):
            continue
        body = datadog_webhook(monitor, cycle, app_url=app_url)
        planned.append(Publication("datadog", "datadog", "Triggered", key, "missing", body))
    return planned


def sentry_event_alert(finding: SentryFinding, issue_id: str, *, org: str, api_url: str) -> bytes:
    """Return an event_alert webhook body built from the API's issue object."""
    issue = finding.issue
    metadata, project = _object(issue.get("metadata")), _object(issue.get("project"))
    slug = clean_text(project.get("slug")) or finding.project
    event_id = finding.event_id or "latest"
    level = clean_text(issue.get("level"))
    event: dict[str, Any] = {
        "event_id": finding.event_id, "issue_id": issue_id,
        "issue_url": f"{api_url}/organizations/{org}/issues/{issue_id}/",
        # The worker reads the project slug from this API url, as in a real event_alert.
        "url": f"{api_url}/projects/{org}/{slug}/events/{event_id}/",
        "web_url": clean_text(issue.get("permalink")), "project": project.get("id"),
        "title": clean_text(issue.get("title")), "level": level,
        "culprit": clean_text(issue.get("culprit")),
        "datetime": (finding.fired_at.isoformat() if finding.fired_at
                     else clean_text(issue.get("lastSeen"))),
        "tags": [["level", level]] if level else [],
    }
    if metadata.get("type") or metadata.get("value"):
        exception = {k: metadata[k] for k in ("type", "value") if metadata.get(k)}
        event["exception"] = {"values": [exception]}
    data: dict[str, Any] = {"event": event}
    if finding.rule_id is not None:
        data["triggered_rule"] = f"rule {finding.rule_id}"
    return _json({"action": "triggered", "data": data,
                  "actor": {"type": "application", "id": "alert-bridge",
                            "name": "alert-bridge reconciliation"}})


def datadog_webhook(monitor: Json, cycle: str, *, app_url: str) -> bytes:
    """Return a body in the webhook template's shape (docs/datadog-webhook-template.json)."""
    monitor_id = str(monitor.get("id"))
    name = clean_text(monitor.get("name")) or f"Datadog monitor {monitor_id}"
    priority = monitor.get("priority")
    tags = monitor.get("tags")
    tags = tags if isinstance(tags, list) else []
    changed = parse_time(monitor.get("overall_state_modified"))
    return _json({
        "id": cycle, "alert_cycle_key": cycle, "alert_transition": "Triggered",
        "alert_id": monitor_id,
        "alert_priority": f"P{priority}" if isinstance(priority, int) else "",
        "alert_scope": "", "alert_status": "reconciled: the monitor is in Alert",
        "alert_title": name, "title": f"[Triggered] {name}",
        "body": str(monitor.get("message") or ""),
        "link": f"{app_url}/monitors/{monitor_id}", "tags": ",".join(str(t) for t in tags),
        "date": int(changed.timestamp() * 1000) if changed else "", "hostname": "",
    })


def datadog_app_url(api_url: str) -> str:
    """Return the web app's base URL of a Datadog site from its API base URL."""
    # api.datadoghq.com -> app.datadoghq.com, api.datadoghq.eu -> app.datadoghq.eu
    return api_url.rstrip("/").replace("://api.", "://app.", 1)


def _object(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _mentions(message: str, mention: str) -> bool:
    # "@webhook-alert-bridge" must not count as a mention of "@webhook-alert".
    start = message.find(mention)
    while start >= 0:
        after = message[start + len(mention):start + len(mention) + 1]
        if not after or not (after.isalnum() or after in "-_"):
            return True
        start = message.find(mention, start + 1)
    return False


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --- the flow over injected adapters ----------------------------------------------------------

class SentrySource(Protocol):
    """What reconciliation reads from Sentry."""

    def findings(self, start: datetime, end: datetime) -> list[SentryFinding]:
        """Return the issues the configured rules fired for (or the search found)."""
        ...

    def issue(self, issue_id: str) -> Json | None:
        """Return one issue's current state, None if it no longer exists."""
        ...


class LedgerView(Protocol):
    """The ledger reads reconciliation needs (plain documents)."""

    def by_keys(self, keys: Iterable[str]) -> Mapping[str, Json]:
        """Return the documents of these alert keys."""
        ...

    def by_external_id(self, source: str, external_id: str) -> Sequence[Json]:
        """Return the documents of one Sentry issue or Datadog monitor."""
        ...

    def open_with_prefix(self, prefix: str) -> Sequence[Json]:
        """Return the open documents whose key starts with ``prefix``."""
        ...


@dataclass(frozen=True)
class ReconcileDeps:
    """What a run needs from the outside world; a source left None is not reconciled."""

    ledger: LedgerView
    publish: Callable[[bytes, Mapping[str, str]], str]
    now: Callable[[], datetime]
    lookback_minutes: int
    grace_minutes: int
    sentry: SentrySource | None = None
    sentry_org: str = ""
    sentry_api_url: str = ""
    monitors: Callable[[], Sequence[Json]] | None = None  # Datadog monitors (one filtered list)
    datadog_webhook: str = ""
    datadog_app_url: str = ""
    # The two-way sync's direction (shared/asana_reconcile.py): called with the run's request
    # id and dry_run after the publications above; returns its counts.
    asana: Callable[[str, bool], Mapping[str, int]] | None = None


@dataclass
class Report:
    """What a run found and did."""

    planned: list[Publication] = field(default_factory=list)
    published: int = 0
    dry_run: bool = False
    more: dict[str, int] = field(default_factory=dict)  # counts of the Asana check

    def counts(self) -> dict[str, int]:
        """Return the figures of the run, for the log and the HTTP answer."""
        counts = {"planned": len(self.planned), "published": self.published}
        for item in self.planned:
            name = f"{item.source}_{item.reason}"
            counts[name] = counts.get(name, 0) + 1
        return {**counts, **self.more}


def plan(deps: ReconcileDeps) -> list[Publication]:
    """Read every source, then decide what to publish; a failed read raises before any publish."""
    now = deps.now()
    win = window(now, deps.lookback_minutes, deps.grace_minutes)
    planned: list[Publication] = []
    if deps.sentry is not None:
        planned += _plan_sentry(deps.sentry, deps, win, now)
    if deps.monitors is not None:
        planned += _plan_datadog(deps.monitors, deps, win, now)
    return planned


def _plan_sentry(sentry: SentrySource, deps: ReconcileDeps, win: Window,
                 now: datetime) -> list[Publication]:
    findings = sentry.findings(win.start, win.end)
    ids = {clean_text(f.issue.get("id")) for f in findings}
    records = deps.ledger.by_keys(issue_key(i) for i in ids if i)
    missing = missing_sentry(findings, records, win, now, org=deps.sentry_org,
                             api_url=deps.sentry_api_url)
    open_records = deps.ledger.open_with_prefix(SENTRY_ISSUE_PREFIX)
    issues: dict[str, Json] = {}
    for record in open_records:
        issue_id = str(record.get("key", "")).removeprefix(SENTRY_ISSUE_PREFIX)
        issue = sentry.issue(issue_id)
        if issue is not None:
            issues[issue_id] = issue
    return missing + resolved_sentry(open_records, issues, now)


def _plan_datadog(monitors: Callable[[], Sequence[Json]], deps: ReconcileDeps, win: Window,
                  now: datetime) -> list[Publication]:
    alerting = alerting_monitors(monitors(), deps.datadog_webhook, win)
    by_monitor = {str(m.get("id")): deps.ledger.by_external_id("datadog", str(m.get("id")))
                  for m in alerting}
    records = deps.ledger.by_keys(f"{DATADOG_CYCLE_PREFIX}{datadog_cycle(m)}" for m in alerting)
    return missing_datadog(alerting, by_monitor, records, now, app_url=deps.datadog_app_url)


def reconcile(deps: ReconcileDeps, request_id: str, *, dry_run: bool = False) -> Report:
    """Plan a run and, unless ``dry_run``, publish each synthetic alert; return the report.

    Publishing is idempotent by alert key, so a run that stops half-way is completed by the
    next one, never doubled.
    """
    report = Report(planned=plan(deps), dry_run=dry_run)
    for item in report.planned:
        fields = {"source": item.source, "reason": item.reason, "alert_key": item.alert_key,
                  "request_id": request_id, "dry_run": dry_run}
        if dry_run:
            log.info("would publish %s (%s)", item.alert_key, item.reason,
                     extra={"event": "reconcile_planned", **fields})
            continue
        message_id = deps.publish(item.body, item.attributes(deps.now(), request_id))
        report.published += 1
        # One line per recovered alert: the log-based metric counts these.
        log.warning("reconciled %s (%s): its webhook never arrived", item.alert_key, item.reason,
                    extra={"event": "alert_reconciled", "message_id": message_id, **fields})
    if deps.asana is not None:
        report.more.update(deps.asana(request_id, dry_run))
    log.info("reconcile run done", extra={"event": "reconcile_run", "request_id": request_id,
                                          "dry_run": dry_run, **report.counts()})
    return report


def handle_run(method: str, deps: Callable[[], ReconcileDeps],
               request_id: str) -> tuple[int, dict[str, object]]:
    """Run once for Cloud Scheduler; answer (status, body): non-2xx makes the job fail."""
    if method != "POST":
        return 405, {"error": "method not allowed: Cloud Scheduler posts"}
    try:
        report = reconcile(deps(), request_id)
    except AlertBridgeError as error:
        log.error("reconcile run failed: %s", error,
                  extra={"event": "reconcile_failed", "reason": error.reason,
                         "request_id": request_id, "retryable": isinstance(error, Transient)})
        return http_status(error), {"status": "failed", "reason": error.reason}
    return 200, {"status": "done", **report.counts()}
