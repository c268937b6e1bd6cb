"""Make sure each project that gets tasks of an opted-in team has a webhook, and renew it.

Every registration gets a fresh token in its target URL (shared/sources/asana/webhooks.py) and a
fresh secret from its handshake; the hook document keeps the token's hash and the secret.

Crash points: before POST /webhooks the pending registration lapses by itself (a later task,
or the next reconciliation, registers again). After Asana established the webhook but before
its gid was recorded: a lost answer is retried by looking the webhook up (AsanaSyncClient); a
crash leaves the secret stored, and the next registration adopts the webhook whose target
carries the stored token; a webhook whose secret was never stored cannot be verified, so it is
deleted and registered again. Reconciliation renews a webhook Asana deleted or marked
inactive (``ensure(project, renew=True)``): the old one is deleted, a new one registered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from shared.core.errors import AlertBridgeError
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.webhooks import Hook

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
        """Delete a webhook (one already gone is fine)."""
        ...

    def create_webhook(self, workspace_gid: str, resource: str, target: str,
                       filters: Sequence[Mapping[str, object]]) -> str:
        """Establish a webhook and return its gid."""
        ...


@dataclass(frozen=True)
class Registered:
    """One of this service's webhooks as Asana lists it."""

    gid: str
    project_gid: str
    token: str | None  # None: registered by a version that put no token in the URL
    webhook: Mapping[str, Any]  # Asana's record (active, last_success_at, ...)


def ours(webhooks: Sequence[Mapping[str, Any]], base_url: str) -> list[Registered]:
    """Return the webhooks whose target is this service's URL, with their project and token."""
    found = []
    for webhook in webhooks:
        parsed = asana_webhooks.parse_target(webhook.get("target"), base_url)
        if parsed is not None and webhook.get("gid"):
            found.append(Registered(str(webhook["gid"]), parsed[0], parsed[1], webhook))
    return found


class Workspaces:
    """The workspace of each project: teams.yaml's, else the project's own (asked once each).

    The legacy list format of teams.yaml cannot name a workspace, and a webhook is registered
    in (and listed per) workspace.
    """

    def __init__(self, configured: Callable[[], str | None],
                 of_project: Callable[[str], str | None],
                 cache: dict[str, str] | None = None) -> None:
        self._configured, self._of_project = configured, of_project
        # A project never changes workspace: a cache may outlive this object (and its client).
        self._cache: dict[str, str] = {} if cache is None else cache
        self._lock = threading.Lock()

    def __call__(self, project_gid: str) -> str | None:
        """Return the workspace gid of a project (None if Asana does not say)."""
        configured = self._configured()
        if configured:
            return configured
        with self._lock:
            if project_gid in self._cache:
                return self._cache[project_gid]
        found = self._of_project(project_gid)
        if found:
            with self._lock:
                self._cache[project_gid] = found
        return found


class Registrar:
    """Registers a project's webhook the first time an opted-in team gets a task there."""

    def __init__(self, hooks: Hooks, api: WebhookApi, target_base_url: str | None,
                 workspace_of: Callable[[str], str | None], opted_in: Callable[[str], bool],
                 now: Callable[[], datetime],
                 new_token: Callable[[], str] = asana_webhooks.new_token) -> None:
        self._hooks, self._api, self._base = hooks, api, target_base_url
        self._workspace, self._opted_in, self._now = workspace_of, opted_in, now
        self._new_token = new_token
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

    def ensure(self, project_gid: str, *, renew: bool = False) -> str | None:
        """Register the project's webhook unless it has one; return its gid if known.

        ``renew`` registers a new one (new token, new secret) even if one is recorded.
        """
        hook, version = self._hooks.get(project_gid)
        now = self._now()
        if (not renew and hook is not None and hook.webhook_gid and hook.secret
                and hook.token_hash):
            self._remember(project_gid)
            return hook.webhook_gid
        if hook is not None and hook.pending(now):
            return None  # another instance is registering it right now
        if not self._base:
            raise AlertBridgeError("ASANA_WEBHOOK_TARGET_URL is needed to register Asana "
                                   "webhooks", reason="config")
        workspace = self._workspace(project_gid)
        if not workspace:
            raise AlertBridgeError(f"project {project_gid}: Asana names no workspace",
                                   reason="asana_workspace_unknown")
        found = [r for r in ours(self._api.webhooks(workspace, project_gid), self._base)
                 if r.project_gid == project_gid]
        if not renew and hook is not None and hook.secret:
            adopt = [r for r in found if asana_webhooks.token_matches(r.token, hook.token_hash)]
            if adopt:
                return self._record(replace(hook, webhook_gid=adopt[0].gid), version)
        token = self._new_token()
        pending = Hook(project_gid, pending_until=asana_webhooks.pending_until(now),
                       token_hash=asana_webhooks.token_hash(token),
                       compared_at=hook.compared_at if hook is not None else None)
        mine = (self._hooks.create(pending) if hook is None
                else self._hooks.replace(pending, version))
        if not mine:
            return None
        for stale in found:  # its token or secret is replaced: it could never be verified
            self._api.delete_webhook(stale.gid)
        gid = self._api.create_webhook(workspace, project_gid,
                                       asana_webhooks.target_url(self._base, project_gid, token),
                                       asana_webhooks.TASK_FILTERS)
        confirmed, version = self._hooks.get(project_gid)
        if (confirmed is None or not confirmed.secret
                or confirmed.token_hash != pending.token_hash):
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
