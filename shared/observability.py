"""Report the service's own errors to Sentry, with credentials and customer data scrubbed."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from shared.settings import SECRET_NAMES, Settings

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Hint
    from sentry_sdk.types import Event as SentryEvent

FILTERED = "[Filtered]"
MAX_DEPTH = 24
#: Shorter configured values are not searched for: they would blank out ordinary words.
MIN_SECRET_CHARS = 6
SECRETS_TTL_SECONDS = 60.0

Event = dict[str, Any]

# Any header whose name contains one of these words carries a credential or a session.
_SENSITIVE_HEADER = re.compile(r"authorization|cookie|signature|token|secret|key", re.I)
# Elsewhere ``key`` alone is too broad (alert_key is what an operator needs to see).
_SENSITIVE_FIELD = re.compile(
    r"authorization|cookie|signature|token|secret|passw|credential|api[-_]?key|app[-_]?key"
    r"|private[-_]?key|query|fragment|^pat$|^key$|^dsn$|e-?mail|ip_address",
    re.I,
)
# Sentry's own identifiers are hex too; they must survive the API-key pattern.
_ID_KEYS = frozenset({"event_id", "trace_id", "span_id", "parent_span_id", "release"})
_DROPPED_REQUEST_KEYS = frozenset({"data", "query_string", "cookies"})

# Quantifiers are bounded or possessive so that a long hostile string cannot make a pattern
# quadratic; a URL always matches whole, with its query and fragment (if any) in group 2.
_URL = re.compile(r"(https?://[^\s?#\"'<>]*+)([?#][^\s\"'<>]*+)?", re.I)
_AUTHORIZATION = re.compile(
    r"(\b(?:proxy-)?authorization[\"']?\s{0,4}[:=]\s{0,4}[\"']?)[^\r\n\"']+", re.I)
_BEARER = re.compile(r"\b(bearer)\s{1,4}[^\s\"',;]+", re.I)
# A name ending like a credential, then a value with a digit in it: "x-api-key=ab12cd34..."
_CREDENTIAL_PAIR = re.compile(
    r"((?:token|secret|signature|passw\w{0,8}|api[-_]?key|app[-_]?key)[\"']?"
    r"\s{0,4}[:=]\s{0,4}[\"']?)(?=[^\s\"',;&}]{0,256}\d)[^\s\"',;&}]{8,}",
    re.I,
)
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,63}")
# Datadog API keys are 32 hex characters, application keys 40.
_HEX_KEY = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")


def _scrub_text(text: str, secrets: Collection[str] = (), *, keep_hex: bool = False) -> str:
    """Return ``text`` with secret values, credentials, URL queries and e-mails filtered."""
    for secret in secrets:
        text = text.replace(secret, FILTERED)
    text = _URL.sub(_without_query, text)
    text = _AUTHORIZATION.sub(rf"\1{FILTERED}", text)
    text = _BEARER.sub(rf"\1 {FILTERED}", text)
    text = _CREDENTIAL_PAIR.sub(rf"\1{FILTERED}", text)
    text = _EMAIL.sub(FILTERED, text)
    return text if keep_hex else _HEX_KEY.sub(FILTERED, text)


def _without_query(url: re.Match[str]) -> str:
    return f"{url[1]}?{FILTERED}" if url[2] else url[0]


def scrub(event: Event, hint: Mapping[str, Any], secrets: Iterable[str] = ()) -> Event | None:
    """Return a scrubbed copy of a Sentry event, or None (drop it) if scrubbing fails."""
    try:
        return _scrub_event(event, _searchable(secrets))
    except Exception:  # an event we could not clean must not be sent
        return None


def scrub_breadcrumb(crumb: Event, hint: Mapping[str, Any],
                     secrets: Iterable[str] = ()) -> Event | None:
    """Return a scrubbed copy of a breadcrumb, or None (drop it) if scrubbing fails."""
    try:
        return _walk(crumb, _searchable(secrets), 0)
    except Exception:  # the SDK would keep the unscrubbed crumb
        return None


def live_secrets(get: Callable[[str], Iterable[str]],
                 names: Iterable[str] = SECRET_NAMES) -> list[str]:
    """Return the active values of every configured credential; skip any that cannot be read."""
    values: list[str] = []
    for name in names:
        try:
            values.extend(get(name))
        except Exception:  # a credential that cannot be read cannot leak
            continue
    return values


def init_error_reporting(settings: Settings,
                         secret_values: Callable[[], Iterable[str]]) -> bool:
    """Start reporting errors to SENTRY_DSN, once per process; return whether it is on."""
    if not settings.sentry_dsn:
        return False
    # Imported here: without a DSN the cold start does not pay for the SDK.
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    if sentry_sdk.get_client().is_active():
        return True
    # Read lazily inside scrub, so that a failing lookup drops the event instead of leaking it.
    current = _LiveSecrets(secret_values, SECRETS_TTL_SECONDS)

    def before_send(event: SentryEvent, hint: Hint) -> SentryEvent | None:
        return cast("SentryEvent | None", scrub(dict(event), hint, current))

    def before_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb | None:
        return cast("Breadcrumb | None", scrub_breadcrumb(dict(crumb), hint, current))

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=os.environ.get("ALERT_BRIDGE_RELEASE", "").strip() or None,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=0,
        # Trace headers would otherwise go to Asana, Sentry's and Datadog's APIs.
        trace_propagation_targets=[],
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        # The other auto-enabled integrations probe dozens of libraries this service lacks.
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR,
                               sentry_logs_level=None),
            FlaskIntegration(),
        ],
    )
    return True


class _LiveSecrets:
    """Iterate the current secret values, cached briefly: a burst of errors is one lookup."""

    def __init__(self, load: Callable[[], Iterable[str]], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, tuple[str, ...]] | None = None

    def __iter__(self) -> Iterator[str]:
        now = self._clock()
        with self._lock:
            if self._cached and now - self._cached[0] < self._ttl:
                return iter(self._cached[1])
        values = tuple(self._load())
        with self._lock:
            self._cached = (now, values)
        return iter(values)


def secret_redactor(secret_values: Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """Return a function that replaces every live secret value in a text with [Filtered]."""
    current = _LiveSecrets(secret_values, SECRETS_TTL_SECONDS)

    def redact(text: str) -> str:
        try:
            secrets = _searchable(current)
        except Exception:  # a failing lookup must not break logging; the value stays unknown
            return text
        for secret in secrets:
            text = text.replace(secret, FILTERED)
        return text

    return redact


def _searchable(secrets: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a value that contains another is filtered whole.
    kept = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS}
    return tuple(sorted(kept, key=len, reverse=True))


def _scrub_event(event: Event, secrets: tuple[str, ...]) -> Event:
    # _meta only annotates what the SDK removed; our placeholders would make it invalid.
    cleaned = {k: v for k, v in event.items() if k not in ("user", "_meta")}
    request = cleaned.get("request")
    if isinstance(request, Mapping):
        cleaned["request"] = {k: v for k, v in request.items() if k not in _DROPPED_REQUEST_KEYS}
    result = _walk(cleaned, secrets, 0)
    if not isinstance(result, dict):
        raise TypeError("event is not a mapping")
    return result


def _walk(value: Any, secrets: tuple[str, ...], depth: int, key: str = "") -> Any:
    if depth > MAX_DEPTH:
        return FILTERED
    if isinstance(value, str):
        return _scrub_text(value, secrets, keep_hex=key in _ID_KEYS)
    if value is None or isinstance(value, bool | int | float | date):
        return value
    if isinstance(value, Mapping):
        return _walk_mapping(value, secrets, depth, headers=key.lower() == "headers")
    if isinstance(value, list | tuple | set | frozenset):
        return [_walk(item, secrets, depth + 1, key) for item in value]
    return _scrub_text(str(value), secrets)


def _walk_mapping(mapping: Mapping[Any, Any], secrets: tuple[str, ...], depth: int, *,
                  headers: bool) -> dict[str, Any]:
    sensitive = _SENSITIVE_HEADER if headers else _SENSITIVE_FIELD
    cleaned: dict[str, Any] = {}
    for raw_key, item in mapping.items():
        key = str(raw_key)
        safe_key = _scrub_text(key, secrets)
        if sensitive.search(key):
            cleaned[safe_key] = FILTERED
        else:
            cleaned[safe_key] = _walk(item, secrets, depth + 1, key)
    return cleaned
