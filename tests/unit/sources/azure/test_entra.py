"""Secure Webhook tokens against a local key set: one test per way a token must fail."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from shared.core.errors import ConfigError, Transient, Unauthorized
from shared.sources.azure.entra import (
    ACTION_GROUPS_APP_ID,
    MAX_KEYS_AGE,
    MIN_REFRESH,
    ROLE,
    EntraPolicy,
    SigningKeys,
    bearer_token,
    parse_jwks,
    query_token,
    verify_bearer,
    verify_query_token,
    verify_token,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
CLIENT_ID = "d7811ba3-7996-4a93-99b6-6b2f3f355f8a"  # the protected API's application (client) id
APP_ID_URI = "api://alert-bridge"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEXT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
POLICY = EntraPolicy(tenant_id=TENANT, audiences=frozenset({CLIENT_ID, APP_ID_URI}))


def jwk(key: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict[str, Any]:
    """Return ``key``'s public half as Entra publishes it in the tenant's JWKS."""
    entry: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**entry, "kid": kid, "use": "sig", **extra}


class Jwks:
    """A fake of the tenant's jwks_uri: the key sets it serves in turn, and a call count."""

    def __init__(self, *sets: list[dict[str, Any]]) -> None:
        self.sets = list(sets)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        keys = self.sets[min(self.calls, len(self.sets) - 1)]
        self.calls += 1
        return {"keys": keys}


def claims(version: str = "2.0", **changes: Any) -> dict[str, Any]:
    """Return the claims of an app-only token the action groups' application gets."""
    issued = int((NOW - timedelta(minutes=5)).timestamp())
    base: dict[str, Any] = {
        "aud": CLIENT_ID, "iat": issued, "nbf": issued, "exp": issued + 3600,
        "oid": "0a1b2c3d-4e5f-4a6b-8c7d-9e8f7a6b5c4d", "roles": [ROLE],
        "sub": "0a1b2c3d-4e5f-4a6b-8c7d-9e8f7a6b5c4d", "tid": TENANT, "ver": version}
    if version == "2.0":
        base |= {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
                 "azp": ACTION_GROUPS_APP_ID, "azpacr": "2"}
    else:
        base |= {"iss": f"https://sts.windows.net/{TENANT}/", "aud": APP_ID_URI,
                 "appid": ACTION_GROUPS_APP_ID, "appidacr": "2"}
    base |= changes
    return {name: value for name, value in base.items() if value is not None}


def token(payload: dict[str, Any] | None = None, *, key: rsa.RSAPrivateKey = KEY,
          kid: str | None = "key-1", algorithm: str = "RS256", **headers: Any) -> str:
    extra = {"kid": kid, **headers} if kid is not None else headers
    return jwt.encode(payload or claims(), key, algorithm=algorithm, headers=extra)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def handmade(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """Return a token no library would sign: for alg none and key-confusion attacks."""
    head = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{head}.{_b64(signature)}"


def keys(source: Jwks | None = None) -> SigningKeys:
    return SigningKeys(source or Jwks([jwk(KEY, "key-1"), jwk(NEXT_KEY, "key-2")]))


def check(value: str, *, policy: EntraPolicy = POLICY, at: datetime = NOW,
          source: Jwks | None = None) -> Any:
    return verify_token(value, policy, keys(source), at)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_action_group_token_is_accepted(version: str) -> None:
    caller = check(token(claims(version)))
    assert (caller.tenant_id, caller.client_id, caller.version) == (TENANT, ACTION_GROUPS_APP_ID,
                                                                    version)
    assert caller.object_id == "0a1b2c3d-4e5f-4a6b-8c7d-9e8f7a6b5c4d"


def test_either_configured_audience_is_accepted() -> None:
    check(token(claims("1.0", aud=CLIENT_ID)))
    check(token(claims("2.0", aud=[APP_ID_URI, "other"])))


def test_bearer_header_is_read() -> None:
    caller = verify_bearer(f"Bearer {token()}", POLICY, keys(), NOW)
    assert caller.version == "2.0"
    assert verify_bearer(f"bearer  {token()} ", POLICY, keys(), NOW).version == "2.0"


def test_leeway_is_allowed_at_both_ends() -> None:
    issued = int(NOW.timestamp())
    check(token(claims(exp=issued - 60)))
    check(token(claims(nbf=issued + 60)))


def test_unknown_kid_fetches_the_keys_again_once() -> None:
    source = Jwks([jwk(KEY, "key-1")], [jwk(KEY, "key-1"), jwk(NEXT_KEY, "key-2")])
    signing = keys(source)
    verify_token(token(), POLICY, signing, NOW)
    rotated = token(key=NEXT_KEY, kid="key-2")
    later = NOW + MIN_REFRESH
    assert verify_token(rotated, POLICY, signing, later).version == "2.0"
    assert source.calls == 2
    verify_token(rotated, POLICY, signing, later)
    assert source.calls == 2


def test_unknown_kid_does_not_refetch_within_the_minimum_interval() -> None:
    source = Jwks([jwk(KEY, "key-1")])
    signing = keys(source)
    verify_token(token(), POLICY, signing, NOW)
    for kid in ("random-1", "random-2", "random-3"):
        with pytest.raises(Unauthorized, match="no signing key"):
            verify_token(token(kid=kid), POLICY, signing, NOW + timedelta(seconds=30))
    assert source.calls == 1


def test_old_key_set_is_fetched_again() -> None:
    source = Jwks([jwk(KEY, "key-1")], [jwk(NEXT_KEY, "key-2")])
    signing = keys(source)
    verify_token(token(), POLICY, signing, NOW)
    with pytest.raises(Unauthorized, match="no signing key"):  # key-1 was withdrawn
        verify_token(token(claims(exp=int((NOW + MAX_KEYS_AGE).timestamp()) + 60)), POLICY,
                     signing, NOW + MAX_KEYS_AGE)
    assert source.calls == 2


def test_key_source_failure_stays_transient() -> None:
    def down() -> dict[str, Any]:
        raise Transient("GET jwks_uri: timed out")

    with pytest.raises(Transient):
        verify_token(token(), POLICY, SigningKeys(down), NOW)


HS256_CONFUSION = handmade(
    {"alg": "HS256", "typ": "JWT", "kid": "key-1"}, claims(),
    hmac.new(KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo),
             b"", hashlib.sha256).digest())
