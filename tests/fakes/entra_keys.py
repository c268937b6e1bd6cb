"""A local fake of Microsoft Entra ID's tenant keys, and the Secure Webhook tokens it would issue.

It serves what ingest reads (Microsoft identity platform, "OpenID Connect on the Microsoft
identity platform"): the tenant's OpenID metadata at
``/<tenant>/v2.0/.well-known/openid-configuration`` naming its ``jwks_uri``, and that key set at
``/<tenant>/discovery/v2.0/keys`` (``{"keys": [{"kty": "RSA", "use": "sig", "kid", "n", "e"}]}``).
Ingest reaches it only through ``AZURE_ENTRA_KEYS_URL``, which settings refuse unless
``ENVIRONMENT=dev``. ``token()`` signs what the action groups' application would send: an
app-only access token for the protected application, with the ``ActionGroupsSecureWebhook`` role.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.json_server import Answer, LocalServer

TENANT = "3f5c8a1e-2b7d-4c9e-a6f0-1d2e3b4c5a69"
AUDIENCE = "8e2b6c4a-1f3d-4a5b-9c7e-0d1f2a3b4c5d"  # the protected application's client id
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
ROLE = "ActionGroupsSecureWebhook"


class EntraKeys:
    """The tenant's signing keys over HTTP; ``status`` other than 200 makes it fail."""

    def __init__(self, tenant: str = TENANT) -> None:
        self.tenant = tenant
        self.keys: dict[str, rsa.RSAPrivateKey] = {
            "fake-key-1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.status = 200
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = LocalServer(self._handle)

    def start(self) -> EntraKeys:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def keys_url(self) -> str:
        """The value of AZURE_ENTRA_KEYS_URL that points ingest here."""
        return f"{self.base_url}/{self.tenant}/discovery/v2.0/keys"

    def rotate(self) -> str:
        """Add a new signing key (Entra publishes the next key before it signs with it)."""
        kid = f"fake-key-{len(self.keys) + 1}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def jwks(self) -> dict[str, Any]:
        entries = []
        for kid, key in self.keys.items():
            public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            entries.append({"kty": "RSA", "use": "sig", "kid": kid, "n": public["n"],
                            "e": public["e"]})
        return {"keys": entries}

    def token(self, *, kid: str = "fake-key-1", audience: str = AUDIENCE, version: str = "2.0",
              lifetime: int = 3600, now: float | None = None, **changes: Any) -> str:
        """Return a Secure Webhook token as Entra issues it to the action groups' application."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "aud": audience, "iat": issued, "nbf": issued, "exp": issued + lifetime,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "action-groups")), "roles": [ROLE],
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, "action-groups")), "tid": self.tenant,
            "ver": version}
        if version == "2.0":
            claims |= {"iss": f"https://login.microsoftonline.com/{self.tenant}/v2.0",
                       "azp": ACTION_GROUPS_APP_ID, "azpacr": "2"}
        else:
            claims |= {"iss": f"https://sts.windows.net/{self.tenant}/",
                       "appid": ACTION_GROUPS_APP_ID, "appidacr": "2"}
        claims |= changes
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256",
                          headers={"kid": kid, "typ": "JWT"})

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            self.requests.append(path)
        if method != "GET":
            return 405, {"error": "method not allowed"}, {}
        if self.status != 200:
            return self.status, {"error": "temporarily_unavailable"}, {}
        if path == f"/{self.tenant}/discovery/v2.0/keys":
            return 200, self.jwks(), {}
        if path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            issuer = f"https://login.microsoftonline.com/{self.tenant}/v2.0"
            return 200, {"issuer": issuer, "jwks_uri": self.keys_url,
                         "id_token_signing_alg_values_supported": ["RS256"]}, {}
        return 400, {"error": "invalid_tenant",
                     "error_description": f"AADSTS90002: Tenant '{path}' not found."}, {}
