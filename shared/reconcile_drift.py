"""State drift: tasks whose open or completed state no longer matches their alert's source.

A lost Sentry ``resolved`` or ``unresolved`` webhook, or a lost Datadog ``Recovered``, leaves a
task open (or completed) for good. Each run visits a bounded slice of a source's ledger records,
in key order from where the previous run stopped, compares each with its source (Sentry: up to
100 issues per request; Datadog: the monitor list the run reads anyway) and plans the lost
webhook of each record that disagrees. A record leased or changed within the grace period is
left alone: its own webhook may still be on its way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.core.errors import Transient
from shared.core.payload import parse_time
from shared.reconcile_messages import (
    DATADOG_CYCLE_PREFIX,
    SENTRY_ISSUE_PREFIX,
    Json,
    Publication,
    datadog_webhook,
    is_live,
    sentry_issue_webhook,
)

log = logging.getLogger(__name__)

#: Records of one source one run compares at most; the next run carries on after the last.
RECORDS_PER_RUN = 5000
#: Documents per ledger query.
LEDGER_PAGE = 500
#: Issue ids per Sentry read: the largest page Sentry answers, about 1.8 kB of query string.
ISSUES_PER_READ = 100
#: Reading stops once a run has read this long (Cloud Scheduler waits 320 s, the function 300 s);
#: the next run carries on where it stopped.
READ_BUDGET_SECONDS = 120.0


class LedgerPages(Protocol):
    """The ledger read a visit needs."""

    def page(self, prefix: str, after: str | None, limit: int) -> Sequence[Json]:
        """Return up to ``limit`` documents whose key starts with ``prefix``, in key order,
        from the first key after ``after`` (None: from the first key)."""
        ...


@dataclass(frozen=True)
class Observed:
    """Issues as one Sentry read showed them (by id), and when, on Sentry's clock."""

    issues: Mapping[str, Json]
    at: datetime | None  # the answer's Date header; None if it had none


@dataclass
class Check:
    """What comparing a slice of records with their source planned, and what it could not do."""

    planned: list[Publication] = field(default_factory=list)
    skipped: int = 0  # leased or changed within the grace period
    read_failures: int = 0
    #: The last key compared when the read budget ran out (None: the slice was finished).
    stopped_after: str | None = None


def visit(ledger: LedgerPages, prefix: str, after: str | None,
          budget: int) -> tuple[list[Json], str | None]:
    """Return up to ``budget`` records after the cursor ``after``, and the next run's cursor.

    The cursor is None when the last key was reached: the next run starts from the first.
    """
    records: list[Json] = []
    budget = max(budget, 1)
    while True:
        room = budget - len(records)
        # One more than there is room for tells whether any record is left after this run.
        wanted = min(LEDGER_PAGE, room + 1)
        page = list(ledger.page(prefix, after, wanted))
        if len(page) > room:
            records += page[:room]
            return records, str(records[-1].get("key"))
        records += page
        if len(page) < wanted:
            return records, None
        after = str(page[-1].get("key"))


def settled(record: Json, now: datetime, grace: timedelta) -> bool:
    """Tell whether nothing holds or has just changed the record, so it can be compared."""
    lease = record.get("lease_expires_at")
    if isinstance(lease, datetime) and lease > now:
        return False
    updated = record.get("updated_at")
    return not (isinstance(updated, datetime) and updated > now - grace)


def sentry_drift(records: Iterable[Json], observed: Observed,
                 now: datetime) -> list[Publication]:
    """Return the lost ``issue`` webhook of each record whose state Sentry contradicts.

    An open task of a resolved issue gets ``resolved``; a completed task of an unresolved issue
    gets ``unresolved``. Each is timed when the read saw it (``now`` if it gave no Date).
    """
    planned = []
    seen_at = observed.at or now
    for record in records:
        key = str(record.get("key", ""))
        issue = observed.issues.get(key.removeprefix(SENTRY_ISSUE_PREFIX))
        if issue is None:  # deleted, or in a project the token cannot see
            continue
        state, status = record.get("state"), issue.get("status")
        if state == "open" and status == "resolved":
            action = "resolved"
        elif state == "resolved" and status == "unresolved":
            action = "unresolved"
        else:
            continue  # agreed; or ignored in Sentry, which changes no task
        planned.append(Publication("sentry", "issue", action, key, action,
                                   sentry_issue_webhook(action, issue), seen_at, True))
    return planned


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
        if not key.startswith(DATADOG_CYCLE_PREFIX) or record.get("state") != "open":
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


def check_sentry(records: Sequence[Json], read: Callable[[Sequence[str]], Observed], *,
                 now: datetime, grace: timedelta, per_read: int,
                 out_of_time: Callable[[], bool]) -> Check:
    """Compare records with their Sentry issues, ``per_read`` issues per read.

    A read that fails after its retries skips its records and is counted; the others go on.
    Once ``out_of_time()`` (checked after each read) the rest waits for the next run.
    """
    check = Check()
    due = []
    for record in records:
        if not _comparable(record, now):
            continue
        if settled(record, now, grace):
            due.append(record)
        else:
            check.skipped += 1
    for start in range(0, len(due), per_read):
        if start and out_of_time():
            check.stopped_after = str(due[start - 1].get("key"))
            break
        chunk = due[start:start + per_read]
        ids = [str(r.get("key")).removeprefix(SENTRY_ISSUE_PREFIX) for r in chunk]
        try:
            observed = read(ids)
        except Transient as error:
            check.read_failures += 1
            read_failed("sentry", "issues", error, records=len(chunk))
            continue
        check.planned += sentry_drift(chunk, observed, now)
    return check


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


def read_failed(source: str, what: str, error: Transient, **fields: object) -> None:
    """Log one read that failed after its retries and was skipped."""
    log.warning("%s %s: read failed, skipped until the next run: %s", source, what, error,
                extra={"event": "reconcile_read_failed", "source": source, "read": what,
                       "reason": error.reason, **fields})


def _comparable(record: Json, now: datetime) -> bool:
    """Tell whether a Sentry record has a task state to compare (not creating, not expired)."""
    issue_id = str(record.get("key", "")).removeprefix(SENTRY_ISSUE_PREFIX)
    return (record.get("state") in ("open", "resolved") and is_live(record, now)
            and issue_id.isdigit())
