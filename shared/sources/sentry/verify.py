"""Sentry's signature: the hex HMAC-SHA256 of the raw body, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def sentry_signature(secret: str, body: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of the raw body, as Sentry computes it."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_sentry(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """Tell whether ``signature`` signs ``body`` with any of the active client secrets."""
    if not signature:
        return False
    given = signature.strip().lower().encode("ascii", "replace")
    matched = False
    # Compare against every secret (no early exit) so timing doesn't reveal which one matched.
    for secret in secrets:
        expected = sentry_signature(secret, body).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched
