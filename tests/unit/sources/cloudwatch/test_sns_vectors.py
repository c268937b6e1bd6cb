"""AWS's own signed SNS messages: all four verify, and none survives one changed character."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.core.errors import Rejected, Unauthorized
from shared.sources.cloudwatch.sns import (
    SIGNED_FIELDS,
    Deliver,
    SnsVerifier,
    parse_message,
    string_to_sign,
)
from shared.sources.cloudwatch.trust import SigningCertificates, Trust

VENDOR = Path(__file__).resolve().parents[3] / "data" / "vendor" / "aws_sns"
VECTORS = sorted(VENDOR.glob("signed-notification-*.json"))
PINNED = Trust.test_only_pinned((VENDOR / "signing-cert-2021.pem").read_bytes())
HEADERS = {"x-amz-sns-message-type": "Notification", "content-type": "text/plain; charset=UTF-8"}


def _fields(path: Path) -> dict[str, str]:
    fields: dict[str, str] = json.loads(path.read_bytes())
    return fields


def _handle(fields: dict[str, str], *topics: str, max_age: timedelta = timedelta(hours=1),
            now_from: dict[str, str] | None = None) -> object:
    """Verify ``fields`` with the vendor certificate pinned and the clock at the message's time."""
    body = json.dumps(fields).encode("utf-8")
    now = parse_message(json.dumps(now_from or fields).encode(), {}).timestamp
    verifier = SnsVerifier(topics or (fields["TopicArn"],), SigningCertificates(PINNED),
                           max_age=max_age)
    return verifier.handle(body, HEADERS, now + timedelta(seconds=2))


def test_there_are_four_vectors_of_both_versions() -> None:
    versions = sorted(_fields(path)["SignatureVersion"] for path in VECTORS)
    assert versions == ["1", "1", "2", "2"]
    assert sum("Subject" in _fields(path) for path in VECTORS) == 2


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_verifies_as_posted(path: Path) -> None:
    body = path.read_bytes()
    message = parse_message(body, HEADERS)
    verifier = SnsVerifier([message.topic_arn], SigningCertificates(PINNED))
    outcome = verifier.handle(body, HEADERS, message.timestamp + timedelta(seconds=2))
    assert isinstance(outcome, Deliver)
    assert outcome.message.message == "Hello world"


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_string_to_sign_is_the_documented_one(path: Path) -> None:
    fields = _fields(path)
    names = ["Message", "MessageId"] + (["Subject"] if "Subject" in fields else []) + [
        "Timestamp", "TopicArn", "Type"]
    expected = "".join(f"{name}\n{fields[name]}\n" for name in names).encode()
    assert string_to_sign(parse_message(path.read_bytes(), {})) == expected


def _changed(value: str, index: int) -> str:
    """Return ``value`` with the character at ``index`` replaced by another of its kind."""
    char = value[index]
    if char.isdigit():
        other = str((int(char) + 1) % 10)
    elif char.isalpha():
        other = "b" if char.lower() == "a" else "a"
        other = other.upper() if char.isupper() else other
    else:
        other = "_" if char != "_" else "-"
    return value[:index] + other + value[index + 1:]


MUTATIONS = [(path, name, index)
             for path in VECTORS
             for name in SIGNED_FIELDS["Notification"] if name in _fields(path)
             for index in range(len(_fields(path)[name]))]


@pytest.mark.parametrize(("path", "name", "index"), MUTATIONS,
                         ids=[f"{p.stem}-{n}-{i}" for p, n, i in MUTATIONS])
