"""Report the service's own errors to Sentry, with credentials and customer data scrubbed."""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from shared.core.settings import SECRET_NAMES, Settings

if TYPE_CHECKING:
    from sentry_sdk.scrubber import EventScrubber
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Hint
    from sentry_sdk.types import Event as SentryEvent

FILTERED = "[Filtered]"
MAX_DEPTH = 24
#: Shorter configured values are not searched for: they would blank out ordinary words.
MIN_SECRET_CHARS = 6
SECRETS_TTL_SECONDS = 60.0

Event = dict[str, Any]
log = logging.getLogger(__name__)
_STARTING = threading.Lock()

# A key is sensitive when, lower-cased and without separators, it contains one of these...
_KEY_WORDS_ANYWHERE = ("password", "passwd", "passphrase", "passcode", "token", "secret",
                       "cookie", "session", "csrf", "authorization", "credential", "signature",
                       "apikey", "privatekey", "encryptionkey", "creditcard", "cardnumber",
                       "oauth", "query", "fragment", "email", "ipaddress", "pwd", "cvv")
# ...or when one of its words (split on separators and camelCase) is one of these short ones,
# alone or run together with a word naming whose it is or what part ("mypwd", "userssn",
# "authheader", "pincode"): as mere substrings they would hit "monkey", "author", "path",
# "mapping", "shipping", "ping" or "businessname".
_SHORT_WORDS = ("pwd", "api", "key", "auth", "cvv", "pin", "ssn", "pat", "dsn")
_OWNERS = ("my", "user", "card", "customer", "client", "account", "admin", "root", "db", "bank",
           "atm", "sim", "new", "old", "current", "confirm", "access", "refresh", "private",
           "secret", "x")
_PARTS = ("code", "number", "num", "no", "header", "headers", "value", "hash", "data", "info",
          "string", "str", "text", "field", "token", "key", "secret", "plain", "raw")
_KEY_WORD = re.compile(rf"(?:{'|'.join(_OWNERS)})?(?:{'|'.join(_SHORT_WORDS)})"
                       rf"(?:{'|'.join(_PARTS)})?")
# Keys whose value, after ":" or "is", is the credential itself even without a digit
# ("password: letmein"); after other keys ("credentials: run gcloud ...") it is prose.
_VALUE_KEY_WORDS = ("password", "passwd", "passphrase", "passcode", "secret", "token",
                    "apikey", "privatekey", "pwd", "pat")
# Words that follow such a name in prose, in our own messages and in code shown in a stack
# frame ("DATADOG_SECRET_TOKEN: not set", "token is expired", "token: str"): never masked.
_PROSE_WORDS = """
    a an the not no none null nil never now still also only just already yet being been be is
    was are were has had have will would should must may might can could cannot to of for
    from in on at by with without and or but if as into than that this it its which who what
    when where how why all any some each every both either neither too very more less same
    other another so then there here yes ok true false set unset missing empty blank expired
    expiring invalid valid wrong correct incorrect required needed optional absent present
    unknown revoked rejected refused denied accepted disabled enabled configured unconfigured
    changed unchanged rotated rotating redacted filtered hidden masked stored lost leaked old
    new current previous stale bad good used unused reused ignored mismatch mismatched
    different malformed truncated short long unavailable unreadable readable available found
    created deleted updated read written sent received checked verified unverified signed
    unsigned encrypted decrypted pending active inactive locked unlocked str string bytes int
    bool float dict list tuple callable mapping sequence self cls object type
    """
_PROSE = frozenset(_PROSE_WORDS.split())
_PROSE_VALUE = re.compile(r"([A-Za-z]+)(?:[\[(][^\s]*)?[.,:;!?)\]]*")
#: Keys that look sensitive but hold what an operator needs (the alert's de-duplication key).
ALLOWED_KEYS = frozenset({"alert_key"})
#: Whole keys the SDK's own EventScrubber filters in addition to its default list.
EXTRA_DENYLIST = ["pwd", "access_token", "refresh_token", "bearer_token", "api", "key", "pin",
                  "cvv", "ssn", "credit_card", "card_number", "encryption_key", "signature",
                  "dsn", "pat", *(name.lower() for name in SECRET_NAMES)]
# Identifiers (Sentry's and ours) are long digit and hex runs: number patterns spare them.
_ID_KEYS = frozenset({"event_id", "trace_id", "span_id", "parent_span_id", "release",
                      "message_id", "dead_letter_message_id", "request_id", "task_gid",
                      "alert_key"})
_DROPPED_REQUEST_KEYS = frozenset({"data", "query_string", "cookies"})
_KEY_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")

# Quantifiers are bounded or possessive so that a long hostile string cannot make a pattern
# quadratic; a URL always matches whole, with its query and fragment (if any) in group 2.
_URL = re.compile(r"(https?://[^\s?#\"'<>]*+)([?#][^\s\"'<>]*+)?", re.I)
# Header lines whose whole value is a credential (a cookie line holds several pairs).
_CREDENTIAL_HEADER = re.compile(
    r"(\b(?:proxy-)?(?:authorization|(?:set-)?cookie)[\"']?\s{0,4}[:=]\s{0,4}[\"']?)[^\r\n\"']+",
    re.I)
