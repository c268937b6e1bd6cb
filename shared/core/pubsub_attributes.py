"""Pub/Sub's limits on message attributes, applied before every publish.

Pub/Sub refuses a message whose attribute value exceeds 1,024 bytes or whose key exceeds 256
bytes, keys starting with ``goog`` are reserved, and a message carries at most 100 attributes.
The emulator enforces none of this, so it is checked here, in one place every publisher uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.core.errors import Permanent

MAX_VALUE_BYTES = 1024
MAX_KEY_BYTES = 256
MAX_ATTRIBUTES = 100
RESERVED_KEY_PREFIX = "goog"
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidAttributes(Permanent):
    """An attribute key breaks Pub/Sub's rules: publishing the message can never succeed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="invalid_attributes")


def clip_utf8(text: str, max_bytes: int) -> str:
    """Return the longest prefix of ``text`` that fits in ``max_bytes`` UTF-8 bytes."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # Dropping an incomplete trailing sequence keeps every character whole.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def encodable(text: str) -> str:
    """Return ``text`` with each lone surrogate (which UTF-8 cannot encode) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def check_key(key: str) -> None:
    """Raise InvalidAttributes when ``key`` cannot be an attribute key."""
    if not key:
        raise InvalidAttributes("attribute key is empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise InvalidAttributes(f"attribute key {key!r} is not valid Unicode") from error
    if size > MAX_KEY_BYTES:
        raise InvalidAttributes(f"attribute key {key[:40]!r}…: {size} bytes, at most "
                                f"{MAX_KEY_BYTES} are allowed")
    if key.lower().startswith(RESERVED_KEY_PREFIX):
        raise InvalidAttributes(f"attribute key {key!r}: the prefix 'goog' is reserved")


def pubsub_attributes(attributes: Mapping[str, object]) -> dict[str, str]:
    """Return attributes Pub/Sub accepts: keys checked, values made encodable and capped."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidAttributes(f"{len(attributes)} attributes, at most {MAX_ATTRIBUTES} "
                                "are allowed")
    checked: dict[str, str] = {}
    for key, value in attributes.items():
        check_key(key)
        text = "" if value is None else str(value)
        checked[key] = clip_utf8(encodable(text), MAX_VALUE_BYTES)
    return checked
