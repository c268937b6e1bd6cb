"""The sync direction of a reconciliation run: renew broken webhooks, then pass on the task
changes the webhooks missed (the decisions are in shared/sources/asana/health.py).

For each project of an opted-in team (its backlog) and each project with a hook document:

1. webhook health: one ``GET /webhooks?workspace=`` per workspace; a webhook Asana deleted or
   marked inactive, or whose handshake never came, is registered anew (new token, new
   secret); one that has been silent for longer than Asana's heartbeat interval is flagged.
2. task comparison: one paged ``GET /tasks?project=&modified_since=`` per project, the tasks'
   alerts read from the ledger in bulk; each task whose completed state disagrees with its
   alert's record gets a synthetic Asana message on the events topic, shaped like ingest's,
   so the worker's sync path reads the task's current state and decides, as for a webhook.

A failure is counted and logged per project (or per workspace for the webhook list) and the
others go on; a project whose comparison failed is compared again from the same point.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.core.errors import AlertBridgeError
from shared.core.observability import scrub_text
from shared.routing.teams import TeamsConfig
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.health import (
    RENEW,
    UNHEALTHY,
    Drift,
    Health,
    Listed,
    Verdict,
    compared_until,
    drifted,
    health,
    modified_since,
)
from shared.sources.asana.registration import ours
from shared.sources.asana.webhooks import Hook

log = logging.getLogger(__name__)

SOURCE_REASON = "reconcile"
#: The body of a synthetic message: no events, so the worker reads the task's own state.
BODY = json.dumps({"events": []}).encode()


class HookDocs(Protocol):
    """The hook documents (Firestore, hooks database)."""

    def all(self) -> list[Hook]:
        """Return every project's hook."""
        ...

    def compared(self, project_gid: str, at: datetime) -> None:
        """Record that the project's tasks changed before ``at`` were compared."""
        ...


class AsanaReads(Protocol):
    """The Asana reads of the check."""

    def webhooks(self, workspace_gid: str, resource: str | None = None
                 ) -> list[dict[str, Any]]:
        """Return the workspace's webhooks."""
        ...

    def project_tasks(self, project_gid: str, modified_since: datetime | None
                      ) -> Iterable[dict[str, Any]]:
        """Return the project's tasks changed since then (all when None)."""
        ...


class Renewer(Protocol):
    """Registers a project's webhook (asana_registration.Registrar)."""

    def ensure(self, project_gid: str, *, renew: bool = False) -> str | None:
        """Register a new webhook for the project; return its gid, None if one is in flight."""
        ...


@dataclass(frozen=True)
class SyncCheckDeps:
    """What the sync direction's check needs from the outside world."""

    config: Callable[[], TeamsConfig]
    hooks: HookDocs
    asana: AsanaReads
    registrar: Renewer
    workspace_of: Callable[[str], str | None]
    records_by_task: Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]
    publish: Callable[[bytes, Mapping[str, str]], str]
    now: Callable[[], datetime]
    target_base_url: str | None  # None: webhooks are not registered, only tasks compared


def run(deps: SyncCheckDeps, request_id: str, dry_run: bool = False) -> dict[str, int]:
    """Check the webhooks and compare the tasks; return the counts of the run."""
    config = deps.config()
    opted_in = {team.name for team in config.teams if team.sync_back}
    if not opted_in:
        return {}
    hooks = {hook.project_gid: hook for hook in deps.hooks.all()}
    projects = sorted({t.backlog_project_gid for t in config.teams if t.sync_back} | set(hooks))
    counts: Counter[str] = Counter({"asana_projects": len(projects)})
    if deps.target_base_url:
        for verdict in _verdicts(deps, projects, hooks, counts, request_id):
            _act(deps, verdict, hooks.get(verdict.project_gid), counts, request_id, dry_run)
    seen: set[str] = set()  # a task in two projects is passed on once
    for project in projects:
        hook = hooks.get(project)
        _compare(deps, project, hook.compared_at if hook else None, opted_in, seen, counts,
                 request_id, dry_run)
    return dict(counts)


def _verdicts(deps: SyncCheckDeps, projects: Sequence[str], hooks: Mapping[str, Hook],
              counts: Counter[str], request_id: str) -> list[Verdict]:
    """Return each project's webhook health, listing the webhooks once per workspace."""
    assert deps.target_base_url is not None
    by_workspace: dict[str, list[str]] = {}
    for project in projects:
        try:
            workspace = deps.workspace_of(project)
        except AlertBridgeError as error:
            _failed("workspace", [project], error, counts, request_id)
            continue
        if workspace:
            by_workspace.setdefault(workspace, []).append(project)
    verdicts = []
    for workspace, members in by_workspace.items():
        try:
            found = ours(deps.asana.webhooks(workspace), deps.target_base_url)
        except AlertBridgeError as error:
            # Never renew on a failed list: every webhook would look deleted.
            _failed("webhooks", members, error, counts, request_id)
            continue
        listed: dict[str, list[Listed]] = {}
        for webhook in found:
            listed.setdefault(webhook.project_gid, []).append(
                Listed.of(webhook.gid, webhook.token, webhook.webhook))
        now = deps.now()
        verdicts += [health(p, hooks.get(p), listed.get(p, []), now) for p in members]
    return verdicts


