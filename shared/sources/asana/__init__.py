"""Asana as a source: its webhooks carry the changes people make to tasks (the two-way sync),
registered and healed by the service; plus the workspace tools (discovery, webhooks CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.sources.base import Accepted, Answer, IngestContext, Source, Webhook

if TYPE_CHECKING:
    from shared.routing.teams import TeamsConfig
    from shared.sources.build import Build, ReconcileParts, TaskSync
    from shared.sources.drift import Reconciler


def _claims(hook: Webhook) -> bool:
    # The URL registered with Asana names the source (webhooks.target_url), or Asana's headers.
    return hook.query.get("source") == "asana" or "x-hook-secret" in hook.headers \
        or "x-hook-signature" in hook.headers


def _accept(hook: Webhook, context: IngestContext) -> Accepted | Answer:
    from shared.sources.asana import ingest  # off the cold-start path of Sentry's webhooks

    return ingest.accept(hook, context)


def _hooks(build: Build) -> Any:
    from shared.sources.asana import build as asana_build

    return asana_build.hooks(build)


def _task_sync(build: Build, config: Callable[[], TeamsConfig],
               opted_in: Callable[[str], bool]) -> TaskSync:
    from shared.sources.asana import build as asana_build

    return asana_build.task_sync(build, config, opted_in)


def _changed_by(body: bytes, task_gid: str) -> list[str | None]:
    from shared.sources.asana import webhooks

    return webhooks.changed_by(body, task_gid)


def _reconciler(build: Build, parts: ReconcileParts) -> Reconciler | None:
    from shared.sources.asana import build as asana_build

    return asana_build.reconciler(build, parts)


SOURCE = Source(
    name="asana",
    claims=_claims,
    accept=_accept,
    ingest_service=_hooks,
    task_changes=True,
    changed_by=_changed_by,
    task_sync=_task_sync,
    reconciler=_reconciler,
)
