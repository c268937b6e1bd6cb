"""The CloudWatch slice through the ingest flow and the worker: verified or 401, handshakes
answered, alarms keyed by their ARN, ALARM / OK / INSUFFICIENT_DATA, routing fields, priority."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.core import logs
from shared.core.alert import Action
from shared.core.envelope import PushMessage
from shared.core.errors import ConfigError, Transient
from shared.core.ledger import State
from shared.core.settings import load_settings
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.flows.linkback import LinkBack
from shared.flows.worker import PortfolioCache, WorkerDeps, handle_push
from shared.routing.priority import priority_for
from shared.routing.teams import PriorityMap
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES
from shared.sources.base import Webhook
from shared.sources.build import Build
from shared.sources.cloudwatch.build import SnsIngest, sns_ingest, trust_of
from shared.sources.cloudwatch.sns import SnsVerifier
from shared.sources.cloudwatch.trust import SigningCertificates, Trust
from tests.fakes.ledger import MemoryLedger
from tests.fakes.tracker import MemoryTracker
from tests.unit.sources.cloudwatch import signer

REPO = Path(__file__).resolve().parents[4]
RECORDED = REPO / "tests" / "data" / "aws_sns"
VENDOR = REPO / "tests" / "data" / "vendor" / "aws_sns"
KEY = signer.new_key()
PINNED = Trust.test_only_pinned(signer.pem(signer.certificate(KEY)))
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:us-east-2:123456789012:alarm:checkout-5xx"


class Confirmer:
    """Records the SubscribeURLs it is asked to GET."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.urls: list[str] = []
        self.fail = fail

    def __call__(self, url: str) -> bytes:
        if self.fail is not None:
            raise self.fail
        self.urls.append(url)
        return b"<ConfirmSubscriptionResponse/>"


def _ingest(body: bytes, *, trust: Trust = PINNED, topics: tuple[str, ...] = (signer.TOPIC,),
            now: datetime = NOW, confirm: Confirmer | None = None,
            headers: Mapping[str, str] | None = None) -> tuple[int, Any, list[Any]]:
    published: list[tuple[bytes, dict[str, str]]] = []

    def publish(data: bytes, attributes: Mapping[str, str]) -> str:
        published.append((data, dict(attributes)))
        return str(len(published))

    kind = json.loads(body).get("Type", "Notification") if body.startswith(b"{") else "x"
    service = SnsIngest(SnsVerifier(topics, SigningCertificates(trust)), confirm or Confirmer())
    deps = IngestDeps(secret=lambda name: (), publish=publish, now=lambda: now,
                      max_body_bytes=256 * 1024, services={"cloudwatch": lambda: service})
    hook_headers = {"x-amz-sns-message-type": str(kind),
                    "content-type": "text/plain; charset=UTF-8", **(headers or {})}
    answer = handle_webhook(Webhook("POST", hook_headers, body, "req-cw"), deps)
    return answer.status, answer.body, published


