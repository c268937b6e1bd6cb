"""Which SNS URLs and signing certificates are believed: AWS's in production, an override in tests.

AWS asks a subscriber to fetch the signing certificate over HTTPS only, from an SNS URL, to check
that it was issued to Amazon SNS and that it is currently valid, and never to trust a certificate
just because a message names it ("Verifying the signatures of Amazon SNS messages", Amazon SNS
Developer Guide). Here:

* a URL is believed only when it is ``https://sns.<region>.amazonaws.com[.cn]/…`` exactly (the
  host regex below, no user, no port, nothing a parser could read two ways);
* the certificate is fetched through an injected callable (the adapter does the HTTPS GET with
  normal TLS verification, which is what makes the bytes Amazon's) and cached by URL;
* at every use it must be valid at ``now`` and named for SNS in the URL's region.

Tests cannot meet that (the published vectors' certificate expired in 2022, and a local server is
not AWS), so :class:`Trust` has two test-only variants: a pinned certificate, or a local test CA
with local hosts. They are built only by ``Trust.test_only_*`` and :meth:`Trust.require_production`
refuses them, so settings can refuse them in production with one call.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID

from shared.core.errors import ConfigError, Unauthorized

#: An AWS Region code as AWS's own ARN patterns spell it: us-east-2, us-gov-west-1, cn-north-1.
REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_AWS_HOST = re.compile(rf"sns\.(?P<region>{REGION})\.amazonaws\.com(?P<china>\.cn)?")
#: Characters RFC 3986 allows in a URL; no space, control character, backslash or non-ASCII,
#: which parsers (Python's urlsplit among them) drop or read differently.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
#: A certificate path: names that never start with a dot (so no ``..``), ending in ``.pem``.
_PEM_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+\.pem")
#: A local test host, with any port: only ever accepted by a test-only local-CA trust.
_LOCAL_NETLOC = re.compile(r"(?P<host>[a-z0-9.-]+)(?::(?P<port>[1-9][0-9]{0,4}))?")
MAX_URL_CHARS = 2048
MIN_RSA_BITS = 2048
#: Certificate URLs kept; SNS uses one per region until it rotates, so a few dozen is plenty.
CACHE_SIZE = 32

#: GET an already vetted HTTPS URL and return its body. Raise ``Transient`` when a retry can help
#: (timeout, 5xx) and ``Unauthorized`` when there is no certificate there (4xx).
Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class Endpoint:
    """A URL that passed the trust's policy, and the AWS Region its host names ("" if local)."""

    url: str
    region: str
    parts: SplitResult