_BEARER = re.compile(r"\b(bearer)\s{1,4}[^\s\"',;]+", re.I)
# Tokens recognisable by their prefix: GitHub, Sentry, Slack, Stripe, GitLab, AWS access keys.
_PREFIXED_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_\w{20,255}|sntr[ysu]_[\w.+/=-]{20,512}"
    r"|xox[abposr]-[\w-]{10,255}|[sr]k_(?:live|test)_\w{10,255}|glpat-[\w-]{20,255}"
    r"|AKIA[0-9A-Z]{16})")
# "name=value", "name: value", "name is value": the value goes when the name is sensitive.
# Only the name and separator are matched, so that a value can be the name of the next pair.
_NAME_AND_SEPARATOR = re.compile(
    r"(?<![\w.-])([A-Za-z_][\w.-]{0,63}+)"
    r"([\"']?(?:\s{0,4}[:=]\s{0,4}|\s{1,4}(?:is|was)\s{1,4}|\s{1,4})[\"']?)")
_VALUE = re.compile(r"[^\s\"',;&}<>]{1,512}+")
_EMAIL = re.compile(
    r"([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,63})")
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}|:)[0-9A-Fa-f:.]{2,44}+(?:%\w{1,16})?")
_PHONE = re.compile(
    r"(?<![\w.+-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}"  # international: +44 20 7946 0958
    r"|(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}"  # North American: (555) 123-4567
    r"|0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4})"  # national with a trunk 0: 020 7946 0958
    r"(?!\d|[.-]\d)")
# Datadog API keys are 32 hex characters, application keys 40.
_HEX_KEY = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")
CARD_MASK = "XXXX-XXXX-XXXX-XXXX"
SSN_MASK = "XXX-XX-XXXX"
IPV4_MASK = "XXX.XXX.XXX.XXX"
IPV6_MASK = "XXXX:XXXX:XXXX:XXXX:XXXX:XXXX:XXXX:XXXX"


def is_sensitive_key(key: str) -> bool:
    """Tell whether a field named ``key`` holds a credential or personal data."""
    if key.lower() in ALLOWED_KEYS:
        return False
    words = [word.lower() for word in _KEY_SPLIT.split(key) if word]
    compact = "".join(words)
    return (any(word in compact for word in _KEY_WORDS_ANYWHERE)
            or any(_KEY_WORD.fullmatch(word) for word in words))


def _names_a_value(key: str) -> bool:
    """Tell whether ``key: value`` or ``key is value`` holds the credential itself."""
    compact = "".join(_KEY_SPLIT.split(key)).lower()
    return any(word in compact for word in _VALUE_KEY_WORDS)


