"""Reconciliation of Sentry: the issues an alert rule fired for whose webhook never arrived, and
the issues whose state the ledger contradicts. Pure decisions over an injected reader.

Sentry does not retry the webhooks of internal integrations: a lost ``event_alert`` is found in
the rules' group history (or, for projects without a rule, the issue search) and published
again, shaped like the webhook that was lost. A bounded slice of the ledger's Sentry issues is
compared with the issues' current state, up to 100 per request; a resolved issue whose task is
open gets its lost ``resolved`` webhook, an unresolved one whose task is completed its
``unresolved``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from shared.core.errors import Transient
from shared.core.payload import clean_text, parse_time
from shared.sources.drift import (
    Check,
    Json,
    Publication,
    Reconciler,
    Run,
    Window,
    as_object,
    canonical_json,
    handled,
    is_live,
    read_failed,
    settled,
)
from shared.sources.sentry.keys import ISSUE_PREFIX as SENTRY_ISSUE_PREFIX

#: Issue ids per Sentry read: the largest page Sentry answers, about 1.8 kB of query string.
ISSUES_PER_READ = 100
#: Reading stops once a run has read this long (Cloud Scheduler waits 320 s, the function 300 s);
#: the next run carries on where it stopped.
READ_BUDGET_SECONDS = 120.0
ACTOR = {"type": "application", "id": "alert-bridge", "name": "alert-bridge reconciliation"}


@dataclass(frozen=True)
class SentryFinding:
    """An issue an alert rule fired for (group history) or the issue search found."""

    project: str  # project slug
    issue: Json  # the API's issue object
    rule_id: str | None = None  # None: found by the issue search, not the rule's history
    fired_at: datetime | None = None  # group history's lastTriggered
    event_id: str | None = None


@dataclass(frozen=True)
class Observed:
    """Issues as one Sentry read showed them (by id), and when, on Sentry's clock."""

    issues: Mapping[str, Json]
    at: datetime | None  # the answer's Date header; None if it had none


class SentrySource(Protocol):
    """What reconciliation reads from Sentry."""

    def findings(self, start: datetime, end: datetime) -> list[SentryFinding]:
        """Return the issues the configured rules fired for (or the search found)."""
        ...

    def issues(self, ids: Sequence[str]) -> Observed:
        """Return the current state of these issues (at most 100), read at once."""
        ...


def reconciler(reader: SentrySource, *, org: str, api_url: str,
               issues_per_read: int = ISSUES_PER_READ,
               read_budget_seconds: float = READ_BUDGET_SECONDS, describes: str = "") -> Reconciler:
    """Return Sentry's part of a reconciliation run over ``reader``."""
    return Reconciler("sentry", partial(plan, reader, org=org, api_url=api_url,
                                        issues_per_read=issues_per_read,
                                        read_budget_seconds=read_budget_seconds),
                      describes=describes)


def plan(reader: SentrySource, run: Run, *, org: str, api_url: str,
         issues_per_read: int = ISSUES_PER_READ,
         read_budget_seconds: float = READ_BUDGET_SECONDS) -> Check:
    """Plan the missing alerts of the run's window and the drift of its slice of the ledger."""
    planned = Check()
    try:
        findings = reader.findings(run.window.start, run.window.end)
    except Transient as error:
        # The window is longer than the interval: the next runs look at these alerts again.
        planned.read_failures += 1
        read_failed("sentry", "findings", error)
        findings = []
    ids = {clean_text(f.issue.get("id")) for f in findings}
    records = run.ledger.by_keys(issue_key(i) for i in ids if i)
    planned.planned += missing_sentry(findings, records, run.window, run.now, org=org,
                                      api_url=api_url)
    visited, after = run.visit(SENTRY_ISSUE_PREFIX)
    planned.visited = len(visited)
    started = run.clock()
    budget = timedelta(seconds=read_budget_seconds)
    check = check_sentry(visited, reader.issues, now=run.now, grace=run.grace,
                         per_read=issues_per_read,
                         out_of_time=lambda: run.clock() - started > budget)
    planned.planned += check.planned
    planned.skipped += check.skipped
    planned.read_failures += check.read_failures
    planned.cursors["sentry"] = check.stopped_after or after
    return planned


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


#: How much later than what it follows a resolve is taken to be, when Sentry does not say.
RESOLVED_AFTER = timedelta(milliseconds=1)


def missing_sentry(findings: Iterable[SentryFinding], records: Mapping[str, Json], win: Window,
                   now: datetime, *, org: str, api_url: str) -> list[Publication]:
    """Return an event_alert for each issue that fired in the window and has no ledger record,
    followed by its ``resolved`` when Sentry already says the issue is resolved (its webhook
    lost too): the task is then completed in this run, whichever message the worker takes
    first (a resolve before any firing is remembered, and the older firing creates the task
    completed)."""
    planned: dict[str, list[Publication]] = {}
    for finding in findings:
        issue_id = clean_text(finding.issue.get("id"))
        if issue_id is None or not fired_in_window(finding, win):
            continue
        key = issue_key(issue_id)
        record = records.get(key)
        if key in planned or handled(record, now):
            continue
        body = sentry_event_alert(finding, issue_id, org=org, api_url=api_url)
        planned[key] = [Publication("sentry", "event_alert", "triggered", key, "missing", body)]
        if finding.issue.get("status") == "resolved":
            planned[key].append(Publication(
                "sentry", "issue", "resolved", key, "resolved",
                sentry_issue_webhook("resolved", finding.issue), _resolved_at(finding)))
    return [publication for publications in planned.values() for publication in publications]


def _resolved_at(finding: SentryFinding) -> datetime | None:
    """Return when, at the earliest, the issue was resolved, on Sentry's clock: just after the
    firing it follows and the issue's last event (the API gives no resolution time). Strictly
    later, so that the firing, taken second, is known to be older (created completed)."""
    times = [t for t in (finding.fired_at, parse_time(finding.issue.get("lastSeen"))) if t]
    return max(times) + RESOLVED_AFTER if times else None


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


def issue_key(issue_id: str) -> str:
    """Return the alert key the Sentry webhooks of this issue carry."""
    return f"{SENTRY_ISSUE_PREFIX}{issue_id}"


def sentry_issue_webhook(action: str, issue: Json) -> bytes:
    """Return an ``issue`` webhook body (``resolved``, ``unresolved``) around the API's issue."""
    return canonical_json({"action": action, "data": {"issue": dict(issue)}, "actor": ACTOR})


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


def _comparable(record: Json, now: datetime) -> bool:
    """Tell whether a Sentry record has a task state to compare (a task, not expired)."""
    issue_id = str(record.get("key", "")).removeprefix(SENTRY_ISSUE_PREFIX)
    return (record.get("state") in ("open", "resolved") and bool(record.get("task_gid"))
            and is_live(record, now) and issue_id.isdigit())
