"""Reading webhook payloads: scalars as text, times in any of the senders' forms, JSON bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime


def clean_text(value: object) -> str | None:
    """Return a scalar as stripped text, or None when it is missing, empty or not a scalar."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
# Epoch values at or above this are milliseconds: as seconds it would be the year 5138.
_EPOCH_MS_THRESHOLD = 100_000_000_000


def parse_time(value: object) -> datetime | None:
    """Return an ISO 8601 string or epoch (s or ms) as an aware UTC datetime, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    text = clean_text(value)
    if text is None:
        return None
    if _NUMBER.fullmatch(text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Sentry sometimes omits the offset; its timestamps are always UTC.
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(value: float) -> datetime | None:
    seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def json_object(body: bytes) -> dict[str, object]:
    """Decode a webhook body that must be a JSON object; ValueError says what it is instead."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError("body is not valid UTF-8") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"body is not JSON ({error.msg})") from error
    except RecursionError as error:
        raise ValueError("body is nested too deeply") from error
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    return payload
