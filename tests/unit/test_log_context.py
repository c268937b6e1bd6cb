"""One alert, one filter: the request id and the trace on every line logged for it."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.adapters.asana import AsanaRejected
from shared.core import logs
from shared.flows.worker import handle_request
from tests.unit.test_worker import DATA, World

PROJECT = "alert-bridge-prod"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

# (id, request headers, the trace field expected)
TRACES: list[tuple[str, dict[str, str], str | None]] = [
    ("traceparent", {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}, TRACE),
    ("cloud-trace", {"x-cloud-trace-context": f"{TRACE.upper()}/12345;o=1"}, TRACE),
    ("cloud-trace-bare", {"x-cloud-trace-context": TRACE}, TRACE),
    ("traceparent-wins", {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-00",
                          "x-cloud-trace-context": f"{'1' * 32}/1"}, TRACE),
    ("bad-traceparent-falls-back", {"traceparent": "00-xyz-1-01",
                                    "x-cloud-trace-context": f"{TRACE}/1;o=1"}, TRACE),
    ("all-zero-trace", {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, None),
    ("malformed", {"x-cloud-trace-context": "nonsense"}, None),
    ("none", {}, None),
]


@pytest.mark.parametrize(("headers", "trace"), [t[1:] for t in TRACES],
                         ids=[t[0] for t in TRACES])
def test_trace_field_from_request_headers(headers: dict[str, str], trace: str | None) -> None:
    expected = {logs.TRACE_FIELD: f"projects/{PROJECT}/traces/{trace}"} if trace else {}
    assert logs.trace_fields(headers, PROJECT) == expected


@pytest.fixture()
def lines() -> Iterator[io.StringIO]:
    """Capture the shared.* loggers' JSON lines, through the handler logs.configure builds."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFields())
    root = logging.getLogger("shared")
    saved = (root.handlers, root.level, root.propagate)
    root.handlers, root.propagate = [handler], False
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers, root.level, root.propagate = saved[0], saved[1], saved[2]


def _parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_bound_fields_reach_every_line_and_end_with_the_request(lines: io.StringIO) -> None:
    log = logging.getLogger("shared.test")

    def request() -> None:
        logs.bind(request_id="r-1", **logs.trace_fields({"traceparent": f"00-{TRACE}-"
                                                         "00f067aa0ba902b7-01"}, PROJECT))
        log.info("one")
        log.info("two", extra={"request_id": "explicit"})

    logs.isolated(request)
    log.info("after")
    one, two, after = _parsed(lines)
    assert one["request_id"] == "r-1"
    assert one[logs.TRACE_FIELD] == f"projects/{PROJECT}/traces/{TRACE}"
    assert two["request_id"] == "explicit"  # a record's own field wins
    assert "request_id" not in after and logs.TRACE_FIELD not in after


def _push(world: World, request_id: str) -> int:
    data = (DATA / "sentry_event_alert.json").read_bytes()
    envelope = {"subscription": "projects/p/subscriptions/s", "message": {
        "data": base64.b64encode(data).decode(), "messageId": world.next_id(),
        "publishTime": "2026-11-25T12:00:00Z",
        "attributes": {"source": "sentry", "resource": "event_alert",
                       "received_at": "2026-11-25T12:00:00+00:00", "request_id": request_id}}}
    return logs.isolated(handle_request, "POST", json.dumps(envelope).encode(), world.deps).status


def test_every_worker_line_for_an_alert_carries_the_ingest_request_id(
        lines: io.StringIO) -> None:
    world = World()
    assert _push(world, "ingest-req-1") == 200
    world.tracker.failures.append(AsanaRejected("asana: 400 bad", status=400))
    assert _push(world, "ingest-req-2") == 200
    parsed = _parsed(lines)
    assert {line["event"] for line in parsed} >= {"decision", "task_created"}
    assert [line["request_id"] for line in parsed] == ["ingest-req-1"] * 2 + ["ingest-req-2"] * (
        len(parsed) - 2)


def test_outside_error_text_is_masked_in_the_dead_letter_attribute(lines: io.StringIO) -> None:
    world = World()
    world.tracker.failures.append(AsanaRejected(
        "asana POST /tasks: 400 name: card 4111 1111 1111 1111, call 555-123-4567, "
        "host 203.0.113.9, ssn 123-45-6789", status=400))
    assert _push(world, "r") == 200
    error = world.dead[0][1]["dead_letter_error"]
    assert error == ("asana POST /tasks: 400 name: card XXXX-XXXX-XXXX-XXXX, call XXX-XXX-4567, "
                     "host XXX.XXX.XXX.XXX, ssn XXX-XX-XXXX")
