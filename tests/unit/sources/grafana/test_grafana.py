"""Grafana's webhook contact point: the HMAC signature and its timestamp, one message per
alert, and the alert each one is."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.core.alert import Action
from shared.core.errors import ConfigError, Transient
from shared.core.settings import load_settings
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.routing.priority import priority_for
from shared.routing.tasks import render_task
from shared.routing.teams import PriorityMap
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES, parse_alert
from shared.sources.base import Webhook
from shared.sources.grafana.verify import Signing, signature, why_refused

DATA = Path(__file__).resolve().parents[3] / "data"
REPO = Path(__file__).resolve().parents[4]
FIRING = (DATA / "grafana" / "firing.json").read_bytes()
RESOLVED = (DATA / "grafana" / "resolved.json").read_bytes()
VENDOR = (DATA / "vendor" / "grafana" / "alerting-test-default-payload-one-alert.json").read_bytes()
NOW = datetime(2026, 11, 25, 12, 10, tzinfo=UTC)
SECRET, PREVIOUS = "grafana-secret-now", "grafana-secret-before"
STAMP_HEADER = "X-Grafana-Alerting-Timestamp"
STAMPED = Signing(timestamp_header=STAMP_HEADER, replay_window_seconds=300)


class Topic:
    """Collect published messages; optionally fail like an unreachable Pub/Sub."""

    def __init__(self, fail: bool = False) -> None:
        self.messages: list[tuple[bytes, dict[str, str]]] = []
        self.fail = fail

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if self.fail:
            raise Transient("publish failed: unavailable")
        self.messages.append((data, dict(attributes)))
        return f"m{len(self.messages)}"


def secrets(name: str) -> tuple[str, ...]:
    if name != "GRAFANA_WEBHOOK_SECRET":
        raise ConfigError(f"secret {name}: not set")
    return (SECRET, PREVIOUS)


def deps(topic: Topic, signing: Signing | None = None) -> IngestDeps:
    services: dict[str, Any] = {} if signing is None else {"grafana": lambda: signing}
    return IngestDeps(secret=secrets, publish=topic.publish, now=lambda: NOW,
                      max_body_bytes=1 << 20, services=services)


def hook(body: bytes = FIRING, secret: str | None = SECRET, stamp: str | None = None,
         path: str = "/grafana", sign_stamp: str | None = None) -> Webhook:
    headers = {"content-type": "application/json", "user-agent": "Grafana"}
    if secret is not None:
        headers["x-grafana-alerting-signature"] = signature(
            secret, body, sign_stamp if sign_stamp is not None else stamp)
    if stamp is not None:
        headers[STAMP_HEADER.lower()] = stamp
    return Webhook("POST", headers, body, "req-gf", path=path)


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


@pytest.mark.parametrize(("case", "signing", "refused"), [
    (hook(), Signing(), None),
    (hook(secret=PREVIOUS), Signing(), None),
    (hook(path="/"), Signing(), None),  # claimed by its header
    (hook(secret="wrong"), Signing(), "X-Grafana-Alerting-Signature wrong"),
    (hook(secret=None), Signing(), "no X-Grafana-Alerting-Signature header"),
    (hook(stamp=unix(NOW)), STAMPED, None),
    (hook(stamp=unix(NOW - timedelta(seconds=299))), STAMPED, None),
    (hook(stamp=unix(NOW - timedelta(seconds=301))), STAMPED, "outside the 300 s replay window"),
    (hook(stamp=unix(NOW + timedelta(seconds=301))), STAMPED, "outside the 300 s replay window"),
    (hook(), STAMPED, "missing or not a Unix time"),  # the timestamp header is required
    (hook(stamp="soon"), STAMPED, "missing or not a Unix time"),
    (hook(stamp="9" * 40), STAMPED, "missing or not a Unix time"),
    (hook(stamp=unix(NOW), sign_stamp=unix(NOW - timedelta(seconds=1))), STAMPED,
     "X-Grafana-Alerting-Signature wrong"),  # the timestamp is signed
    (hook(stamp=unix(NOW), sign_stamp=""), STAMPED, "wrong"),  # the body alone is not enough
], ids=["signed", "previous-secret", "header-claims", "wrong-secret", "unsigned", "stamped",
        "stamped-299s", "stamped-301s-old", "stamped-301s-ahead", "stamp-missing",
        "stamp-garbage", "stamp-huge", "stamp-changed", "stamp-not-signed"])
def test_signature(case: Webhook, signing: Signing, refused: str | None) -> None:
    why = why_refused(case.body, case.headers, (SECRET, PREVIOUS), signing, NOW)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_a_changed_byte_of_the_body_fails() -> None:
    case = hook()
    for index in (0, len(FIRING) // 2, len(FIRING) - 2):
        changed = bytearray(case.body)
        changed[index] ^= 0x01
        assert why_refused(bytes(changed), case.headers, (SECRET,), Signing(), NOW) is not None


def test_the_signature_is_grafanas_documented_one() -> None:
    # hex(HMAC-SHA256(secret, timestamp + ":" + body)), as Grafana's docs give it.
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000:{}", hashlib.sha256).hexdigest()
    assert signature("k", b"{}", "1700000000") == expected
    assert signature("k", b"{}") == hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_a_custom_signature_header_is_read() -> None:
    case = Webhook("POST", {"x-sig": signature(SECRET, FIRING)}, FIRING, "r", path="/grafana")
    assert why_refused(FIRING, case.headers, (SECRET,), Signing(signature_header="X-Sig"),
                       NOW) is None


def test_a_notification_publishes_one_message_per_alert() -> None:
    payload = json.loads(FIRING)
    second = dict(payload["alerts"][0], fingerprint="0a1b2c3d4e5f6071")
    payload["alerts"].append(second)
    body = json.dumps(payload).encode()
    topic = Topic()
    assert handle_webhook(hook(body), deps(topic)).status == 202
    assert [a["alert_key"] for _, a in topic.messages] == ["grafana:1:7e1f2d9c4a3b5e60",
                                                           "grafana:1:0a1b2c3d4e5f6071"]
    attributes = topic.messages[0][1]
    assert (attributes["source"], attributes["resource"], attributes["action"]) == (
        "grafana", "grafana", "firing")
    assert attributes["source_time"] == "2026-11-25T11:40:00.000+00:00"


def test_a_stamped_notification_goes_through_ingest() -> None:
    topic = Topic()
    answer = handle_webhook(hook(RESOLVED, stamp=unix(NOW)), deps(topic, STAMPED))
    assert answer.status == 202
    [(_, attributes)] = topic.messages
    assert (attributes["action"], attributes["source_time"]) == (
        "resolved", "2026-11-25T12:02:00.000+00:00")


@pytest.mark.parametrize(("case", "signing", "status"), [
    (hook(secret="wrong"), None, 401),
    (hook(secret=None), None, 401),  # claimed by its path
    (hook(), STAMPED, 401),
    (hook(stamp=unix(NOW - timedelta(hours=1))), STAMPED, 401),  # a replay, an hour later
    (hook(b"{not json"), None, 400),
    (hook(b'{"alerts": [{"status": "firing"}]}'), None, 400),
    (hook(b'{"alerts": "x"}'), None, 400),
], ids=["wrong", "unsigned", "no-stamp", "replayed", "not-json", "no-fingerprint",
        "alerts-not-list"])
def test_bad_requests_publish_nothing(case: Webhook, signing: Signing | None, status: int,
                                      caplog: pytest.LogCaptureFixture) -> None:
    topic = Topic()
    with caplog.at_level(logging.WARNING):
        answer = handle_webhook(case, deps(topic, signing))
    assert (answer.status, topic.messages) == (status, [])
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert record.source == "grafana"
    assert SECRET not in caplog.text


def test_a_publish_failure_is_a_503() -> None:
    assert handle_webhook(hook(), deps(Topic(fail=True))).status == 503


def _alert(body: bytes) -> Any:
    topic = Topic()
    handle_webhook(hook(body), deps(topic))
    [(data, attributes)] = topic.messages
    return parse_alert(data, attributes)


def test_the_firing_alert() -> None:
    alert = _alert(FIRING)
    assert (alert.key, alert.action) == ("grafana:1:7e1f2d9c4a3b5e60", Action.TRIGGERED)
    assert alert.title == "Checkout p99 latency above 1.5 s"
    assert alert.url == "https://grafana.example.com/d/checkout-slo?orgId=1&viewPanel=4"
    assert [label for label, _ in alert.links] == ["Panel", "Dashboard", "Alert rule",
                                                   "Silence", "Runbook", "Grafana"]
    assert alert.level == "warning" and priority_for(alert, PriorityMap()) == "Medium"
    assert alert.occurred_at == datetime(2026, 11, 25, 11, 40, tzinfo=UTC)
    fields = alert.match_fields()
    assert {k: fields[k] for k in ("alertname", "grafana_folder", "service", "team", "level",
                                   "rule", "project", "source")} == {
        "alertname": "Checkout latency p99", "grafana_folder": "Payments", "service": "checkout",
        "team": "payments", "level": "warning", "rule": "Checkout latency p99",
        "project": "Payments", "source": "grafana"}
    config = load_teams(str(REPO / "teams.yaml"))
    draft = render_task(alert, config.teams[0], config, "Medium", "1", "why", "board")
    assert "Silence" in draft.notes and "viewPanel=4" in draft.notes


def test_the_resolve_is_the_same_alert_at_its_end() -> None:
    alert = _alert(RESOLVED)
    assert (alert.key, alert.action) == ("grafana:1:7e1f2d9c4a3b5e60", Action.RESOLVED)
    assert alert.occurred_at == datetime(2026, 11, 25, 12, 2, tzinfo=UTC)


def test_grafanas_own_default_payload() -> None:
    # Go's zero time as startsAt means "unknown": no source time, the receipt time instead.
    topic = Topic()
    assert handle_webhook(hook(VENDOR), deps(topic)).status == 202
    [(data, attributes)] = topic.messages
    assert "source_time" not in attributes
    alert = parse_alert(data, attributes)
    assert (alert.key, alert.title, alert.action) == ("grafana:1:fac0861a85de433a", "alert1",
                                                      Action.TRIGGERED)
    assert alert.occurred_at == NOW
    assert dict(alert.links)["Silence"].startswith("http://localhost/alerting/silence/new")
    assert dict(alert.tags) == {"alertname": "alert1", "lbl1": "val1"}


def test_the_settings_of_the_signing() -> None:
    s = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "GRAFANA_TIMESTAMP_HEADER": STAMP_HEADER,
                       "GRAFANA_REPLAY_WINDOW_SECONDS": "60"})
    assert (s.grafana_signature_header, s.grafana_timestamp_header,
            s.grafana_replay_window_seconds) == ("X-Grafana-Alerting-Signature", STAMP_HEADER, 60)
    with pytest.raises(ConfigError, match="GRAFANA_TIMESTAMP_HEADER: 'a b' is not an HTTP"):
        load_settings({"GOOGLE_CLOUD_PROJECT": "p", "GRAFANA_TIMESTAMP_HEADER": "a b"})


def test_explain_route_recognises_a_saved_notification() -> None:
    source = SOURCES.named("grafana")
    assert source is not None and source.sniff is not None
    assert source.sniff(json.loads(FIRING)) == "grafana"
    assert source.sniff(json.loads(VENDOR)) == "grafana"
    alertmanager = SOURCES.named("alertmanager")
    assert alertmanager is not None and alertmanager.sniff is not None
    assert alertmanager.sniff(json.loads(FIRING)) is None


def test_alertmanagers_schema_names_every_field_the_reader_takes() -> None:
    vendor = DATA / "vendor" / "alertmanager"
    for name in ("docs-webhook-v4-schema.txt", "docs-webhook-v4-schema-before-notification_"
                                               "reason.txt"):
        fields = set(re.findall(r'"(\w+)":', (vendor / name).read_text()))
        assert {"alerts", "truncatedAlerts", "externalURL", "receiver", "groupKey", "status",
                "labels", "annotations", "startsAt", "endsAt", "generatorURL",
                "fingerprint"} <= fields
