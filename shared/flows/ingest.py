"""The ingest flow: find the request's source, have it verified, publish, and answer.

Which source a request is for, how it is verified and what gets published are the source's
(shared/sources/); this flow never names one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from shared.core.errors import (
    AlertBridgeError,
    ConfigError,
    Rejected,
    Transient,
    Unauthorized,
    http_status,
)
from shared.sources import SOURCES
from shared.sources.base import Accepted, Answer, Source, Sources, Webhook

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
#: How much of an oversized body is read and thrown away so the sender sees the 413 (a server
#: that stops reading and closes makes most clients report a reset instead). Past this the
#: function stops reading and the server drops the connection.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class IngestDeps:
    """What the flow needs from the outside world, injected so tests can swap it."""

    secret: Callable[[str], tuple[str, ...]]  # name -> active values (current first)
    publish: Callable[[bytes, Mapping[str, str]], str]  # -> Pub/Sub message id; raises Transient
    now: Callable[[], datetime]
    max_body_bytes: int
    #: Per source name, what that source's ingest part builds for itself (lazily, once).
    services: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    sources: Sources = SOURCES

    def service(self, name: str) -> Any:
        """Return what source ``name`` built for ingest, None when it is not wired."""
        build = self.services.get(name)
        return None if build is None else build()


def handle_webhook(hook: Webhook, deps: IngestDeps) -> Answer:
    """Verify, publish and answer one webhook; every outcome is logged once."""
    try:
        return _accept(hook, deps)
    except AlertBridgeError as error:
        return _refuse(hook, error, deps.sources)


@dataclass(frozen=True)
class Incoming:
    """An HTTP request whose body is still unread; header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    content_length: int | None
    stream: IO[bytes]
    request_id: str
    path: str = "/"

    def webhook(self, body: bytes) -> Webhook:
        """Return the request as a Webhook carrying ``body``."""
        return Webhook(self.method, self.headers, body, self.request_id, self.query, self.path)


def receive(request: Incoming, deps: IngestDeps) -> Answer:
    """Answer one HTTP request, never holding more than the size limit of its body."""
    if too_large(request.content_length, deps.max_body_bytes):
        answer = oversized_answer(request.webhook(b""), deps.sources)
    else:
        body = read_body(request.stream, deps.max_body_bytes)
        answer = handle_webhook(request.webhook(body), deps)
    if answer.status == 413 and not drain(request.stream, DRAIN_LIMIT_BYTES):
        log.warning("oversized body: stopped reading after %d bytes", DRAIN_LIMIT_BYTES,
                    extra={"event": "body_not_drained", "request_id": request.request_id})
    return answer


def drain(stream: IO[bytes], limit: int) -> bool:
    """Read and discard up to ``limit`` bytes in small chunks; tell whether the end was reached."""
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK_BYTES))
        if not chunk:
            return True
        remaining -= len(chunk)
    return not stream.read(1)


#: Answers one HTTP request.
Handler = Callable[[Incoming], Answer]


def misconfigured(error: ConfigError, sources: Sources = SOURCES) -> Handler:
    """Return a handler that answers every request 503 because of ``error``."""

    def refuse(request: Incoming) -> Answer:
        drain(request.stream, DRAIN_LIMIT_BYTES)
        return _refuse(request.webhook(b""), error, sources)

    return refuse


def too_large(content_length: int | None, max_body_bytes: int) -> bool:
    """Tell from the declared length whether a body is over the limit, before reading it."""
    return content_length is not None and content_length > max_body_bytes


def read_body(stream: IO[bytes], max_body_bytes: int) -> bytes:
    """Read at most one byte past the limit, so an undeclared oversized body is caught too."""
    chunks: list[bytes] = []
    remaining = max_body_bytes + 1
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK_BYTES))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def oversized_answer(hook: Webhook, sources: Sources = SOURCES) -> Answer:
    """Answer a request whose body exceeds the limit."""
    return _refuse(hook, Rejected("body exceeds the size limit", reason="too_large", status=413),
                   sources)


def _accept(hook: Webhook, deps: IngestDeps) -> Answer:
    answering = deps.sources.answering(hook.path)
    if answering is not None and answering.answer is not None:
        # A source's own forms (Sentry's alert-rule UI): answered there, never published.
        return answering.answer(hook, deps)
    if hook.method != "POST":
        raise Rejected(f"method {hook.method} not allowed", reason="method_not_allowed", status=405)
    if len(hook.body) > deps.max_body_bytes:
        raise Rejected("body exceeds the size limit", reason="too_large", status=413)
    source = deps.sources.claiming(hook)
    if source is None or source.accept is None:
        raise Unauthorized(f"no {' or '.join(deps.sources.claim_headers())} header")
    accepted = source.accept(hook, deps)
    if isinstance(accepted, Answer):
        return accepted
    return _publish(accepted, deps)


def _publish(accepted: Accepted, deps: IngestDeps) -> Answer:
    ids = []
    for message in accepted.messages:
        ids.append(deps.publish(message.body, message.attributes))
        log.info("webhook published", extra={"event": "webhook_published",
                                             "message_id": ids[-1], **message.attributes})
    if accepted.reply is not None:
        return accepted.reply(ids)
    if not ids:
        return Answer(200, {"status": "ignored"})
    return Answer(202, {"status": "accepted", "id": ids[0]})


def _refuse(hook: Webhook, error: AlertBridgeError, sources: Sources) -> Answer:
    status = http_status(error)
    if isinstance(error, ConfigError):
        log.error("webhook not handled: %s", error,
                  extra={"event": "config_error", "request_id": hook.request_id})
        # 503: the sender's retries succeed once the deployment is fixed.
        return Answer(503, {"error": "configuration error",
                            "detail": "the service is misconfigured; its logs name the setting"})
    if isinstance(error, Transient):
        log.error("webhook not published: %s", error,
                  extra={"event": "publish_failed", "request_id": hook.request_id})
        return Answer(status, {"error": "temporarily unavailable, retry later"})
    if not isinstance(error, Rejected):
        log.error("webhook failed: %s", error,
                  extra={"event": "ingest_error", "reason": error.reason,
                         "request_id": hook.request_id})
        return Answer(status, {"error": "internal error"})
    log.warning("webhook rejected: %s", error,
                extra={"event": "webhook_rejected", "reason": error.reason,
                       "source": _claimed(hook, sources), "request_id": hook.request_id})
    body = {"error": _PUBLIC_REASONS.get(error.reason, error.reason)}
    if error.reason == "malformed":
        body["detail"] = str(error)  # says what to fix; never reveals secrets or internals
    return Answer(status, body)


_PUBLIC_REASONS = {
    "unauthorized": "unauthorized",
    "malformed": "malformed request body",
    "too_large": "request body too large",
    "method_not_allowed": "method not allowed",
}


def _claimed(hook: Webhook, sources: Sources) -> str:
    source: Source | None = sources.claiming(hook)
    return "unknown" if source is None else source.name
