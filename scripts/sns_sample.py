"""Sign CloudWatch samples as SNS would, for `make run`, `make send-sample` and `make demo`.

A local run cannot be AWS: ingest believes a local key only through
``CLOUDWATCH_SNS_TEST_TRUST=pinned:<its certificate>``, which the settings refuse in prod.
The key and its self-signed certificate are made once per run directory (``.run/``). The
string to sign is written here from the Amazon SNS Developer Guide ("Verifying the signatures
of Amazon SNS messages"), not taken from the code that verifies it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: The topic of the local samples; `make run` allows it.
TOPIC = "arn:aws:sns:us-east-2:123456789012:alert-bridge"
CERT_URL = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-local.pem"
KEY_FILE = "sns-local-key.pem"
CERT_FILE = "sns-local-cert.pem"
#: A Notification signs these, in this order (Subject only when present).
SIGNED = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")


def local_settings(directory: Path) -> dict[str, str]:
    """Return the settings under which a local ingest believes the local key (made if new)."""
    ensure_key(directory)
    return {"CLOUDWATCH_SNS_TOPIC_ARNS": TOPIC,
            "CLOUDWATCH_SNS_TEST_TRUST": f"pinned:{directory / CERT_FILE}"}


def ensure_key(directory: Path) -> None:
    """Write a local RSA key and its certificate (named for SNS) unless they exist."""
    if (directory / KEY_FILE).is_file() and (directory / CERT_FILE).is_file():
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("sns.amazonaws.com")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / KEY_FILE).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (directory / KEY_FILE).chmod(0o600)
    (directory / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def notification(alarm: Mapping[str, object], directory: Path, *,
                 now: datetime | None = None) -> bytes:
    """Return an SNS Notification of ``alarm`` (its StateChangeTime now), signed (version 2)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    ensure_key(directory)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    millis = f"{at.microsecond // 1000:03d}"
    changed = {**alarm, "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "+0000"}
    fields = {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC,
              "Subject": f'{changed.get("NewStateValue")}: "{changed.get("AlarmName")}" in '
                         f'{changed.get("Region")}'[:100],
              "Message": json.dumps(changed, separators=(",", ":")),
              "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z",
              "SignatureVersion": "2", "SigningCertURL": CERT_URL,
              "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe"
                                f"&SubscriptionArn={TOPIC}:local"}
    text = "".join(f"{name}\n{fields[name]}\n" for name in SIGNED if name in fields)
    key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    fields["Signature"] = base64.b64encode(signature).decode("ascii")
    return json.dumps(fields, indent=2).encode("utf-8")


def headers(body: bytes) -> dict[str, str]:
    """Return the headers SNS posts a message with."""
    fields = json.loads(body)
    return {"Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": fields["Type"],
            "x-amz-sns-message-id": fields["MessageId"],
            "x-amz-sns-topic-arn": fields["TopicArn"],
            "User-Agent": "Amazon Simple Notification Service Agent"}
