"""Structured JSON logging that Cloud Logging turns into jsonPayload fields."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import ParamSpec, TypeVar

#: The field Cloud Logging groups a request's lines under in the trace explorer.
TRACE_FIELD = "logging.googleapis.com/trace"

_P = ParamSpec("_P")
_R = TypeVar("_R")
# Fields added to every line logged while one request is handled (its request id, its trace).
_FIELDS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "alert_bridge_log_fields", default=MappingProxyType({}))
# W3C traceparent "00-<trace id>-<span id>-<flags>"; Google's "<trace id>/<span id>;o=1".
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/\d{0,20})?(?:;o=\d)?")

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


def bind(**fields: str) -> None:
    """Add ``fields`` to every line logged from now on in this request's context."""
    _FIELDS.set(MappingProxyType({**_FIELDS.get(), **fields}))


def isolated(function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Call ``function`` in a copy of the current context: what it binds ends with it."""
    return contextvars.copy_context().run(function, *args, **kwargs)


def trace_fields(headers: Mapping[str, str], project: str) -> dict[str, str]:
    """Return the Cloud Logging trace field of a request, from ``traceparent`` or Google's header.

    Header names are lower-case; a missing, malformed or all-zero trace id gives no field.
    """
    parent = _TRACEPARENT.fullmatch(headers.get("traceparent", "").strip())
    cloud = _CLOUD_TRACE.fullmatch(headers.get("x-cloud-trace-context", "").strip())
    for match in (parent, cloud):
        if match and match[1].strip("0"):
            return {TRACE_FIELD: f"projects/{project}/traces/{match[1].lower()}"}
    return {}


class ContextFields(logging.Filter):
    """Give each record the fields bound to the current request, unless it carries its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _FIELDS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


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
    # On the handler, which sees the records of every shared.* logger; the record then carries
    # the fields on to Sentry's logging integration, which reads it after the handlers.
    handler.addFilter(ContextFields())
    root.addHandler(handler)
    root.propagate = False


def ensure_configured(level: str = "INFO") -> None:
    """Configure JSON logging unless it already is (settings may have failed before doing it)."""
    handlers = logging.getLogger("shared").handlers
    if not any(isinstance(h.formatter, JsonFormatter) for h in handlers):
        configure(level)
