"""Azure Monitor webhooks' credentials: a Secure Webhook's Entra ID token, or a token in the URL.

Secure Webhook (Azure Monitor "Action groups", "Configure authentication for Secure webhook"):
the action group's first-party application, "AZNS Microsoft Entra Webhook"
(``461e8683-5575-4561-ac7f-899cc907d62a``), gets an app-only access token for *your* Entra
application, to which it was granted the ``ActionGroupsSecureWebhook`` app role, and sends it as
``Authorization: Bearer``. A token is believed here when (Microsoft identity platform, "Access
token claims reference"):

* its header says ``RS256`` and names a ``kid`` of the configured tenant's signing keys (a JWKS
  from the tenant's OpenID metadata ``jwks_uri``, fetched by an adapter and injected), and the
  signature verifies with that key, RS256 only;
* ``iss`` is the tenant's v1 issuer ``https://sts.windows.net/<tenant>/`` with ``ver`` 1.0, or its
  v2 issuer ``https://login.microsoftonline.com/<tenant>/v2.0`` with ``ver`` 2.0 (Microsoft asks
  the API to accept v2 tokens; both are accepted, each only with its own version), and ``tid``,
  when present, is the tenant;
* ``aud`` is one of the configured audiences (v2: the application's client id; v1: the client id
  or the Application ID URI);
* ``exp`` and ``nbf`` hold at ``now`` within a small leeway;
* ``roles`` holds ``ActionGroupsSecureWebhook``, and the client (``appid`` in v1, ``azp`` in v2)
  is the action groups' application unless configured otherwise.

The plain Webhook action cannot send headers, so the other option is a token in the URL's
query, compared in constant time with the one or two configured values (two during rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.core.errors import ConfigError, Unauthorized

#: The application Azure Monitor action groups request Secure Webhook tokens as.
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
#: The app role Microsoft's set-up script creates and grants to that application.
ROLE = "ActionGroupsSecureWebhook"
ALGORITHM = "RS256"
#: How far Entra's clock may be from ours when reading exp and nbf.
LEEWAY = timedelta(minutes=2)
#: Refetch the keys on an unknown kid at most this often, so random kids cannot flood the tenant.
MIN_REFRESH = timedelta(minutes=5)
#: Refetch the keys after this long even when every kid is known (Entra rotates them).
MAX_KEYS_AGE = timedelta(hours=24)
#: Entra access tokens are a few kilobytes; a larger header is not one.
MAX_TOKEN_CHARS = 16 * 1024
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: Return the tenant's JWKS (``{"keys": [...]}``); raise ``Transient`` when a retry can help.
JwksSource = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class EntraPolicy:
    """Which Entra tokens open the Secure Webhook: tenant, audiences, role and client."""

    tenant_id: str
    audiences: frozenset[str]
    role: str = ROLE
    #: ``appid``/``azp`` values accepted; None accepts any client holding the role.
    client_ids: frozenset[str] | None = field(
        default_factory=lambda: frozenset({ACTION_GROUPS_APP_ID}))
    leeway: timedelta = LEEWAY

    def __post_init__(self) -> None:
        if not _GUID.fullmatch(self.tenant_id):
            raise ConfigError(f"azure secure webhook: tenant id {self.tenant_id[:40]!r} is not a "
                              "lower-case GUID")
        if not self.audiences or any(not audience for audience in self.audiences):
            raise ConfigError("azure secure webhook: no audience (the application's client id "
                              "or Application ID URI)")
        if self.client_ids is not None and not self.client_ids:
            raise ConfigError("azure secure webhook: client ids is empty (None accepts any)")
        if not timedelta(0) <= self.leeway <= timedelta(minutes=10):
            raise ConfigError("azure secure webhook: leeway must be 0 to 10 minutes")

    @property
    def issuers(self) -> Mapping[str, str]:
        """Return each accepted issuer and the token version it must carry."""
        return {f"https://sts.windows.net/{self.tenant_id}/": "1.0",
                f"https://login.microsoftonline.com/{self.tenant_id}/v2.0": "2.0"}


@dataclass(frozen=True)
class Caller:
    """Who a verified token says is calling."""

    tenant_id: str
    client_id: str | None  # appid / azp
    object_id: str | None  # oid: the calling service principal
    version: str
    claims: Mapping[str, Any]


class SigningKeys:
    """The tenant's RSA signing keys by kid, from an injected JWKS source, cached and refreshed."""

    def __init__(self, source: JwksSource, *, min_refresh: timedelta = MIN_REFRESH,
                 max_age: timedelta = MAX_KEYS_AGE) -> None:
        self._source = source
        self._min_refresh = min_refresh
        self._max_age = max_age
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def key(self, kid: str, now: datetime) -> rsa.RSAPublicKey:
        """Return the key named ``kid``, refetching once if it is unknown or the set is old."""
        with self._lock:
            fetched_at = self._fetched_at
            stale = fetched_at is None or now - fetched_at >= self._max_age
            unknown = kid not in self._keys
            may_refresh = fetched_at is None or now - fetched_at >= self._min_refresh
            if stale or (unknown and may_refresh):
                # A source failure (Transient) propagates: the sender retries later.
                self._keys = parse_jwks(self._source())
                self._fetched_at = now
            found = self._keys.get(kid)
        if found is None:
            raise Unauthorized(f"azure secure webhook: no signing key {kid[:64]!r} in the "
                               "tenant's keys")
        return found