def _alarm(state: str = "ALARM", at: datetime = NOW, **changes: Any) -> str:
    alarm = {**signer.ALARM, "NewStateValue": state,
             "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), **changes}
    return json.dumps({k: v for k, v in alarm.items() if v is not None})


def _notification(state: str = "ALARM", *, version: str = "2", at: datetime = NOW,
                  message_id: str = "0b6c3b9e-1111-4000-8000-000000000001",
                  **changes: Any) -> bytes:
    return signer.body(signer.notification(KEY, at, version=version, message=_alarm(
        state, at - timedelta(seconds=2), **changes), message_id=message_id,
        subject=f'{state}: "checkout-5xx" in US East (Ohio)'))


# --- ingest ---------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_alarm_is_published_with_its_key_time_and_delivery_id(version: str) -> None:
    body = _notification(version=version)
    status, answer, published = _ingest(body)
    assert (status, answer) == (202, {"status": "accepted", "id": "1"})
    [(data, attributes)] = published
    assert data == body
    assert attributes["source"] == attributes["resource"] == "cloudwatch"
    assert attributes["alert_key"] == f"cloudwatch:{ARN}"
    assert attributes["action"] == "ALARM"
    assert attributes["delivery_id"] == "0b6c3b9e-1111-4000-8000-000000000001"
    assert attributes["source_time"] == "2026-11-25T11:59:58.000+00:00"


def test_the_recorded_v2_alarm_verifies_with_its_certificate() -> None:
    trust = Trust.test_only_pinned((RECORDED / "test-signing-cert.pem").read_bytes())
    body = (RECORDED / "notification-cloudwatch-alarm-v2.json").read_bytes()
    status, _, published = _ingest(body, trust=trust, now=signer.RECORDED_AT)
    assert status == 202
    assert published[0][1]["source_time"] == "2026-06-01T11:59:58.904+00:00"


def test_a_source_time_ahead_of_receipt_is_clamped() -> None:
    body = signer.body(signer.notification(KEY, NOW, message=_alarm(at=NOW + timedelta(minutes=3))))
    _, _, [(_, attributes)] = _ingest(body)
    assert attributes["source_time"] == "2026-11-25T12:00:00.000+00:00"


VECTORS = sorted(VENDOR.glob("signed-notification-*.json"))


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_aws_signed_messages_pass_with_the_pinned_certificate_and_fail_one_byte_changed(
        path: Path) -> None:
    trust = Trust.test_only_pinned((VENDOR / "signing-cert-2021.pem").read_bytes())
    fields = json.loads(path.read_bytes())
    at = datetime.fromisoformat(fields["Timestamp"]) + timedelta(seconds=2)
    topics = (fields["TopicArn"],)
    # Authentic, but "Hello world" is no alarm: answered 200 and not published.
    assert _ingest(path.read_bytes(), trust=trust, topics=topics, now=at)[:2] == (
        200, {"status": "ignored"})
    for name in ("Message", "MessageId", "Signature"):
        value = fields[name]
        changed = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
        status, answer, published = _ingest(json.dumps({**fields, name: changed}).encode(),
                                            trust=trust, topics=topics, now=at)
        assert (status, answer, published) == (401, {"error": "unauthorized"}, []), name


REFUSED = {
    "forged": lambda: _notification().replace(b"checkout-5xx", b"checkout-4xx", 1),
    "other key": lambda: signer.body(signer.notification(signer.new_key(), NOW,
                                                         message=_alarm())),
    "topic not allowed": lambda: signer.body(signer.notification(
        KEY, NOW, message=_alarm(), topic="arn:aws:sns:us-east-2:123456789012:other")),
    "replayed after an hour": lambda: signer.body(signer.notification(
        KEY, NOW - timedelta(hours=1, minutes=6), message=_alarm())),
    "version 3": lambda: signer.body(signer.notification(KEY, NOW, version="3",
                                                         message=_alarm())),
    "cert url elsewhere": lambda: signer.body(signer.notification(
        KEY, NOW, message=_alarm(), cert_url="https://example.com/cert.pem")),
    "unknown type": lambda: json.dumps({"Type": "Nope"}).encode(),
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_message_is_401_logged_and_never_published(
        make: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        status, answer, published = _ingest(make())
    assert (status, answer, published) == (401, {"error": "unauthorized"}, [])
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert record.source == "cloudwatch"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"Type": "Notification"}'],
                         ids=["empty", "text", "list", "incomplete"])
def test_a_malformed_body_is_a_4xx(body: bytes) -> None:
    status, _, published = _ingest(body)
    assert 400 <= status < 500 and published == []


def test_a_signed_notification_of_a_malformed_alarm_is_400() -> None:
    body = _notification(StateChangeTime="yesterday")
    status, answer, published = _ingest(body)
    assert (status, answer["error"], published) == (400, "malformed request body", [])
    assert "StateChangeTime" in answer["detail"]


def test_a_subscription_of_an_allowed_topic_is_confirmed_once_verified(
        caplog: pytest.LogCaptureFixture) -> None:
    confirm = Confirmer()
    body = signer.body(signer.confirmation(KEY, NOW, version="1"))
    with caplog.at_level(logging.INFO):
        status, answer, published = _ingest(body, confirm=confirm)
    assert (status, answer, published) == (200, {"status": "confirmed"}, [])
    assert confirm.urls == [f"https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription"
                            f"&TopicArn={signer.TOPIC}&Token=2336412f37fb687f5d51e6e2425a8a58"]
    assert "sns_subscription_confirmed" in [getattr(r, "event", "") for r in caplog.records]


CONFIRM_REFUSED = {
    "topic not allowed": dict(topic="arn:aws:sns:us-east-2:123456789012:other"),
    "subscribe url elsewhere": dict(subscribe_url="https://evil.example/?Action="
                                                  "ConfirmSubscription"),
    "subscribe url of another topic": dict(subscribe_url=(
        "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
        "us-east-2:123456789012:other&Token=2336412f37fb687f5d51e6e2425a8a58")),
}


@pytest.mark.parametrize("changes", CONFIRM_REFUSED.values(), ids=CONFIRM_REFUSED.keys())
def test_a_subscription_is_never_confirmed_otherwise(changes: dict[str, str]) -> None:
    confirm = Confirmer()
    body = signer.body(signer.confirmation(KEY, NOW, **changes))
    assert _ingest(body, confirm=confirm)[0] == 401
    assert confirm.urls == []


def test_a_forged_subscription_is_never_confirmed() -> None:
    confirm = Confirmer()
    fields = signer.confirmation(signer.new_key(), NOW)
    assert _ingest(signer.body(fields), confirm=confirm)[0] == 401
    assert confirm.urls == []


def test_an_unsubscribe_confirmation_is_never_followed(caplog: pytest.LogCaptureFixture) -> None:
    confirm = Confirmer()
    body = signer.body(signer.confirmation(KEY, NOW, kind="UnsubscribeConfirmation"))
    with caplog.at_level(logging.INFO):
        status, answer, published = _ingest(body, confirm=confirm)
    assert (status, answer, published, confirm.urls) == (200, {"status": "ignored"}, [], [])
    assert "sns_unsubscribe_ignored" in [getattr(r, "event", "") for r in caplog.records]


def test_a_confirmation_that_fails_for_now_is_503_for_sns_to_retry() -> None:
    body = signer.body(signer.confirmation(KEY, NOW))
    status, _, published = _ingest(body, confirm=Confirmer(Transient("sns: unreachable")))
    assert (status, published) == (503, [])


def test_an_unwired_verifier_is_a_configuration_503() -> None:
    deps = IngestDeps(secret=lambda name: (), publish=lambda d, a: "1", now=lambda: NOW,
                      max_body_bytes=256 * 1024)
    hook = Webhook("POST", {"x-amz-sns-message-type": "Notification"}, _notification(), "r")
    assert handle_webhook(hook, deps).status == 503


# --- settings and the built verifier ----------------------------------------------------------

def _settings(**env: str) -> Any:
    return load_settings({"GOOGLE_CLOUD_PROJECT": "p", **env})


def test_the_test_only_trust_is_refused_in_prod(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(signer.pem(signer.certificate(KEY)))
    with pytest.raises(ConfigError, match="refused when ENVIRONMENT=prod"):
        _settings(CLOUDWATCH_SNS_TEST_TRUST=f"pinned:{cert}")
    trust, verify = trust_of(_settings(ENVIRONMENT="dev",
                                       CLOUDWATCH_SNS_TEST_TRUST=f"pinned:{cert}"))
    assert trust.test_only and verify is True
    trust, verify = trust_of(_settings(ENVIRONMENT="dev",
                                       CLOUDWATCH_SNS_TEST_TRUST=f"local-ca:{cert}"))
    assert trust.test_only and verify == str(cert)
    assert trust_of(_settings()) == (Trust.aws(), True)


@pytest.mark.parametrize(("env", "problem"), [
    ({"CLOUDWATCH_SNS_TOPIC_ARNS": "alerts"}, "not an SNS topic ARN"),
    ({"CLOUDWATCH_SNS_TOPIC_ARNS": "arn:aws:sqs:us-east-1:123456789012:q"}, "not an SNS topic"),
    ({"CLOUDWATCH_SNS_MAX_AGE_SECONDS": "7200"}, "at most 3600"),
    ({"CLOUDWATCH_SNS_TEST_TRUST": "trust-me", "ENVIRONMENT": "dev"}, "expected pinned:"),
])
def test_bad_settings_are_named(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _settings(**env)


def test_the_built_verifier_takes_the_allowed_topics_and_age() -> None:
    settings = _settings(CLOUDWATCH_SNS_TOPIC_ARNS=f"{signer.TOPIC}, arn:aws:sns:eu-west-1:"
                                                    "123456789012:b",
                         CLOUDWATCH_SNS_MAX_AGE_SECONDS="600")
    built = sns_ingest(Build(settings, None, lambda: NOW))  # type: ignore[arg-type]
    assert built.verifier.allowed_topics == {signer.TOPIC, "arn:aws:sns:eu-west-1:123456789012:b"}
    assert built.verifier.max_age == timedelta(minutes=10)
    assert built.verifier.certificates.trust == Trust.aws()


# --- the worker -------------------------------------------------------------------------------

CONFIG = load_teams(str(REPO / "teams.yaml"))


def _worker() -> tuple[WorkerDeps, MemoryTracker, MemoryLedger]:
    tracker, ledger = MemoryTracker(), MemoryLedger()
    deps = WorkerDeps(config=lambda: CONFIG, environment="prod", tracker=tracker, ledger=ledger,
                      portfolios=PortfolioCache(tracker.portfolio_items),
                      dead_letter=lambda data, attributes: "dead", now=lambda: NOW,
                      link_back=LinkBack({}, SOURCES), wait_seconds=0)
    return deps, tracker, ledger


def _deliver(deps: WorkerDeps, body: bytes, number: int) -> Any:
    _, _, [(data, attributes)] = _ingest(body)
    outcome = logs.isolated(handle_push, PushMessage(f"m-{number}", data, attributes), deps)
    return outcome.body.get("step")


def test_alarm_opens_a_task_insufficient_data_comments_and_ok_completes_it() -> None:
    deps, tracker, ledger = _worker()
    at = NOW - timedelta(minutes=10)
    assert _deliver(deps, _notification("ALARM", at=at, message_id="a1"), 1) == "create"
    [(gid, task)] = tracker.tasks.items()
    assert "checkout-5xx" in task.name
    assert "console.aws.amazon.com/cloudwatch/home?region=us-east-2#alarmsV2:alarm/" \
           "checkout-5xx" in task.html_notes
    assert _deliver(deps, _notification("INSUFFICIENT_DATA", at=at + timedelta(minutes=1),
                                        message_id="a2"), 2) == "comment"
    assert any("State changed to INSUFFICIENT_DATA" in c for c in tracker.comments[gid])
    assert _deliver(deps, _notification("OK", at=at + timedelta(minutes=2), message_id="a3"),
                    3) == "resolve"
    record, _ = ledger.get(f"cloudwatch:{ARN}")
    assert record is not None and record.state is State.RESOLVED
    assert tracker.completed[gid]


def test_an_ok_older_than_the_alarm_it_follows_is_skipped() -> None:
    deps, tracker, ledger = _worker()
    assert _deliver(deps, _notification("ALARM", at=NOW - timedelta(minutes=1),
                                        message_id="b1"), 1) == "create"
    assert _deliver(deps, _notification("OK", at=NOW - timedelta(minutes=5), message_id="b2"),
                    2) == "skip"
    record, _ = ledger.get(f"cloudwatch:{ARN}")
    assert record is not None and record.state is State.OPEN


def test_insufficient_data_alone_opens_nothing() -> None:
    deps, tracker, _ = _worker()
    assert _deliver(deps, _notification("INSUFFICIENT_DATA"), 1) == "skip"
    assert tracker.tasks == {}


def test_the_alert_carries_the_routing_fields_and_its_priority() -> None:
    body = _notification(AlarmDescription="[P3] checkout answers 5xx",
                         Trigger={**signer.ALARM["Trigger"], "Dimensions": [  # type: ignore[dict-item]
                             {"name": "LoadBalancer", "value": "app/checkout/1"},
                             {"name": "TargetGroup", "value": "tg/checkout/2"}]})
    _, _, [(data, attributes)] = _ingest(body)
    alert = SOURCES.parse_alert(data, attributes)
    assert (alert.key, alert.action, alert.priority) == (f"cloudwatch:{ARN}", Action.TRIGGERED,
                                                         "P3")
    fields = alert.match_fields()
    assert {k: fields[k] for k in ("aws_account", "aws_region", "alarm", "namespace", "metric",
                                    "alarm_state", "LoadBalancer", "TargetGroup", "source")} == {
        "aws_account": "123456789012", "aws_region": "us-east-2", "alarm": "checkout-5xx",
        "namespace": "AWS/ApplicationELB", "metric": "HTTPCode_Target_5XX_Count",
        "alarm_state": "ALARM", "LoadBalancer": "app/checkout/1", "TargetGroup": "tg/checkout/2",
        "source": "cloudwatch"}
    assert priority_for(alert, PriorityMap()) == "Medium"


@pytest.mark.parametrize(("description", "name", "expected"), [
    ("P1: checkout down", "checkout", "High"), (None, "checkout-P4", "Low"),
    ("Checkout answers 5xx", "checkout", "High"),  # none: the default
    ("APP5 is not a priority", "checkout", "High"),
])
def test_priority_comes_from_the_alarm(description: str | None, name: str,
                                       expected: str) -> None:
    body = json.dumps({"Message": _alarm(AlarmDescription=description, AlarmName=name,
                                         AlarmArn=None), "TopicArn": signer.TOPIC}).encode()
    alert = SOURCES.parse_alert(body, {"source": "cloudwatch"})
    assert priority_for(alert, CONFIG.priority) == expected


def test_a_bare_alarm_parses_for_explain_route() -> None:
    alert = SOURCES.parse_alert(_alarm("OK").encode(), {"source": "cloudwatch"})
    assert (alert.key, alert.action) == (f"cloudwatch:{ARN}", Action.RESOLVED)


def test_explain_route_guesses_the_source_of_saved_bodies() -> None:
    from shared.cli.route import guess_source

    assert guess_source(json.loads(_notification())) == ("cloudwatch", "cloudwatch")
    assert guess_source(json.loads(_alarm())) == ("cloudwatch", "cloudwatch")
    confirmation = signer.confirmation(KEY, NOW)
    assert guess_source(confirmation) == ("cloudwatch", "sns_handshake")
    assert guess_source({"alert_cycle_key": "x"})[0] == "datadog"


def test_the_key_function_agrees_with_ingest() -> None:
    fields = json.loads(_notification())
    assert SOURCES.alert_key("cloudwatch", "cloudwatch", fields) == f"cloudwatch:{ARN}"
    assert SOURCES.alert_key("cloudwatch", "cloudwatch", {"Message": "hi"}) is None


def test_deeply_nested_bodies_and_messages_are_refused_not_crashed() -> None:
    nested = "[" * 50_000 + "]" * 50_000
    assert _ingest(nested.encode())[0] == 400
    body = signer.body(signer.notification(KEY, NOW, message=nested))
    assert _ingest(body)[:2] == (200, {"status": "ignored"})
