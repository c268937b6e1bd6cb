"""What must hold once a history is over (pure): judged on what a user sees in Asana and at the
alert's source, never on the service's ledger.

- exactly one task per alert that fired: none lost, none duplicated;
- each task's completed state equals its alert's final state at the source: a Sentry issue is
  resolved exactly when its task is completed (teams with ``sync_back``); a Datadog monitor is
  ``OK`` exactly when every task of it is completed (in ``Alert``: exactly one is open);
- a Cloud Monitoring incident whose open reached the service has at most one task, open
  exactly while its close has not reached it;
- the service changes a Sentry issue only for teams that opted in (``sync_back``); a team
  without it keeps Sentry's word, so its task must agree with Sentry unless a person changed
  the task in Asana (then one-way sync lets the two differ).

The runner applies them at the end (after reconciliation), and earlier to alerts of which
nothing was missed: after each step has settled, and before reconciliation runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.reliability.histories.model import AlertSpec

LOST, DUPLICATE, DISAGREEMENT, UNASKED_SYNC, STUCK = (
    "lost", "duplicate", "disagreement", "sync without opt-in", "did not settle")


@dataclass(frozen=True)
class TaskSeen:
    """A task of the alert, as Asana shows it."""

    gid: str
    completed: bool


@dataclass(frozen=True)
class SentryEnd:
    """A Sentry issue at the end of its history."""

    status: str  # "resolved" or "unresolved"
    changed_by_service: tuple[str, ...]  # statuses the service set through Sentry's API
    person_changed_task: bool  # a person completed or reopened its task in Asana


@dataclass(frozen=True)
class DatadogEnd:
    """A Datadog monitor at the end of its history."""

    state: str  # "OK" or "Alert"
    cycles: int  # alert cycles it went through
    accepted: int  # cycles whose Triggered webhook ingest accepted (each has its own task)


@dataclass(frozen=True)
class GcmEnd:
    """A Cloud Monitoring policy at the end of its history."""

    incidents: int  # incidents it opened
    #: Incidents whose task must be open: the incident's open reached the service and its
    #: close did not (still open, or the close was lost: no reconciliation reads Cloud
    #: Monitoring).
    must_be_open: int
    #: Incidents whose task may be open: as above, counting a close answered 5xx (or not at
    #: all) as maybe applied: ingest may have published it before the answer was lost.
    may_be_open: int
    #: Incidents that may have a task: their open reached the service, or may have (one whose
    #: close came first has none: a close never opens a task, and the late open is then stale).
    may_have_task: int


@dataclass(frozen=True)
class CloudWatchEnd:
    """A CloudWatch alarm at the end of its history."""

    state: str  # ALARM, OK or INSUFFICIENT_DATA
    decisive: str  # the last of ALARM and OK: what its task must show
    judged: bool  # every notification reached the service (some perhaps late)


@dataclass(frozen=True)
class Finding:
    """One broken promise."""

    kind: str
    tag: str
    detail: str

    def describe(self) -> str:
        """Return the finding in one line."""
        return f"{self.tag}: {self.kind}: {self.detail}"


def check_sentry(alert: AlertSpec, tasks: Sequence[TaskSeen], end: SentryEnd) -> list[Finding]:
    """Return what is wrong with a Sentry issue and its tasks."""
    found = _count(alert, len(tasks), 1)
    resolved = end.status == "resolved"
    if not alert.spec.syncs and end.changed_by_service:
        found.append(Finding(UNASKED_SYNC, alert.tag, f"team {alert.spec.team} has no "
                             f"sync_back, yet the service set the issue "
                             f"{' then '.join(end.changed_by_service)} in Sentry"))
    judged = alert.spec.syncs or not end.person_changed_task
    if len(tasks) == 1 and judged and tasks[0].completed != resolved:
        found.append(Finding(DISAGREEMENT, alert.tag, f"Sentry says {end.status}, task "
                             f"{tasks[0].gid} is {_state(tasks[0])}"))
    return found


def check_datadog(alert: AlertSpec, tasks: Sequence[TaskSeen], end: DatadogEnd) -> list[Finding]:
    """Return what is wrong with a Datadog monitor and its tasks.

    Each cycle whose Triggered reached the service has its task; a cycle whose Triggered was
    lost has one if the monitor was still in it when reconciliation looked, unless the task
    of an earlier cycle was still open (whose Recovered was lost): the user then sees one open
    task for an alerting monitor, which tells the truth. So: at least one task per accepted
    Triggered and none beyond one per cycle; in Alert exactly one task open, in OK none.
    """
    open_tasks = [t.gid for t in tasks if not t.completed]
    if len(tasks) < end.accepted or (end.state == "Alert" and not tasks):
        return [Finding(LOST, alert.tag, f"{max(end.accepted, 1)} Triggered reached the "
                        f"service or the monitor is in {end.state}; {len(tasks)} task(s)")]
    if len(tasks) > end.cycles:
        return [Finding(DUPLICATE, alert.tag, f"{len(tasks)} tasks for {end.cycles} alert "
                        "cycle(s)")]
    expected = 1 if end.state == "Alert" else 0
    if len(open_tasks) != expected:
        return [Finding(DISAGREEMENT, alert.tag, f"monitor is {end.state} after {end.cycles} "
                        f"cycle(s); open tasks {open_tasks or 'none'} of "
                        f"{[t.gid for t in tasks]} (expected {expected} open)")]
    return []


def check_gcm(alert: AlertSpec, tasks: Sequence[TaskSeen], end: GcmEnd) -> list[Finding]:
    """Return what is wrong with a Cloud Monitoring policy's incidents and their tasks.

    One task per incident at most; every incident whose open reached the service and whose
    close did not has its task, open; every other task is completed.
    """
    open_tasks = [t.gid for t in tasks if not t.completed]
    if len(tasks) < end.must_be_open:
        return [Finding(LOST, alert.tag, f"{end.must_be_open} open incident(s) reached the "
                        f"service; {len(tasks)} task(s)")]
    if len(tasks) > end.may_have_task:
        return [Finding(DUPLICATE, alert.tag, f"{len(tasks)} tasks for {end.may_have_task} "
                        f"incident(s) whose open reached the service ({end.incidents} in all)")]
    if not end.must_be_open <= len(open_tasks) <= end.may_be_open:
        return [Finding(DISAGREEMENT, alert.tag, f"{end.must_be_open} to {end.may_be_open} "
                        f"incident(s) should have an open task; open tasks "
                        f"{open_tasks or 'none'} of {[t.gid for t in tasks]}")]
    return []


def check_cloudwatch(alert: AlertSpec, tasks: Sequence[TaskSeen],
                     end: CloudWatchEnd) -> list[Finding]:
    """Return what is wrong with a CloudWatch alarm and its task.

    One task per alarm (its ARN is the key): never two. With every notification delivered,
    late ones included (ordered by StateChangeTime), the task exists and is completed exactly
    when the alarm's last ALARM-or-OK was OK. CloudWatch has no reconciliation: a lost
    notification may leave the task behind, so only the count is judged then.
    """
    if len(tasks) > 1:
        return [Finding(DUPLICATE, alert.tag, f"{len(tasks)} tasks for one alarm")]
    if not end.judged:
        return []
    if not tasks:
        return [Finding(LOST, alert.tag, f"the alarm went to ALARM, no task (now {end.state})")]
    if tasks[0].completed != (end.decisive == "OK"):
        return [Finding(DISAGREEMENT, alert.tag, f"alarm is {end.state} (last decisive "
                        f"{end.decisive}), task {tasks[0].gid} is {_state(tasks[0])}")]
    return []


CHECKS: dict[str, Callable[..., list[Finding]]] = {"sentry": check_sentry,
                                                   "datadog": check_datadog,
                                                   "gcm": check_gcm,
                                                   "cloudwatch": check_cloudwatch}


def _count(alert: AlertSpec, tasks: int, expected: int) -> list[Finding]:
    if tasks < expected:
        return [Finding(LOST, alert.tag, f"{expected} alert(s) fired, {tasks} task(s) in Asana")]
    if tasks > expected:
        return [Finding(DUPLICATE, alert.tag, f"{tasks} tasks in Asana for {expected} "
                        "alert(s)")]
    return []


def _state(task: TaskSeen) -> str:
    return "completed" if task.completed else "open"
