"""Amazon SNS messages posted to an HTTPS subscription: parse, verify, decide; no I/O of its own.

What is verified, and where AWS says so (Amazon SNS Developer Guide):

* the body is SNS's JSON whatever the ``Content-Type`` (SNS posts ``text/plain``), and the
  ``x-amz-sns-message-type`` / ``-message-id`` / ``-topic-arn`` headers, copies of body fields,
  agree with it ("Parsing message formats");
* ``SignatureVersion`` 1 is SHA1withRSA and 2 is SHA256withRSA over the string to sign: for a
  ``Notification`` Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type; for
  a ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation`` Message, MessageId, SubscribeURL,
  Timestamp, Token, TopicArn, Type; each as ``name\\nvalue\\n``, in that (byte-sorted) order
  ("Verifying the signatures of Amazon SNS messages"); any other version is refused;
* the certificate comes from an SNS URL and names SNS (``trust``);
* the ``TopicArn`` is one the deployment expects (AWS: "Reject any message with an unexpected
  TopicArn"), and the ``Timestamp`` is recent: SNS stops retrying an HTTP/S delivery within
  3,600 seconds ("Amazon SNS message delivery retries"), so an older message is a replay.

Cheap checks run before the certificate is fetched, so a forged body costs no request to AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.core.errors import ConfigError, Rejected, Unauthorized
from shared.sources.cloudwatch.trust import SigningCertificates, Trust, certificate_url, vet_url

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

#: The fields each message type signs, in the order of the string to sign.
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                               "TopicArn", "Type"),
}
#: Signed only when the message has it.
OPTIONAL_FIELDS = frozenset({"Subject"})
#: The hash of each SignatureVersion; the padding is PKCS #1 v1.5 for both.
HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
#: Headers SNS sends as copies of body fields.
HEADER_FIELDS = {"x-amz-sns-message-type": "Type", "x-amz-sns-message-id": "MessageId",
                 "x-amz-sns-topic-arn": "TopicArn"}
#: SNS's hard limit on an HTTP/S delivery's retries (3,600 s): older is a replay.
MAX_AGE = timedelta(hours=1)
#: How far the sender's clock may be from ours, either way.
CLOCK_SKEW = timedelta(minutes=5)
#: A base64 RSA signature of up to 8192 bits fits in 1,368 characters.
MAX_SIGNATURE_CHARS = 1400


@dataclass(frozen=True)
class SnsMessage:
    """An SNS message as posted; nothing in it is believed until ``verify`` returns."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    signature_version: str
    signature: str
    signing_cert_url: str
    subject: str | None = None
    subscribe_url: str | None = None
    token: str | None = None
    unsubscribe_url: str | None = None  # not signed: never follow it
    signed: tuple[tuple[str, str], ...] = ()  # the (name, value) pairs of the string to sign


@dataclass(frozen=True)
class Deliver:
    """A verified Notification: its ``message`` is for the alarm parser."""

    message: SnsMessage


@dataclass(frozen=True)
class Confirm:
    """A verified SubscriptionConfirmation for an allowed topic: GET ``url`` to confirm it."""

    message: SnsMessage
    url: str


@dataclass(frozen=True)
class Unsubscribed:
    """A verified UnsubscribeConfirmation: worth a log line, never confirmed, nothing published."""

    message: SnsMessage


Outcome = Deliver | Confirm | Unsubscribed


def parse_message(body: bytes, headers: Mapping[str, str]) -> SnsMessage:
    """Return the SNS message in ``body``; Rejected if it is not one, Unauthorized on a mismatch."""
    fields = _json_fields(body)
    kind = fields.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED_FIELDS:
        raise Unauthorized(f"sns: unknown message type {str(kind)[:40]!r}")
    lowered = {name.lower(): value for name, value in headers.items()}
    for header, name in HEADER_FIELDS.items():
        if header in lowered and lowered[header].strip() != fields.get(name):
            raise Unauthorized(f"sns: header {header} does not match the body's {name}")
    required = [name for name in SIGNED_FIELDS[kind] if name not in OPTIONAL_FIELDS]
    required += ["SignatureVersion", "Signature", "SigningCertURL"]
    missing = [name for name in required if not isinstance(fields.get(name), str)]
    if missing:
        raise Rejected(f"sns: {kind} lacks {', '.join(missing)} (or not as text)",
                       reason="malformed")
    for name in ("Subject", "UnsubscribeURL"):
        # SNS leaves Subject out when there is none; null is read the same way.
        if fields.get(name) is not None and not isinstance(fields[name], str):
            raise Rejected(f"sns: {name} is not text", reason="malformed")
    text = {name: value for name, value in fields.items() if isinstance(value, str)}
    signed = tuple((name, text[name]) for name in SIGNED_FIELDS[kind] if name in text)
    return SnsMessage(
        type=kind, message_id=text["MessageId"], topic_arn=text["TopicArn"],
        message=text["Message"], timestamp=_timestamp(text["Timestamp"]),
        signature_version=text["SignatureVersion"], signature=text["Signature"],
        signing_cert_url=text["SigningCertURL"], subject=text.get("Subject"),
        subscribe_url=text.get("SubscribeURL"), token=text.get("Token"),
        unsubscribe_url=text.get("UnsubscribeURL"), signed=signed)


