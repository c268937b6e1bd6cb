"""Asana's adapters as a source (the two-way sync), built from the deployment's settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.sources.asana.hooks_store import FirestoreHooks
from shared.sources.build import Build, TaskSync

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
