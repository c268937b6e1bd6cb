"""Ingest's third source: Asana's handshake and signed task events, published per task."""

from __future__ import annotations

import logging

from shared import asana_webhooks
from shared.errors import Unauthorized
from shared.ingest import Answer, IngestDeps, Webhook

log = logging.getLogger(__name__)


def accept(hook: Webhook, deps: IngestDeps) -> Answer:
    """Confirm a handshake we asked for, or verify and publish a delivery's task changes."""
    project = hook.query.get("project", "")
    if not project.isdigit() or deps.asana_hooks is None:
        raise Unauthorized("asana request without a known project")
    store = deps.asana_hooks()
    handshake = hook.headers.get("x-hook-secret")
    if handshake is not None:
        asana_webhooks.confirm_handshake(project, handshake.strip(), store, deps.now())
        log.info("asana webhook confirmed for project %s", project,
                 extra={"event": "asana_webhook_confirmed", "project": project,
                        "request_id": hook.request_id})
        return Answer(200, {"status": "confirmed"}, {"X-Hook-Secret": handshake.strip()})
    if not asana_webhooks.verify(hook.body, hook.headers.get("x-hook-signature"),
                                 asana_webhooks.project_secret(project, store)):
        raise Unauthorized("asana signature missing or wrong")
    gids = asana_webhooks.task_gids(hook.body)
    if not gids:
        return Answer(200, {"status": "ignored"})  # a heartbeat, or no task changed
    now = deps.now()
    ids = []
    for gid in gids:
        attributes = asana_webhooks.attributes(gid, project, now, hook.request_id)
        ids.append(deps.publish(hook.body, attributes))
        log.info("webhook published", extra={"event": "webhook_published",
                                             "message_id": ids[-1], **attributes})
    return Answer(202, {"status": "accepted", "id": ids[0], "ids": ids})
