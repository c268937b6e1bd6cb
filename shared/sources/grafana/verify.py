"""Grafana's HMAC signature: hex HMAC-SHA256 of the body, or of ``timestamp:body`` when the
contact point sends a timestamp header."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
DEFAULT_REPLAY_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class Signing:
    """How this deployment's Grafana contact point signs (GRAFANA_* settings)."""

    signature_header: str = DEFAULT_SIGNATURE_HEADER
    timestamp_header: str | None = None  # None: the body alone is signed
    replay_window_seconds: int = DEFAULT_REPLAY_WINDOW_SECONDS


def signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """Return the signature Grafana sends for ``body`` (and ``timestamp``) with ``secret``."""
    signed = body if timestamp is None else timestamp.encode("ascii") + b":" + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def why_refused(body: bytes, headers: Mapping[str, str], secrets: Iterable[str],
                signing: Signing, now: datetime) -> str | None:
    """Return why a request is not Grafana's signed one (for the log), None when it is.

    Every active secret is compared, in constant time, whatever matched before. With a
    timestamp header configured its value must be a Unix time within the replay window of our
    clock, either way: a captured request cannot be replayed later, nor one dated ahead.
    """
    given = str(headers.get(signing.signature_header.lower(), "")).strip().lower()
    if not given:
        return f"no {signing.signature_header} header"
    timestamp = None
    if signing.timestamp_header:
        timestamp = str(headers.get(signing.timestamp_header.lower(), "")).strip()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return f"{signing.timestamp_header} missing or not a Unix time"
        age = now.timestamp() - int(timestamp)
        if abs(age) > signing.replay_window_seconds:
            return (f"{signing.timestamp_header} is {age:.0f} s from our clock, outside the "
                    f"{signing.replay_window_seconds} s replay window")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature(secret, body, timestamp).encode(),
                                       given.encode("utf-8", "replace"))
    return None if matched else f"{signing.signature_header} wrong"
