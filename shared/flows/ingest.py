"""The ingest flow: verify a webhook, publish it, and decide the answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from shared.core.alert import SENTRY_RESOURCES, alert_key, json_object, key_fields, webhook_unit
from shared.core.errors import (
    AlertBridgeError,
    ConfigError,
    Rejected,
    Transient,
    Unauthorized,
    http_status,
)
from shared.core.pubsub_attributes import MAX_VALUE_BYTES, encodable
from shared.sources.sentry import verify as signatures
from shared.sources.sentry.rule_schema import PATH_PREFIX as SENTRY_RULE_PATHS

if TYPE_CHECKING:
    from shared.sources.asana.webhooks import HookStore
    from shared.sources.sentry.rule_ingest import RuleDeps

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
#: How much of an oversized body is read and thrown away so the sender sees the 413 (a server
#: that stops reading and closes makes most clients report a reset instead). Past this the
#: function stops reading and the server drops the connection.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Webhook:
    """An HTTP request as plain data; header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    query: Mapping[str, str] = field(default_factory=dict)  # the URL's query parameters
    path: str = "/"  # the URL's path


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to send back."""

    status: int
    body: Mapping[str, object] | Sequence[Mapping[str, object]]  # a list: a select's options
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestDeps:
    """What the flow needs from the outside world, injected so tests can swap it."""

    secret: Callable[[str], tuple[str, ...]]  # name -> active values (current first)
    publish: Callable[[bytes, Mapping[str, str]], str]  # -> Pub/Sub message id; raises Transient
    now: Callable[[], datetime]
    max_body_bytes: int
    asana_hooks: Callable[[], HookStore] | None = None  # Asana webhooks' secrets (lazy)
    sentry_rules: Callable[[], RuleDeps] | None = None  # Sentry alert-rule form checks (lazy)


def handle_webhook(hook: Webhook, deps: IngestDeps) -> Answer:
    """Verify, publish and answer one webhook; every outcome is logged once."""
    try:
        return _accept(hook, deps)
    except AlertBridgeError as error:
        return _refuse(hook, error)


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
        answer = oversized_answer(request.webhook(b""))
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


def misconfigured(error: ConfigError) -> Handler:
    """Return a handler that answers every request 503 because of ``error``."""

    def refuse(request: Incoming) -> Answer:
        drain(request.stream, DRAIN_LIMIT_BYTES)
        return _refuse(request.webhook(b""), error)

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


def oversized_answer(hook: Webhook) -> Answer:
    """Answer a request whose body exceeds the limit."""
    return _refuse(hook, Rejected("body exceeds the size limit", reason="too_large", status=413))


def _accept(hook: Webhook, deps: IngestDeps) -> Answer:
    if hook.path.startswith(SENTRY_RULE_PATHS):
        # Sentry's alert-rule form and select options: answered there, never published.
        from shared.sources.sentry import (
            rule_ingest as sentry_rule_ingest,  # off the cold-start path of webhooks
        )

        return sentry_rule_ingest.answer(hook, deps)
    if hook.method != "POST":
        raise Rejected(f"method {hook.method} not allowed", reason="method_not_allowed", status=405)
    if len(hook.body) > deps.max_body_bytes:
        raise Rejected("body exceeds the size limit", reason="too_large", status=413)
    if hook.query.get("source") == "asana":
        from shared.sources.asana import (
            ingest as asana_ingest,  # off the cold-start path of Sentry's webhooks
        )

        return asana_ingest.accept(hook, deps)
    source = _authenticate(hook, deps)
    resource = _resource(source, hook.headers)
    if resource is None:
        log.info("webhook ignored", extra={"event": "webhook_ignored", "source": source,
                                           "resource": hook.headers.get("sentry-hook-resource", ""),
                                           "request_id": hook.request_id})
        return Answer(200, {"status": "ignored"})
    payload = _json(hook.body)
    attributes = _attributes(source, resource, payload, hook, deps.now())
    message_id = deps.publish(hook.body, attributes)
    log.info("webhook published", extra={"event": "webhook_published", "message_id": message_id,
                                         **attributes})
    return Answer(202, {"status": "accepted", "id": message_id})


def _authenticate(hook: Webhook, deps: IngestDeps) -> str:
    """Return the verified source; the same Unauthorized for every failure."""
    headers = hook.headers
    if "sentry-hook-signature" in headers or "sentry-hook-resource" in headers:
        if signatures.verify_sentry(hook.body, headers.get("sentry-hook-signature"),
                                    deps.secret("SENTRY_CLIENT_SECRET")):
            return "sentry"
        # Logged only (the answer is a bare 401): which credential was checked, never a value.
        raise Unauthorized("sentry signature missing or wrong: checked against "
                           "SENTRY_CLIENT_SECRET (the Sentry integration's Client Secret)")
    if "datadog-secret-token" in headers:
        if signatures.verify_token(headers.get("datadog-secret-token"),
                                   deps.secret("DATADOG_SECRET_TOKEN")):
            return "datadog"
        raise Unauthorized("datadog token wrong: checked against DATADOG_SECRET_TOKEN (the "
                           "webhook's datadog-secret-token header value)")
    raise Unauthorized("no Sentry-Hook-Signature or datadog-secret-token header")


def _resource(source: str, headers: Mapping[str, str]) -> str | None:
    if source == "datadog":
        return "datadog"
    resource = headers.get("sentry-hook-resource", "").strip()
    return resource if resource in SENTRY_RESOURCES else None


def _json(body: bytes) -> dict[str, object]:
    try:
        return json_object(body)
    except ValueError as error:
        raise Rejected(str(error), reason="malformed") from error


def _attributes(source: str, resource: str, payload: dict[str, object], hook: Webhook,
                now: datetime) -> dict[str, str]:
    key = alert_key(source, resource, payload)
    if key is None:
        raise Rejected(f"{webhook_unit(source, resource)} carries no alert id "
                       f"({key_fields(source, resource)})", reason="malformed")
    if len(key.encode("utf-8", errors="replace")) > MAX_VALUE_BYTES:
        # Cutting it would merge distinct alerts into one task.
        raise Rejected(f"{webhook_unit(source, resource)}: alert id longer than "
                       f"{MAX_VALUE_BYTES} bytes", reason="malformed")
    action = payload.get("alert_transition") if source == "datadog" else payload.get("action")
    return {
        "source": source,
        "resource": resource,
        "action": _unicode("action", "" if action is None else str(action)),
        "alert_key": _unicode("alert id", key),
        "received_at": now.isoformat(timespec="milliseconds"),
        "request_id": hook.request_id,
        **delivery_attributes(hook.headers, now),
    }


#: Longest sender delivery id kept; Sentry's Request-ID is a UUID.
MAX_DELIVERY_ID_CHARS = 128


def delivery_attributes(headers: Mapping[str, str], now: datetime) -> dict[str, str]:
    """Return the sender's id of this delivery and its send time, where the sender gives them.

    Sentry sends a ``Request-ID`` and a ``Sentry-Hook-Timestamp`` (unix seconds, Sentry's
    clock) with every request. Neither is signed, so neither is trusted beyond what it can
    do: the id only tells a new delivery from a redelivery of one we published, and the time
    is never later than our receipt, so a forged one cannot make a webhook outrank what the
    source says next.
    """
    found: dict[str, str] = {}
    delivery_id = headers.get("request-id", "").strip()
    if delivery_id and len(delivery_id) <= MAX_DELIVERY_ID_CHARS and delivery_id.isprintable() \
            and delivery_id.isascii():
        found["delivery_id"] = delivery_id
    stamp = headers.get("sentry-hook-timestamp", "").strip()
    if stamp.isdigit() and stamp.isascii():
        try:
            sent = datetime.fromtimestamp(int(stamp), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return found
        found["source_time"] = min(sent, now).isoformat(timespec="milliseconds")
    return found


def _unicode(field: str, text: str) -> str:
    """Return ``text``; refuse it when it holds a lone surrogate, which nothing can encode."""
    if encodable(text) != text:
        raise Rejected(f"{field} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff "
                       "escape), which is not valid Unicode", reason="malformed")
    return text


def _refuse(hook: Webhook, error: AlertBridgeError) -> Answer:
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
                       "source": _claimed_source(hook.headers), "request_id": hook.request_id})
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


def _claimed_source(headers: Mapping[str, str]) -> str:
    if any(name.startswith("sentry-hook-") for name in headers):
        return "sentry"
    if "datadog-secret-token" in headers:
        return "datadog"
    if "x-hook-secret" in headers or "x-hook-signature" in headers:
        return "asana"
    return "unknown"