def string_to_sign(message: SnsMessage) -> bytes:
    """Return the bytes SNS signed: ``name\\nvalue\\n`` for each signed field, in order."""
    return "".join(f"{name}\n{value}\n" for name, value in message.signed).encode("utf-8")


def verify_signature(message: SnsMessage, key: rsa.RSAPublicKey) -> None:
    """Raise Unauthorized unless ``key`` signed ``message`` with its SignatureVersion's hash."""
    algorithm = HASHES.get(message.signature_version)
    if algorithm is None:
        raise Unauthorized(f"sns: unknown SignatureVersion {message.signature_version[:8]!r}")
    if len(message.signature) > MAX_SIGNATURE_CHARS:
        raise Unauthorized("sns: Signature too long")
    try:
        signature = base64.b64decode(message.signature, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Unauthorized("sns: Signature is not base64") from error
    # Only the canonical spelling: unused trailing bits would let one signature be posted many ways.
    if base64.b64encode(signature).decode("ascii") != message.signature:
        raise Unauthorized("sns: Signature is not canonical base64")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as error:
        raise Unauthorized(f"sns: signature of {message.type} {message.message_id[:64]!r} "
                           "does not verify") from error


def check_fresh(message: SnsMessage, now: datetime, max_age: timedelta) -> None:
    """Raise Unauthorized if ``message`` is older than ``max_age`` or from the future."""
    if message.timestamp > now + CLOCK_SKEW:
        raise Unauthorized(f"sns: Timestamp {message.timestamp.isoformat()} is in the future")
    if message.timestamp < now - max_age - CLOCK_SKEW:
        raise Unauthorized(f"sns: Timestamp {message.timestamp.isoformat()} is older than "
                           f"{max_age}")


def subscribe_url(message: SnsMessage, trust: Trust) -> str:
    """Return the SubscribeURL to GET if it is an SNS ConfirmSubscription for this very topic."""
    endpoint = vet_url(message.subscribe_url, trust, "SubscribeURL")
    try:
        query = parse_qs(endpoint.parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise Unauthorized("sns: SubscribeURL query is malformed") from error
    expected = {"Action": "ConfirmSubscription", "TopicArn": message.topic_arn,
                "Token": message.token}
    if endpoint.parts.path != "/" or set(query) != set(expected) or any(
            query[name] != [value] for name, value in expected.items()):
        raise Unauthorized("sns: SubscribeURL is not a ConfirmSubscription of this topic "
                           "and token")
    return endpoint.url


class SnsVerifier:
    """Verify SNS messages and decide what each asks for; the certificate fetch is injected."""

    def __init__(self, allowed_topics: Iterable[str], certificates: SigningCertificates, *,
                 max_age: timedelta = MAX_AGE) -> None:
        topics = frozenset(allowed_topics)
        if any(not topic.startswith("arn:") for topic in topics):
            raise ConfigError("aws sns: allowed topics must be exact topic ARNs")
        if max_age <= timedelta(0):
            raise ConfigError("aws sns: maximum message age must be positive")
        self.allowed_topics = topics  # empty: every message is refused
        self.certificates = certificates
        self.max_age = max_age

    def verify(self, message: SnsMessage, now: datetime) -> None:
        """Raise Unauthorized unless ``message`` is SNS's, recent, and for an allowed topic."""
        if message.signature_version not in HASHES:
            raise Unauthorized(f"sns: unknown SignatureVersion {message.signature_version[:8]!r}")
        if message.topic_arn not in self.allowed_topics:
            raise Unauthorized(f"sns: topic {message.topic_arn[:256]!r} is not allowed")
        check_fresh(message, now, self.max_age)
        endpoint = certificate_url(message.signing_cert_url, self.certificates.trust)
        verify_signature(message, self.certificates.public_key(endpoint, now))

    def handle(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Outcome:
        """Parse and verify one posted message, and return what it asks for."""
        message = parse_message(body, headers)
        self.verify(message, now)
        if message.type == SUBSCRIPTION_CONFIRMATION:
            return Confirm(message, subscribe_url(message, self.certificates.trust))
        if message.type == UNSUBSCRIBE_CONFIRMATION:
            return Unsubscribed(message)
        return Deliver(message)


def _json_fields(body: bytes) -> dict[str, object]:
    """Return the body's top-level JSON object; Rejected if it is not one, or repeats a key."""
    try:
        fields = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(f"sns: body is not JSON: {error}", reason="malformed") from error
    except RecursionError as error:
        raise Rejected("sns: body is nested too deeply", reason="malformed") from error
    if not isinstance(fields, dict):
        raise Rejected("sns: body is not a JSON object", reason="malformed")
    for value in fields.values():
        # A lone surrogate (``\\ud800``) parses but cannot be the UTF-8 SNS signed.
        if isinstance(value, str) and not _encodable(value):
            raise Rejected("sns: body holds text that is not Unicode", reason="malformed")
    return fields


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Two values for one name could be read one way here and another way elsewhere.
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise ValueError("a key is repeated")
    return fields


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _timestamp(text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as error:
        raise Rejected(f"sns: Timestamp {text[:40]!r} is not ISO 8601", reason="malformed") \
            from error
    if stamp.tzinfo is None:
        raise Rejected(f"sns: Timestamp {text[:40]!r} has no time zone", reason="malformed")
    return stamp
