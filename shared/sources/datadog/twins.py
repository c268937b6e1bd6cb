"""A Datadog alert that reconciliation opened, joined by the monitor's own late webhook.

Datadog's monitor API does not give an alert's cycle key, so reconciliation opens the task of a
lost Triggered webhook under a synthetic key (``datadog:cycle:reconcile-<monitor>-<epoch>``).
When Datadog's real webhook of that monitor turns up late (its Triggered, or the Recovered of a
Triggered that was lost), its key has no record. Rather than a second
task, the real key *joins* the task of the synthetic record: it gets a record of its own that
holds the same task, and the synthetic record is retired (``resolved`` in the ledger), so that
reconciliation stops speaking for that monitor and the real webhooks drive the task from then on.

Only a webhook of the cycle reconciliation saw joins: the synthetic key carries the cycle's start
(the monitor's ``overall_state_modified``). A late Triggered from before it belongs to an earlier
cycle, whose Recovered was lost: it gets a task of its own, which reconciliation closes as
superseded by the newer cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.core.alert import Alert
from shared.core.errors import Transient
from shared.core.ledger import RETENTION, Record, State
from shared.sources.datadog.keys import RECONCILED_PREFIX, reconciled_began

log = logging.getLogger(__name__)

#: How much earlier than the monitor's state change its Triggered event may be dated and still
#: be that cycle's: the two are stamped by the same evaluation (the state change to the
#: second), and a monitor evaluates at most once a minute, so an earlier cycle began at least a
#: minute before.
SAME_CYCLE_SLACK = timedelta(seconds=30)


class Store(Protocol):
    """The ledger writes a join needs."""

    def get(self, key: str) -> tuple[Record | None, Any]:
        """Return the record of ``key`` and its version."""
        ...

    def create(self, record: Record) -> Any:
        """Store a new record; return its version, or None when the key already has one."""
        ...

    def update(self, record: Record, version: Any) -> Any:
        """Replace the record unless it changed since ``version``; return its new version."""
        ...


def twin_of(alert: Alert, records: list[Record], now: datetime) -> Record | None:
    """Return the live reconciliation-opened record ``alert`` should join, if any.

    Raises Transient while such a record is still being created: its task is on the way.
    """
    candidates = [r for r in records
                  if r.key.startswith(RECONCILED_PREFIX) and r.key != alert.key
                  and not r.expired(now) and _same_cycle(alert, r.key)]
    if any(r.state is State.CREATING for r in candidates):
        raise Transient(f"alert {alert.key}: reconciliation is creating the task of monitor "
                        f"{alert.external_id}; will retry")
    opened = [r for r in candidates if r.state is State.OPEN and r.task_gid]
    return max(opened, key=lambda r: r.created_at, default=None)


def _same_cycle(alert: Alert, reconciled_key: str) -> bool:
    """Tell whether ``alert`` may be of the cycle a synthetic key names (not dated before it)."""
    began = reconciled_began(reconciled_key)
    return alert.occurred_at is None or began is None or \
        alert.occurred_at >= began - SAME_CYCLE_SLACK


def joined(alert: Alert, twin: Record, now: datetime) -> Record:
    """Return the real key's record: the twin's task and history, under the real key."""
    return Record(key=alert.key, state=State.OPEN, updated_at=now, created_at=twin.created_at,
                  expires_at=now + RETENTION, task_gid=twin.task_gid, team=twin.team,
                  project_gid=twin.project_gid, source=alert.source,
                  external_id=alert.external_id, last_commented_at=twin.last_commented_at,
                  occurrences=twin.occurrences, clocks=dict(twin.clocks),
                  state_origin=twin.state_origin, state_received_at=twin.state_received_at)


def join(alert: Alert, find: Callable[[Alert], list[Record]], store: Store,
         now: datetime) -> bool:
    """Give ``alert``'s key the task reconciliation opened for its monitor; tell if it did."""
    if alert.source != "datadog" or not alert.external_id or \
            alert.key.startswith(RECONCILED_PREFIX):
        return False
    twin = twin_of(alert, find(alert), now)
    if twin is None:
        return False
    if store.create(joined(alert, twin, now)) is None:
        return True  # another delivery of this key got there first: decide on its record
    current, version = store.get(twin.key)
    retired = current is not None and current.task_gid == twin.task_gid and \
        store.update(replace(current, state=State.RESOLVED, updated_at=now), version) is not None
    log.info("alert %s joins task %s that reconciliation opened as %s", alert.key,
             twin.task_gid, twin.key,
             extra={"event": "alert_joined", "alert_key": alert.key, "task_gid": twin.task_gid,
                    "reconciled_key": twin.key, "retired": retired})
    return True
