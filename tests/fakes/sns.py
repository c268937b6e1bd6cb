"""A local Amazon SNS for tests: an HTTPS host with a test CA, serving the signing certificate
and answering the SubscribeURL, and a signer of the messages SNS would post.

The shapes follow the Amazon SNS Developer Guide: the certificate is a PEM file at the
``SigningCertURL``; ``SubscribeURL`` is ``/?Action=ConfirmSubscription&TopicArn=…&Token=…`` and
answers a ``ConfirmSubscriptionResponse`` XML document. The ingest function reaches this host
only through ``CLOUDWATCH_SNS_TEST_TRUST=local-ca:<ca.pem>``, which production refuses.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.unit.sources.cloudwatch import signer

TOPIC = signer.TOPIC
CERT_PATH = "/SimpleNotificationService-local0123456789abcdef.pem"


def _server_certificate(key: rsa.RSAPrivateKey, issuer: signer.Issuer) -> x509.Certificate:
    """Return a TLS certificate for 127.0.0.1 and localhost, issued by the test CA."""
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer[0].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(issuer[1], hashes.SHA256()))


class FakeSns:
    """SNS's certificate host and SubscribeURL on 127.0.0.1 over TLS, and its signer."""

    def __init__(self, directory: Path, topic: str = TOPIC) -> None:
        self.topic = topic
        ca_key = signer.new_key()
        self.ca = signer.certificate(ca_key, name="alert-bridge test SNS CA", alt_names=(),
                                     ca=True)
        issuer = (self.ca, ca_key)
        self.key = signer.new_key()
        self.signing = signer.certificate(self.key, issuer=issuer)
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "sns-test-ca.pem"
        self.ca_file.write_bytes(signer.pem(self.ca))
        tls_key = signer.new_key()
        (directory / "sns-tls.pem").write_bytes(signer.pem(_server_certificate(tls_key, issuer)))
        (directory / "sns-tls.key").write_bytes(tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(directory / "sns-tls.pem", directory / "sns-tls.key")
        self.confirmed: list[str] = []  # topic ARN and token of each confirmed subscription
        self.requests: list[str] = []  # every path asked for
        self.certificate_status = 200  # what the certificate URL answers (a 5xx: an outage)
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Return the host's base URL."""
        assert self._server is not None, "fake SNS: not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cert_url(self) -> str:
        """Return the SigningCertURL of the messages it signs."""
        return self.url + CERT_PATH

    def setting(self) -> str:
        """Return the CLOUDWATCH_SNS_TEST_TRUST value that believes this host."""
        return f"local-ca:{self.ca_file}"

    def notification(self, message: str, *, at: datetime | None = None, version: str = "2",
                     message_id: str, subject: str | None = None) -> dict[str, str]:
        """Return a signed Notification of ``message`` on the topic."""
        return signer.notification(self.key, at or datetime.now(UTC), version=version,
                                   message=message, subject=subject, topic=self.topic,
                                   cert_url=self.cert_url, message_id=message_id)

    def subscription(self, token: str, *, kind: str = "SubscriptionConfirmation",
                     at: datetime | None = None) -> dict[str, str]:
        """Return a signed SubscriptionConfirmation (or UnsubscribeConfirmation)."""
        url = (f"{self.url}/?Action=ConfirmSubscription&TopicArn={self.topic}&Token={token}")
        return signer.confirmation(self.key, at or datetime.now(UTC), kind=kind,
                                   topic=self.topic, cert_url=self.cert_url, token=token,
                                   subscribe_url=url)

    def _answer(self, path: str) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests.append(path)
        parts = urlsplit(path)
        if parts.path == CERT_PATH:
            if self.certificate_status != 200:
                return self.certificate_status, "text/plain", b"unavailable"
            return 200, "application/x-x509-ca-cert", signer.pem(self.signing)
        query = parse_qs(parts.query)
        if parts.path == "/" and query.get("Action") == ["ConfirmSubscription"]:
            with self._lock:
                self.confirmed.append(f"{query['TopicArn'][0]} {query['Token'][0]}")
            arn = f"{query['TopicArn'][0]}:0f1e2d3c-local"
            return 200, "text/xml", (
                '<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                f"<ConfirmSubscriptionResult><SubscriptionArn>{arn}</SubscriptionArn>"
                "</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>").encode()
        return 404, "text/plain", b"not found"

    def start(self) -> Self:
        """Serve HTTPS on an ephemeral 127.0.0.1 port in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, kind, body = fake._answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
