"""SNS messages signed by a local key: every message type, both versions, one test per failure."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.core.errors import ConfigError, Rejected, Transient, Unauthorized
from shared.sources.cloudwatch.alarm import AlarmAction, parse_alarm
from shared.sources.cloudwatch.sns import (
    MAX_AGE,
    Confirm,
    Deliver,
    Outcome,
    SnsVerifier,
    Unsubscribed,
    parse_message,
)
from shared.sources.cloudwatch.trust import SigningCertificates, Trust
from tests.unit.sources.cloudwatch import signer
from tests.unit.sources.cloudwatch.signer import CERT_URL, REGION, TOPIC

NOW = datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
KEY = signer.new_key()
OTHER_KEY = signer.new_key()
CERT_PEM = signer.pem(signer.certificate(KEY, not_before=NOW - timedelta(days=1),
                                         not_after=NOW + timedelta(days=365)))
RECORDED = Path(__file__).resolve().parents[3] / "data" / "aws_sns"


class Fetcher:
    """A fake HTTPS GET: the same certificate at every URL, and a count of calls."""

    def __init__(self, pem: bytes = CERT_PEM) -> None:
        self.pem = pem
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.pem


def verifier(fetch: Callable[[str], bytes] | None = None, *, topics: tuple[str, ...] = (TOPIC,),
             max_age: timedelta = MAX_AGE) -> SnsVerifier:
    """Return a verifier that fetches the local certificate like production fetches AWS's."""
    return SnsVerifier(topics, SigningCertificates(Trust.aws(), fetch or Fetcher()),
                       max_age=max_age)


def handle(fields: dict[str, str], *, headers: dict[str, str] | None = None,
           now: datetime = NOW, **options: object) -> Outcome:
    sent = {"x-amz-sns-message-type": fields.get("Type", "")} if headers is None else headers
    return verifier(**options).handle(signer.body(fields), sent, now)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "ALARM: \"checkout-5xx\" in US East (Ohio)"])
def test_notification_is_delivered(version: str, subject: str | None) -> None:
    fields = signer.notification(KEY, NOW, version=version, subject=subject,
                                 message="Ünïcödé ✓ and a\nnew line")
    outcome = handle(fields)
    assert isinstance(outcome, Deliver)
    assert outcome.message.message == "Ünïcödé ✓ and a\nnew line"
    assert outcome.message.subject == subject


@pytest.mark.parametrize("version", ["1", "2"])
def test_subscription_confirmation_for_an_allowed_topic_returns_the_url_to_get(
        version: str) -> None:
    fields = signer.confirmation(KEY, NOW, version=version)
    outcome = handle(fields)
    assert isinstance(outcome, Confirm)
    assert outcome.url == fields["SubscribeURL"]


@pytest.mark.parametrize("version", ["1", "2"])
def test_unsubscribe_confirmation_is_verified_and_never_confirmed(version: str) -> None:
    fields = signer.confirmation(KEY, NOW, kind="UnsubscribeConfirmation", version=version)
    outcome = handle(fields)
    assert isinstance(outcome, Unsubscribed)
    assert not isinstance(outcome, Confirm)


def test_unsubscribe_confirmation_is_verified_first() -> None:
    fields = signer.confirmation(OTHER_KEY, NOW, kind="UnsubscribeConfirmation")
    with pytest.raises(Unauthorized, match="does not verify"):
        handle(fields)


def test_json_is_read_whatever_the_content_type() -> None:
    fields = signer.notification(KEY, NOW)
    headers = {"Content-Type": "text/plain; charset=UTF-8", "X-Amz-Sns-Message-Type":
               "Notification", "x-amz-sns-message-id": fields["MessageId"],
               "x-amz-sns-topic-arn": TOPIC}
    assert isinstance(handle(fields, headers=headers), Deliver)


def test_headers_are_optional() -> None:
    assert isinstance(handle(signer.notification(KEY, NOW), headers={}), Deliver)


