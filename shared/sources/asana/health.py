"""The sync direction of reconciliation, as pure decisions: how each project's webhook is,
and which tasks disagree with their alert's ledger record.

Asana webhooks are at-most-once and cannot be replayed, and Asana deletes a webhook after
24 h of failed deliveries (and may mark one inactive), so a webhook alone cannot keep the two
sides agreeing. Reconciliation therefore checks each webhook and renews the broken ones, and
compares in bulk the tasks changed since the last comparison with the ledger.

Webhook health, first matching row wins:

============  ==============================================================  ===========
health        hook document / Asana's listing                                 what happens
============  ==============================================================  ===========
pending       a registration is in flight                                     nothing
unregistered  no registration was ever started (no token, no secret)          register
outdated      a secret but no token (registered before URLs carried one)      re-register
unconfirmed   a token but no secret: the handshake never came                 re-register
deleted       Asana lists no webhook with the stored token                    re-register
inactive      Asana lists it with ``active: false``                           re-register
silent        no successful delivery for longer than SILENT_AFTER             flag
ok            anything else                                                   nothing
============  ==============================================================  ===========

unconfirmed, deleted, inactive and silent are logged as ``asana_webhook_unhealthy`` (the
"two-way sync webhook inactive" alert policy); unregistered and outdated are routine.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.core.payload import parse_time
from shared.sources.asana.webhooks import Hook, token_matches

#: Asana sends a heartbeat every 8 hours; the margin covers its jitter and the throttled
#: record of our own (asana_webhooks.DELIVERY_RECORD_INTERVAL).
HEARTBEAT_INTERVAL = timedelta(hours=8)
SILENT_AFTER = HEARTBEAT_INTERVAL + timedelta(hours=1)
#: Tasks changed this recently are left to their webhook, which may still be on its way
#: (Asana delivers most events within a minute); the next run compares them.
COMPARE_GRACE = timedelta(minutes=5)
#: Clock skew between us and Asana's ``modified_at``, looked back over on every comparison.
COMPARE_SLACK = timedelta(minutes=5)


class Health(enum.StrEnum):
    """How a project's webhook is."""

    PENDING = "pending"
    UNREGISTERED = "unregistered"
    OUTDATED = "outdated"
    UNCONFIRMED = "unconfirmed"
    DELETED = "deleted"
    INACTIVE = "inactive"
    SILENT = "silent"
    OK = "ok"


#: Health that registers a new webhook (new token, new secret).
RENEW = frozenset({Health.UNREGISTERED, Health.OUTDATED, Health.UNCONFIRMED, Health.DELETED,
                   Health.INACTIVE})
#: Health that means the sync direction was (or is) broken: logged for the alert policy.
UNHEALTHY = frozenset({Health.UNCONFIRMED, Health.DELETED, Health.INACTIVE, Health.SILENT})


@dataclass(frozen=True)
class Listed:
    """One of this service's webhooks as Asana lists it."""

    gid: str
    token: str | None
    active: bool
    created_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure_content: str = ""

    @classmethod
    def of(cls, gid: str, token: str | None, webhook: Mapping[str, Any]) -> Listed:
        """Return the fields of Asana's webhook record that health needs."""
        return cls(gid, token, webhook.get("active") is True,
                   parse_time(webhook.get("created_at")),
                   parse_time(webhook.get("last_success_at")),
                   parse_time(webhook.get("last_failure_at")),
                   str(webhook.get("last_failure_content") or ""))


@dataclass(frozen=True)
class Verdict:
    """A project's webhook health, the webhook it is about, and its last known success."""

    project_gid: str
    health: Health
    webhook: Listed | None = None
    last_success: datetime | None = None


def last_success(webhook: Listed, hook: Hook) -> datetime | None:
    """Return the newest sign of life: Asana's last success, our last verified delivery, or
    the webhook's creation (a new webhook has had no heartbeat yet)."""
    known = [t for t in (webhook.last_success_at, hook.last_delivery_at, webhook.created_at)
             if t is not None]
    return max(known) if known else None


def health(project_gid: str, hook: Hook | None, listed: Sequence[Listed],
           now: datetime) -> Verdict:
    """Decide how the project's webhook is (see the table above)."""
    if hook is not None and hook.pending(now):
        return Verdict(project_gid, Health.PENDING)
    if hook is None or (not hook.secret and not hook.token_hash):
        return Verdict(project_gid, Health.UNREGISTERED)
    if not hook.token_hash:
        return Verdict(project_gid, Health.OUTDATED)
    if not hook.secret:
        return Verdict(project_gid, Health.UNCONFIRMED)
    mine = next((w for w in listed if token_matches(w.token, hook.token_hash)), None)
    if mine is None:
        return Verdict(project_gid, Health.DELETED)
    if not mine.active:
        return Verdict(project_gid, Health.INACTIVE, mine, last_success(mine, hook))
    seen = last_success(mine, hook)
    if seen is None or now - seen > SILENT_AFTER:
        return Verdict(project_gid, Health.SILENT, mine, seen)
    return Verdict(project_gid, Health.OK, mine, seen)


@dataclass(frozen=True)
class Drift:
    """A task whose completed state disagrees with its alert's ledger record."""

    task_gid: str
    project_gid: str
    alert_key: str
    state: str  # the ledger's: open or resolved
    completed: bool  # Asana's

    @property
    def reason(self) -> str:
        """Return what happened in Asana that never reached the alert's source."""
        return "task_completed" if self.completed else "task_reopened"


def modified_since(compared_at: datetime | None) -> datetime | None:
    """Return the ``modified_since`` of a project's next task list (None: every task)."""
    return None if compared_at is None else compared_at - COMPARE_SLACK


def compared_until(now: datetime) -> datetime:
    """Return up to when a comparison started at ``now`` covers the tasks' changes."""
    return now - COMPARE_GRACE


def drifted(project_gid: str, tasks: Iterable[Mapping[str, Any]],
            records: Mapping[str, Mapping[str, Any]], opted_in: Collection[str],
            now: datetime) -> list[Drift]:
    """Return the tasks whose state disagrees with their alert's record.

    ``records`` are the ledger documents by task gid. Only records of teams with
    ``sync_back: true`` now count, and only live ``open`` / ``resolved`` ones; a task changed
    after ``compared_until(now)`` is left to its webhook.
    """
    until = compared_until(now)
    found: dict[str, Drift] = {}
    for task in tasks:
        gid = str(task.get("gid") or "")
        changed = parse_time(task.get("modified_at"))
        if not gid or gid in found or (changed is not None and changed > until):
            continue
        record = records.get(gid)
        if record is None or record.get("team") not in opted_in or not _live(record, now):
            continue
        state, completed = record.get("state"), task.get("completed") is True
        if (state == "open" and completed) or (state == "resolved" and not completed):
            found[gid] = Drift(gid, project_gid, str(record.get("key", "")), str(state),
                               completed)
    return list(found.values())


def _live(record: Mapping[str, Any], now: datetime) -> bool:
    # "Expired" is computed from the clock: the purge may not have run yet.
    expires = record.get("expires_at")
    return not isinstance(expires, datetime) or expires > now