def _act(deps: SyncCheckDeps, verdict: Verdict, hook: Hook | None, counts: Counter[str],
         request_id: str, dry_run: bool) -> None:
    """Log an unhealthy webhook and register a new one where that heals it."""
    counts["asana_webhooks_checked"] += 1
    project = verdict.project_gid
    if verdict.health in UNHEALTHY:
        counts["asana_webhooks_unhealthy"] += 1
        _log_unhealthy(verdict, hook, request_id)
    if verdict.health not in RENEW or dry_run:
        return
    old = verdict.webhook.gid if verdict.webhook else (hook.webhook_gid if hook else None)
    try:
        gid = deps.registrar.ensure(project, renew=True)
    except AlertBridgeError as error:
        counts["asana_failed"] += 1
        log.warning("asana webhook for project %s not registered: %s", project, error,
                    extra={"event": "asana_webhook_failed", "project": project,
                           "reason": error.reason, "request_id": request_id})
        return
    if gid is None:
        return  # a registration is in flight elsewhere
    counts["asana_webhooks_registered"] += 1
    if verdict.health is not Health.UNREGISTERED:
        log.info("asana webhook of project %s re-registered (%s): %s replaces %s", project,
                 verdict.health.value, gid, old,
                 extra={"event": "asana_webhook_reregistered", "project": project,
                        "health": verdict.health.value, "webhook_gid": gid,
                        "old_webhook_gid": old, "request_id": request_id})


def _log_unhealthy(verdict: Verdict, hook: Hook | None, request_id: str) -> None:
    """One line per unhealthy webhook, naming the project: the alert policy matches it."""
    webhook = verdict.webhook
    fields: dict[str, object] = {
        "event": "asana_webhook_unhealthy", "project": verdict.project_gid,
        "health": verdict.health.value, "request_id": request_id,
        "webhook_gid": webhook.gid if webhook else (hook.webhook_gid if hook else None),
        "last_success": _iso(verdict.last_success),
        "last_delivery_at": _iso(hook.last_delivery_at if hook else None)}
    if webhook is not None:
        fields.update(last_success_at=_iso(webhook.last_success_at),
                      last_failure_at=_iso(webhook.last_failure_at),
                      last_failure_content=scrub_text(webhook.last_failure_content)[:300])
    log.warning("two-way sync webhook of project %s is %s", verdict.project_gid,
                verdict.health.value, extra=fields)


def _compare(deps: SyncCheckDeps, project: str, compared_at: datetime | None,
             opted_in: set[str], seen: set[str], counts: Counter[str], request_id: str,
             dry_run: bool) -> None:
    """Compare the project's changed tasks with the ledger and pass on each disagreement."""
    started = deps.now()
    try:
        tasks = list(deps.asana.project_tasks(project, modified_since(compared_at)))
        counts["asana_tasks_read"] += len(tasks)
        records = deps.records_by_task([str(t["gid"]) for t in tasks if t.get("gid")])
        for drift in drifted(project, tasks, records, opted_in, started):
            if drift.task_gid in seen:
                continue
            seen.add(drift.task_gid)
            counts[f"asana_{drift.reason}"] += 1
            if _pass_on(deps, drift, request_id, dry_run):
                counts["asana_published"] += 1
        if not dry_run:
            deps.hooks.compared(project, compared_until(started))
    except AlertBridgeError as error:
        _failed("tasks", [project], error, counts, request_id)


def _pass_on(deps: SyncCheckDeps, drift: Drift, request_id: str, dry_run: bool) -> bool:
    """Publish the synthetic Asana message of one task (a dry run only logs it)."""
    fields = {"source": "asana", "reason": drift.reason, "alert_key": drift.alert_key,
              "task_gid": drift.task_gid, "project": drift.project_gid,
              "request_id": request_id, "dry_run": dry_run}
    if dry_run:
        log.info("would pass on task %s (%s)", drift.task_gid, drift.reason,
                 extra={"event": "reconcile_planned", **fields})
        return False
    message_id = deps.publish(BODY, attributes(drift, deps.now(), request_id))
    # The same line as a lost Sentry or Datadog webhook: the "webhooks lost" policy counts it.
    log.warning("reconciled task %s of %s (%s): its Asana event never reached the source",
                drift.task_gid, drift.alert_key, drift.reason,
                extra={"event": "alert_reconciled", "message_id": message_id, **fields})
    return True


def attributes(drift: Drift, received_at: datetime, request_id: str) -> dict[str, str]:
    """Return the attributes ingest gives an Asana delivery, marked as reconciliation's."""
    return {**asana_webhooks.attributes(drift.task_gid, drift.project_gid, received_at,
                                        request_id),
            "source_reason": SOURCE_REASON, "delivery_id": f"{SOURCE_REASON}:{request_id}"}


def _failed(step: str, projects: Sequence[str], error: AlertBridgeError, counts: Counter[str],
            request_id: str) -> None:
    counts["asana_failed"] += len(projects)
    for project in projects:
        log.warning("two-way sync check of project %s failed (%s): %s", project, step, error,
                    extra={"event": "asana_check_failed", "project": project, "step": step,
                           "reason": error.reason, "request_id": request_id})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
