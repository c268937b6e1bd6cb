"""Webhook verification: known vectors, raw-byte semantics, rotation."""

import json

import pytest

from shared.core.signatures import verify_token
from shared.sources.sentry.verify import sentry_signature, verify_sentry

KNOWN_KEY = "Some Private Key"
KNOWN_BODY = b"Hello World"
KNOWN_SIGNATURE = "64634bbddfd3a1bb0d6360839371aa12ea16d785c7f94bb6f2eac7ed5f3d235c"


def test_known_vector() -> None:
    assert sentry_signature(KNOWN_KEY, KNOWN_BODY) == KNOWN_SIGNATURE
    assert verify_sentry(KNOWN_BODY, KNOWN_SIGNATURE, [KNOWN_KEY])


def test_signature_covers_raw_bytes_not_reserialized_json() -> None:
    raw = '{"data": {"event": {"title": "Ошибка: 支払い失敗 — café"}}}'.encode()
    reserialized = json.dumps(json.loads(raw)).encode()  # \\u escapes: different bytes
    assert raw != reserialized
    signature = sentry_signature("secret", raw)
    assert verify_sentry(raw, signature, ["secret"])
    assert not verify_sentry(reserialized, signature, ["secret"])


@pytest.mark.parametrize(
    ("signature", "secrets", "expected"),
    [
        (KNOWN_SIGNATURE, [KNOWN_KEY], True),
        (KNOWN_SIGNATURE.upper(), [KNOWN_KEY], True),
        (KNOWN_SIGNATURE, ["new secret", KNOWN_KEY], True),
        (KNOWN_SIGNATURE, [KNOWN_KEY, "old secret"], True),
        (KNOWN_SIGNATURE, ["wrong"], False),
        (KNOWN_SIGNATURE[:-1] + "0", [KNOWN_KEY], False),
        ("", [KNOWN_KEY], False),
        (None, [KNOWN_KEY], False),
        ("not hex at all ✓", [KNOWN_KEY], False),
        (KNOWN_SIGNATURE, [], False),
    ],
    ids=["current", "uppercase-hex", "previous-during-rotation", "current-during-rotation",
         "wrong-secret", "one-digit-off", "empty", "missing", "garbage", "no-secrets"],
)
def test_verify_sentry(signature: str | None, secrets: list[str], expected: bool) -> None:
    assert verify_sentry(KNOWN_BODY, signature, secrets) is expected


@pytest.mark.parametrize(
    ("token", "tokens", "expected"),
    [
        ("tok-new", ["tok-new", "tok-old"], True),
        ("tok-old", ["tok-new", "tok-old"], True),
        ("tok-older", ["tok-new", "tok-old"], False),
        ("tok-ne", ["tok-new"], False),
        ("", ["tok-new"], False),
        (None, ["tok-new"], False),
        ("jetón-ü", ["jetón-ü"], True),
    ],
    ids=["current", "previous", "retired", "prefix", "empty", "missing", "non-ascii"],
)
def test_verify_token(token: str | None, tokens: list[str], expected: bool) -> None:
    assert verify_token(token, tokens) is expected
