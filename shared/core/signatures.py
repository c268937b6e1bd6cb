"""Shared-secret checks the sources share: take what was sent, compare in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def verify_token(token: str | None, expected_tokens: Iterable[str]) -> bool:
    """Tell whether a shared-secret header equals one of the active tokens."""
    if not token:
        return False
    given = token.strip().encode("utf-8")
    matched = False
    for expected in expected_tokens:
        matched |= hmac.compare_digest(expected.encode("utf-8"), given)
    return matched
