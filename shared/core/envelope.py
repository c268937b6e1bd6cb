"""The Pub/Sub messages the service handles: the push envelope the worker receives, and the dead
letters a replay pulls."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.errors import Rejected


@dataclass(frozen=True)
class PushMessage:
    """One pushed message: the raw webhook body and the attributes ingest set."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: str | None = None
    subscription: str | None = None
    delivery_attempt: int | None = None  # absent on the emulator and without a DLQ policy


def parse_push(body: bytes) -> PushMessage:
    """Decode a push request body; raise Rejected when it is not a Pub/Sub envelope."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Rejected(f"push body is not JSON: {error}", reason="malformed") from error
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise Rejected("push body has no 'message' object", reason="malformed")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise Rejected("push message has no messageId", reason="malformed")
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError) as error:
        raise Rejected(f"push message {message_id}: data is not base64",
                       reason="malformed") from error
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise Rejected(f"push message {message_id}: attributes is not an object",
                       reason="malformed")
    attempt = envelope.get("deliveryAttempt")
    return PushMessage(
        message_id=message_id, data=data,
        attributes={str(k): str(v) for k, v in attributes.items()},
        publish_time=message.get("publishTime") or message.get("publish_time"),
        subscription=envelope.get("subscription"),
        delivery_attempt=attempt if isinstance(attempt, int) else None,
    )


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter subscription, as plain data."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    published_at: str = ""  # when it reached the dead-letter topic, ISO 8601


@dataclass(frozen=True)
class Pulled:
    """A dead letter leased from the subscription; ``ack_id`` settles or releases it."""

    ack_id: str
    letter: DeadLetter