# One row per way a request must fail: (id, the message, options, error, message pattern).
def _n(**changes: str) -> dict[str, str]:
    return {**signer.notification(KEY, NOW), **changes}


def _signed(**options: object) -> dict[str, str]:
    return signer.notification(KEY, NOW, **options)  # type: ignore[arg-type]


def _confirm(**options: object) -> dict[str, str]:
    return signer.confirmation(KEY, NOW, **options)  # type: ignore[arg-type]


SUBSCRIBE = (f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}"
             "&Token=2336412f37fb687f5d51e6e2425a8a58")
FAILURES = [
    ("signed-by-another-key", signer.notification(OTHER_KEY, NOW), {}, Unauthorized,
     "does not verify"),
    ("message-changed", _n(Message="Hello from an attacker"), {}, Unauthorized, "does not verify"),
    ("subject-added", _n(Subject="added"), {}, Unauthorized, "does not verify"),
    ("version-3", _signed(version="3"), {}, Unauthorized, "SignatureVersion"),
    ("version-empty", _n(SignatureVersion=""), {}, Unauthorized, "SignatureVersion"),
    ("version-1-claimed-for-2", _n(SignatureVersion="1"), {}, Unauthorized, "does not verify"),
    ("signature-not-base64", _n(Signature="not base64!"), {}, Unauthorized, "base64"),
    ("signature-empty", _n(Signature=""), {}, Unauthorized, "does not verify"),
    ("signature-huge", _n(Signature="QUFB" * 1000), {}, Unauthorized, "too long"),
    ("topic-not-allowed", _signed(topic="arn:aws:sns:us-east-2:123456789012:other"), {},
     Unauthorized, "not allowed"),
    ("no-topic-allowed", _signed(), {"topics": ()}, Unauthorized, "not allowed"),
    ("too-old", signer.notification(KEY, NOW - MAX_AGE - timedelta(minutes=6)), {},
     Unauthorized, "older than"),
    ("too-old-for-a-shorter-max-age", signer.notification(KEY, NOW - timedelta(minutes=20)),
     {"max_age": timedelta(minutes=10)}, Unauthorized, "older than"),
    ("from-the-future", signer.notification(KEY, NOW + timedelta(minutes=6)), {}, Unauthorized,
     "future"),
    ("cert-url-http", _signed(cert_url=CERT_URL.replace("https:", "http:")), {}, Unauthorized,
     "not https"),
    ("cert-url-other-host", _signed(cert_url="https://sns.us-east-2.example.com/x.pem"), {},
     Unauthorized, "host"),
    ("cert-url-lookalike-host", _signed(
        cert_url="https://sns.us-east-2.amazonaws.com.attacker.example/x.pem"), {},
     Unauthorized, "host"),
    ("cert-url-userinfo", _signed(
        cert_url="https://sns.us-east-2.amazonaws.com@attacker.example/x.pem"), {},
     Unauthorized, "host"),
    ("cert-url-port", _signed(cert_url="https://sns.us-east-2.amazonaws.com:8443/x.pem"), {},
     Unauthorized, "host"),
    ("cert-url-not-pem", _signed(cert_url="https://sns.us-east-2.amazonaws.com/x.crt"), {},
     Unauthorized, ".pem"),
    ("cert-url-query", _signed(cert_url="https://sns.us-east-2.amazonaws.com/x.pem?a=.pem"), {},
     Unauthorized, ".pem"),
    ("header-type-mismatch", _signed(), {"headers": {"x-amz-sns-message-type":
                                                     "SubscriptionConfirmation"}},
     Unauthorized, "x-amz-sns-message-type"),
    ("header-topic-mismatch", _signed(), {"headers": {"x-amz-sns-topic-arn": "arn:aws:sns:x"}},
     Unauthorized, "x-amz-sns-topic-arn"),
    ("unknown-type", _n(Type="Notice"), {"headers": {}}, Unauthorized, "unknown message type"),
    ("confirm-other-topic", _confirm(subscribe_url=SUBSCRIBE.replace(":alerts&", ":other&")),
     {}, Unauthorized, "SubscribeURL"),
    ("confirm-http", _confirm(subscribe_url=SUBSCRIBE.replace("https:", "http:")), {},
     Unauthorized, "SubscribeURL is not https"),
    ("confirm-other-host", _confirm(subscribe_url=SUBSCRIBE.replace(
        "amazonaws.com", "amazonaws.com.attacker.example")), {}, Unauthorized, "host"),
    ("confirm-other-action", _confirm(subscribe_url=SUBSCRIBE.replace(
        "ConfirmSubscription", "Unsubscribe")), {}, Unauthorized, "ConfirmSubscription"),
    ("confirm-other-token", _confirm(subscribe_url=SUBSCRIBE.replace("Token=2336", "Token=9999")),
     {}, Unauthorized, "ConfirmSubscription"),
    ("confirm-extra-parameter", _confirm(subscribe_url=SUBSCRIBE + "&Endpoint=x"), {},
     Unauthorized, "ConfirmSubscription"),
    ("confirm-topic-twice", _confirm(subscribe_url=SUBSCRIBE + f"&TopicArn={TOPIC}"), {},
     Unauthorized, "ConfirmSubscription"),
    ("confirm-disallowed-topic", _confirm(), {"topics": ("arn:aws:sns:us-east-2:1:other",)},
     Unauthorized, "not allowed"),
]


