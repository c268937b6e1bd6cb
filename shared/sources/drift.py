"""What a source's reconciler is made of: the run it is given, the publications it plans, and
the generic visit of the ledger that finds state drift.

A scheduled run asks each source's reconciler (Source.reconciler) what was lost: alerts whose
webhook never arrived (``missing``) and ledger records whose state the source contradicts
(drift). Each plans synthetic webhooks, shaped like the one that was lost, so the worker takes
them like the real one; the flow (shared/flows/reconcile.py) publishes them, counts, and moves
each source's cursor on.

Drift is found over a bounded slice of the ledger per run: ``visit`` reads the records of one
key prefix from where the previous run stopped; a record leased or changed within the grace
period is left alone (``settled``): its own webhook may still be on its way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.core.errors import Transient

log = logging.getLogger(__name__)

SOURCE_REASON = "reconcile"
#: Records of one source one run compares at most; the next run carries on after the last.
RECORDS_PER_RUN = 5000
#: Documents per ledger query.
LEDGER_PAGE = 500

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Publication:
    """One synthetic alert to publish, with the attributes ingest would have set."""

    source: str
    resource: str
    action: str
    alert_key: str
    #: "missing" (no webhook arrived), or the state a lost webhook would have brought:
    #: "resolved", "unresolved" (Sentry), "recovered" (Datadog).
    reason: str
    body: bytes
    #: When the source was seen in this state, on the source's own clock (None: the body's).
    source_time: datetime | None = None
    #: A state correction is a delivery of its run (two runs, two deliveries); a missing alert
    #: has no delivery id, so the same body planned by two runs is one delivery.
    correction: bool = False

    def attributes(self, received_at: datetime, request_id: str) -> dict[str, str]:
        """Return the Pub/Sub attributes of the message."""
        attributes = {"source": self.source, "resource": self.resource, "action": self.action,
                      "alert_key": self.alert_key, "received_at": rfc3339(received_at),
                      "request_id": request_id, "source_reason": SOURCE_REASON}
        if self.correction:
            attributes["delivery_id"] = f"{SOURCE_REASON}:{request_id}"
        if self.source_time is not None:
            attributes["source_time"] = rfc3339(self.source_time)
        return attributes


def rfc3339(moment: datetime) -> str:
    """Return a time as the attributes carry it: RFC 3339 in UTC, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def is_live(record: Json, now: datetime) -> bool:
    """Tell whether a ledger document still counts ("expired" is computed, never stored)."""
    expires = record.get("expires_at")
    return not isinstance(expires, datetime) or expires > now


def handled(record: Json | None, now: datetime) -> bool:
    """Tell whether a record stands for the alert's task: made or being made.

    A record that only remembers what the source said (no task, shared/core/ledger.py) does
    not: the alert's webhook was lost all the same, and its task is created in that state.
    """
    if record is None or not is_live(record, now):
        return False
    return bool(record.get("task_gid")) or record.get("state") == "creating"


def open_task(record: Json, now: datetime) -> bool:
    """Tell whether a record stands for an open task (made or being made) of the alert."""
    return handled(record, now) and record.get("state") in ("open", "creating")


def as_object(value: object) -> Json:
    """Return ``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def canonical_json(value: object) -> bytes:
    """Return compact JSON: the same value always gives the same bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


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


class LedgerPages(Protocol):
    """The ledger read a visit needs."""

    def page(self, prefix: str, after: str | None, limit: int) -> Sequence[Json]:
        """Return up to ``limit`` documents whose key starts with ``prefix``, in key order,
        from the first key after ``after`` (None: from the first key)."""
        ...


class LedgerView(LedgerPages, Protocol):
    """The ledger reads reconciliation needs (plain documents)."""

    def by_keys(self, keys: Iterable[str]) -> Mapping[str, Json]:
        """Return the documents of these alert keys."""
        ...

    def by_external_id(self, source: str, external_id: str) -> Sequence[Json]:
        """Return the documents of one source object (a Sentry issue, a Datadog monitor)."""
        ...


@dataclass(frozen=True)
class Run:
    """What one source's part of a run is given."""

    now: datetime
    window: Window
    grace: timedelta
    ledger: LedgerView
    clock: Callable[[], datetime]  # the time now, for a read budget
    records_per_run: int = RECORDS_PER_RUN
    #: Where this source's previous visit of the ledger stopped (None: at the first key).
    cursor: Callable[[], str | None] = lambda: None

    def visit(self, prefix: str) -> tuple[list[Json], str | None]:
        """Return this run's slice of the records under ``prefix``, and the next run's cursor."""
        return visit(self.ledger, prefix, self.cursor(), self.records_per_run)


@dataclass
class Check:
    """What comparing a slice of records with their source planned, and what it could not do."""

    planned: list[Publication] = field(default_factory=list)
    skipped: int = 0  # leased or changed within the grace period
    read_failures: int = 0
    #: The last key compared when the read budget ran out (None: the slice was finished).
    stopped_after: str | None = None
    visited: int = 0  # ledger records read from the cursor
    #: Where the next run's visit starts, by cursor name (None: from the first key); a source
    #: that did not visit the ledger leaves its cursor where it was.
    cursors: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Reconciler:
    """One source's part of a reconciliation run."""

    name: str  # the source; names its cursor
    #: Plan the missing alerts and the drift over this run's slice of the ledger.
    plan: Callable[[Run], Check] | None = None
    #: Work of its own after the publications, with the run's request id and dry_run;
    #: returns counts for the report (the Asana sync check).
    after: Callable[[str, bool], Mapping[str, int]] | None = None
    describes: str = ""  # what it reads, for a dry run


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


def read_failed(source: str, what: str, error: Transient, **fields: object) -> None:
    """Log one read that failed after its retries and was skipped."""
    log.warning("%s %s: read failed, skipped until the next run: %s", source, what, error,
                extra={"event": "reconcile_read_failed", "source": source, "read": what,
                       "reason": error.reason, **fields})