def parse_jwks(jwks: Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """Return the RS256 signing keys of a JWKS by kid; other keys are skipped."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping) or entry.get("kty") != "RSA":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig" \
                or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            key = RSAAlgorithm.from_jwk(json.dumps(dict(entry)))
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[kid] = key
    return keys


def bearer_token(authorization: str | None) -> str:
    """Return the token of an ``Authorization: Bearer <token>`` header; Unauthorized if none."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("azure secure webhook: no Authorization: Bearer token")
    return token


def verify_token(token: str, policy: EntraPolicy, keys: SigningKeys, now: datetime) -> Caller:
    """Return the caller a Secure Webhook token names; Unauthorized unless every check holds."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("azure secure webhook: token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"azure secure webhook: malformed token header: {error}") from error
    # Decided before any key is touched: "none", HS256 with the public key as a secret, and
    # every other algorithm are refused by name.
    if header.get("alg") != ALGORITHM:
        raise Unauthorized(f"azure secure webhook: algorithm {str(header.get('alg'))[:16]!r} "
                           f"is not {ALGORITHM}")
    if "crit" in header or "b64" in header:
        # Entra never sends them; an extension we do not implement must not be half-read.
        raise Unauthorized("azure secure webhook: token header carries crit or b64")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("azure secure webhook: token names no signing key (kid)")
    key = keys.key(kid, now)
    try:
        claims = jwt.decode(token, key=key, algorithms=[ALGORITHM], options={
            # The signature only: the claims are checked below, against the injected clock.
            "verify_signature": True, "verify_exp": False, "verify_nbf": False,
            "verify_iat": False, "verify_aud": False, "verify_iss": False, "verify_sub": False,
            "verify_jti": False})
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"azure secure webhook: token signature: {error}") from error
    return _check_claims(claims, policy, now)


def verify_bearer(authorization: str | None, policy: EntraPolicy, keys: SigningKeys,
                  now: datetime) -> Caller:
    """Return the caller of a Secure Webhook request from its Authorization header."""
    return verify_token(bearer_token(authorization), policy, keys, now)


def query_token(query: str, name: str = "token") -> str | None:
    """Return the one value of ``name`` in a URL query string, None if absent or repeated."""
    try:
        values = parse_qs(query, keep_blank_values=True).get(name, [])
    except ValueError:
        return None
    return values[0] if len(values) == 1 else None


def verify_query_token(given: str | None, expected: Iterable[str]) -> bool:
    """Tell whether ``given`` equals one of the configured tokens, in constant time."""
    if not given:
        return False
    # Hashing first makes every comparison the same length, so timing says nothing of length.
    digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    matched = False
    for token in expected:
        if token:
            matched |= hmac.compare_digest(hashlib.sha256(token.encode("utf-8")).digest(), digest)
    return matched


def _check_claims(claims: Mapping[str, Any], policy: EntraPolicy, now: datetime) -> Caller:
    issuer = claims.get("iss")
    version = policy.issuers.get(issuer) if isinstance(issuer, str) else None
    if version is None:
        raise Unauthorized(f"azure secure webhook: issuer {str(issuer)[:120]!r} is not tenant "
                           f"{policy.tenant_id}'s")
    if claims.get("ver") != version:
        raise Unauthorized(f"azure secure webhook: version {str(claims.get('ver'))[:8]!r} does "
                           f"not match issuer {issuer}")
    if "tid" in claims and claims["tid"] != policy.tenant_id:
        raise Unauthorized("azure secure webhook: tid is another tenant")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not any(
            isinstance(a, str) and a in policy.audiences for a in audiences):
        raise Unauthorized(f"azure secure webhook: audience {str(audience)[:120]!r} is not "
                           "this application")
    _check_times(claims, policy.leeway, now)
    roles = claims.get("roles")
    if not isinstance(roles, list) or policy.role not in roles:
        raise Unauthorized(f"azure secure webhook: token lacks the {policy.role} role")
    client = claims.get("appid" if version == "1.0" else "azp")
    if policy.client_ids is not None and client not in policy.client_ids:
        raise Unauthorized(f"azure secure webhook: client {str(client)[:40]!r} is not the "
                           "action groups' application")
    oid = claims.get("oid")
    return Caller(tenant_id=policy.tenant_id, client_id=client if isinstance(client, str) else None,
                  object_id=oid if isinstance(oid, str) else None, version=version,
                  claims=dict(claims))


def _check_times(claims: Mapping[str, Any], leeway: timedelta, now: datetime) -> None:
    moments = {}
    for name in ("exp", "nbf"):
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Unauthorized(f"azure secure webhook: token has no numeric {name}")
        try:
            moments[name] = datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise Unauthorized(f"azure secure webhook: {name} is out of range") from error
    if now > moments["exp"] + leeway:
        raise Unauthorized(f"azure secure webhook: token expired at {moments['exp'].isoformat()}")
    if now < moments["nbf"] - leeway:
        raise Unauthorized(f"azure secure webhook: token not valid before "
                           f"{moments['nbf'].isoformat()}")