def scrub_text(text: str, secrets: Collection[str] = (), *, identifier: bool = False) -> str:
    """Return ``text`` with secret values, credentials and personal data masked.

    An ``identifier`` (an event id, a message id) keeps its digit and hex runs.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, FILTERED)
    if not identifier:
        # Before the name=value pass, which would take only a spaced number's first group.
        text = _CARD.sub(_masked_card, text)
        text = _SSN.sub(SSN_MASK, text)
        text = _IPV6.sub(_masked_ipv6, text)
        text = _IPV4.sub(IPV4_MASK, text)
        text = _PHONE.sub(_masked_phone, text)
    text = _URL.sub(_without_query, text)
    text = _CREDENTIAL_HEADER.sub(rf"\1{FILTERED}", text)
    text = _BEARER.sub(rf"\1 {FILTERED}", text)
    text = _PREFIXED_TOKEN.sub(FILTERED, text)
    text = _mask_named_values(text)
    text = _EMAIL.sub(_masked_email, text)
    return text if identifier else _HEX_KEY.sub(FILTERED, text)


def _without_query(url: re.Match[str]) -> str:
    return f"{url[1]}?{FILTERED}" if url[2] else url[0]


def _mask_named_values(text: str) -> str:
    parts: list[str] = []
    done = 0
    for pair in _NAME_AND_SEPARATOR.finditer(text):
        if pair.start() < done or not is_sensitive_key(pair[1]):
            continue
        value = _VALUE.match(text, pair.end())
        if value and _is_credential(pair[1], pair[2], value[0]):
            parts += [text[done:value.start()], FILTERED]
            done = value.end()
    return "".join(parts) + text[done:] if parts else text


def _is_credential(name: str, separator: str, value: str) -> bool:
    if value == FILTERED:
        return False
    has_digit = any(c.isdigit() for c in value)
    if "=" in separator:
        return True
    if ":" in separator or separator.strip(" \"'"):  # ":", "is", "was"
        if has_digit:
            return True
        prose = _PROSE_VALUE.fullmatch(value)
        # A password's name then its value; anything else there is prose unless it has a digit.
        return _names_a_value(name) and not (prose and prose[1].lower() in _PROSE)
    # A bare space: only what looks like a generated token.
    return has_digit and len(value) >= 16 and any(c.isalpha() for c in value)


def _masked_email(email: re.Match[str]) -> str:
    local = email[1]
    return f"{local[:2] if len(local) > 2 else local[:1]}***@{email[2]}"


def _masked_card(number: re.Match[str]) -> str:
    digits = [int(c) for c in number[0] if c.isdigit()]
    # Card networks start with 2-6; ids and millisecond timestamps here start with 1.
    if 2 <= digits[0] <= 6 and _luhn_valid(digits):
        return CARD_MASK
    return number[0]


def _luhn_valid(digits: list[int]) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _masked_phone(phone: re.Match[str]) -> str:
    text = phone[0]
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:  # E.164 allows 15 at most
        return text
    keep_from = [i for i, c in enumerate(text) if c.isdigit()][-4]
    return "".join("X" if c.isdigit() and i < keep_from else c for i, c in enumerate(text))


def _masked_ipv6(candidate: re.Match[str]) -> str:
    text = candidate[0]
    address = text.rstrip(".:") if not text.endswith("::") else text
    if address.count(":") < 2:
        return text
    try:
        ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return text
    return IPV6_MASK + text[len(address):]


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

    # The first requests of an instance may arrive together; one of them starts the SDK.
    with _STARTING:
        starting = not sentry_sdk.get_client().is_active()
        if starting:
            _start_sdk(settings, secret_values)
    if starting:
        # Outside the lock: the line's secret redaction may read settings, and so come back here.
        log.info("error reporting to Sentry is on", extra={
            "event": "error_reporting_started", **reporting_fields(settings)})
    return True


def _start_sdk(settings: Settings, secret_values: Callable[[], Iterable[str]]) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    # Read lazily inside scrub, so that a failing lookup drops the event instead of leaking it.
    current = _LiveSecrets(secret_values, SECRETS_TTL_SECONDS)

    def before_send(event: SentryEvent, hint: Hint) -> SentryEvent | None:
        return cast("SentryEvent | None", scrub(dict(event), hint, current))

    def before_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb | None:
        return cast("Breadcrumb | None", scrub_breadcrumb(dict(crumb), hint, current))

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=settings.sentry_release,  # None: the SDK's default (git SHA, then K_REVISION)
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        profiles_sample_rate=settings.sentry_profiles_sample_rate,
        # Trace headers would otherwise go to Asana, Sentry's and Datadog's APIs.
        trace_propagation_targets=[],
        event_scrubber=event_scrubber(),
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        # The other auto-enabled integrations probe dozens of libraries this service lacks.
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR,
                               sentry_logs_level=None),
            FlaskIntegration(),
        ],
    )


def event_scrubber() -> EventScrubber:
    """Return the SDK's scrubber of whole keys (headers, cookies, extra, frames, spans)."""
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    # A denylist replaces the SDK's default one rather than extending it.
    return EventScrubber(denylist=[*DEFAULT_DENYLIST, *EXTRA_DENYLIST], recursive=True)


def reporting_fields(settings: Settings) -> dict[str, object]:
    """Return what the start-up log line says about reporting: never the DSN's key."""
    dsn = urlsplit(settings.sentry_dsn or "")
    return {"sentry_host": dsn.hostname, "sentry_project": dsn.path.rstrip("/").rpartition("/")[2],
            "environment": settings.sentry_environment, "release": settings.sentry_release,
            "traces_sample_rate": settings.sentry_traces_sample_rate,
            "profiles_sample_rate": settings.sentry_profiles_sample_rate}


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
    modules = cleaned.pop("modules", None)
    result = _walk(cleaned, secrets, 0)
    if not isinstance(result, dict):
        raise TypeError("event is not a mapping")
    if isinstance(modules, Mapping):
        # Package names ("google-auth") are not field names; their versions are still scrubbed.
        result["modules"] = {_walk(k, secrets, 1): _walk(v, secrets, 1)
                             for k, v in modules.items()}
    return result


def _walk(value: Any, secrets: tuple[str, ...], depth: int, key: str = "") -> Any:
    if depth > MAX_DEPTH:
        return FILTERED
    if isinstance(value, str):
        return scrub_text(value, secrets, identifier=key in _ID_KEYS)
    if value is None or isinstance(value, bool | int | float | date):
        return value
    if isinstance(value, Mapping):
        return _walk_mapping(value, secrets, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return [_walk(item, secrets, depth + 1, key) for item in value]
    return scrub_text(str(value), secrets)


def _walk_mapping(mapping: Mapping[Any, Any], secrets: tuple[str, ...],
                  depth: int) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for raw_key, item in mapping.items():
        key = str(raw_key)
        safe_key = scrub_text(key, secrets)
        if is_sensitive_key(key):
            cleaned[safe_key] = FILTERED
        else:
            cleaned[safe_key] = _walk(item, secrets, depth + 1, key)
    return cleaned
