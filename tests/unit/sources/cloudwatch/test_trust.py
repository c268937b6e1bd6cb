"""Which SNS URLs and signing certificates are believed; the test-only trusts production refuses."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from shared.core.errors import ConfigError, Unauthorized
from shared.sources.cloudwatch.sns import SnsVerifier
from shared.sources.cloudwatch.trust import (
    AWS,
    SigningCertificates,
    Trust,
    certificate_url,
    check_certificate,
    signing_names,
)
from tests.unit.sources.cloudwatch import signer

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
KEY = signer.new_key()
REPO = Path(__file__).resolve().parents[4]

CERT_URLS_BELIEVED = [
    ("us-east-1", "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec18"
                  "3fbaddaa2a969abfda.pem"),
    ("us-gov-west-1", "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-a.pem"),
    ("ap-southeast-5", "https://sns.ap-southeast-5.amazonaws.com/a/b/c.pem"),
    ("cn-north-1", "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem"),
    ("cn-northwest-1", "https://sns.cn-northwest-1.amazonaws.com.cn/x.pem"),
]


@pytest.mark.parametrize(("region", "url"), CERT_URLS_BELIEVED,
                         ids=[row[0] for row in CERT_URLS_BELIEVED])
def test_certificate_url_believed(region: str, url: str) -> None:
    endpoint = certificate_url(url, AWS)
    assert (endpoint.url, endpoint.region) == (url, region)


CERT_URLS_REFUSED = [
    ("http", "http://sns.us-east-1.amazonaws.com/a.pem"),
    ("scheme-uppercase", "HTTPS://sns.us-east-1.amazonaws.com/a.pem"),
    ("no-scheme", "//sns.us-east-1.amazonaws.com/a.pem"),
    ("ftp", "ftp://sns.us-east-1.amazonaws.com/a.pem"),
    ("other-service", "https://s3.us-east-1.amazonaws.com/a.pem"),
    ("bucket-lookalike", "https://sns.us-east-1.amazonaws.com.s3.amazonaws.com/a.pem"),
    ("suffix-host", "https://sns.us-east-1.amazonaws.com.attacker.example/a.pem"),
    ("prefix-host", "https://evilsns.us-east-1.amazonaws.com/a.pem"),
    ("subdomain", "https://x.sns.us-east-1.amazonaws.com/a.pem"),
    ("no-region", "https://sns.amazonaws.com/a.pem"),
    ("bad-region", "https://sns.useast1.amazonaws.com/a.pem"),
    ("region-with-dot", "https://sns.us-east-1.x.amazonaws.com/a.pem"),
    ("china-region-on-com", "https://sns.cn-north-1.amazonaws.com/a.pem"),
    ("other-region-on-com-cn", "https://sns.us-east-1.amazonaws.com.cn/a.pem"),
    ("uppercase-host", "https://SNS.us-east-1.amazonaws.com/a.pem"),
    ("trailing-dot", "https://sns.us-east-1.amazonaws.com./a.pem"),
    ("userinfo", "https://user@sns.us-east-1.amazonaws.com/a.pem"),
    ("userinfo-host-swap", "https://sns.us-east-1.amazonaws.com@attacker.example/a.pem"),
    ("port", "https://sns.us-east-1.amazonaws.com:443/a.pem"),
    ("other-port", "https://sns.us-east-1.amazonaws.com:8443/a.pem"),
    ("backslash", "https://sns.us-east-1.amazonaws.com\\@attacker.example/a.pem"),
    ("tab-stripped-by-parsers", "https://sns.us-east-1.amazonaws.com/a.p\tem"),
    ("newline", "https://sns.us-east-1.amazonaws.com/a.pem\n"),
    ("space", "https://sns.us-east-1.amazonaws.com/a .pem"),
    ("non-ascii", "https://sns.us-east-1.amazonaws.com/ä.pem"),
    ("not-pem", "https://sns.us-east-1.amazonaws.com/a.crt"),
    ("pem-in-query-only", "https://sns.us-east-1.amazonaws.com/a?x=.pem"),
    ("query", "https://sns.us-east-1.amazonaws.com/a.pem?x=1"),
    ("empty-query", "https://sns.us-east-1.amazonaws.com/a.pem?"),
    ("fragment", "https://sns.us-east-1.amazonaws.com/a.pem#x"),
    ("dot-dot", "https://sns.us-east-1.amazonaws.com/a/../b.pem"),
    ("percent-encoded", "https://sns.us-east-1.amazonaws.com/%2e%2e/b.pem"),
    ("just-pem", "https://sns.us-east-1.amazonaws.com/.pem"),
    ("no-path", "https://sns.us-east-1.amazonaws.com"),
    ("local-host", "https://localhost/a.pem"),
    ("ip", "https://54.239.28.85/a.pem"),
    ("too-long", "https://sns.us-east-1.amazonaws.com/" + "a" * 3000 + ".pem"),
    ("empty", ""),
]


@pytest.mark.parametrize("url", [row[1] for row in CERT_URLS_REFUSED],
                         ids=[row[0] for row in CERT_URLS_REFUSED])
def test_certificate_url_refused(url: str) -> None:
    with pytest.raises(Unauthorized):
        certificate_url(url, AWS)


@pytest.mark.parametrize("value", [None, 17, ["https://sns.us-east-1.amazonaws.com/a.pem"]])
def test_certificate_url_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(Unauthorized, match="not a plain URL"):
        certificate_url(value, AWS)


@pytest.mark.parametrize(("region", "names"), [
    ("us-east-1", {"sns.amazonaws.com", "sns-signing.us-east-1.amazonaws.com"}),
    ("me-south-1", {"sns.amazonaws.com", "sns-signing.me-south-1.amazonaws.com"}),
    ("cn-north-1", {"sns-cn-north-1.amazonaws.com.cn", "sns.amazonaws.com.cn"}),
    ("us-gov-east-1", {"sns-us-gov-west-1.amazonaws.com"}),
])
def test_signing_names_per_region(region: str, names: set[str]) -> None:
    assert signing_names(region) == names


def _check(key: rsa.RSAPrivateKey = KEY, **options: Any) -> None:
    check_certificate(signer.certificate(key, **options), signing_names("us-east-2"), NOW)


def test_certificate_accepted() -> None:
    _check()
    _check(name="sns-signing.us-east-2.amazonaws.com")
    _check(alt_names=())  # no alternative names: the common name decides


CERTIFICATES_REFUSED = [
    ("expired", {"not_before": NOW - timedelta(days=400), "not_after": NOW - timedelta(seconds=1)},
     "not valid at"),
    ("not-yet-valid", {"not_before": NOW + timedelta(seconds=1), "not_after": NOW +
                       timedelta(days=9)}, "not valid at"),
    ("other-name", {"name": "attacker.example"}, "names"),
    ("name-of-another-region", {"name": "sns-signing.us-east-1.amazonaws.com"}, "names"),
    ("china-name-outside-china", {"name": "sns.amazonaws.com.cn"}, "names"),
    ("alternative-names-disagree", {"alt_names": ("attacker.example",)}, "names"),
    ("wildcard", {"name": "*.amazonaws.com"}, "names"),
    ("small-key", {"key": signer.new_key(1024)}, "2048"),
    ("ca-certificate", {"ca": True}, "CA certificate"),
    ("may-not-sign", {"digital_signature": False}, "key usage"),
]


@pytest.mark.parametrize(("options", "pattern"), [row[1:] for row in CERTIFICATES_REFUSED],
                         ids=[row[0] for row in CERTIFICATES_REFUSED])
def test_certificate_refused(options: dict[str, Any], pattern: str) -> None:
    with pytest.raises(Unauthorized, match=pattern):
        _check(**options)


def test_certificate_with_an_ec_key_is_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    leaf = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(ec_key.public_key()).serial_number(1)
            .not_valid_before(signer.VALID_FROM).not_valid_after(signer.VALID_UNTIL)
            .sign(ec_key, hashes.SHA256()))
    with pytest.raises(Unauthorized, match="not RSA"):
        check_certificate(leaf, signing_names("us-east-2"), NOW)


def test_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    pem = signer.pem(signer.certificate(KEY))
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    certificates = SigningCertificates(AWS, fetch, size=2)
    urls = [f"https://sns.us-east-2.amazonaws.com/{n}.pem" for n in "abc"]
    for url in (urls[0], urls[1], urls[0], urls[2]):
        certificates.public_key(certificate_url(url, AWS), NOW)
    assert certificates.cached() == (urls[0], urls[2])
    assert fetched == [urls[0], urls[1], urls[2]]


def test_cached_certificate_still_expires_on_time() -> None:
    pem = signer.pem(signer.certificate(KEY, not_before=NOW - timedelta(days=1),
                                        not_after=NOW + timedelta(hours=1)))
    certificates = SigningCertificates(AWS, lambda url: pem)
    endpoint = certificate_url("https://sns.us-east-2.amazonaws.com/a.pem", AWS)
    certificates.public_key(endpoint, NOW)
    with pytest.raises(Unauthorized, match="not valid at"):
        certificates.public_key(endpoint, NOW + timedelta(hours=2))


def test_refused_certificate_is_not_cached() -> None:
    pem = signer.pem(signer.certificate(KEY, name="attacker.example"))
    certificates = SigningCertificates(AWS, lambda url: pem)
    with pytest.raises(Unauthorized):
        certificates.public_key(certificate_url("https://sns.us-east-2.amazonaws.com/a.pem", AWS),
                                NOW)
    assert certificates.cached() == ()


# The test-only trusts.
def test_production_trust_is_accepted_in_production() -> None:
    assert Trust.aws() is AWS
    assert not AWS.test_only
    AWS.require_production()


def test_pinned_trust_is_refused_in_production() -> None:
    trust = Trust.test_only_pinned(signer.pem(signer.certificate(KEY)))
    assert trust.test_only
    with pytest.raises(ConfigError, match="for tests only"):
        trust.require_production()


def test_pinned_trust_still_applies_the_aws_url_policy_and_never_fetches() -> None:
    trust = Trust.test_only_pinned(signer.pem(signer.certificate(KEY)))
    certificates = SigningCertificates(trust)  # no fetcher needed
    with pytest.raises(Unauthorized, match="host"):
        certificate_url("https://localhost/a.pem", trust)
    certificates.public_key(certificate_url("https://sns.us-east-2.amazonaws.com/a.pem", trust),
                            NOW)
    assert certificates.cached() == ()


def _local_ca() -> tuple[Trust, signer.Issuer]:
    ca_key = signer.new_key()
    ca = signer.certificate(ca_key, name="alert-bridge test CA", alt_names=(), ca=True)
    return Trust.test_only_local_ca(signer.pem(ca)), (ca, ca_key)


def test_local_ca_trust_believes_a_local_server_and_its_certificates() -> None:
    trust, issuer = _local_ca()
    leaf = signer.pem(signer.certificate(KEY, issuer=issuer))
    url = "https://localhost:8443/SimpleNotificationService-test.pem"
    fields = signer.notification(KEY, NOW, cert_url=url)
    verifier = SnsVerifier([signer.TOPIC], SigningCertificates(trust, lambda u: leaf))
    verifier.handle(signer.body(fields), {}, NOW)
    with pytest.raises(ConfigError, match="for tests only"):
        trust.require_production()


def test_local_ca_trust_refuses_certificates_of_another_issuer() -> None:
    trust, _ = _local_ca()
    _, other = _local_ca()
    leaf = signer.pem(signer.certificate(KEY, issuer=other))
    certificates = SigningCertificates(trust, lambda u: leaf)
    with pytest.raises(Unauthorized, match="not issued by the test CA"):
        certificates.public_key(certificate_url("https://127.0.0.1:9/a.pem", trust), NOW)


def test_local_ca_trust_refuses_aws_and_other_hosts() -> None:
    trust, _ = _local_ca()
    for url in ("https://sns.us-east-2.amazonaws.com/a.pem", "https://attacker.example/a.pem",
                "https://localhost:99999/a.pem", "http://localhost/a.pem"):
        with pytest.raises(Unauthorized):
            certificate_url(url, trust)


def test_production_trust_refuses_a_local_server() -> None:
    with pytest.raises(Unauthorized, match="host"):
        certificate_url("https://localhost:8443/a.pem", AWS)


def test_no_production_module_builds_a_test_only_trust() -> None:
    """Only tests may name ``test_only_*``: production code gets AWS's trust or nothing."""
    users = []
    for folder in ("shared", "functions"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "trust.py" and path.parent.name == "cloudwatch":
                continue
            if re.search(r"\btest_only_(pinned|local_ca)\b", path.read_text(encoding="utf-8")):
                users.append(str(path.relative_to(REPO)))
    assert users == []


def test_a_test_only_trust_named_by_a_setting_is_refused_in_production() -> None:
    from shared.sources.cloudwatch.trust import test_only_trust

    cert = signer.pem(signer.certificate(signer.new_key()))
    assert test_only_trust("pinned", cert, production=False).test_only
    assert test_only_trust("local-ca", cert, production=False).fetches
    with pytest.raises(ConfigError, match="for tests only"):
        test_only_trust("pinned", cert, production=True)
    with pytest.raises(ConfigError, match="no test-only trust"):
        test_only_trust("aws", cert, production=False)
