"""Reconciliation: publish, as synthetic webhooks, the alerts and state changes that were lost.

A source's webhook can be lost (some are never retried). A scheduled run asks each source's
reconciler (shared/sources/drift.py) what fired and what the source says now, against the
ledger, and publishes what is missing through the events topic, shaped like the webhook that
was lost, so the worker makes it a task exactly once (the ledger de-duplicates by alert key).
Each source's visit of the ledger carries on where the previous run stopped; the cursors move
on only once everything is published. Work a source does on its own (checking the two-way
sync's webhooks) runs after the publications.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.core.errors import AlertBridgeError, Transient, http_status
from shared.sources.drift import (
    RECORDS_PER_RUN,
    Check,
    LedgerView,
    Publication,
    Reconciler,
    Run,
    window,
)

log = logging.getLogger(__name__)

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
    """What a run needs from the outside world; a source without a reconciler is not read."""

    ledger: LedgerView
    publish: Callable[[bytes, Mapping[str, str]], str]
    now: Callable[[], datetime]
    lookback_minutes: int
    grace_minutes: int
    reconcilers: Sequence[Reconciler] = ()
    cursors: CursorStore | None = None  # None: every run visits from the first key
    records_per_run: int = RECORDS_PER_RUN
    #: (source, what to set) of each source left off by the settings, for a dry run.
    off: Sequence[tuple[str, str]] = ()


@dataclass
class Report:
    """What a run found and did."""

    planned: list[Publication] = field(default_factory=list)
    published: int = 0
    dry_run: bool = False
    visited: int = 0  # ledger records read from the cursors and compared with their source
    skipped: int = 0  # of those, leased or changed within the grace period
    read_failures: int = 0  # reads of a source's API that failed after their retries
    cursors: dict[str, str | None] = field(default_factory=dict)  # where the next run starts
    more: dict[str, int] = field(default_factory=dict)  # counts of a source's own work

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
        """Take in what one source planned."""
        self.planned += check.planned
        self.visited += check.visited
        self.skipped += check.skipped
        self.read_failures += check.read_failures
        self.cursors.update(check.cursors)


def plan(deps: ReconcileDeps) -> Report:
    """Ask every source what was lost; a failed read is counted and skipped."""
    now = deps.now()
    win = window(now, deps.lookback_minutes, deps.grace_minutes)
    report = Report()
    for reconciler in deps.reconcilers:
        if reconciler.plan is None:
            continue
        run = Run(now=now, window=win, grace=timedelta(minutes=deps.grace_minutes),
                  ledger=deps.ledger, clock=deps.now, records_per_run=deps.records_per_run,
                  cursor=_cursor(deps.cursors, reconciler.name))
        report.add(reconciler.plan(run))
    return report


def _cursor(cursors: CursorStore | None, name: str) -> Callable[[], str | None]:
    return (lambda: None) if cursors is None else (lambda: cursors.load(name))


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
    for reconciler in deps.reconcilers:
        if reconciler.after is not None:
            report.more.update(reconciler.after(request_id, dry_run))
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
