"""Link each new task back to its alert's source, through the source's own request."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from shared.core.alert import Alert
from shared.core.errors import AlertBridgeError
from shared.core.links import LinkRequest, LinkSender
from shared.sources import SOURCES
from shared.sources.base import Sources

log = logging.getLogger(__name__)


def link_request(alert: Alert, task_gid: str, url: str, team: str,
                 sources: Sources = SOURCES) -> LinkRequest | None:
    """Return the request that links ``alert`` to its task, or None when nothing can be linked."""
    source = sources.named(alert.source)
    if source is None or source.link_request is None:
        return None
    return source.link_request(alert, task_gid, url, team)


class LinkBack:
    """Link each new task back to its alert's source; failures are logged, never raised."""

    def __init__(self, senders: Mapping[str, LinkSender], sources: Sources = SOURCES) -> None:
        self._senders = senders
        self._sources = sources

    def __call__(self, alert: Alert, task_gid: str, url: str, team: str) -> None:
        """Send the link request for ``alert``, if any; a failure leaves the task as it is."""
        fields = {"source": alert.source, "alert_key": alert.key, "task_gid": task_gid}
        try:
            request = link_request(alert, task_gid, url, team, self._sources)
            sender = self._senders.get(request.service) if request else None
            if request is None or sender is None:
                log.debug("nothing to link back for %s", alert.key,
                          extra={"event": "link_back_skipped", **fields})
                return
            sent = sender.send(request)
        except AlertBridgeError as error:
            log.warning("linking task %s back to %s failed: %s", task_gid, alert.key, error,
                        extra={"event": "link_back_failed", "reason": error.reason,
                               "status": getattr(error, "status", None), **fields})
            return
        if not sent:
            log.debug("no %s credential: task %s not linked back", request.service, task_gid,
                      extra={"event": "link_back_skipped", **fields})
            return
        log.info("task %s linked back to %s in %s", task_gid, alert.key, request.service,
                 extra={"event": "linked_back", **fields})
