"""Structured JSON logging that Cloud Logging turns into jsonPayload fields."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line with ``severity``, ``message`` and the extra fields."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if self.redact is not None:
            # Defence in depth: no error message should hold a credential, but if a library
            # ever echoes one, it must not reach Cloud Logging.
            redact = self.redact
            entry = {k: redact(v) if isinstance(v, str) else v for k, v in entry.items()}
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", redact: Callable[[str], str] | None = None) -> None:
    """Send every log line of the ``shared`` package to stdout as JSON, once per process."""
    root = logging.getLogger("shared")
    root.setLevel(level)
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.formatter.redact = redact
            return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(redact))
    root.addHandler(handler)
    root.propagate = False


def ensure_configured(level: str = "INFO") -> None:
    """Configure JSON logging unless it already is (settings may have failed before doing it)."""
    handlers = logging.getLogger("shared").handlers
    if not any(isinstance(h.formatter, JsonFormatter) for h in handlers):
        configure(level)