EC_KEY = ec.generate_private_key(ec.SECP256R1())
FAILURES = [
    ("wrong-key", token(key=STRANGER_KEY), "signature"),
    ("other-kids-key", token(key=NEXT_KEY, kid="key-1"), "signature"),
    ("unknown-kid", token(kid="key-9"), "no signing key"),
    ("no-kid", token(kid=None), "kid"),
    ("kid-not-text", handmade({"alg": "RS256", "kid": 7}, claims()), "malformed.*Key ID"),
    ("alg-none", handmade({"alg": "none", "kid": "key-1"}, claims()), "algorithm 'none'"),
    ("alg-none-capitalised", handmade({"alg": "None", "kid": "key-1"}, claims()), "algorithm"),
    ("hs256-with-the-public-key", HS256_CONFUSION, "algorithm 'HS256'"),
    ("rs256-header-hs256-signature", HS256_CONFUSION.replace(
        HS256_CONFUSION.split(".")[0], _b64(b'{"alg":"RS256","kid":"key-1"}')), "signature"),
    ("rs512", token(algorithm="RS512"), "algorithm 'RS512'"),
    ("ps256", token(algorithm="PS256"), "algorithm 'PS256'"),
    ("es256", jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "key-1"}),
     "algorithm 'ES256'"),
    ("crit-header", token(crit=["exp"]), "crit"),
    ("malformed-header-not-base64", "!!!." + token().split(".", 1)[1], "malformed"),
    ("malformed-header-not-json", _b64(b"{alg") + "." + token().split(".", 1)[1], "malformed"),
    ("malformed-header-not-object", _b64(b'["RS256"]') + "." + token().split(".", 1)[1],
     "malformed"),
    ("two-segments", ".".join(token().split(".")[:2]), "malformed"),
    ("empty", "", "malformed"),
    ("payload-changed", ".".join([token().split(".")[0], _b64(json.dumps(claims(
        roles=[ROLE, "Admin"])).encode()), token().split(".")[2]]), "signature"),
    ("wrong-issuer", token(claims(iss="https://attacker.example/v2.0")), "issuer"),
    ("wrong-tenant-v2", token(claims(iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0",
                                     tid=OTHER_TENANT)), "issuer"),
    ("wrong-tenant-v1", token(claims("1.0", iss=f"https://sts.windows.net/{OTHER_TENANT}/")),
     "issuer"),
    ("common-endpoint-issuer", token(claims(iss="https://login.microsoftonline.com/common/v2.0")),
     "issuer"),
    ("issuer-without-slash", token(claims("1.0", iss=f"https://sts.windows.net/{TENANT}")),
     "issuer"),
    ("v1-issuer-v2-token", token(claims("2.0", iss=f"https://sts.windows.net/{TENANT}/")),
     "version"),
    ("v2-issuer-v1-token", token(claims(
        "1.0", iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")), "version"),
    ("no-version", token(claims(ver=None)), "version"),
    ("tid-of-another-tenant", token(claims(tid=OTHER_TENANT)), "tid"),
    ("wrong-audience", token(claims(aud="https://graph.microsoft.com")), "audience"),
    ("audience-list-without-ours", token(claims(aud=["a", "b"])), "audience"),
    ("no-audience", token(claims(aud=None)), "audience"),
    ("expired", token(claims(exp=int(NOW.timestamp()) - 121)), "expired"),
    ("not-yet-valid", token(claims(nbf=int(NOW.timestamp()) + 121)), "not valid before"),
    ("no-exp", token(claims(exp=None)), "exp"),
    ("exp-as-text", token(claims(exp="tomorrow")), "exp"),
    ("exp-as-bool", token(claims(exp=True)), "exp"),
    ("exp-out-of-range", token(claims(exp=10**20)), "exp"),
    ("no-nbf", token(claims(nbf=None)), "nbf"),
    ("missing-role", token(claims(roles=None)), "role"),
    ("other-role", token(claims(roles=["Reader"])), "role"),
    ("roles-as-text", token(claims(roles=ROLE)), "role"),
    ("other-client-v2", token(claims(azp="11111111-2222-3333-4444-555555555555")), "client"),
    ("other-client-v1", token(claims("1.0", appid="11111111-2222-3333-4444-555555555555")),
     "client"),
    ("v1-client-claim-in-v2-token", token(claims(azp=None, appid=ACTION_GROUPS_APP_ID)),
     "client"),
    ("too-long", token(claims(padding="x" * 20000)), "too long"),
]


@pytest.mark.parametrize(("value", "pattern"), [row[1:] for row in FAILURES],
                         ids=[row[0] for row in FAILURES])
def test_refused(value: str, pattern: str) -> None:
    with pytest.raises(Unauthorized, match=pattern):
        check(value)


def test_any_client_with_the_role_when_configured_so() -> None:
    policy = EntraPolicy(tenant_id=TENANT, audiences=frozenset({CLIENT_ID}), client_ids=None)
    check(token(claims(azp="11111111-2222-3333-4444-555555555555")), policy=policy)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
                                    "Token abc", "Bearer a b"])
