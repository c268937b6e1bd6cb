"""Make sure each project that gets tasks of an opted-in team has a webhook, once.

Crash points: before POST /webhooks the pending registration lapses by itself (a later task
registers again). After Asana established the webhook but before its gid was recorded: a lost
answer is retried by looking the webhook up (AsanaSyncClient); a crash leaves the secret
stored, and the next registration adopts the webhook it finds on the project; a webhook
whose secret was never stored cannot be verified, so it is deleted and registered again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from shared import asana_webhooks
from shared.asana_webhooks import Hook
from shared.errors import AlertBridgeError

log = logging.getLogger(__name__)


class Hooks(Protocol):
    """The hook documents (Firestore)."""

    def get(self, project_gid: str) -> tuple[Hook | None, Any]:
        """Return the project's hook and its version."""
        ...

    def create(self, hook: Hook) -> bool:
        """Store a new hook unless one exists; tell whether it was stored."""
        ...

    def replace(self, hook: Hook, version: Any) -> bool:
        """Store ``hook`` unless it changed since ``version``; tell whether it did."""
        ...


class WebhookApi(Protocol):
    """Asana's webhook calls."""

    def webhooks(self, workspace_gid: str, resource: str | None = None
                 ) -> list[dict[str, Any]]:
        """Return the workspace's webhooks (of one resource)."""
        ...

    def delete_webhook(self, webhook_gid: str) -> None:
        """Delete a webhook."""
        ...

    def create_webhook(self, workspace_gid: str, resource: str, target: str,
                       filters: Sequence[Mapping[str, object]]) -> str:
        """Establish a webhook and return its gid."""
        ...


class Registrar:
    """Registers a project's webhook the first time an opted-in team gets a task there."""

    def __init__(self, hooks: Hooks, api: WebhookApi, target_base_url: str | None,
                 workspace_gid: Callable[[], str | None], opted_in: Callable[[str], bool],
                 now: Callable[[], datetime]) -> None:
        self._hooks, self._api, self._base = hooks, api, target_base_url
        self._workspace, self._opted_in, self._now = workspace_gid, opted_in, now
        self._known: set[str] = set()  # projects checked by this instance
        self._lock = threading.Lock()

    def __call__(self, project_gid: str, team: str) -> None:
        """Make sure the project has a webhook; best effort, never raises."""
        if project_gid in self._known or not self._base or not self._opted_in(team):
            return
        try:
            self.ensure(project_gid)
        except Exception as error:  # the task exists: a failure here must not retry the alert
            log.warning("asana webhook for project %s not registered: %s", project_gid, error,
                        extra={"event": "asana_webhook_failed", "project": project_gid,
                               "reason": getattr(error, "reason", type(error).__name__)})

    def ensure(self, project_gid: str) -> str | None:
        """Register the project's webhook unless it has one; return its gid if known."""
        hook, version = self._hooks.get(project_gid)
        now = self._now()
        if hook is not None and hook.webhook_gid and hook.secret:
            self._remember(project_gid)
            return hook.webhook_gid
        if hook is not None and hook.pending(now):
            return None  # another instance is registering it right now
        workspace = self._workspace()
        if not workspace or not self._base:
            raise AlertBridgeError("settings.workspace_gid and ASANA_WEBHOOK_TARGET_URL "
                                   "are needed to register Asana webhooks", reason="config")
        target = asana_webhooks.target_url(self._base, project_gid)
        existing = [str(h.get("gid")) for h in self._api.webhooks(workspace, project_gid)
                    if h.get("target") == target]
        if hook is not None and hook.secret and existing:
            return self._record(replace(hook, webhook_gid=existing[0]), version)
        pending = Hook(project_gid, pending_until=asana_webhooks.pending_until(now))
        mine = (self._hooks.create(pending) if hook is None
                else self._hooks.replace(pending, version))
        if not mine:
            return None
        for stale in existing:  # its secret is lost: its deliveries could never be verified
            self._api.delete_webhook(stale)
        gid = self._api.create_webhook(workspace, project_gid, target,
                                       asana_webhooks.TASK_FILTERS)
        confirmed, version = self._hooks.get(project_gid)
        if confirmed is None or not confirmed.secret:
            raise AlertBridgeError(f"asana webhook {gid} established but its handshake never "
                                   "reached ingest", reason="asana_handshake_missing")
        return self._record(replace(confirmed, webhook_gid=gid), version)

    def _record(self, hook: Hook, version: Any) -> str | None:
        if not self._hooks.replace(hook, version):
            return None  # changed meanwhile: the next task checks again
        self._remember(hook.project_gid)
        log.info("asana webhook %s registered for project %s", hook.webhook_gid,
                 hook.project_gid, extra={"event": "asana_webhook_registered",
                                          "project": hook.project_gid,
                                          "webhook_gid": hook.webhook_gid})
        return hook.webhook_gid

    def forget(self, project_gid: str) -> None:
        """Check the project again next time (its webhook was deleted)."""
        with self._lock:
            self._known.discard(project_gid)

    def _remember(self, project_gid: str) -> None:
        with self._lock:
            self._known.add(project_gid)
