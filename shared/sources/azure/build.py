"""Azure Monitor's adapters, built from the deployment's settings: the Secure Webhook's verifier
and the HTTP read of the tenant's signing keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.core.errors import ConfigError, Transient

if TYPE_CHECKING:
    from shared.sources.azure.entra import EntraPolicy, SigningKeys
    from shared.sources.build import Build

#: The tenant's signing keys (its OpenID metadata's ``jwks_uri``; v1 and v2 tokens share them).
KEYS_URL = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
KEYS_TIMEOUT_SECONDS = 5.0
#: A JWKS is a few kilobytes; a larger answer is not one.
MAX_KEYS_BYTES = 256 * 1024


@dataclass(frozen=True)
class SecureWebhook:
    """Which Entra tokens are believed, and the tenant's keys they are checked with."""

    policy: EntraPolicy
    keys: SigningKeys


@dataclass(frozen=True)
class AzureIngest:
    """What Azure's ingest part is built: the Secure Webhook's verifier, None when it is off."""

    secure: SecureWebhook | None


def ingest_service(build: Build) -> AzureIngest:
    """Return Azure's ingest part for the deployment's settings (built on its first request)."""
    s = build.settings
    if not s.azure_tenant_id:
        return AzureIngest(secure=None)
    from shared.sources.azure.entra import EntraPolicy, SigningKeys

    url = s.azure_entra_keys_url or KEYS_URL.format(tenant=s.azure_tenant_id)
    policy = EntraPolicy(tenant_id=s.azure_tenant_id, audiences=frozenset(s.azure_audiences))
    return AzureIngest(SecureWebhook(policy, SigningKeys(lambda: fetch_keys(url))))


def fetch_keys(url: str) -> Mapping[str, Any]:
    """GET the tenant's JWKS; Transient when a retry can help, ConfigError when it cannot."""
    import requests

    try:
        response = requests.get(url, timeout=KEYS_TIMEOUT_SECONDS,
                                headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise Transient(f"azure secure webhook: the tenant's keys at {url} unreachable: "
                        f"{type(error).__name__}") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise Transient(f"azure secure webhook: the tenant's keys at {url} answered "
                        f"{response.status_code}")
    if response.status_code != 200:
        # Entra answers 400 for a tenant it does not know: the setting is wrong.
        raise ConfigError(f"AZURE_TENANT_ID: the tenant's keys at {url} answered "
                          f"{response.status_code}")
    if len(response.content) > MAX_KEYS_BYTES:
        raise Transient(f"azure secure webhook: the tenant's keys at {url} are too large")
    try:
        jwks = response.json()
    except ValueError as error:
        raise Transient(f"azure secure webhook: the tenant's keys at {url} are not JSON") \
            from error
    if not isinstance(jwks, dict):
        raise Transient(f"azure secure webhook: the tenant's keys at {url} are not a JWKS")
    return jwks
