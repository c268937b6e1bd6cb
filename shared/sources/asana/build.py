"""Asana's adapters as a source (the two-way sync), built from the deployment's settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from shared.core.errors import ConfigError
from shared.sources.asana.hooks_store import FirestoreHooks
from shared.sources.build import Build, ReconcileParts, TaskSync
from shared.sources.drift import Reconciler

if TYPE_CHECKING:
    from shared.routing.teams import TeamsConfig


def hooks(build: Build) -> FirestoreHooks:
    """Return the Asana webhooks' secrets (ingest builds it on the first Asana request)."""
    s = build.settings
    return FirestoreHooks(s.project, s.asana_webhook_collection, s.asana_hooks_database)


def task_sync(build: Build, config: Callable[[], TeamsConfig],
              opted_in: Callable[[str], bool]) -> TaskSync:
    """Return the two-way sync's Asana reads and the registrar that watches each project."""
    from shared.sources.asana.registration import Registrar, Workspaces
    from shared.sources.asana.sync_client import AsanaSyncClient

    s = build.settings
    client = AsanaSyncClient(s.asana_api_url, build.secrets.get("ASANA_PAT")[0],
                             max_attempts=s.asana_max_attempts)
    registrar = Registrar(hooks(build), client, s.asana_webhook_target_url,
                          Workspaces(lambda: config().workspace_gid, client.project_workspace),
                          opted_in, build.now)
    return TaskSync(reads=client, watch=registrar)


def reconciler(build: Build, parts: ReconcileParts) -> Reconciler:
    """Return reconciliation's check of the two-way sync; teams.yaml and ASANA_PAT are read on
    every run, so a team that opts in or out counts from the next run."""
    from shared.routing.teams_file import load_teams
    from shared.sources.asana import reconcile as asana_reconcile
    from shared.sources.asana.registration import Registrar, Workspaces
    from shared.sources.asana.sync_client import AsanaSyncClient

    s = build.settings
    store = hooks(build)
    workspace_of: dict[str, str] = {}  # by project, for this instance's runs

    def run(request_id: str, dry_run: bool) -> Mapping[str, int]:
        config = load_teams(s.teams_file, s.default_team)
        if not any(team.sync_back for team in config.teams):
            return {}
        pat = build.secrets.optional("ASANA_PAT")
        if not pat:
            raise ConfigError(f"ASANA_PAT: not set (secret {s.secret_prefix}asana-pat); "
                              "reconciliation needs it to check the two-way sync's webhooks")
        client = AsanaSyncClient(s.asana_api_url, pat, max_attempts=s.asana_max_attempts)
        workspaces = Workspaces(lambda: config.workspace_gid, client.project_workspace,
                                workspace_of)
        registrar = Registrar(store, client, s.asana_webhook_target_url, workspaces,
                              lambda team: True, build.now)
        deps = asana_reconcile.SyncCheckDeps(
            config=lambda: config, hooks=store, asana=client, registrar=registrar,
            workspace_of=workspaces, records_by_task=parts.records_by_task,
            publish=parts.publish, now=build.now, target_base_url=s.asana_webhook_target_url)
        return asana_reconcile.run(deps, request_id, dry_run)

    return Reconciler("asana", after=run,
                      describes="the two-way sync's webhooks and tasks, for the teams with "
                                "sync_back: true in teams.yaml (read on every run)")