@dataclass(frozen=True)
class Trust:
    """Which hosts and certificates are believed; only ``Trust.aws()`` is fit for production."""

    label: str
    pinned: x509.Certificate | None = None  # test-only: this certificate, whatever the URL
    issuer: x509.Certificate | None = None  # test-only: certificates this CA issued directly
    local_hosts: frozenset[str] = frozenset()  # test-only, with ``issuer``: hosts instead of AWS
    local_names: frozenset[str] = frozenset()  # test-only, with ``issuer``: names to carry

    @classmethod
    def aws(cls) -> Trust:
        """Return the production trust: AWS SNS hosts, certificates fetched from them."""
        return AWS

    @classmethod
    def test_only_pinned(cls, pem: bytes) -> Trust:
        """Return a trust that uses ``pem`` for every (AWS-shaped) URL and never fetches."""
        certificate = _load_certificate(pem)
        return cls(label=f"test-only: pinned certificate {_fingerprint(certificate)}",
                   pinned=certificate)

    @classmethod
    def test_only_local_ca(cls, ca_pem: bytes, *, hosts: Iterable[str] = ("localhost", "127.0.0.1"),
                           names: Iterable[str] = ("sns.amazonaws.com",)) -> Trust:
        """Return a trust for a local server: its hosts, certificates issued by a test CA."""
        issuer = _load_certificate(ca_pem)
        return cls(label=f"test-only: local CA {_fingerprint(issuer)}", issuer=issuer,
                   local_hosts=frozenset(hosts), local_names=frozenset(names))

    @property
    def test_only(self) -> bool:
        """Tell whether this trust is one production must refuse."""
        return self.pinned is not None or self.issuer is not None

    @property
    def fetches(self) -> bool:
        """Tell whether certificates are fetched (every trust but a pinned one)."""
        return self.pinned is None

    def require_production(self) -> None:
        """Raise ConfigError unless this is the production trust; settings call it in prod."""
        if self.test_only:
            raise ConfigError(f"aws sns: certificate trust '{self.label}' is for tests only; "
                              "production verifies against AWS's SNS hosts")

    def region(self, netloc: str) -> str | None:
        """Return the Region a URL's host names, "" for an allowed local host, None if refused."""
        if self.issuer is not None:
            local = _LOCAL_NETLOC.fullmatch(netloc)
            if local and local["host"] in self.local_hosts and int(local["port"] or 443) <= 65535:
                return ""
            return None
        match = _AWS_HOST.fullmatch(netloc)
        if match is None:
            return None
        region = match["region"]
        # China's Regions answer only under .amazonaws.com.cn, every other Region never does.
        if region.startswith("cn-") != bool(match["china"]):
            return None
        return region

    def names(self, region: str) -> frozenset[str]:
        """Return the names a signing certificate for ``region`` may carry."""
        if self.issuer is not None:
            return self.local_names
        return signing_names(region)

    def certificate(self, endpoint: Endpoint, fetch: Fetch | None) -> x509.Certificate:
        """Return the certificate at ``endpoint``: pinned, or fetched (and checked if local)."""
        if self.pinned is not None:
            return self.pinned
        if fetch is None:
            raise ConfigError(f"aws sns: trust '{self.label}' fetches certificates but no "
                              "fetcher was given")
        body = fetch(endpoint.url)
        try:
            certificate = _load_certificate(body)
        except ValueError as error:
            raise Unauthorized(f"sns: {endpoint.url} holds no PEM certificate") from error
        if self.issuer is not None:
            try:
                certificate.verify_directly_issued_by(self.issuer)
            except (ValueError, TypeError, InvalidSignature) as error:
                raise Unauthorized(f"sns: certificate at {endpoint.url} was not issued by the "
                                   "test CA") from error
        return certificate


#: The production trust.
AWS = Trust(label="aws")
#: The test-only trusts a setting may name (each built from a PEM file's bytes).
TEST_TRUSTS = ("pinned", "local-ca")


def test_only_trust(kind: str, pem: bytes, *, production: bool) -> Trust:
    """Return the test-only trust a setting names; ConfigError in production, or if unknown."""
    if kind not in TEST_TRUSTS:
        raise ConfigError(f"aws sns: no test-only trust {kind!r}: {', '.join(TEST_TRUSTS)}")
    trust = Trust.test_only_pinned(pem) if kind == "pinned" else Trust.test_only_local_ca(pem)
    if production:
        trust.require_production()
    return trust


def signing_names(region: str) -> frozenset[str]:
    """Return the subject names AWS gives SNS signing certificates in ``region``.

    AWS's own SNS message validator (AWS SDK for Java v2, ``SnsHostProvider``) expects
    ``sns.amazonaws.com`` in most Regions, ``sns-signing.<region>.amazonaws.com`` in the opt-in
    ones, ``sns-<region>.amazonaws.com.cn`` in China and ``sns-us-gov-west-1.amazonaws.com`` in
    both GovCloud Regions. Both commercial names are accepted for every commercial Region so a
    Region that becomes opt-in needs no list here; each still binds the certificate to SNS.
    """
    if region.startswith("cn-"):
        return frozenset({f"sns-{region}.amazonaws.com.cn", "sns.amazonaws.com.cn"})
    if region.startswith("us-gov-"):
        return frozenset({"sns-us-gov-west-1.amazonaws.com"})
    return frozenset({"sns.amazonaws.com", f"sns-signing.{region}.amazonaws.com"})