@pytest.mark.parametrize(("fields", "options", "error", "pattern"),
                         [row[1:] for row in FAILURES], ids=[row[0] for row in FAILURES])
def test_refused(fields: dict[str, str], options: dict[str, object], error: type[Exception],
                 pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        handle(fields, **options)  # type: ignore[arg-type]


MALFORMED = [
    ("not-json", b"Type=Notification"),
    ("not-utf8", b'{"Type": "Notification", "Message": "\xff"}'),
    ("not-an-object", b'["Notification"]'),
    ("missing-signature", signer.body({k: v for k, v in _signed().items() if k != "Signature"})),
    ("missing-timestamp", signer.body({k: v for k, v in _signed().items() if k != "Timestamp"})),
    ("number-message", json.dumps({**_signed(), "Message": 12}).encode()),
    ("null-message-id", json.dumps({**_signed(), "MessageId": None}).encode()),
    ("list-subject", json.dumps({**_signed(), "Subject": ["a"]}).encode()),
    ("confirmation-without-token", signer.body({k: v for k, v in _confirm().items()
                                                if k != "Token"})),
    ("timestamp-not-iso", signer.body({**_signed(), "Timestamp": "yesterday"})),
    ("timestamp-without-zone", signer.body({**_signed(), "Timestamp": "2026-03-14T15:09:26"})),
    ("repeated-key", signer.body(_signed())[:-2] + b',\n  "Message": "second"\n}'),
    ("lone-surrogate", signer.body(_signed()).replace(b"Hello", b"\\ud800Hello")),
]


@pytest.mark.parametrize("body", [row[1] for row in MALFORMED], ids=[row[0] for row in MALFORMED])
def test_malformed_body_is_rejected_not_unauthorized(body: bytes) -> None:
    with pytest.raises(Rejected) as refused:
        verifier().handle(body, {}, NOW)
    assert refused.value.reason == "malformed"
    assert refused.value.status == 400


def test_type_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(Unauthorized, match="unknown message type"):
        parse_message(json.dumps({**_signed(), "Type": ["Notification"]}).encode(), {})


def test_null_subject_is_read_as_absent() -> None:
    fields: dict[str, object] = {**_signed(), "Subject": None}
    outcome = verifier().handle(json.dumps(fields).encode(), {}, NOW)
    assert isinstance(outcome, Deliver)
    assert outcome.message.subject is None


def test_clock_skew_is_allowed_both_ways() -> None:
    assert isinstance(handle(signer.notification(KEY, NOW + timedelta(minutes=4))), Deliver)
    assert isinstance(handle(signer.notification(KEY, NOW - MAX_AGE - timedelta(minutes=4))),
                      Deliver)


def test_cheap_checks_run_before_any_fetch() -> None:
    fetch = Fetcher()
    for fields in (_signed(topic="arn:aws:sns:us-east-2:1:other"), _signed(version="3"),
                   signer.notification(KEY, NOW - timedelta(days=2)),
                   _signed(cert_url="https://attacker.example/x.pem")):
        with pytest.raises(Unauthorized):
            handle(fields, fetch=fetch)
    assert fetch.urls == []


def test_certificate_is_fetched_once_per_url() -> None:
    fetch = Fetcher()
    check = verifier(fetch)
    for _ in range(3):
        check.handle(signer.body(_signed()), {}, NOW)
    check.handle(signer.body(_signed(cert_url=CERT_URL.replace(".pem", "-2.pem"))), {}, NOW)
    assert fetch.urls == [CERT_URL, CERT_URL.replace(".pem", "-2.pem")]


def test_a_fetch_that_can_be_retried_stays_transient() -> None:
    def down(url: str) -> bytes:
        raise Transient(f"GET {url}: timed out")

    with pytest.raises(Transient):
        handle(_signed(), fetch=down)


def test_a_fetch_that_returns_no_certificate_is_unauthorized() -> None:
    with pytest.raises(Unauthorized, match="no PEM certificate"):
        handle(_signed(), fetch=Fetcher(b"<html>Not Found</html>"))


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigError, match="exact topic ARNs"):
        SnsVerifier(["alerts"], SigningCertificates(Trust.aws(), Fetcher()))
    with pytest.raises(ConfigError, match="positive"):
        SnsVerifier([TOPIC], SigningCertificates(Trust.aws(), Fetcher()), max_age=timedelta(0))
    with pytest.raises(ConfigError, match="no fetcher"):
        SigningCertificates(Trust.aws())


