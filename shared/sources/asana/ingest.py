"""Asana's requests at ingest: the handshake, and signed task events published per task."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from shared.core.errors import AlertBridgeError, Unauthorized
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.webhooks import Hook, HookStore
from shared.sources.base import Accepted, Answer, IngestContext, Message, Webhook

log = logging.getLogger(__name__)


def accept(hook: Webhook, context: IngestContext) -> Accepted | Answer:
    """Confirm a handshake we asked for, or verify a delivery and return its task changes."""
    project = hook.query.get("project", "")
    token = hook.query.get("token")
    if not project.isdigit() or not token:
        raise Unauthorized("asana request without a known project or its token")
    store: HookStore | None = context.service("asana")  # built on the first Asana request
    if store is None:
        raise Unauthorized("asana request without a known project or its token")
    handshake = hook.headers.get("x-hook-secret")
    if handshake is not None:
        asana_webhooks.confirm_handshake(project, token, handshake.strip(), store, context.now())
        log.info("asana webhook confirmed for project %s", project,
                 extra={"event": "asana_webhook_confirmed", "project": project,
                        "request_id": hook.request_id})
        return Answer(200, {"status": "confirmed"}, {"X-Hook-Secret": handshake.strip()})
    stored, _ = store.get(project)
    if not asana_webhooks.authentic(stored, token, hook.body,
                                    hook.headers.get("x-hook-signature")):
        raise Unauthorized("asana token or signature missing or wrong")
    assert stored is not None  # authentic() guarantees it
    now = context.now()
    messages = tuple(Message(hook.body, asana_webhooks.attributes(gid, project, now,
                                                                   hook.request_id))
                     for gid in asana_webhooks.task_gids(hook.body))

    def reply(ids: Sequence[str]) -> Answer:
        _record_delivery(stored, store, hook.request_id, context.now())
        if not ids:
            return Answer(200, {"status": "ignored"})  # a heartbeat, or no task changed
        return Answer(202, {"status": "accepted", "id": ids[0], "ids": list(ids)})

    return Accepted(messages, reply)


def _record_delivery(stored: Hook, store: HookStore, request_id: str, now: datetime) -> None:
    """Write down that the webhook is alive (at most every few minutes); never fails the answer."""
    if not asana_webhooks.delivery_record_due(stored, now):
        return
    try:
        store.touch(stored.project_gid, now)
    except AlertBridgeError as error:  # the delivery itself was verified and published
        log.warning("asana delivery for project %s not recorded: %s", stored.project_gid, error,
                    extra={"event": "asana_delivery_not_recorded",
                           "project": stored.project_gid, "request_id": request_id})
