"""A bounded fuzz of the real ingest on the real Pub/Sub emulator: nothing unauthenticated is
published, nothing valid is lost, and no request gets a 5xx."""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from scripts.bench_ingest_memory import IngestEdge, ingest_on_emulator
from scripts.localstack import LOCAL_DEFAULTS
from shared.sources.sentry.verify import sentry_signature
from tests.integration.pubsub_helpers import pull, tap
from tests.reliability import summary
from tests.unit.sources.cloudwatch import signer as sns_signer

SECRET = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
TOKEN = LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
MAX_BODY = 1024 * 1024
THREADS = 8
SEED = 20261201
VALID_SENTRY = 60
VALID_DATADOG = 40
FUZZED = 10_000
OVERSIZED = 40  # each moves a megabyte: enough to cover both framings, few enough to be quick
RESOURCES = ("event_alert", "issue", "metric_alert", "error", "installation", "comment", "",
             "EVENT_ALERT", "event_alert ", "../issue", "é", "x" * 300)
METHODS = ("GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                 "", "*/*", "application/octet-stream")


@dataclass(frozen=True)
class Case:
    """One request to send; ``valid_key`` is its alert key when it must be published."""

    kind: str
    method: str
    headers: dict[str, Any]
    body: bytes
    chunked: bool = False
    valid_key: str | None = None
    query: str = ""


def sentry_body(issue_id: int, **extra: object) -> bytes:
    payload = {"action": "triggered", "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-"
                                                               "4f44175783c9"},
               "data": {"event": {"issue_id": str(issue_id), "title": "fuzz é 支払い",
                                  "level": "error"}, "triggered_rule": "fuzz"}, **extra}
    return json.dumps(payload, ensure_ascii=False).encode()


def datadog_body(cycle: str, **extra: object) -> bytes:
    return json.dumps({"id": cycle, "alert_cycle_key": cycle, "alert_transition": "Triggered",
                       "title": "[P1] fuzz", **extra}).encode()


def signed(body: bytes, resource: str = "event_alert", secret: str = SECRET) -> dict[str, Any]:
    return {"Content-Type": "application/json", "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Signature": sentry_signature(secret, body)}


def valid_cases() -> list[Case]:
    cases = []
    for i in range(VALID_SENTRY):
        body = sentry_body(9_000_000 + i)
        cases.append(Case("valid-sentry", "POST", signed(body), body, chunked=i % 6 == 0,
                          valid_key=f"sentry:issue:{9_000_000 + i}"))
    for i in range(VALID_DATADOG):
        body = datadog_body(f"fuzz-valid-{i}")
        cases.append(Case("valid-datadog", "POST", {"datadog-secret-token": TOKEN}, body,
                          chunked=i % 5 == 0, valid_key=f"datadog:cycle:fuzz-valid-{i}"))
    return cases


def _junk(rng: random.Random, size: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(size))


#: Bytes a server must accept in a header value (RFC 9110 5.5: visible ASCII, space, tab,
#: obs-text); one request in ten also carries control bytes, which the server refuses.
_FIELD_BYTES = [9, *range(32, 127), *range(128, 256)]
_CONTROL_BYTES = [b for b in range(1, 32) if b not in (9, 10, 13)] + [127]


def _header_junk(rng: random.Random) -> bytes:
    pool = _FIELD_BYTES + (_CONTROL_BYTES if rng.random() < 0.1 else [])
    return bytes(rng.choice(pool) for _ in range(rng.randint(0, 80))).strip() or b"x"


def _forged_signature(rng: random.Random, body: bytes) -> str:
    return rng.choice([
        sentry_signature("not-the-secret", body),
        sentry_signature(SECRET, body + b" "),
        sentry_signature(SECRET, body)[:-1],
        sentry_signature(SECRET, body)[:-1] + "g",
        "".join(rng.choice("0123456789abcdef") for _ in range(64)),
        "", "sha256=" + sentry_signature(SECRET, body), "null", "0" * 64,
    ])


def _forged_token(rng: random.Random) -> str:
    return rng.choice([TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "x" + TOKEN, "", "null",
                       TOKEN[::-1], "Bearer " + TOKEN])


def _nested(rng: random.Random) -> bytes:
    depth = rng.randint(2_000, 20_000)
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    return opener * depth + b"1" + closer * depth


def _bad_body(rng: random.Random, forged_id: int) -> bytes:
    """A body that is not a publishable alert, whatever the credentials."""
    return rng.choice([
        lambda: b"",
        lambda: b"{not json",
        lambda: _junk(rng, rng.randint(1, 400)),
        lambda: b'\xff\xfe{"action": "triggered"}',
        lambda: sentry_body(forged_id).replace(b"fuzz", b"\xc3\x28"),  # invalid UTF-8
        lambda: b'{"action": "triggered", "data": {"event": {"issue_id": "\\udc00"}}}',
        lambda: b'{"id": "1", "alert_cycle_key": "\\ud800x", "alert_transition": "T"}',
        lambda: json.dumps({"id": "x", "alert_cycle_key": "c" * 2000}).encode(),
        lambda: b"[1, 2, 3]",
        lambda: b'"a string"',
        lambda: b'{"action": "triggered", "data": {}}',
        lambda: b'{"title": "no id"}',
        lambda: _nested(rng),
        lambda: b"NaN",
        lambda: b'{"a": 1e999999}',
    ])()


def fuzz_cases(rng: random.Random) -> list[Case]:
    """Requests none of which may be published."""
    cases = []
    for i in range(FUZZED):
        forged_id = 1_000_000 + i
        body = sentry_body(forged_id) if rng.random() < 0.6 else datadog_body(f"forged-{i}")
        kind = rng.choice(["forged-sentry", "unsigned-sentry", "forged-datadog", "no-credentials",
                           "signed-bad-body", "token-bad-body", "wrong-method", "bad-body",
                           "header-soup", "ignored-resource", "forged-asana"])
        headers: dict[str, str | bytes] = {"Content-Type": rng.choice(CONTENT_TYPES)}
        method, chunked = "POST", False
        if kind == "forged-sentry":
            headers.update({"Sentry-Hook-Resource": rng.choice(RESOURCES),
                            "Sentry-Hook-Signature": _forged_signature(rng, body)})
        elif kind == "unsigned-sentry":
            headers["Sentry-Hook-Resource"] = rng.choice(RESOURCES)
        elif kind == "forged-datadog":
            headers["datadog-secret-token"] = _forged_token(rng)
        elif kind == "signed-bad-body":
            body = _bad_body(rng, forged_id)
            headers.update(signed(body, rng.choice(RESOURCES[:4])))
        elif kind == "token-bad-body":
            body = _bad_body(rng, forged_id)
            headers["datadog-secret-token"] = TOKEN
        elif kind == "wrong-method":
            method = rng.choice(METHODS)
            headers.update(signed(body) if rng.random() < 0.5
                           else {"datadog-secret-token": TOKEN})
        elif kind == "bad-body":
            body = _bad_body(rng, forged_id)
        elif kind == "header-soup":
            names = ["Sentry-Hook-Resource", "Sentry-Hook-Signature", "datadog-secret-token",
                     "Sentry-Hook-Timestamp", "X-Forwarded-For", "Authorization", "Cookie"]
            for name in rng.sample(names, rng.randint(1, len(names))):
                headers[name] = _header_junk(rng)
        elif kind == "ignored-resource":
            headers.update(signed(body, rng.choice(["installation", "comment", "", "other"])))
        elif kind == "forged-asana":  # Asana's path of the two-way sync: no webhook registered
            project = rng.choice([str(rng.randint(1, 10**16)), "", "abc", "12/../3"])
            query = f"?source=asana&project={project}"
            headers[rng.choice(["X-Hook-Secret", "X-Hook-Signature"])] = _forged_token(rng)
            cases.append(Case(kind, method, headers, body, query=query))
            continue
        chunked = rng.random() < 0.1
        cases.append(Case(kind, method, headers, body, chunked=chunked))
    for i in range(OVERSIZED):
        body = b" " * (MAX_BODY - 20) + sentry_body(2_000_000 + i)
        headers = signed(body) if i % 2 else {"datadog-secret-token": TOKEN}
        cases.append(Case("oversized", "POST", headers, body, chunked=i % 4 < 2))
    return cases


def _chunks(body: bytes) -> Iterator[bytes]:
    step = 64 * 1024
    for start in range(0, len(body), step):
        yield body[start:start + step]
    if not body:
        yield b""


def send(session: requests.Session, url: str, case: Case) -> int:
    data: bytes | Iterator[bytes] = _chunks(case.body) if case.chunked else case.body
    return session.request(case.method, url + case.query, data=data, headers=case.headers,
                           timeout=60).status_code


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestEdge]:
    directory = Path(tmp_path_factory.mktemp("ingest-fuzz"))
    with ingest_on_emulator(directory, firestore=True,
                            **cloudwatch_settings(directory)) as started:
        yield started


@pytest.fixture(scope="session")
def session() -> Iterator[requests.Session]:
    with requests.Session() as shared:
        shared.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=THREADS * 2))
        yield shared


@pytest.mark.reliability
def test_fuzz_publishes_only_authenticated_alerts_and_never_answers_5xx(
        edge: IngestEdge, session: requests.Session) -> None:
    os.environ["PUBSUB_EMULATOR_HOST"] = edge.pubsub_host
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    events = tap(subscriber, edge.project, edge.topic)
    rng = random.Random(SEED)
    valid = valid_cases() + valid_cloudwatch_cases()
    cases = valid + fuzz_cases(rng) + sns_fuzz_cases(rng)
    rng.shuffle(cases)
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda case: send(session, edge.ingest.url, case), cases))
    answers = Counter((case.kind, status) for case, status in zip(cases, statuses, strict=True))
    messages = pull(subscriber, events, want=len(valid), timeout=30)
    messages += pull(subscriber, events, want=1, timeout=2)  # anything beyond the valid ones
    subscriber.close()
    seconds = time.monotonic() - started

    bodies = {case.valid_key: case.body for case in valid}
    published = Counter(message.attributes.get("alert_key") for message in messages
                        if bodies.get(message.attributes.get("alert_key")) == message.data)
    unauthenticated = len(messages) - sum(published.values())
    lost = sum(1 for key in bodies if published[key] == 0)
    summary.record(f"ingest fuzz ({len(cases)} requests)", alerts=len(valid),
                   tasks=len(published), lost=lost, duplicated=unauthenticated,
                   seconds=seconds)

    server_errors = {key: n for key, n in answers.items() if key[1] >= 500}
    assert server_errors == {}, server_errors
    assert unauthenticated == 0, [m.attributes for m in messages]
    assert lost == 0
    assert all(n == 1 for n in published.values()), published
    assert {status for case, status in zip(cases, statuses, strict=True)
            if case.valid_key} == {202}
    assert len(cases) >= 10_000
    sns_kinds = {case.kind for case in cases if case.kind.startswith(("sns-", "valid-cloud"))}
    summary.record(f"ingest fuzz, CloudWatch/SNS ({sum(c.kind in sns_kinds for c in cases)} "
                   "requests)", alerts=VALID_CLOUDWATCH,
                   tasks=sum(n for key, n in published.items() if key.startswith("cloudwatch:")),
                   lost=sum(1 for key in bodies if key.startswith("cloudwatch:")
                            and published[key] == 0),
                   duplicated=unauthenticated, seconds=seconds)


# --- CloudWatch alarms through SNS: signed with a key whose certificate ingest pins -----------

VALID_CLOUDWATCH = 30
SNS_FUZZED = 2_000
SNS_KEY = sns_signer.new_key()
SNS_OTHER_KEY = sns_signer.new_key()
SNS_TOPIC = sns_signer.TOPIC


def cloudwatch_settings(directory: Path) -> dict[str, str]:
    """Return the settings that allow the fuzz topic and pin the fuzz key's certificate."""
    cert = directory / "sns-fuzz-cert.pem"
    cert.write_bytes(sns_signer.pem(sns_signer.certificate(SNS_KEY)))
    return {"CLOUDWATCH_SNS_TOPIC_ARNS": SNS_TOPIC, "CLOUDWATCH_SNS_TEST_TRUST": f"pinned:{cert}"}


def _alarm(name: str, state: str = "ALARM", **changes: object) -> str:
    alarm = {**sns_signer.ALARM, "AlarmName": name, "NewStateValue": state,
             "AlarmArn": f"arn:aws:cloudwatch:us-east-2:123456789012:alarm:{name}",
             "StateChangeTime": sns_signer.stamp(datetime.now(UTC)).replace("Z", "+0000"),
             **changes}
    return json.dumps(alarm)


def _sns_headers(fields: dict[str, str], rng: random.Random | None = None) -> dict[str, Any]:
    headers: dict[str, Any] = {"Content-Type": "text/plain; charset=UTF-8",
                               "x-amz-sns-message-type": fields.get("Type", "Notification")}
    if rng is not None and rng.random() < 0.3:
        headers["x-amz-sns-message-id"] = fields.get("MessageId", "")
    return headers


def valid_cloudwatch_cases() -> list[Case]:
    cases = []
    for i in range(VALID_CLOUDWATCH):
        name = f"fuzz-valid-{i}"
        fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), version="12"[i % 2],
                                         message=_alarm(name), message_id=f"fuzz-valid-{i}")
        cases.append(Case("valid-cloudwatch", "POST", _sns_headers(fields),
                          sns_signer.body(fields), chunked=i % 7 == 0,
                          valid_key=f"cloudwatch:arn:aws:cloudwatch:us-east-2:123456789012:"
                                    f"alarm:{name}"))
    return cases


def _forged_notification(rng: random.Random, i: int) -> dict[str, str]:
    """A Notification that must be refused: changed after signing, or signed wrongly."""
    now = datetime.now(UTC)
    name = f"fuzz-forged-{i}"
    fields = sns_signer.notification(SNS_KEY, now, version=rng.choice("12"),
                                     message=_alarm(name), message_id=f"forged-{i}")
    signature = fields["Signature"]
    return rng.choice([
        lambda: {**fields, "Message": fields["Message"].replace("ALARM", "OK")},
        lambda: {**fields, "MessageId": f"forged-{i}x"},
        lambda: {**fields, "Subject": "added"},
        lambda: {**fields, "Timestamp": sns_signer.stamp(now + timedelta(seconds=1))},
        lambda: {**fields, "SignatureVersion": "1" if fields["SignatureVersion"] == "2" else "2"},
        lambda: {**fields, "SignatureVersion": rng.choice(["3", "", "0", "2 ", "v2"])},
        lambda: {**fields, "Signature": signature[:-4] + "AAA="},
        lambda: {**fields, "Signature": signature[::-1]},
        lambda: {**fields, "Signature": ""},
        lambda: {**fields, "Signature": "x" * 5000},
        lambda: {k: v for k, v in fields.items() if k != "Signature"},
        lambda: sns_signer.notification(SNS_OTHER_KEY, now, message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now, message=_alarm(name),
                                        topic="arn:aws:sns:us-east-2:123456789012:other"),
        lambda: sns_signer.notification(SNS_KEY, now - timedelta(hours=2), message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now + timedelta(hours=1), message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now, message=_alarm(name), cert_url=rng.choice([
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.us-east-2.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.cer",
            "https://sns.us-east-2.amazonaws.com@evil.example/a.pem",
            "https://sns.cn-north-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://127.0.0.1/SimpleNotificationService-1.pem", ""])),
    ])()


def _handshake(rng: random.Random) -> dict[str, str]:
    """A handshake ingest must never follow: forged, another topic's, or an unsubscribe."""
    now = datetime.now(UTC)
    return rng.choice([
        lambda: sns_signer.confirmation(SNS_OTHER_KEY, now),
        lambda: sns_signer.confirmation(SNS_KEY, now,
                                        topic="arn:aws:sns:us-east-2:123456789012:other"),
        lambda: sns_signer.confirmation(SNS_KEY, now, subscribe_url=(
            "https://evil.example/?Action=ConfirmSubscription")),
        lambda: sns_signer.confirmation(SNS_KEY, now, kind="UnsubscribeConfirmation"),
    ])()


def sns_fuzz_cases(rng: random.Random) -> list[Case]:
    """SNS requests none of which may be published (or confirm anything)."""
    cases = []
    for i in range(SNS_FUZZED):
        kind = rng.choice(["sns-forged", "sns-bad-body", "sns-handshake", "sns-not-alarm",
                           "sns-bad-alarm", "sns-header-mismatch", "sns-wrong-method"])
        method = "POST"
        if kind == "sns-forged":
            fields = _forged_notification(rng, i)
            body = sns_signer.body(fields)
        elif kind == "sns-bad-body":
            fields = {"Type": rng.choice(["Notification", "SubscriptionConfirmation", "x"])}
            body = _bad_body(rng, i)
        elif kind == "sns-handshake":
            fields = _handshake(rng)
            body = sns_signer.body(fields)
        elif kind == "sns-not-alarm":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=rng.choice(
                ["Hello world", "", "[]", '{"AlarmName": "x"}', "null", "\u0000",
                 _nested(rng).decode()]))
            body = sns_signer.body(fields)
        elif kind == "sns-bad-alarm":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"bad-{i}", **rng.choice([{"NewStateValue": "PANIC"},
                                           {"StateChangeTime": "yesterday"},
                                           {"StateChangeTime": "2026-11-25T12:00:00"},
                                           {"AlarmArn": None, "AWSAccountId": None,
                                            "Region": None},
                                           {"AlarmArn": "c" * 2000}])))
            body = sns_signer.body(fields)
        elif kind == "sns-header-mismatch":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"mismatch-{i}"))
            body = sns_signer.body(fields)
            fields = {**fields, "Type": rng.choice(["SubscriptionConfirmation",
                                                    "UnsubscribeConfirmation"]),
                      "MessageId": "other"}
        else:
            method = rng.choice(METHODS)
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"method-{i}"))
            body = sns_signer.body(fields)
        headers = _sns_headers(fields, rng)
        if kind == "sns-header-mismatch":
            headers["x-amz-sns-message-id"] = fields["MessageId"]
        cases.append(Case(kind, method, headers, body, chunked=rng.random() < 0.1))
    return cases
