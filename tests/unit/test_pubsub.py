"""Publishing: the Publisher and Pub/Sub's attribute limits, which the emulator ignores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from shared.adapters.pubsub import Publisher
from shared.core.errors import Permanent
from shared.core.pubsub_attributes import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    InvalidAttributes,
    clip_utf8,
    pubsub_attributes,
)


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("short", 1024, "short"),
    ("a" * 1024, 1024, "a" * 1024),
    ("a" * 1025, 1024, "a" * 1024),
    ("é" * 600, 1024, "é" * 512),
    ("a" + "é" * 600, 1024, "a" + "é" * 511),  # the 1,024th byte would split an é
    ("€" * 400, 1024, "€" * 341),
    ("a" + "😀" * 300, 1024, "a" + "😀" * 255),
    ("", 1024, ""),
], ids=["short", "exactly-at-limit", "ascii-over", "two-byte-even", "two-byte-split",
        "three-byte", "four-byte-split", "empty"])
def test_clip_utf8_keeps_characters_whole(text: str, limit: int, expected: str) -> None:
    clipped = clip_utf8(text, limit)
    assert clipped == expected
    assert len(clipped.encode("utf-8")) <= limit


@pytest.mark.parametrize(("value", "expected"), [
    ("triggered", "triggered"),
    ("x" * 5000, "x" * MAX_VALUE_BYTES),
    ("Ошибка" * 200, clip_utf8("Ошибка" * 200, MAX_VALUE_BYTES)),
    ("bad \ud800 surrogate", "bad \ufffd surrogate"),
    ("\udfff" * 600, "\ufffd" * 341),
    (None, ""),
    (42, "42"),
], ids=["plain", "long-ascii", "long-cyrillic", "lone-surrogate", "surrogates-then-capped",
        "none", "number"])
def test_values_are_made_encodable_and_capped(value: object, expected: str) -> None:
    assert pubsub_attributes({"k": value}) == {"k": expected}
    assert len(expected.encode("utf-8")) <= MAX_VALUE_BYTES


@pytest.mark.parametrize("attributes", [
    {"": "v"},
    {"k" * (MAX_KEY_BYTES + 1): "v"},
    {"é" * 129: "v"},  # 258 bytes
    {"googReserved": "v"},
    {"GOOG-thing": "v"},
    {"bad\ud800key": "v"},
    {f"k{i}": "v" for i in range(101)},
], ids=["empty-key", "key-too-long", "key-too-long-in-bytes", "goog-prefix",
        "goog-prefix-any-case", "key-lone-surrogate", "too-many"])
def test_invalid_keys_are_a_permanent_error(attributes: Mapping[str, object]) -> None:
    with pytest.raises(InvalidAttributes) as error:
        pubsub_attributes(attributes)
    assert isinstance(error.value, Permanent)
    assert error.value.reason == "invalid_attributes"


@pytest.mark.parametrize("key", ["k" * MAX_KEY_BYTES, "dead_letter_reason", "a-b.c_d~e"],
                         ids=["key-at-limit", "snake-case", "punctuation"])
def test_valid_keys_pass(key: str) -> None:
    assert pubsub_attributes({key: "v"}) == {key: "v"}


class FakeFuture:
    def result(self, timeout: float) -> str:
        return "m-1"


class FakeClient:
    """The two PublisherClient calls Publisher makes; records what it was asked to publish."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **kwargs: Any) -> FakeFuture:
        kwargs.pop("retry")
        kwargs.pop("timeout")
        self.published.append(kwargs)
        return FakeFuture()


def test_every_publish_goes_through_the_cap() -> None:
    client = FakeClient()
    publisher = Publisher("p", "t", client=client)  # type: ignore[arg-type]
    publisher.publish(b"{}", {"dead_letter_error": "é" * 2000, "reason": "x\ud800"})
    [attributes] = client.published
    assert attributes == {"dead_letter_error": "é" * 512, "reason": "x\ufffd"}


def test_publish_with_an_invalid_key_is_refused_before_sending() -> None:
    client = FakeClient()
    publisher = Publisher("p", "t", client=client)  # type: ignore[arg-type]
    with pytest.raises(InvalidAttributes):
        publisher.publish(b"{}", {"googBad": "v"})
    assert client.published == []


def test_publisher_without_google_credentials_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth import exceptions as auth_exceptions

    from shared.adapters import pubsub
    from shared.core.errors import ConfigError

    def no_credentials(**_: object) -> None:
        raise auth_exceptions.DefaultCredentialsError("no ADC")

    monkeypatch.setattr(pubsub, "PublisherClient", no_credentials)
    with pytest.raises(ConfigError) as error:
        Publisher("p", "t")
    assert "PUBSUB_EMULATOR_HOST" in str(error.value)
