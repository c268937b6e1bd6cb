"""Alertmanager's webhook: who may post, one message per alert, and the alert each one is."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.core.alert import Action
from shared.core.errors import ConfigError, Permanent, Transient
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.routing.priority import explain_priority, priority_for
from shared.routing.tasks import render_task
from shared.routing.teams import PriorityMap
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES, parse_alert
from shared.sources.alertmanager.ingest import authorized
from shared.sources.base import Webhook

DATA = Path(__file__).resolve().parents[3] / "data" / "alertmanager"
REPO = Path(__file__).resolve().parents[4]
FIRING = (DATA / "firing.json").read_bytes()
RESOLVED = (DATA / "resolved.json").read_bytes()
NOW = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
TOKEN, PREVIOUS = "am-token-now", "am-token-before"


class Topic:
    """Collect published messages; optionally fail like an unreachable Pub/Sub."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self.fail_after = fail_after

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            raise Transient("publish failed: unavailable")
        self.messages.append((data, dict(attributes)))
        return f"m{len(self.messages)}"


def secrets(name: str) -> tuple[str, ...]:
    if name != "ALERTMANAGER_TOKEN":
        raise ConfigError(f"secret {name}: not set")
    return (TOKEN, PREVIOUS)


def deps(topic: Topic) -> IngestDeps:
    return IngestDeps(secret=secrets, publish=topic.publish, now=lambda: NOW,
                      max_body_bytes=1 << 20)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def hook(body: bytes = FIRING, authorization: str | None = f"Bearer {TOKEN}",
         path: str = "/alertmanager", agent: str = "Alertmanager/0.27.0") -> Webhook:
    headers = {"user-agent": agent, "content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return Webhook("POST", headers, body, "req-am", path=path)


@pytest.mark.parametrize(("header", "ok"), [
    (f"Bearer {TOKEN}", True),
    (f"bearer {PREVIOUS}", True),  # the scheme is case-insensitive; the previous token rotates out
    (basic("alertmanager", TOKEN), True),
    (basic("anyone", PREVIOUS), True),
    (basic("alertmanager", "wrong"), False),
    ("Bearer wrong", False),
    (f"Bearer {TOKEN}x", False),
    ("Bearer ", False),
    (TOKEN, False),  # no scheme
    (f"Token {TOKEN}", False),
    ("Basic !!!not-base64", False),
    ("Basic " + base64.b64encode(TOKEN.encode()).decode(), False),  # no colon
    ("", False),
    (None, False),
], ids=["bearer", "bearer-previous", "basic", "basic-previous", "basic-wrong", "bearer-wrong",
        "bearer-longer", "bearer-empty", "bare", "other-scheme", "basic-garbage", "basic-no-colon",
        "empty", "none"])
def test_authorization(header: str | None, ok: bool) -> None:
    assert authorized(header, (TOKEN, PREVIOUS)) is ok


def test_basic_user_colon_password_may_be_the_secret() -> None:
    assert authorized(basic("am", "pw"), ("am:pw",))
    assert not authorized(basic("other", "pw"), ("am:pw",))


def test_a_notification_publishes_one_message_per_alert() -> None:
    topic = Topic()
    answer = handle_webhook(hook(), deps(topic))
    assert answer.status == 202
    assert [a["alert_key"] for _, a in topic.messages] == [
        "alertmanager:4c1f3a9e2b7d8c60", "alertmanager:9a0b2e4d6f81c3e5"]
    assert {body for body, _ in topic.messages} == {FIRING}
    first = topic.messages[0][1]
    assert (first["source"], first["resource"], first["action"]) == (
        "alertmanager", "alertmanager", "firing")
    assert first["source_time"] == "2026-11-25T11:52:30.123+00:00"  # startsAt
    assert "delivery_id" not in first


def test_a_resolve_is_timed_by_its_end() -> None:
    topic = Topic()
    assert handle_webhook(hook(RESOLVED), deps(topic)).status == 202
    [(_, attributes)] = topic.messages
    assert attributes["action"] == "resolved"
    assert attributes["source_time"] == "2026-11-25T12:04:30.789+00:00"  # endsAt


def test_a_time_ahead_of_our_clock_is_taken_as_our_receipt() -> None:
    payload = json.loads(FIRING)
    payload["alerts"][0]["startsAt"] = "2027-01-01T00:00:00Z"
    topic = Topic()
    handle_webhook(hook(json.dumps(payload).encode()), deps(topic))
    assert topic.messages[0][1]["source_time"] == NOW.isoformat(timespec="milliseconds")


def test_an_alert_listed_twice_is_published_once() -> None:
    payload = json.loads(FIRING)
    payload["alerts"].append(payload["alerts"][0])
    topic = Topic()
    handle_webhook(hook(json.dumps(payload).encode()), deps(topic))
    assert len(topic.messages) == 2


@pytest.mark.parametrize(("request_", "status"), [
    (hook(authorization=None), 401),
    (hook(authorization="Bearer wrong"), 401),
    (hook(authorization=basic("am", "wrong")), 401),
    (hook(authorization=None, agent="curl/8"), 401),  # claimed by its path
    (hook(authorization=None, path="/"), 401),  # claimed by its User-Agent
    (hook(b"{not json"), 400),
    (hook(b"[]"), 400),
    (hook(b'{"version": "4"}'), 400),
    (hook(b'{"alerts": [{"status": "firing"}]}'), 400),
    (hook(b'{"alerts": [{"fingerprint": "a", "status": "pending"}]}'), 400),
    (hook(b'{"alerts": ["x"]}'), 400),
    (hook(b'{"alerts": [{"fingerprint": "\\ud800", "status": "firing"}]}'), 400),
    (hook(json.dumps({"alerts": [{"fingerprint": "f" * 2000, "status": "firing"}]}).encode()),
     400),
], ids=["no-auth", "wrong-bearer", "wrong-basic", "path", "user-agent", "not-json", "not-object",
        "no-alerts", "no-fingerprint", "bad-status", "alert-not-object", "surrogate", "long-key"])
def test_bad_requests_publish_nothing(request_: Webhook, status: int,
                                      caplog: pytest.LogCaptureFixture) -> None:
    topic = Topic()
    with caplog.at_level(logging.WARNING):
        answer = handle_webhook(request_, deps(topic))
    assert answer.status == status
    assert topic.messages == []
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert record.source == "alertmanager"
    assert TOKEN not in caplog.text


def test_an_empty_group_is_answered_and_ignored() -> None:
    topic = Topic()
    answer = handle_webhook(hook(b'{"version": "4", "alerts": []}'), deps(topic))
    assert (answer.status, topic.messages) == (200, [])


def test_a_publish_failure_is_a_5xx_so_alertmanager_retries() -> None:
    # Alertmanager retries a webhook only on a 5xx; the alerts published before the failure
    # are published again then, and the worker recognises the same body for the same alert.
    topic = Topic(fail_after=1)
    answer = handle_webhook(hook(), deps(topic))
    assert answer.status == 503
    assert len(topic.messages) == 1


def test_a_missing_token_is_a_503_not_a_401() -> None:
    def unset(name: str) -> tuple[str, ...]:
        raise ConfigError(f"secret {name}: not set")

    topic = Topic()
    answer = handle_webhook(hook(), IngestDeps(secret=unset, publish=topic.publish,
                                               now=lambda: NOW, max_body_bytes=1 << 20))
    assert (answer.status, topic.messages) == (503, [])


def _published(body: bytes = FIRING) -> list[tuple[bytes, dict[str, str]]]:
    topic = Topic()
    handle_webhook(hook(body), deps(topic))
    return topic.messages


def test_each_message_parses_to_its_own_alert() -> None:
    alerts = [parse_alert(body, attributes) for body, attributes in _published()]
    assert [a.key for a in alerts] == ["alertmanager:4c1f3a9e2b7d8c60",
                                       "alertmanager:9a0b2e4d6f81c3e5"]
    first = alerts[0]
    assert first.action is Action.TRIGGERED
    assert first.title == "Pod payments/checkout-7d9f8b6c5-x2k4q is crash looping"
    assert first.external_id == "4c1f3a9e2b7d8c60"
    assert first.level == "critical"
    assert first.rule == "KubePodCrashLooping"
    assert first.occurred_at == datetime(2026, 11, 25, 11, 52, 30, 123000, tzinfo=UTC)
    assert first.url is not None and first.url.startswith("https://prometheus.example.com/graph")
    assert [label for label, _ in first.links] == ["Prometheus expression", "Alertmanager",
                                                   "Runbook"]
    fields = first.match_fields()
    assert {k: fields[k] for k in ("alertname", "namespace", "cluster", "pod", "team",
                                   "severity", "level", "rule", "source", "resource")} == {
        "alertname": "KubePodCrashLooping", "namespace": "payments", "cluster": "prod-eu",
        "pod": "checkout-7d9f8b6c5-x2k4q", "team": "payments", "severity": "critical",
        "level": "critical", "rule": "KubePodCrashLooping", "source": "alertmanager",
        "resource": "alertmanager"}


def test_the_resolve_parses_to_a_resolve_at_its_end() -> None:
    [(body, attributes)] = _published(RESOLVED)
    alert = parse_alert(body, attributes)
    assert (alert.key, alert.action) == ("alertmanager:4c1f3a9e2b7d8c60", Action.RESOLVED)
    assert alert.occurred_at == datetime(2026, 11, 25, 12, 4, 30, 789000, tzinfo=UTC)


def test_truncated_alerts_are_noted_on_the_task() -> None:
    payload = json.loads(FIRING)
    payload["truncatedAlerts"] = 3
    body, attributes = _published(json.dumps(payload).encode())[0]
    alert = parse_alert(body, attributes)
    config = load_teams(str(REPO / "teams.yaml"))
    draft = render_task(alert, config.teams[0], config, "High", "1", "why", "board")
    assert "3 more alert(s) of this group were not sent" in draft.notes
    assert "https://alertmanager.example.com" in draft.notes
    assert "Alertmanager alert" in draft.notes


def test_a_message_whose_alert_is_not_in_the_body_is_permanent() -> None:
    with pytest.raises(Permanent, match="no alert of the body"):
        parse_alert(FIRING, {"source": "alertmanager", "resource": "alertmanager",
                             "alert_key": "alertmanager:gone"})


def test_without_a_key_the_first_alert_is_taken() -> None:
    alert = parse_alert(FIRING, {"source": "alertmanager", "resource": "alertmanager"})
    assert alert.key == "alertmanager:4c1f3a9e2b7d8c60"


@pytest.mark.parametrize(("severity", "priority"), [
    ("critical", "High"), ("warning", "Medium"), ("info", "Low"), ("none", "Low"),
    ("Critical", "High"), ("weird", "High"), (None, "High")])
def test_the_severity_label_gives_the_priority(severity: str | None, priority: str) -> None:
    payload = json.loads(RESOLVED)
    labels = payload["alerts"][0]["labels"]
    labels.pop("severity")
    if severity is not None:
        labels["severity"] = severity
    alert = parse_alert(json.dumps(payload).encode(), {"source": "alertmanager"})
    assert priority_for(alert, PriorityMap()) == priority
    assert "Alertmanager" in explain_priority(alert, PriorityMap())


def test_teams_yaml_overrides_the_severity_table(tmp_path: Path) -> None:
    text = (REPO / "teams.yaml").read_text()
    text = text.replace("    alertmanager: {", "    alertmanager: {p9: Low, ", 1)
    text = text.replace("warning: Medium,\n                   medium", "warning: High,\n"
                        "                   medium", 1)
    path = tmp_path / "teams.yaml"
    path.write_text(text)
    table = load_teams(str(path)).priority.alertmanager
    assert (table["warning"], table["p9"], table["critical"]) == ("High", "Low", "High")


def test_explain_route_recognises_a_saved_notification() -> None:
    source = SOURCES.named("alertmanager")
    assert source is not None and source.sniff is not None
    assert source.sniff(json.loads(FIRING)) == "alertmanager"
    assert source.sniff({"version": "1", "alerts": [], "groupKey": "x"}) is None
    assert SOURCES.alert_key("alertmanager", "alertmanager", json.loads(FIRING)) \
        == "alertmanager:4c1f3a9e2b7d8c60"


@pytest.mark.parametrize(("truncated", "noted"), [(3, True), (0, False), (-1, False),
                                                  (True, False), ("3", False), (None, False)])
def test_only_a_positive_count_of_left_out_alerts_is_noted(truncated: object,
                                                           noted: bool) -> None:
    payload = json.loads(RESOLVED)
    payload["truncatedAlerts"] = truncated
    alert = parse_alert(json.dumps(payload).encode(), {"source": "alertmanager"})
    assert bool(alert.facts) is noted


def test_odd_but_harmless_alert_fields() -> None:
    payload = json.loads(RESOLVED)
    alert = payload["alerts"][0]
    alert["status"] = "RESOLVED"  # read case-insensitively
    alert["endsAt"] = "0001-01-01T00:00:00Z"  # unknown: no source time, the receipt instead
    alert["labels"] |= {"nested": {"a": 1}, "list": [1], "number": 5, " ": "blank name"}
    topic = Topic()
    assert handle_webhook(hook(json.dumps(payload).encode()), deps(topic)).status == 202
    [(body, attributes)] = topic.messages
    assert "source_time" not in attributes and attributes["action"] == "resolved"
    parsed = parse_alert(body, attributes)
    assert parsed.action is Action.RESOLVED and parsed.occurred_at == NOW
    assert dict(parsed.tags)["number"] == "5"
    assert not {"nested", "list", " ", ""} & set(dict(parsed.tags))
