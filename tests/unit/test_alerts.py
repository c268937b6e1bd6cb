"""Parsing of every accepted webhook into one Alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.core.alert import Action, Alert
from shared.core.errors import Permanent
from shared.core.payload import parse_time
from shared.sources import alert_key, parse_alert
from shared.sources.datadog.parse import parse_tags

DATA = Path(__file__).resolve().parents[1] / "data"
RECEIVED_AT = "2026-11-22T08:00:00Z"
PAYMENT_TITLE = "PaymentError: Ошибка: 支払い失敗 — café"

# fixture file -> (source, resource attribute)
FIXTURES = {
    "sentry_event_alert.json": ("sentry", "event_alert"),
    "sentry_error.json": ("sentry", "error"),
    "sentry_issue_created.json": ("sentry", "issue"),
    "sentry_issue_resolved.json": ("sentry", "issue"),
    "sentry_issue_unresolved_regressed.json": ("sentry", "issue"),
    "sentry_issue_assigned.json": ("sentry", "issue"),
    "sentry_issue_ignored.json": ("sentry", "issue"),
    "sentry_metric_alert_critical.json": ("sentry", "metric_alert"),
    "sentry_metric_alert_resolved.json": ("sentry", "metric_alert"),
    "datadog_triggered.json": ("datadog", "datadog"),
    "datadog_recovered.json": ("datadog", "datadog"),
}


def _attributes(source: str, resource: str) -> dict[str, str]:
    return {
        "source": source,
        "resource": resource,
        "action": "",
        "received_at": RECEIVED_AT,
        "request_id": "req-1",
    }


def _parse(name: str) -> Alert:
    source, resource = FIXTURES[name]
    return parse_alert((DATA / name).read_bytes(), _attributes(source, resource))


def _payload(name: str) -> dict[str, object]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _parse_payload(payload: object, source: str, resource: str) -> Alert:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return parse_alert(body, _attributes(source, resource))


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


EXPECTED = [
    (
        "sentry_event_alert.json",
        {
            "key": "sentry:issue:4567890123",
            "action": Action.TRIGGERED,
            "title": "KeyError: 'owner'",
            "external_id": "4567890123",
            "url": "https://acme.sentry.io/issues/4567890123/events/"
            "9f2c1e7a4b8d4c3e9a1b2c3d4e5f6a7b/",
            "level": "error",
            "environment": "prod",  # only a tag in this payload
            "occurred_at": _utc(2026, 11, 20, 9, 14, 27, 418000),
            "project": "panther-alerts-api",
            "project_id": "4505123456789",
            "release": "panther-alerts-api@2.14.0",
            "culprit": "panther.investigate.views in get_investigation",
            "exception_type": "KeyError",
            "exception_value": "'owner'",
            "top_frame": "panther.investigate.serializers.serialize_owner "
            "(panther/investigate/serializers.py:41)",
            "request_url": "https://panther.example.com/investigate/123",
            "rule": "Panther API errors in prod",
        },
    ),
    (
        "sentry_error.json",
        {
            "key": "sentry:issue:5123456789",
            "action": Action.TRIGGERED,
            "title": PAYMENT_TITLE,
            "level": "fatal",
            "environment": "prod",
            # no offset in the payload: read as UTC
            "occurred_at": _utc(2026, 11, 20, 10, 2, 11, 5000),
            "project": "payments-api",
            # the chained exception raised last, and its innermost in-app frame
            "exception_type": "PaymentError",
            "exception_value": "Ошибка: 支払い失敗 — café",
            "top_frame": "payments.checkout.capture (payments/checkout.py:114)",
            "request_url": "https://pay.example.com/checkout/confirm",
        },
    ),
    (
        "sentry_issue_created.json",
        {
            "key": "sentry:issue:5123456789",
            "action": Action.TRIGGERED,
            "title": PAYMENT_TITLE,
            "url": "https://acme.sentry.io/issues/5123456789/",
            "level": "fatal",
            "occurred_at": _utc(2026, 11, 20, 10, 2, 11, 5000),
            "project": "payments-api",
            "project_id": "4505987654321",
            "top_frame": "capture (payments/checkout.py)",
        },
    ),
    (
        "sentry_issue_resolved.json",
        {"action": Action.RESOLVED, "actor": "Chloé Martin", "transition": "resolved"},
    ),
    (
        "sentry_issue_unresolved_regressed.json",
        {"action": Action.REOPENED, "occurred_at": _utc(2026, 11, 21, 7, 3, 9, 120000)},
    ),
    (
        "sentry_issue_assigned.json",
        {"action": Action.ASSIGNED, "assignee": "Chloé Martin"},
    ),
    ("sentry_issue_ignored.json",
     {"action": Action.IGNORED, "actor": "Chloé Martin",
      "status_details": (("ignoreUntilEscalating", "True"),
                         ("substatus", "archived_until_escalating"))}),
    (
        "sentry_metric_alert_critical.json",
        {
            "key": "sentry:metric:83",
            "action": Action.TRIGGERED,
            "title": "Checkout error rate too high",
            "external_id": "83",
            "url": "https://acme.sentry.io/alerts/rules/details/417/?alert=12",
            "level": "error",
            "environment": "prod",
            "occurred_at": _utc(2026, 11, 20, 10, 5),
            "project": "payments-api",
            "description": "142 events in the last 10 minutes\nFilter: transaction:/checkout/*",
        },
    ),
    (
        "sentry_metric_alert_resolved.json",
        {
            "key": "sentry:metric:83",
            "action": Action.RESOLVED,
            "level": None,
            "occurred_at": _utc(2026, 11, 20, 10, 47),  # when the incident closed
        },
    ),
    (
        "datadog_triggered.json",
        {
            "key": "datadog:cycle:7460311123456789012",
            "action": Action.TRIGGERED,
            "title": "Paiements : taux d'erreur élevé — 支払い",  # "[P2] [Triggered on …]" removed
            "external_id": "123456789",
            "monitor_id": "123456789",
            "url": "https://app.datadoghq.com/event/event?id=7460311123456789012",
            "priority": "P2",
            "environment": "prod",
            "occurred_at": _utc(2026, 11, 20, 9, 14, 27),
            "scope": "env:prod,service:payments-api",
            "transition": "Triggered",
            "request_url": "https://pay.example.com/checkout/confirm",
            "host": "gke-prod-pool-1-8f2c",
        },
    ),
    (
        "datadog_recovered.json",
        {
            "key": "datadog:cycle:7460311123456789012",  # same cycle as the trigger
            "action": Action.RESOLVED,
            "occurred_at": _utc(2026, 11, 20, 9, 41, 3),
        },
    ),
]


@pytest.mark.parametrize(("name", "expected"), EXPECTED, ids=[n for n, _ in EXPECTED])
def test_fixture_parses_to_expected_fields(name: str, expected: dict[str, object]) -> None:
    alert = _parse(name)
    actual = {field: getattr(alert, field) for field in expected}
    assert actual == expected


@pytest.mark.parametrize("name", sorted(FIXTURES), ids=sorted(FIXTURES))
def test_key_equals_ingest_alert_key(name: str) -> None:
    source, resource = FIXTURES[name]
    assert _parse(name).key == alert_key(source, resource, _payload(name))


@pytest.mark.parametrize("name", sorted(FIXTURES), ids=sorted(FIXTURES))
def test_every_fixture_has_a_title_and_aware_utc_time(name: str) -> None:
    alert = _parse(name)
    assert alert.title.strip()
    assert alert.occurred_at is not None
    assert alert.occurred_at.utcoffset() == timedelta(0)


ISSUE_ACTIONS = [
    ("created", None, Action.TRIGGERED),
    ("resolved", None, Action.RESOLVED),
    ("unresolved", "regressed", Action.REOPENED),
    ("unresolved", "escalating", Action.REOPENED),
    ("unresolved", None, Action.REOPENED),
    ("assigned", None, Action.ASSIGNED),
    ("ignored", "archived_until_escalating", Action.IGNORED),
    ("archived", "archived_forever", Action.IGNORED),
]


@pytest.mark.parametrize(
    ("action", "substatus", "expected"),
    ISSUE_ACTIONS,
    ids=[f"{a}-{s}" if s else a for a, s, _ in ISSUE_ACTIONS],
)
def test_sentry_issue_action_maps_to_alert_action(
    action: str, substatus: str | None, expected: Action
) -> None:
    payload = _payload("sentry_issue_created.json")
    payload["action"] = action
    payload["data"]["issue"]["substatus"] = substatus  # type: ignore[index]
    alert = _parse_payload(payload, "sentry", "issue")
    assert (alert.action, alert.transition) == (expected, action)


TRANSITIONS = [
    ("Triggered", Action.TRIGGERED),
    ("Re-Triggered", Action.TRIGGERED),
    ("Warn", Action.TRIGGERED),
    ("Re-Warn", Action.TRIGGERED),
    ("No Data", Action.TRIGGERED),
    ("Re-No Data", Action.TRIGGERED),
    ("Renotify", Action.TRIGGERED),
    ("Recovered", Action.RESOLVED),
]


@pytest.mark.parametrize(("transition", "expected"), TRANSITIONS, ids=[t for t, _ in TRANSITIONS])
def test_datadog_transition_maps_to_action(transition: str, expected: Action) -> None:
    payload = _payload("datadog_triggered.json")
    payload["alert_transition"] = transition
    assert _parse_payload(payload, "datadog", "datadog").action is expected


METRIC_ACTIONS = [
    ("critical", Action.TRIGGERED, "error"),
    ("warning", Action.TRIGGERED, "warning"),
    ("resolved", Action.RESOLVED, None),
]


@pytest.mark.parametrize(
    ("action", "expected", "level"), METRIC_ACTIONS, ids=[a for a, _, _ in METRIC_ACTIONS]
)
def test_sentry_metric_action_maps_to_action_and_level(
    action: str, expected: Action, level: str | None
) -> None:
    payload = _payload("sentry_metric_alert_critical.json")
    payload["action"] = action
    alert = _parse_payload(payload, "sentry", "metric_alert")
    assert (alert.action, alert.level) == (expected, level)


TAGS = [
    ("env:prod", (("env", "prod"),)),
    (
        "url:https://pay.example.com:8443/x,service:api",
        (("url", "https://pay.example.com:8443/x"), ("service", "api")),
    ),
    ("canary, role:web ,", (("canary", ""), ("role", "web"))),
    ("time:12:30:00", (("time", "12:30:00"),)),
    ("", ()),
]


@pytest.mark.parametrize(("raw", "expected"), TAGS, ids=["plain", "url", "bare", "clock", "empty"])
def test_datadog_tags_split_on_first_colon_only(raw: str, expected: tuple[object, ...]) -> None:
    assert parse_tags(raw) == expected


def test_datadog_scope_tags_fill_in_tags_missing_from_tags() -> None:
    payload = _payload("datadog_triggered.json")
    payload["tags"] = "env:prod"
    payload["alert_scope"] = "env:staging,service:payments-api"
    fields = _parse_payload(payload, "datadog", "datadog").match_fields()
    assert (fields["env"], fields["service"]) == ("prod", "payments-api")


PRIORITIES = [("P1", "P1"), ("p3", "P3"), (" P5 ", "P5"), ("", None), ("urgent", None)]


@pytest.mark.parametrize(
    ("raw", "expected"), PRIORITIES, ids=["P1", "lower", "spaces", "empty", "bad"]
)
def test_datadog_priority_is_normalized(raw: str, expected: str | None) -> None:
    payload = _payload("datadog_triggered.json")
    payload["alert_priority"] = raw
    assert _parse_payload(payload, "datadog", "datadog").priority == expected


def _without(name: str, *path: str) -> dict[str, object]:
    payload = _payload(name)
    node: dict[str, object] = payload
    for step in path[:-1]:
        node = node[step]  # type: ignore[assignment]
    del node[path[-1]]
    return payload


MISSING = [
    (
        _without("sentry_event_alert.json", "data", "event", "issue_id"),
        ("sentry", "event_alert"),
        "sentry event_alert webhook: data.event.issue_id missing",
    ),
    (
        _without("sentry_event_alert.json", "data", "event"),
        ("sentry", "event_alert"),
        "sentry event_alert webhook: data.event missing",
    ),
    (
        _without("sentry_error.json", "data", "error", "issue_id"),
        ("sentry", "error"),
        "sentry error webhook: data.error.issue_id missing",
    ),
    (
        _without("sentry_issue_created.json", "data", "issue", "id"),
        ("sentry", "issue"),
        "sentry issue webhook: data.issue.id missing",
    ),
    (
        _without("sentry_issue_created.json", "data"),
        ("sentry", "issue"),
        "sentry issue webhook: data missing",
    ),
    (
        _without("sentry_metric_alert_critical.json", "data", "metric_alert", "id"),
        ("sentry", "metric_alert"),
        "sentry metric_alert webhook: data.metric_alert.id missing",
    ),
    (
        _without("datadog_triggered.json", "id") | {"alert_cycle_key": ""},
        ("datadog", "datadog"),
        "datadog webhook: alert_cycle_key or id missing",
    ),
]


@pytest.mark.parametrize(
    ("payload", "attrs", "message"),
    MISSING,
    ids=["event-issue_id", "event", "error-issue_id", "issue-id", "data", "incident-id", "datadog"],
)
def test_missing_field_is_permanent_and_named(
    payload: dict[str, object], attrs: tuple[str, str], message: str
) -> None:
    with pytest.raises(Permanent, match=f"^{message}$"):
        _parse_payload(payload, *attrs)


BAD_BODIES = [
    (b"\xff\xfe not utf-8", ("sentry", "issue"), "sentry issue webhook: body is not valid UTF-8"),
    (b"<html>", ("datadog", "datadog"), "datadog webhook: body is not JSON"),
    (b"[1, 2]", ("sentry", "error"), "sentry error webhook: body is not a JSON object"),
    (b"{}", ("pagerduty", "x"), "attribute 'source' is 'pagerduty'"),
    (b"{}", ("sentry", "installation"), "attribute 'resource' is 'installation'"),
    (b"{}", ("sentry", ""), "attribute 'resource' is None"),
]


@pytest.mark.parametrize(
    ("body", "attrs", "message"),
    BAD_BODIES,
    ids=["bad-utf8", "not-json", "not-object", "unknown-source", "unknown-resource", "no-resource"],
)
def test_unprocessable_body_is_permanent(body: bytes, attrs: tuple[str, str], message: str) -> None:
    with pytest.raises(Permanent, match=message):
        parse_alert(body, _attributes(*attrs))


@pytest.mark.parametrize(
    ("name", "resource", "action"),
    [
        ("sentry_issue_created.json", "issue", "unassigned"),
        ("sentry_metric_alert_critical.json", "metric_alert", "escalated"),
    ],
    ids=["issue", "metric_alert"],
)
def test_unknown_sentry_action_is_permanent(name: str, resource: str, action: str) -> None:
    payload = _payload(name)
    payload["action"] = action
    with pytest.raises(Permanent, match=f"webhook: action '{action}' not supported"):
        _parse_payload(payload, "sentry", resource)


def test_permanent_reason_is_bad_payload() -> None:
    with pytest.raises(Permanent) as caught:
        parse_alert(b"nope", _attributes("sentry", "issue"))
    assert caught.value.reason == "bad_payload"


TITLE_FALLBACKS = [
    ({"title": ""}, PAYMENT_TITLE),
    ({"title": "", "exception": None}, "payments.checkout in capture"),
    ({"title": None, "exception": None, "culprit": " "}, "Sentry issue 5123456789"),
]


@pytest.mark.parametrize(
    ("changes", "expected"), TITLE_FALLBACKS, ids=["exception", "culprit", "issue-id"]
)
def test_sentry_event_title_falls_back(changes: dict[str, object], expected: str) -> None:
    payload = _payload("sentry_error.json")
    payload["data"]["error"].update(changes)  # type: ignore[index]
    assert _parse_payload(payload, "sentry", "error").title == expected


def test_datadog_title_falls_back_to_monitor_id() -> None:
    payload = _payload("datadog_triggered.json") | {"title": "", "alert_title": ""}
    assert _parse_payload(payload, "datadog", "datadog").title == "Datadog monitor 123456789"


def test_datadog_without_cycle_key_is_keyed_by_event_id() -> None:
    payload = _payload("datadog_triggered.json") | {"alert_cycle_key": ""}
    assert _parse_payload(payload, "datadog", "datadog").key == "datadog:event:7460311123456789012"


def test_missing_timestamp_falls_back_to_received_at() -> None:
    payload = _payload("datadog_triggered.json") | {"date": ""}
    assert _parse_payload(payload, "datadog", "datadog").occurred_at == _utc(2026, 11, 22, 8)


def test_non_ascii_body_is_preserved_byte_for_byte() -> None:
    body = (DATA / "sentry_error.json").read_bytes()
    alert = parse_alert(body, _attributes("sentry", "error"))
    assert PAYMENT_TITLE.encode("utf-8") in body
    assert alert.title == PAYMENT_TITLE


def test_event_without_in_app_frame_has_no_top_frame() -> None:
    payload = _payload("sentry_event_alert.json")
    for frame in payload["data"]["event"]["exception"]["values"][0]["stacktrace"]["frames"]:  # type: ignore[index]
        frame["in_app"] = False
    assert _parse_payload(payload, "sentry", "event_alert").top_frame is None


TIMES = [
    ("2019-08-19T21:06:17.677000Z", _utc(2019, 8, 19, 21, 6, 17, 677000)),
    ("2019-08-19T21:06:17", _utc(2019, 8, 19, 21, 6, 17)),
    ("2019-08-19T23:06:17+02:00", _utc(2019, 8, 19, 21, 6, 17)),
    ("1406662672000", _utc(2014, 7, 29, 19, 37, 52)),
    (1406662672, _utc(2014, 7, 29, 19, 37, 52)),
    ("yesterday", None),
    (True, None),
    ("", None),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    TIMES,
    ids=["iso-z", "iso-naive", "iso-offset", "epoch-ms", "epoch-s", "garbage", "bool", "empty"],
)
def test_parse_time_returns_aware_utc(raw: object, expected: datetime | None) -> None:
    assert parse_time(raw) == expected


MATCH_FIELDS = [
    ("sentry_event_alert.json", "server_name", "panther-alerts-api"),
    ("sentry_event_alert.json", "url", "https://panther.example.com/investigate/123"),
    ("sentry_event_alert.json", "project", "panther-alerts-api"),
    ("sentry_event_alert.json", "environment", "prod"),
    ("sentry_error.json", "team", "payments"),
    ("sentry_error.json", "service", "payments-api"),
    ("sentry_error.json", "zap_region", "europe-west1"),
    ("sentry_issue_created.json", "level", "fatal"),
    ("sentry_metric_alert_critical.json", "rule", "Checkout error rate too high"),
    ("datadog_triggered.json", "monitor", "123456789"),
    ("datadog_triggered.json", "team", "payments"),
    ("datadog_triggered.json", "environment", "prod"),
    ("datadog_triggered.json", "server_name", "gke-prod-pool-1-8f2c"),
    ("datadog_triggered.json", "canary", ""),
]


@pytest.mark.parametrize(
    ("name", "key", "value"), MATCH_FIELDS, ids=[f"{n[:-5]}-{k}" for n, k, _ in MATCH_FIELDS]
)
def test_match_fields_expose_routing_keys(name: str, key: str, value: str) -> None:
    assert _parse(name).match_fields()[key] == value


def test_bare_tag_does_not_hide_derived_key() -> None:
    alert = Alert(
        source="datadog",
        resource="datadog",
        key="datadog:cycle:1",
        action=Action.TRIGGERED,
        title="t",
        monitor_id="42",
        tags=(("monitor", ""),),
    )
    assert alert.match_fields()["monitor"] == "42"


def test_issue_assigned_to_a_team_says_team() -> None:
    payload = json.loads((DATA / "sentry_issue_assigned.json").read_text())
    payload["data"]["issue"]["assignedTo"] = {"type": "team", "id": "4", "name": "backend"}
    alert = parse_alert(json.dumps(payload).encode(), {"source": "sentry", "resource": "issue"})
    assert alert.assignee == "team backend"
