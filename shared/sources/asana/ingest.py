"""Ingest's third source: Asana's handshake and signed task events, published per task."""

from __future__ import annotations

import logging

from shared.core.errors import AlertBridgeError, Unauthorized
from shared.flows.ingest import Answer, IngestDeps, Webhook
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.webhooks import Hook, HookStore

log = logging.getLogger(__name__)


def accept(hook: Webhook, deps: IngestDeps) -> Answer:
    """Confirm a handshake we asked for, or verify and publish a delivery's task changes."""
    project = hook.query.get("project", "")
    token = hook.query.get("token")
    if not project.isdigit() or not token or deps.asana_hooks is None:
        raise Unauthorized("asana request without a known project or its token")
    store = deps.asana_hooks()
    handshake = hook.headers.get("x-hook-secret")
    if handshake is not None:
        asana_webhooks.confirm_handshake(project, token, handshake.strip(), store, deps.now())
        log.info("asana webhook confirmed for project %s", project,
                 extra={"event": "asana_webhook_confirmed", "project": project,
                        "request_id": hook.request_id})
        return Answer(200, {"status": "confirmed"}, {"X-Hook-Secret": handshake.strip()})
    stored, _ = store.get(project)
    if not asana_webhooks.authentic(stored, token, hook.body,
                                    hook.headers.get("x-hook-signature")):
        raise Unauthorized("asana token or signature missing or wrong")
    assert stored is not None  # authentic() guarantees it
    gids = asana_webhooks.task_gids(hook.body)
    now = deps.now()
    ids = []
    for gid in gids:
        attributes = asana_webhooks.attributes(gid, project, now, hook.request_id)
        ids.append(deps.publish(hook.body, attributes))
        log.info("webhook published", extra={"event": "webhook_published",
                                             "message_id": ids[-1], **attributes})
    _record_delivery(stored, store, hook.request_id, deps)
    if not gids:
        return Answer(200, {"status": "ignored"})  # a heartbeat, or no task changed
    return Answer(202, {"status": "accepted", "id": ids[0], "ids": ids})


def _record_delivery(stored: Hook, store: HookStore, request_id: str, deps: IngestDeps) -> None:
    """Write down that the webhook is alive (at most every few minutes); never fails the answer."""
    now = deps.now()
    if not asana_webhooks.delivery_record_due(stored, now):
        return
    try:
        store.touch(stored.project_gid, now)
    except AlertBridgeError as error:  # the delivery itself was verified and published
        log.warning("asana delivery for project %s not recorded: %s", stored.project_gid, error,
                    extra={"event": "asana_delivery_not_recorded",
                           "project": stored.project_gid, "request_id": request_id})
