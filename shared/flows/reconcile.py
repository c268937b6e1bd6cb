"""Reconciliation: publish, as synthetic webhooks, the alerts and state changes that were lost.

Sentry does not retry the webhooks of internal integrations and a Datadog webhook can be lost
too. A scheduled run asks both APIs what fired, asks the ledger what the worker has seen, and
publishes what is missing through the events topic, shaped like the webhook that was lost, so
the worker makes it a task exactly once (the ledger de-duplicates by alert key). It also
compares a bounded slice of the ledger's records with their source and publishes the lost
state changes (reconcile_drift.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.core.errors import AlertBridgeError, Transient, http_status
from shared.core.payload import clean_text, parse_time
from shared.reconcile_drift import (
    ISSUES_PER_READ,
    READ_BUDGET_SECONDS,
    RECORDS_PER_RUN,
    Check,
    Observed,
    check_datadog,
    check_sentry,
    read_failed,
    visit,
)
from shared.reconcile_messages import (
    ACTOR,
    DATADOG_CYCLE_PREFIX,
    LIVE_STATES,
    SENTRY_ISSUE_PREFIX,
    Json,
    Publication,
    as_object,
    canonical_json,
    datadog_webhook,
    is_live,
    issue_key,
)

log = logging.getLogger(__name__)


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


# --- pure decisions ---------------------------------------------------------------------------

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
    metadata, project = as_object(issue.get("metadata")), as_object(issue.get("project"))
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
    return canonical_json({"action": "triggered", "data": data, "actor": ACTOR})


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


# --- the flow over injected adapters ----------------------------------------------------------

class SentrySource(Protocol):
    """What reconciliation reads from Sentry."""

    def findings(self, start: datetime, end: datetime) -> list[SentryFinding]:
        """Return the issues the configured rules fired for (or the search found)."""
        ...

    def issues(self, ids: Sequence[str]) -> Observed:
        """Return the current state of these issues (at most 100), read at once."""
        ...


class LedgerView(Protocol):
    """The ledger reads reconciliation needs (plain documents)."""

    def by_keys(self, keys: Iterable[str]) -> Mapping[str, Json]:
        """Return the documents of these alert keys."""
        ...

    def by_external_id(self, source: str, external_id: str) -> Sequence[Json]:
        """Return the documents of one Sentry issue or Datadog monitor."""
        ...

    def page(self, prefix: str, after: str | None, limit: int) -> Sequence[Json]:
        """Return up to ``limit`` documents whose key starts with ``prefix``, in key order,
        from the first key after ``after`` (None: from the first key)."""
        ...


class CursorStore(Protocol):
    """Where each source's visit of the ledger stopped, kept between runs."""

    def load(self, name: str) -> str | None:
        """Return the last key visited, None to start from the first."""
        ...

    def save(self, name: str, after: str | None) -> None:
        """Remember where the next run starts."""
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
    cursors: CursorStore | None = None  # None: every run visits from the first key
    records_per_run: int = RECORDS_PER_RUN
    issues_per_read: int = ISSUES_PER_READ
    read_budget_seconds: float = READ_BUDGET_SECONDS
    # The two-way sync's direction (shared/sources/asana/reconcile.py): called with the run's
    # request id and dry_run after the publications above; returns its counts.
    asana: Callable[[str, bool], Mapping[str, int]] | None = None


@dataclass
class Report:
    """What a run found and did."""

    planned: list[Publication] = field(default_factory=list)
    published: int = 0
    dry_run: bool = False
    visited: int = 0  # ledger records read from the cursors and compared with their source
    skipped: int = 0  # of those, leased or changed within the grace period
    read_failures: int = 0  # reads of Sentry or Datadog that failed after their retries
    cursors: dict[str, str | None] = field(default_factory=dict)  # where the next run starts
    more: dict[str, int] = field(default_factory=dict)  # counts of the Asana check

    def counts(self) -> dict[str, int]:
        """Return the figures of the run, for the log and the HTTP answer."""
        counts = {"planned": len(self.planned), "published": self.published,
                  "records_visited": self.visited, "records_skipped": self.skipped,
                  "read_failures": self.read_failures}
        for item in self.planned:
            name = f"{item.source}_{item.reason}"
            counts[name] = counts.get(name, 0) + 1
        return {**counts, **self.more}

    def add(self, check: Check) -> None:
        """Take in what comparing a slice of records found."""
        self.planned += check.planned
        self.skipped += check.skipped
        self.read_failures += check.read_failures