def vet_url(url: object, trust: Trust, what: str) -> Endpoint:
    """Return ``url`` as an Endpoint if it is an https URL on a host the trust believes."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS or not _URL_CHARS.fullmatch(url):
        raise Unauthorized(f"sns: {what} is not a plain URL")
    if not url.startswith("https://"):
        raise Unauthorized(f"sns: {what} is not https: {url[:80]!r}")
    parts = urlsplit(url)
    region = trust.region(parts.netloc)
    if region is None:
        raise Unauthorized(f"sns: {what} host {parts.netloc[:80]!r} is not "
                           "sns.<region>.amazonaws.com[.cn]")
    if "#" in url:
        raise Unauthorized(f"sns: {what} carries a fragment")
    return Endpoint(url, region, parts)


def certificate_url(url: object, trust: Trust) -> Endpoint:
    """Return the SigningCertURL vetted: an SNS host, a path ending in .pem, no query."""
    endpoint = vet_url(url, trust, "SigningCertURL")
    if "?" in endpoint.url or not _PEM_PATH.fullmatch(endpoint.parts.path):
        raise Unauthorized(f"sns: SigningCertURL path {endpoint.parts.path[:80]!r} is not a "
                           ".pem file")
    return endpoint


def check_certificate(certificate: x509.Certificate, names: frozenset[str],
                      now: datetime) -> rsa.RSAPublicKey:
    """Return the certificate's RSA key if it is valid at ``now`` and named for SNS."""
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Unauthorized(f"sns: signing certificate not valid at {now.isoformat()} (valid "
                           f"{certificate.not_valid_before_utc.isoformat()} to "
                           f"{certificate.not_valid_after_utc.isoformat()})")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise Unauthorized(f"sns: signing certificate key is not RSA of {MIN_RSA_BITS}+ bits")
    _check_usage(certificate)
    common = {str(attribute.value)
              for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    # AWS's validators check the subject's common name; where the certificate also lists
    # alternative names, the name must be among them too (that list is what TLS believes).
    alternative = _dns_names(certificate)
    if not common & names or (alternative is not None and not alternative & names):
        raise Unauthorized(f"sns: signing certificate names {sorted(common)[:3]} are not "
                           f"{sorted(names)}")
    return key


class SigningCertificates:
    """Signing certificates by URL, fetched through the injected fetcher into a bounded cache."""

    def __init__(self, trust: Trust = AWS, fetch: Fetch | None = None, *,
                 size: int = CACHE_SIZE) -> None:
        if trust.fetches and fetch is None:
            raise ConfigError(f"aws sns: trust '{trust.label}' fetches certificates but no "
                              "fetcher was given")
        if size < 1:
            raise ConfigError("aws sns: certificate cache size must be at least 1")
        self.trust = trust
        self._fetch = fetch
        self._size = size
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def public_key(self, endpoint: Endpoint, now: datetime) -> rsa.RSAPublicKey:
        """Return the RSA key that signs for ``endpoint``'s messages, checked at ``now``."""
        with self._lock:
            cached = self._cache.get(endpoint.url)
            if cached is not None:
                self._cache.move_to_end(endpoint.url)
        certificate = cached or self.trust.certificate(endpoint, self._fetch)
        # Validity is computed from the clock at each use, so a cached certificate expires on time.
        key = check_certificate(certificate, self.trust.names(endpoint.region), now)
        if cached is None and self.trust.fetches:
            with self._lock:
                self._cache[endpoint.url] = certificate
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return key

    def cached(self) -> tuple[str, ...]:
        """Return the cached URLs, least recently used first."""
        with self._lock:
            return tuple(self._cache)


def _load_certificate(pem: bytes) -> x509.Certificate:
    """Return the first certificate of a PEM bundle (the leaf); ValueError if there is none."""
    certificates = x509.load_pem_x509_certificates(pem)
    return certificates[0]


def _fingerprint(certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(Encoding.DER)
    return hashlib.sha256(der).hexdigest()[:16]


def _check_usage(certificate: x509.Certificate) -> None:
    """Refuse a CA certificate or one whose key may not sign."""
    try:
        constraints = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except x509.ExtensionNotFound:
        pass
    else:
        if isinstance(constraints.value, x509.BasicConstraints) and constraints.value.ca:
            raise Unauthorized("sns: signing certificate is a CA certificate")
    try:
        usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    except x509.ExtensionNotFound:
        return
    if isinstance(usage.value, x509.KeyUsage) and not usage.value.digital_signature:
        raise Unauthorized("sns: signing certificate key usage excludes digital signatures")


def _dns_names(certificate: x509.Certificate) -> set[str] | None:
    """Return the certificate's DNS alternative names, or None when it lists none."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    return set(extension.value.get_values_for_type(x509.DNSName))

