"""Scrubbing of the service's own Sentry events: what must go, what must stay."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from shared import observability
from shared.errors import ConfigError
from shared.observability import FILTERED, live_secrets, scrub, scrub_breadcrumb
from shared.settings import load_settings

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
           "names": "x_token=" * 12_500, "hex": "ab" * 50_000}


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
    ("log-message", {"category": "shared.worker", "message": f"retry with {PAT}"}, PAT),
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
    crumb = {"type": "log", "category": "shared.worker", "level": "warning",
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
