"""Scrubbing of the service's own Sentry events: what must go, what must stay."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from shared.core import observability
from shared.core.errors import ConfigError
from shared.core.observability import FILTERED, live_secrets, scrub, scrub_breadcrumb
from shared.core.settings import load_settings

PAT = "2/1201234567890/1209876543210:0a1b2c3d4e5f"
CLIENT_SECRET = "sentry-client-secret-for-tests"
SECRETS = (PAT, CLIENT_SECRET)
EVENT_ID = "5d167fe1a6f04b5bb2a5d6d0d3e7c8a1"
TRACE_ID = "771a43a4192642f0b136d5159a501700"
RELEASE_SHA = "0123456789abcdef0123456789abcdef01234567"


def _event(**parts: Any) -> dict[str, Any]:
    """Return a serialized Python SDK event with the given top-level parts."""
    base: dict[str, Any] = {
        "event_id": EVENT_ID,
        "level": "error",
        "platform": "python",
        "timestamp": "2026-11-22T10:00:00.000000Z",
        "release": RELEASE_SHA,
        "contexts": {"trace": {"trace_id": TRACE_ID, "span_id": "a1b2c3d4e5f60718"}},
    }
    base.update(parts)
    return base


def _frame(vars_: dict[str, Any]) -> dict[str, Any]:
    return {"filename": "shared/worker.py", "function": "_process", "lineno": 10, "vars": vars_}


def _scrubbed(event: dict[str, Any]) -> str:
    result = scrub(event, {}, SECRETS)
    assert result is not None, "scrub dropped an event it should have cleaned"
    return json.dumps(result)


# (event, text that must not appear anywhere in the scrubbed event)
LEAKS: list[tuple[dict[str, Any], str]] = [
    (_event(request={"headers": {"Authorization": "Bearer abc.def"}}), "abc.def"),
    (_event(request={"headers": {"Cookie": "session=s3cr3t-cookie"}}), "s3cr3t-cookie"),
    (_event(request={"headers": {"Sentry-Hook-Signature": "f00dfeed"}}), "f00dfeed"),
    (_event(request={"headers": {"datadog-secret-token": "dd-shared-1"}}), "dd-shared-1"),
    (_event(request={"headers": {"X-Api-Key": "k-12345"}}), "k-12345"),
    (_event(request={"headers": {"X-Client-Secret": "cs-12345"}}), "cs-12345"),
    (_event(request={"data": {"user": "ann"}, "url": "https://h/x"}), "ann"),
    (_event(request={"query_string": "token=qs-value-1"}), "qs-value-1"),
    (_event(request={"cookies": {"sid": "cookie-value-1"}}), "cookie-value-1"),
    (_event(request={"url": "https://h/ingest?token=url-token-1"}), "url-token-1"),
    (_event(user={"email": "ann@example.com", "ip_address": "203.0.113.9"}), "203.0.113.9"),
    (_event(message=f"Asana refused {PAT}"), PAT),
    (_event(logentry={"message": "dead-lettered: %s", "params": [f"token {PAT}"]}), PAT),
    (_event(logentry={"message": "x", "formatted": f"bad secret {CLIENT_SECRET}"}),
     CLIENT_SECRET),
    (_event(exception={"values": [{"type": "Permanent", "value": f"HTTP 401 for {PAT}"}]}), PAT),
    (_event(breadcrumbs={"values": [{"message": f"GET with {PAT}"}]}), PAT),
    (_event(breadcrumbs={"values": [{"data": {"http.query": "opt_fields=x&pat=1"}}]}),
     "opt_fields"),
    (_event(extra={"error": f"secret is {CLIENT_SECRET}"}), CLIENT_SECRET),
    (_event(extra={"nested": {"list": [{"deep": PAT}]}}), PAT),
    (_event(contexts={"app": {"note": PAT}}), PAT),
    (_event(tags={"who": PAT}), PAT),
    (_event(extra={PAT: "as a key"}), PAT),
    (_event(exception={"values": [{"stacktrace": {"frames": [_frame({"pat": "a-b-c-d"})]}}]}),
     "a-b-c-d"),
    (_event(exception={"values": [{"stacktrace": {"frames": [_frame({"v": PAT})]}}]}), PAT),
    (_event(message="sent Authorization: Basic dXNlcjpwYXNz"), "dXNlcjpwYXNz"),
    (_event(message="header was 'Bearer 0/unknown-token-xyz'"), "unknown-token-xyz"),
    (_event(message="owner alice.smith+ops@example.co.uk was paged"), "alice.smith"),
    (_event(message="DD key 9f8e7d6c5b4a39281706f5e4d3c2b1a0 rejected"),
     "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    (_event(message="DD app key 9F8E7D6C5B4A39281706F5E4D3C2B1A0AABBCCDD rejected"),
     "9F8E7D6C5B4A39281706F5E4D3C2B1A0AABBCCDD"),
    (_event(message="fetch https://api.example.com/v1?api_key=zz9&x=1 failed"), "zz9"),
    (_event(extra={"msg": "sent x-custom-token=AbCd1234EfGh"}), "AbCd1234EfGh"),
    (_event(extra={"api_key": "plain"}), "plain"),
    (_event(logentry={"message": "cookie %s", "params": ["sessionid=q1w2e3r4; csrftoken=zz"]}),
     "q1w2e3r4"),
    (_event(exception={"values": [{"type": "Permanent", "value": "invalid token ghp_"
                                   + "Zz9" * 12}]}), "Zz9Zz9"),
]


@pytest.mark.parametrize(("event", "leak"), LEAKS,
                         ids=[f"{i}-{leak[:18]}" for i, (_, leak) in enumerate(LEAKS)])
def test_sensitive_data_is_filtered(event: dict[str, Any], leak: str) -> None:
    assert leak not in _scrubbed(event)


# (event, path to a value, the value expected there after scrubbing)
KEPT: list[tuple[str, dict[str, Any], list[str | int], object]] = [
    ("event-id", _event(), ["event_id"], EVENT_ID),
    ("trace-id", _event(), ["contexts", "trace", "trace_id"], TRACE_ID),
    ("release-sha", _event(), ["release"], RELEASE_SHA),
    ("timestamp", _event(), ["timestamp"], "2026-11-22T10:00:00.000000Z"),
    ("content-type", _event(request={"headers": {"Content-Type": "application/json"}}),
     ["request", "headers", "Content-Type"], "application/json"),
    ("url-path", _event(request={"url": "https://h/ingest?token=1"}),
     ["request", "url"], f"https://h/ingest?{FILTERED}"),
    ("method", _event(request={"method": "POST"}), ["request", "method"], "POST"),
    ("alert-key", _event(extra={"alert_key": "sentry:issue:4509123"}),
     ["extra", "alert_key"], "sentry:issue:4509123"),
    ("log-event-name", _event(extra={"event": "dead_lettered", "delivery_attempt": 5}),
     ["extra", "delivery_attempt"], 5),
    ("asana-gid", _event(extra={"task_gid": "1209876543210123"}),
     ["extra", "task_gid"], "1209876543210123"),
    ("message", _event(message="dead-lettered: team 'Payments' has no backlog"),
     ["message"], "dead-lettered: team 'Payments' has no backlog"),
    ("secret-in-message", _event(message=f"Asana refused {PAT} (401)"),
     ["message"], f"Asana refused {FILTERED} (401)"),
    ("exception-type", _event(exception={"values": [{"type": "Permanent", "value": PAT}]}),
     ["exception", "values", 0, "type"], "Permanent"),
    ("config-error", _event(message="DATADOG_SECRET_TOKEN: not set in the environment"),
     ["message"], "DATADOG_SECRET_TOKEN: not set in the environment"),
    ("bearer-word-kept", _event(message=f"Authorization: Bearer {PAT}"),
     ["message"], f"Authorization: {FILTERED}"),
    ("bool", _event(extra={"retryable": False}), ["extra", "retryable"], False),
    ("none", _event(extra={"portfolio": None}), ["extra", "portfolio"], None),
]


@pytest.mark.parametrize(("event", "path", "expected"), [k[1:] for k in KEPT],
                         ids=[k[0] for k in KEPT])
def test_harmless_data_survives(event: dict[str, Any], path: list[str | int],
                                expected: object) -> None:
    value: Any = scrub(event, {}, SECRETS)
    for step in path:
        value = value[step]
    assert value == expected


def test_user_request_body_and_annotations_are_removed_not_blanked() -> None:
    event = _event(user={"id": "1"}, request={"data": "{}", "method": "POST"},
                   _meta={"request": {"headers": {"Authorization": {"": {"rem": [["!config"]]}}}}})
    result = scrub(event, {}, ())
    assert result is not None
    assert ("user" in result, "_meta" in result) == (False, False)
    assert result["request"] == {"method": "POST"}


def test_scrub_does_not_change_its_input() -> None:
    event = _event(message=f"leaked {PAT}")
    scrub(event, {}, SECRETS)
    assert event["message"] == f"leaked {PAT}"


def test_secret_embedded_in_exception_message_is_removed() -> None:
    event = _event(exception={"values": [{
        "type": "Permanent",
        "value": f"asana: POST /tasks answered 401 with token {PAT}; not retrying",
        "stacktrace": {"frames": [_frame({"error": repr(RuntimeError(PAT))})]},
    }]})
    text = _scrubbed(event)
    assert PAT not in text
    assert "asana: POST /tasks answered 401 with token [Filtered]; not retrying" in text


def test_a_secret_that_contains_another_is_filtered_whole() -> None:
    result = scrub(_event(message="x abcdefgh-long y"), {}, ["abcdefgh", "abcdefgh-long"])
    assert result is not None and result["message"] == "x [Filtered] y"


def test_short_secret_values_are_not_searched() -> None:
    result = scrub(_event(message="a plain message"), {}, ["a", "plain", ""])
    assert result is not None and result["message"] == "a plain message"


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": PAT}
    for _ in range(depth):
        node = {"child": node}
    return node


@pytest.mark.parametrize("depth", [3, 50, 5000], ids=["shallow", "deeper-than-bound", "huge"])
def test_deep_nesting_neither_crashes_nor_leaks(depth: int) -> None:
    assert PAT not in _scrubbed(_event(extra=_nested(depth)))


def test_a_cycle_is_cut_by_the_depth_bound() -> None:
    loop: dict[str, Any] = {"secret_holder": "x"}
    loop["self"] = loop
    assert scrub(_event(extra=loop), {}, SECRETS) is not None


HOSTILE = {"dots": "a." * 50_000, "urls": "http://x" * 12_500, "no-at": "a-" * 50_000 + "@",
           "names": "x_token=" * 12_500, "hex": "ab" * 50_000, "digits": "4 " * 50_000,
           "octets": "1." * 50_000, "colons": "a:" * 50_000, "phones": "+1 (2" * 20_000,
           "words": "token " * 16_000, "emails": "a@" * 50_000}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_long_hostile_string_is_scrubbed_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    assert scrub(_event(message=text), {}, SECRETS) is not None
    assert time.perf_counter() - started < 2.0  # a quadratic pattern takes minutes here


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot print")


def _failing_secrets() -> Any:
    raise ConfigError("secret lookup failed")
    yield  # pragma: no cover - makes this a generator that fails when iterated


NEVER_RAISES: list[tuple[str, Callable[[], object]]] = [
    ("not-a-mapping", lambda: scrub([1, 2], {}, SECRETS)),  # type: ignore[arg-type]
    ("unprintable-value", lambda: scrub(_event(extra={"x": _Unprintable()}), {}, SECRETS)),
    ("unprintable-key", lambda: scrub(_event(extra={_Unprintable(): 1}), {}, SECRETS)),
    ("failing-secrets", lambda: scrub(_event(), {}, _failing_secrets())),
    ("non-string-secret", lambda: scrub(_event(), {}, [None, 42])),  # type: ignore[list-item]
    ("crumb-unprintable", lambda: scrub_breadcrumb({"data": {"x": _Unprintable()}}, {}, ())),
    ("crumb-failing-secrets", lambda: scrub_breadcrumb({"message": "m"}, {}, _failing_secrets())),
]


@pytest.mark.parametrize("call", [c for _, c in NEVER_RAISES], ids=[i for i, _ in NEVER_RAISES])
def test_scrub_never_raises_and_drops_what_it_cannot_clean(call: Callable[[], object]) -> None:
    result = call()
    assert result is None or PAT not in json.dumps(result, default=str)


@pytest.mark.parametrize("call", [NEVER_RAISES[1][1], NEVER_RAISES[3][1], NEVER_RAISES[6][1]],
                         ids=["unprintable", "failing-secrets", "crumb-failing-secrets"])
def test_an_event_that_cannot_be_cleaned_is_dropped(call: Callable[[], object]) -> None:
    assert call() is None


BREADCRUMBS: list[tuple[str, dict[str, Any], str]] = [
    ("log-message", {"category": "shared.flows.worker", "message": f"retry with {PAT}"}, PAT),
    ("http-url", {"type": "http", "data": {"url": "https://app.asana.com/x?opt=secretish"}},
     "secretish"),
    ("http-query", {"type": "http", "data": {"http.query": "limit=5&workspace=77"}}, "workspace"),
    ("log-extra", {"data": {"error": f"{CLIENT_SECRET} did not verify"}}, CLIENT_SECRET),
]


@pytest.mark.parametrize(("crumb", "leak"), [b[1:] for b in BREADCRUMBS],
                         ids=[b[0] for b in BREADCRUMBS])
def test_breadcrumbs_are_scrubbed(crumb: dict[str, Any], leak: str) -> None:
    result = scrub_breadcrumb(crumb, {}, SECRETS)
    assert result is not None
    assert leak not in json.dumps(result, default=str)


def test_breadcrumb_keeps_its_shape() -> None:
    crumb = {"type": "log", "category": "shared.flows.worker", "level": "warning",
             "message": "will retry: asana 503", "data": {"event": "retry"}}
    assert scrub_breadcrumb(crumb, {}, SECRETS) == crumb


def _getter(values: dict[str, tuple[str, ...]]) -> Callable[[str], tuple[str, ...]]:
    def get(name: str) -> tuple[str, ...]:
        if name not in values:
            raise ConfigError(f"secret {name}: not set")
        return values[name]
    return get


def test_live_secrets_skips_missing_credentials_and_keeps_rotation_values() -> None:
    get = _getter({"ASANA_PAT": ("new-pat-value", "old-pat-value"),
                   "DATADOG_SECRET_TOKEN": ("dd-token-value",)})
    assert live_secrets(get) == ["dd-token-value", "new-pat-value", "old-pat-value"]


def test_live_secrets_survives_any_lookup_failure() -> None:
    def get(name: str) -> tuple[str, ...]:
        raise RuntimeError("secret manager unreachable")
    assert live_secrets(get) == []


def test_secret_values_are_looked_up_again_only_after_the_ttl() -> None:
    now = [0.0]
    calls: list[int] = []

    def load() -> list[str]:
        calls.append(1)
        return [f"value-{len(calls)}"]

    current = observability._LiveSecrets(load, 60.0, clock=lambda: now[0])
    assert (list(current), list(current)) == (["value-1"], ["value-1"])
    now[0] = 61.0
    assert list(current) == ["value-2"]


def test_reporting_is_off_without_a_dsn() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p"})
    assert observability.init_error_reporting(settings, lambda: []) is False


# --- The integration spec: keys, patterns, every part of an event, the allow-list. ---

SPEC_KEYS = ["password", "passwd", "pwd", "token", "access_token", "refresh_token",
             "bearer_token", "api_key", "api", "key", "authorization", "auth", "secret",
             "cookie", "session", "csrf", "credit_card", "card_number", "cvv", "pin", "ssn",
             "encryption_key", "SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN", "ASANA_PAT",
             "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY", "DATADOG_APP_KEY"]
# The same words inside longer keys, in other cases and separators.
KEY_PARTS = ["User_Password", "x-auth-token", "sessionId", "csrftoken", "X-Api-Key", "apikey",
             "userPwd", "customer_ssn", "card-pin", "CVV", "oauth_state", "private_key",
             "db.passwd", "creditCardNumber",
             # Run together, without a separator or a capital to split on.
             "mypwd", "userssn", "cardcvv", "authheader", "pincode", "xapikey", "passphrase"]


@pytest.mark.parametrize("key", SPEC_KEYS + KEY_PARTS)
def test_a_sensitive_key_loses_its_value_anywhere(key: str) -> None:
    event = _event(extra={key: "v4lue"}, tags={key: "v4lue"},
                   contexts={"app": {"nested": [{key: "v4lue"}]}},
                   breadcrumbs={"values": [{"data": {key: "v4lue"}}]})
    assert "v4lue" not in _scrubbed(event)


# Keys an operator needs that contain a sensitive word: kept by the allow-list (alert_key) or
# because the word is only a fragment of another word (monkey, author, path, shipping).
KEPT_KEYS = ["alert_key", "ALERT_KEY", "monkey", "author", "abs_path", "shipping", "keyboard",
             "task_gid", "request_id", "dead_letter_reason", "mapping", "authority", "ping",
             "spinner", "patch", "businessname", "processname", "apiversion", "pinned"]


@pytest.mark.parametrize("key", KEPT_KEYS)
def test_a_harmless_key_keeps_its_value(key: str) -> None:
    result = scrub(_event(extra={key: "kept-value"}), {}, SECRETS)
    assert result is not None and result["extra"][key] == "kept-value"


def test_the_allow_list_is_exactly_what_the_operator_needs() -> None:
    assert {"alert_key"} == observability.ALLOWED_KEYS
    assert observability.is_sensitive_key("my_alert_key")  # only the exact key is allowed


# (id, text before, text after): the examples of docs/observability.md.
PATTERNS: list[tuple[str, str, str]] = [
    ("card-spaced", "card 4111 1111 1111 1111 declined", "card XXXX-XXXX-XXXX-XXXX declined"),
    ("card-unspaced", "card 4111111111111111 declined", "card XXXX-XXXX-XXXX-XXXX declined"),
    ("card-dashed", "card 5500-0000-0000-0004", "card XXXX-XXXX-XXXX-XXXX"),
    ("card-amex-15", "amex 378282246310005", "amex XXXX-XXXX-XXXX-XXXX"),
    ("email", "owner john.doe@example.com", "owner jo***@example.com"),
    ("email-short", "owner a@example.com", "owner a***@example.com"),
    ("phone-us", "call 555-123-4567", "call XXX-XXX-4567"),
    ("phone-us-parens", "call (555) 123-4567", "call (XXX) XXX-4567"),
    ("phone-international", "call +44 20 7946 0958", "call +XX XX XXXX 0958"),
    ("phone-national", "call 020 7946 0958", "call XXX XXXX 0958"),
    ("ipv4", "from 203.0.113.9.", "from XXX.XXX.XXX.XXX."),
    ("ipv6", "from 2001:db8:85a3::8a2e:370:7334", f"from {observability.IPV6_MASK}"),
    ("ipv6-loopback", "from ::1", f"from {observability.IPV6_MASK}"),
    ("ipv6-mapped-ipv4", "from ::ffff:192.0.2.1", f"from {observability.IPV6_MASK}"),
    ("ssn", "ssn 123-45-6789", "ssn XXX-XX-XXXX"),
    ("bearer", "sent Bearer abc.def-ghi", "sent Bearer [Filtered]"),
    ("authorization", "Authorization: Basic dXNlcjpwYXNz", "Authorization: [Filtered]"),
    ("cookie-header", "Cookie: session=abc; theme=dark", "Cookie: [Filtered]"),
    ("pairs", "session=abc123; csrftoken=xyz&x=1", "session=[Filtered]; csrftoken=[Filtered]&x=1"),
    ("json-pair", '{"password": "hunter2"}', '{"password": "[Filtered]"}'),
    ("secret-is", "client secret is hunter2x9", "client secret is [Filtered]"),
    ("secret-is-letters", "client secret is abc", "client secret is [Filtered]"),
    ("password-colon-letters", "password: letmein", "password: [Filtered]"),
    ("token-colon-letters", "token: abcdefghijklmnop", "token: [Filtered]"),
    ("json-password-letters", '{"password": "letmein"}', '{"password": "[Filtered]"}'),
    ("pat-colon-letters", "ASANA_PAT: abcdefgh", "ASANA_PAT: [Filtered]"),
    ("password-with-symbols", "password: a!b@c", "password: [Filtered]"),
    ("github-token", "invalid token ghp_" + "a1" * 18, "invalid token [Filtered]"),
    ("token-word-then-value", "invalid token Zx81kq0Plm4Rt7Vb", "invalid token [Filtered]"),
    ("url-query", "GET https://h/x?api_key=1 failed", "GET https://h/x?[Filtered] failed"),
    ("datadog-key", "key 9f8e7d6c5b4a39281706f5e4d3c2b1a0 bad", "key [Filtered] bad"),
    ("live-secret", f"refused {CLIENT_SECRET}", "refused [Filtered]"),
]


@pytest.mark.parametrize(("before", "after"), [p[1:] for p in PATTERNS],
                         ids=[p[0] for p in PATTERNS])
def test_patterns_are_masked_in_any_text(before: str, after: str) -> None:
    assert observability.scrub_text(before, SECRETS) == after


# Text that looks like a pattern but is not personal data.
SURVIVES = [
    ("asana-gid", "task 1209876543210123 created"),
    ("ms-timestamp", "at 1732270000000"),
    ("card-failing-luhn", "ref 4111 1111 1111 1112"),
    ("pubsub-message-id", "message 13254632098745 acked"),
    ("iso-time", "at 2026-11-22T10:00:00.000000Z"),
    ("clock", "at 10:00:00"),
    ("date", "on 2026-11-22"),
    ("alert-key", "sentry:issue:4509123 datadog:cycle:7431902"),
    ("alert-key-pair", "alert_key=sentry:issue:1"),
    ("prose", "DATADOG_SECRET_TOKEN: not set in the environment; token is expired"),
    ("secret-manager", "secret manager unreachable"),
    ("token-is-article", "the token is a deployment error"),
    ("secret-was-adverb", "the secret was never stored"),
    ("secret-empty", "secret DATADOG_SECRET_TOKEN: empty value"),
    ("credentials-advice", "no Google credentials: run `gcloud auth application-default login`"),
    ("session-state", "session: closed"),
    ("code-in-a-frame", "def read(token: str, secret: Callable[[str], bool]) -> None:"),
    ("version", "python 3.11.4, sentry-sdk 2.75.0"),
    ("hex-word", "deadbeef cafe:babe"),
]


@pytest.mark.parametrize("text", [s[1] for s in SURVIVES], ids=[s[0] for s in SURVIVES])
def test_ids_times_and_prose_survive(text: str) -> None:
    assert observability.scrub_text(text, SECRETS) == text


CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
# Every part of an event the spec names, with personal data in it.
PARTS: list[tuple[str, dict[str, Any]]] = [
    ("message", _event(message=f"card {CARD}")),
    ("logentry-message", _event(logentry={"message": f"card {CARD}"})),
    ("logentry-params", _event(logentry={"message": "got %s", "params": [f"card {CARD}"]})),
    ("logentry-cookie-param", _event(logentry={"message": "cookie %s",
                                               "params": [f"session=s3ss10n; card {CARD}"]})),
    ("exception-value", _event(exception={"values": [{"type": "E", "value": f"card {CARD}"}]})),
    ("breadcrumb-message", _event(breadcrumbs={"values": [{"message": f"card {CARD}"}]})),
    ("breadcrumb-data", _event(breadcrumbs={"values": [{"data": {"x": [f"call {PHONE}"]}}]})),
    ("tags", _event(tags={"caller": f"call {PHONE}"})),
    ("extra", _event(extra={"note": {"deep": [f"card {CARD}"]}})),
    ("contexts", _event(contexts={"asana": {"error": f"card {CARD}"}})),
    ("request-headers", _event(request={"headers": {"X-Caller": f"call {PHONE}"}})),
    ("request-cookies", _event(request={"cookies": f"card={CARD}"})),
    ("request-query", _event(request={"query_string": f"card={CARD}"})),
    ("request-body", _event(request={"data": {"card": CARD}})),
    ("request-url", _event(request={"url": f"https://h/p?card={CARD}"})),
    ("user", _event(user={"phone": PHONE})),
    ("spans", _event(spans=[{"description": f"POST /tasks card {CARD}"}])),
]


@pytest.mark.parametrize("event", [p[1] for p in PARTS], ids=[p[0] for p in PARTS])
def test_every_part_of_an_event_is_scrubbed(event: dict[str, Any]) -> None:
    text = _scrubbed(event)
    assert CARD not in text and "1111" not in text and "7946" not in text


@pytest.mark.parametrize(("crumb", "leak"), [
    ({"message": "client secret is s3cr3t-value"}, "s3cr3t-value"),
    ({"message": "cookie", "data": {"params": ["sessionid=q1w2e3"]}}, "q1w2e3"),
    ({"category": "httplib", "data": {"url": "https://app.asana.com/x", "reason": CARD}}, CARD),
    ({"message": "owner", "data": {"who": "john.doe@example.com"}}, "john.doe"),
], ids=["secret-in-message", "cookie-in-params", "card-in-data", "email-in-data"])
def test_breadcrumbs_are_pattern_scrubbed(crumb: dict[str, Any], leak: str) -> None:
    result = scrub_breadcrumb(crumb, {}, SECRETS)
    assert result is not None and leak not in json.dumps(result)


def test_installed_packages_keep_their_names() -> None:
    result = scrub(_event(modules={"google-auth": "2.40.0", "sentry-sdk": "2.75.0"}), {}, ())
    assert result is not None and result["modules"] == {"google-auth": "2.40.0",
                                                        "sentry-sdk": "2.75.0"}


def test_the_sdk_scrubber_keeps_its_default_list_and_adds_ours() -> None:
    from sentry_sdk.scrubber import DEFAULT_DENYLIST

    denylist = observability.event_scrubber().denylist
    assert {key.lower() for key in DEFAULT_DENYLIST} <= set(denylist)
    assert {"pin", "ssn", "cvv", "asana_pat", "datadog_app_key"} <= set(denylist)


def test_the_start_up_line_never_shows_the_dsn_key() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "ENVIRONMENT": "staging",
                              "SENTRY_DSN": "https://abc123key@o1.ingest.sentry.io/42",
                              "SENTRY_RELEASE": "alert-bridge@1f2e3d4c5b6a"})
    fields = observability.reporting_fields(settings)
    assert fields == {"sentry_host": "o1.ingest.sentry.io", "sentry_project": "42",
                      "environment": "staging", "release": "alert-bridge@1f2e3d4c5b6a",
                      "traces_sample_rate": 0.1, "profiles_sample_rate": 0.1}
    assert "abc123key" not in json.dumps(fields)