def test_no_bearer_token(header: str | None) -> None:
    with pytest.raises(Unauthorized, match="Bearer"):
        bearer_token(header)


@pytest.mark.parametrize(("options", "pattern"), [
    ({"tenant_id": "common"}, "tenant id"),
    ({"tenant_id": TENANT.upper()}, "tenant id"),
    ({"audiences": frozenset()}, "no audience"),
    ({"audiences": frozenset({""})}, "no audience"),
    ({"client_ids": frozenset()}, "client ids"),
    ({"leeway": timedelta(hours=1)}, "leeway"),
])
def test_policy_is_checked(options: dict[str, Any], pattern: str) -> None:
    settings: dict[str, Any] = {"tenant_id": TENANT, "audiences": frozenset({CLIENT_ID}), **options}
    with pytest.raises(ConfigError, match=pattern):
        EntraPolicy(**settings)


def test_jwks_keeps_only_rsa_signing_keys() -> None:
    ec_entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    found = parse_jwks({"keys": [
        jwk(KEY, "sig"), jwk(KEY, "enc", use="enc"), jwk(KEY, "rs512", alg="RS512"),
        {**ec_entry, "kid": "ec"}, {"kty": "RSA", "kid": "broken", "n": "!", "e": "AQAB"},
        jwk(KEY, ""), "not a key", {"kty": "RSA"}]})
    assert list(found) == ["sig"]
    assert parse_jwks({"keys": "nope"}) == {}
    assert parse_jwks({}) == {}


# The simpler option: a token in the webhook URL's query.
@pytest.mark.parametrize(("given", "expected", "accepted"), [
    ("tok-new", ["tok-new", "tok-old"], True),
    ("tok-old", ["tok-new", "tok-old"], True),
    ("tok-older", ["tok-new", "tok-old"], False),
    ("tok-ne", ["tok-new"], False),
    ("tok-new-", ["tok-new"], False),
    ("TOK-NEW", ["tok-new"], False),
    ("", ["tok-new"], False),
    (None, ["tok-new"], False),
    ("", [""], False),
    ("tok-new", [], False),
    ("jetón-ü", ["jetón-ü"], True),
    ("\ud800", ["tok-new"], False),
], ids=["current", "previous", "retired", "prefix", "suffix", "case", "empty", "missing",
        "empty-configured", "none-configured", "non-ascii", "lone-surrogate"])
def test_query_token(given: str | None, expected: list[str], accepted: bool) -> None:
    assert verify_query_token(given, expected) is accepted


@pytest.mark.parametrize(("query", "value"), [
    ("token=abc", "abc"), ("a=1&token=a%2Bb%3D", "a+b="), ("token=", ""),
    ("token=a&token=b", None), ("other=1", None), ("", None),
])
def test_query_token_is_read_once(query: str, value: str | None) -> None:
    assert query_token(query) == value