def plan(deps: ReconcileDeps) -> Report:
    """Read every source and decide what to publish; a failed read is counted and skipped."""
    now = deps.now()
    win = window(now, deps.lookback_minutes, deps.grace_minutes)
    report = Report()
    if deps.sentry is not None:
        _plan_sentry(deps.sentry, deps, win, now, report)
    if deps.monitors is not None:
        _plan_datadog(deps.monitors, deps, win, now, report)
    return report


def _plan_sentry(sentry: SentrySource, deps: ReconcileDeps, win: Window, now: datetime,
                 report: Report) -> None:
    try:
        findings = sentry.findings(win.start, win.end)
    except Transient as error:
        # The window is longer than the interval: the next runs look at these alerts again.
        report.read_failures += 1
        read_failed("sentry", "findings", error)
        findings = []
    ids = {clean_text(f.issue.get("id")) for f in findings}
    records = deps.ledger.by_keys(issue_key(i) for i in ids if i)
    report.planned += missing_sentry(findings, records, win, now, org=deps.sentry_org,
                                     api_url=deps.sentry_api_url)
    visited, after = _visit(deps, "sentry", SENTRY_ISSUE_PREFIX, report)
    started = deps.now()
    budget = timedelta(seconds=deps.read_budget_seconds)
    check = check_sentry(visited, sentry.issues, now=now,
                         grace=timedelta(minutes=deps.grace_minutes),
                         per_read=deps.issues_per_read,
                         out_of_time=lambda: deps.now() - started > budget)
    report.add(check)
    report.cursors["sentry"] = check.stopped_after or after


def _plan_datadog(monitors: Callable[[], Sequence[Json]], deps: ReconcileDeps, win: Window,
                  now: datetime, report: Report) -> None:
    try:
        listed = list(monitors())
    except Transient as error:
        report.read_failures += 1
        read_failed("datadog", "monitors", error)
        return
    alerting = alerting_monitors(listed, deps.datadog_webhook, win)
    by_monitor = {str(m.get("id")): deps.ledger.by_external_id("datadog", str(m.get("id")))
                  for m in alerting}
    records = deps.ledger.by_keys(f"{DATADOG_CYCLE_PREFIX}{datadog_cycle(m)}" for m in alerting)
    report.planned += missing_datadog(alerting, by_monitor, records, now,
                                      app_url=deps.datadog_app_url)
    visited, after = _visit(deps, "datadog", DATADOG_CYCLE_PREFIX, report)
    report.add(check_datadog(visited, {str(m.get("id")): m for m in listed}, now=now,
                             grace=timedelta(minutes=deps.grace_minutes),
                             app_url=deps.datadog_app_url))
    report.cursors["datadog"] = after


def _visit(deps: ReconcileDeps, name: str, prefix: str,
           report: Report) -> tuple[list[Json], str | None]:
    after = deps.cursors.load(name) if deps.cursors is not None else None
    records, following = visit(deps.ledger, prefix, after, deps.records_per_run)
    report.visited += len(records)
    return records, following


def reconcile(deps: ReconcileDeps, request_id: str, *, dry_run: bool = False) -> Report:
    """Plan a run and, unless ``dry_run``, publish each synthetic alert; return the report.

    Publishing is idempotent by alert key, so a run that stops half-way is completed by the
    next one, never doubled. The cursors move on only once everything is published.
    """
    report = plan(deps)
    report.dry_run = dry_run
    for item in report.planned:
        fields = {"source": item.source, "reason": item.reason, "alert_key": item.alert_key,
                  "request_id": request_id, "dry_run": dry_run}
        if dry_run:
            log.info("would publish %s (%s)", item.alert_key, item.reason,
                     extra={"event": "reconcile_planned", **fields})
            continue
        message_id = deps.publish(item.body, item.attributes(deps.now(), request_id))
        report.published += 1
        # One line per recovered alert or state change: the log-based metric counts these.
        log.warning("reconciled %s (%s): its webhook was lost", item.alert_key, item.reason,
                    extra={"event": "alert_reconciled", "message_id": message_id, **fields})
    if not dry_run and deps.cursors is not None:
        for name, after in report.cursors.items():
            deps.cursors.save(name, after)
    if deps.asana is not None:
        report.more.update(deps.asana(request_id, dry_run))
    log.info("reconcile run done", extra={"event": "reconcile_run", "request_id": request_id,
                                          "dry_run": dry_run, "cursors": report.cursors,
                                          **report.counts()})
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
