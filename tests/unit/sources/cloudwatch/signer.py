"""A stand-in for SNS in tests: a local key and certificate that sign messages as AWS documents.

The string to sign is built here from AWS's description, not with the code under test, so a
mistake in one does not hide in the other. ``python -m tests.unit.sources.cloudwatch.signer``
rewrites the recorded fixtures in ``tests/data/aws_sns/`` (their key is thrown away: only the
certificate is kept, which is all a verifier needs).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

RECORDED = Path(__file__).resolve().parents[3] / "data" / "aws_sns"
REGION = "us-east-2"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:alerts"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
#: The fields each type signs, in order, as the SNS Developer Guide lists them.
SIGNED = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"],
    "UnsubscribeConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"],
}


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Return a fresh RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


Issuer = tuple[x509.Certificate, rsa.RSAPrivateKey]
#: Wide enough for every test clock; tests of validity pass their own window.
VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2040, 1, 1, tzinfo=UTC)


def certificate(key: rsa.RSAPrivateKey, *, name: str = "sns.amazonaws.com",
                alt_names: tuple[str, ...] | None = None, not_before: datetime = VALID_FROM,
                not_after: datetime = VALID_UNTIL, issuer: Issuer | None = None, ca: bool = False,
                digital_signature: bool = True) -> x509.Certificate:
    """Return a certificate for ``key``: self-signed, or issued by ``issuer`` (cert, key)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=digital_signature, content_commitment=False,
                   key_encipherment=not ca, data_encipherment=False, key_agreement=False,
                   key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False),
                   critical=True))
    names = (name,) if alt_names is None else alt_names
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    """Return ``cert`` as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def stamp(moment: datetime) -> str:
    """Return ``moment`` as SNS writes a Timestamp: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def sign(fields: dict[str, str], key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Return ``fields`` with the Signature of its SignatureVersion over the string to sign."""
    names = [n for n in SIGNED[fields["Type"]] if n in fields]
    text = "".join(f"{n}\n{fields[n]}\n" for n in names).encode("utf-8")
    # An unknown version is signed as 2 would be: the verifier must refuse it all the same.
    algorithm = HASHES.get(fields["SignatureVersion"], hashes.SHA256)()
    signature = key.sign(text, padding.PKCS1v15(), algorithm)
    return {**fields, "Signature": base64.b64encode(signature).decode("ascii")}


def notification(key: rsa.RSAPrivateKey, at: datetime, *, version: str = "2",
                 message: str = "Hello from a test", subject: str | None = None,
                 topic: str = TOPIC, cert_url: str = CERT_URL,
                 message_id: str = "9a1b2c3d-0000-4000-8000-000000000001") -> dict[str, str]:
    """Return a signed Notification."""
    fields = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic,
              "Message": message, "Timestamp": stamp(at), "SignatureVersion": version,
              "SigningCertURL": cert_url,
              "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
                                f"&SubscriptionArn={topic}:0f1e2d3c"}
    if subject is not None:
        fields["Subject"] = subject
    return sign(fields, key)


def confirmation(key: rsa.RSAPrivateKey, at: datetime, *, kind: str = "SubscriptionConfirmation",
                 version: str = "2", topic: str = TOPIC, cert_url: str = CERT_URL,
                 token: str = "2336412f37fb687f5d51e6e2425a8a58", subscribe_url: str | None = None,
                 message_id: str = "9a1b2c3d-0000-4000-8000-000000000002") -> dict[str, str]:
    """Return a signed SubscriptionConfirmation (or UnsubscribeConfirmation)."""
    url = subscribe_url or (f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription"
                            f"&TopicArn={topic}&Token={token}")
    verb = "subscribe to" if kind == "SubscriptionConfirmation" else "deactivate subscription"
    fields = {"Type": kind, "MessageId": message_id, "Token": token, "TopicArn": topic,
              "Message": f"You have chosen to {verb} the topic {topic}.\nTo confirm the "
                         "subscription, visit the SubscribeURL included in this message.",
              "SubscribeURL": url, "Timestamp": stamp(at), "SignatureVersion": version,
              "SigningCertURL": cert_url}
    return sign(fields, key)


def body(fields: dict[str, str]) -> bytes:
    """Return ``fields`` as SNS posts them: a JSON object, UTF-8."""
    return json.dumps(fields, indent=2, ensure_ascii=False).encode("utf-8")


#: When the recorded fixtures were signed, and how long their certificate is valid.
RECORDED_AT = datetime(2026, 6, 1, 12, 0, 0, 125000, tzinfo=UTC)
ALARM = {
    "AlarmName": "checkout-5xx", "AlarmDescription": "Checkout answers 5xx",
    "AWSAccountId": "123456789012", "AlarmConfigurationUpdatedTimestamp":
    "2026-05-30T08:00:00.000+0000", "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints "
                      "[12.0 (01/06/26 11:59:00)] was greater than the threshold (5.0).",
    "StateChangeTime": "2026-06-01T11:59:58.904+0000", "Region": "US East (Ohio)",
    "AlarmArn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:checkout-5xx",
    "OldStateValue": "OK", "OKActions": [TOPIC], "AlarmActions": [TOPIC],
    "InsufficientDataActions": [],
    "Trigger": {"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB",
                "StatisticType": "Statistic", "Statistic": "SUM", "Unit": None,
                "Dimensions": [{"value": "app/checkout/50dc6c495c0c9188", "name": "LoadBalancer"}],
                "Period": 60, "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 5.0, "TreatMissingData": "missing",
                "EvaluateLowSampleCountPercentile": ""},
}


def record() -> None:
    """Write the recorded fixtures: three signed messages and the certificate that signs them."""
    key = new_key()
    cert = certificate(key, not_before=datetime(2026, 1, 1, tzinfo=UTC),
                       not_after=datetime(2036, 1, 1, tzinfo=UTC))
    RECORDED.mkdir(parents=True, exist_ok=True)
    (RECORDED / "test-signing-cert.pem").write_bytes(pem(cert))
    at = RECORDED_AT
    fixtures = {
        "notification-cloudwatch-alarm-v2.json": notification(
            key, at, subject='ALARM: "checkout-5xx" in US East (Ohio)',
            message=json.dumps(ALARM, separators=(",", ":"))),
        "subscription-confirmation-v1.json": confirmation(
            key, at - timedelta(minutes=1), version="1"),
        "unsubscribe-confirmation-v2.json": confirmation(
            key, at + timedelta(minutes=1), kind="UnsubscribeConfirmation",
            message_id="9a1b2c3d-0000-4000-8000-000000000003"),
    }
    for name, fields in fixtures.items():
        (RECORDED / name).write_bytes(body(fields) + b"\n")


if __name__ == "__main__":
    record()