# The recorded fixtures: signed once by ``signer.record()``; their certificate is kept beside them.
RECORDED_TRUST = Trust.test_only_pinned((RECORDED / "test-signing-cert.pem").read_bytes())


@pytest.mark.parametrize(("name", "expected"), [
    ("notification-cloudwatch-alarm-v2", Deliver),
    ("subscription-confirmation-v1", Confirm),
    ("unsubscribe-confirmation-v2", Unsubscribed),
])
def test_recorded_fixture(name: str, expected: type) -> None:
    body = (RECORDED / f"{name}.json").read_bytes()
    check = SnsVerifier([TOPIC], SigningCertificates(RECORDED_TRUST))
    assert isinstance(check.handle(body, {}, signer.RECORDED_AT), expected)
    fields = json.loads(body)
    tampered = json.dumps({**fields, "Message": fields["Message"] + " "}).encode()
    with pytest.raises(Unauthorized, match="does not verify"):
        check.handle(tampered, {}, signer.RECORDED_AT)


def test_recorded_alarm_notification_end_to_end() -> None:
    body = (RECORDED / "notification-cloudwatch-alarm-v2.json").read_bytes()
    check = SnsVerifier([TOPIC], SigningCertificates(RECORDED_TRUST))
    outcome = check.handle(body, {"x-amz-sns-message-type": "Notification"}, signer.RECORDED_AT)
    assert isinstance(outcome, Deliver)
    alarm = parse_alarm(outcome.message.message, topic_arn=outcome.message.topic_arn)
    assert alarm.key == "arn:aws:cloudwatch:us-east-2:123456789012:alarm:checkout-5xx"
    assert alarm.action is AlarmAction.TRIGGER