def test_one_changed_character_in_a_signed_field_fails(path: Path, name: str, index: int) -> None:
    fields = _fields(path)
    changed = {**fields, name: _changed(fields[name], index)}
    # The changed topic is allowed and any age is accepted, so the signature is what must fail
    # (a changed Timestamp may also be refused as unreadable or in the future: still refused).
    assert changed[name] != fields[name]
    topics = [fields["TopicArn"]] + [changed["TopicArn"]] * changed["TopicArn"].startswith("arn:")
    with pytest.raises(Rejected) as refused:
        _handle(changed, *topics, max_age=timedelta(days=365 * 100), now_from=fields)
    if name not in ("Timestamp", "Type") and changed["TopicArn"] in topics:
        assert isinstance(refused.value, Unauthorized)
        assert "does not verify" in str(refused.value)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_one_changed_signature_byte_fails(path: Path) -> None:
    fields = _fields(path)
    for index in range(len(fields["Signature"])):
        changed = {**fields, "Signature": _changed(fields["Signature"], index)}
        with pytest.raises(Unauthorized, match="[Ss]ignature"):
            _handle(changed)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_adding_or_removing_the_subject_fails(path: Path) -> None:
    fields = _fields(path)
    changed = dict(fields)
    if "Subject" in fields:
        del changed["Subject"]
    else:
        changed["Subject"] = fields["Message"]
    with pytest.raises(Unauthorized, match="does not verify"):
        _handle(changed)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_other_version_fails(path: Path) -> None:
    fields = _fields(path)
    other = "2" if fields["SignatureVersion"] == "1" else "1"
    with pytest.raises(Unauthorized, match="does not verify"):
        _handle({**fields, "SignatureVersion": other})


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_fails_once_its_certificate_expired(path: Path) -> None:
    message = parse_message(path.read_bytes(), {})
    verifier = SnsVerifier([message.topic_arn], SigningCertificates(PINNED),
                           max_age=timedelta(days=3650))
    with pytest.raises(Unauthorized, match="not valid at"):
        verifier.handle(path.read_bytes(), HEADERS, message.timestamp + timedelta(days=30))


@pytest.mark.parametrize("name", ["notification", "subscription-confirmation",
                                  "unsubscribe-confirmation"])
def test_documented_bodies_parse_but_their_placeholder_signatures_do_not_verify(name: str) -> None:
    body = (VENDOR / f"docs-http-{name}.json").read_bytes()
    message = parse_message(body, {"x-amz-sns-message-type": json.loads(body)["Type"]})
    assert message.topic_arn == "arn:aws:sns:us-west-2:123456789012:MyTopic"
    verifier = SnsVerifier([message.topic_arn], SigningCertificates(PINNED),
                           max_age=timedelta(days=36500))
    while_certificate_valid = datetime(2022, 1, 1, tzinfo=UTC)
    with pytest.raises(Unauthorized, match="[Ss]ignature"):
        verifier.handle(body, {}, while_certificate_valid)


REFUSALS = [
    ("version-3", {"SignatureVersion": "3"}, {}, "SignatureVersion"),
    ("cert-url-other-host", {"SigningCertURL": "https://sns.us-east-2.amazonaws.com.attacker.example"
                             "/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"},
     {}, "host"),
    ("cert-url-http", {"SigningCertURL": "http://sns.us-east-2.amazonaws.com/"
                       "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"},
     {}, "not https"),
    ("cert-url-not-pem", {"SigningCertURL": "https://sns.us-east-2.amazonaws.com/"
                          "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.cer"},
     {}, ".pem"),
    ("old", {}, {"later": timedelta(hours=1, minutes=6)}, "older than"),
    ("topic-not-allowed", {}, {"topics": ("arn:aws:sns:us-east-2:295079676684:other",)},
     "not allowed"),
]


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
@pytest.mark.parametrize(("changes", "options", "pattern"), [row[1:] for row in REFUSALS],
                         ids=[row[0] for row in REFUSALS])
def test_vector_refused(path: Path, changes: dict[str, str], options: dict[str, Any],
                        pattern: str) -> None:
    fields = {**_fields(path), **changes}
    message = parse_message(path.read_bytes(), {})
    verifier = SnsVerifier(options.get("topics", (message.topic_arn,)),
                           SigningCertificates(PINNED))
    now = message.timestamp + options.get("later", timedelta(seconds=2))
    with pytest.raises(Unauthorized, match=pattern):
        verifier.handle(json.dumps(fields).encode(), HEADERS, now)
