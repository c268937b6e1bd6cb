"""CloudWatch's ingest part, built from the settings: the SNS verifier and its HTTPS client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shared.core.errors import ConfigError
from shared.core.settings import Settings
from shared.sources.build import Build
from shared.sources.cloudwatch.fetch import HttpsGet
from shared.sources.cloudwatch.sns import SnsVerifier
from shared.sources.cloudwatch.trust import AWS, SigningCertificates, Trust, test_only_trust


@dataclass(frozen=True)
class SnsIngest:
    """What ingest verifies SNS messages with, and how it confirms a subscription."""

    verifier: SnsVerifier
    confirm: Callable[[str], bytes]  # GET a vetted SubscribeURL


def sns_ingest(build: Build) -> SnsIngest:
    """Return the verifier of the allowed topics, with AWS's trust unless a test set one."""
    settings = build.settings
    trust, verify = trust_of(settings)
    get = HttpsGet(verify)
    certificates = SigningCertificates(trust, get if trust.fetches else None)
    verifier = SnsVerifier(settings.cloudwatch_sns_topic_arns, certificates,
                           max_age=timedelta(seconds=settings.cloudwatch_sns_max_age_seconds))
    return SnsIngest(verifier, lambda url: get.get(url, what="SubscribeURL"))


def trust_of(settings: Settings) -> tuple[Trust, bool | str]:
    """Return the certificate trust and the TLS verification of the settings' deployment."""
    raw = settings.cloudwatch_sns_test_trust
    if not raw:
        return AWS, True
    kind, _, path = raw.partition(":")
    try:
        pem = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"CLOUDWATCH_SNS_TEST_TRUST: cannot read {path!r}: {error}") from error
    try:
        # Settings refuse it in prod already; the trust refuses it once more.
        trust = test_only_trust(kind, pem, production=settings.environment == "prod")
    except ValueError as error:
        raise ConfigError(f"CLOUDWATCH_SNS_TEST_TRUST: {path!r} holds no PEM certificate") \
            from error
    # A local fake SNS answers TLS with a certificate of the same test CA.
    return trust, (path if kind == "local-ca" else True)
