"""Credentials: environment first, Secret Manager second, cached with a TTL, never printed."""

from typing import Any

import pytest

from shared.adapters.secrets import SecretDenied, SecretSource, secret_id, split_values
from shared.core.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Secret Manager double: secret id -> latest value; counts reads."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0

    def __call__(self, secret: str) -> str | None:
        self.reads += 1
        return self.values.get(secret)


def source(env: dict[str, str], store: Store, clock: Clock) -> SecretSource:
    return SecretSource(env, "proj", "ab-", 300, fetch=store, clock=clock)


def test_secret_id_from_name() -> None:
    assert secret_id("alert-bridge-", "SENTRY_CLIENT_SECRET") == "alert-bridge-sentry-client-secret"


def test_environment_wins_and_secret_manager_is_not_called() -> None:
    store = Store({"ab-asana-pat": "from-sm"})
    assert source({"ASANA_PAT": "from-env"}, store, Clock()).get("ASANA_PAT") == ("from-env",)
    assert store.reads == 0


def test_secret_manager_value_is_cached_until_the_ttl_passes() -> None:
    store, clock = Store({"ab-asana-pat": "v1"}), Clock()
    secrets = source({}, store, clock)
    assert secrets.get("ASANA_PAT") == ("v1",)
    store.values["ab-asana-pat"] = "v2"  # rotated
    clock.now = 299
    assert secrets.get("ASANA_PAT") == ("v1",)
    clock.now = 301
    assert secrets.get("ASANA_PAT") == ("v2",)
    assert store.reads == 2


@pytest.mark.parametrize(("raw", "values"), [("a", ("a",)), ("new\nold", ("new", "old")),
                                              ("new\r\nold\n", ("new", "old")),
                                              ("a,b", ("a,b",)),
                                              ("new,1\nold,2", ("new,1", "old,2")),
                                              (" a \n\n", ("a",))],
                         ids=["one", "newline-pair", "crlf-pair", "comma-is-part-of-the-value",
                              "pair-with-commas", "whitespace"])
def test_rotation_values(raw: str, values: tuple[str, ...]) -> None:
    assert split_values("X", raw) == values


def test_three_values_are_refused_without_printing_them() -> None:
    with pytest.raises(ConfigError) as error:
        split_values("DATADOG_SECRET_TOKEN", "s3cret-a\ns3cret-b\ns3cret-c")
    assert "DATADOG_SECRET_TOKEN" in str(error.value)
    assert "s3cret" not in str(error.value)


def test_missing_secret_names_the_variable_and_the_secret_id() -> None:
    with pytest.raises(ConfigError) as error:
        source({}, Store({}), Clock()).get("ASANA_PAT")
    assert "ASANA_PAT" in str(error.value) and "ab-asana-pat" in str(error.value)


def test_optional_secret_is_none_when_absent() -> None:
    assert source({}, Store({}), Clock()).optional("ASANA_PAT") is None


def test_unreachable_secret_manager_names_the_secret() -> None:
    def unreachable() -> Any:
        raise ConfigError("Secret Manager unreachable: no Google credentials")

    secrets = SecretSource({}, "proj", "ab-", 300)
    secrets._fetcher = unreachable  # type: ignore[method-assign]
    with pytest.raises(ConfigError) as error:
        secrets.get("ASANA_PAT")
    assert "ASANA_PAT" in str(error.value) and "no Google credentials" in str(error.value)
    assert secrets.optional("ASANA_PAT") is None


def test_absent_secret_is_remembered_for_the_ttl() -> None:
    store, clock = Store({}), Clock()
    secrets = source({}, store, clock)
    assert secrets.optional("SENTRY_AUTH_TOKEN") is None
    assert secrets.optional("SENTRY_AUTH_TOKEN") is None
    assert store.reads == 1
    store.values["ab-sentry-auth-token"] = "added-later"
    clock.now = 301
    assert secrets.optional("SENTRY_AUTH_TOKEN") == "added-later"


class DeniedStore(Store):
    """Secret Manager double whose account may read only some secrets."""

    def __init__(self, values: dict[str, str], denied: set[str]) -> None:
        super().__init__(values)
        self.denied = denied

    def __call__(self, secret: str) -> str | None:
        if secret in self.denied:
            self.reads += 1
            raise SecretDenied(f"secret {secret}: the service account may not access it")
        return super().__call__(secret)


def test_denied_secret_is_cached_like_an_absent_one_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    store, clock = DeniedStore({"ab-asana-pat": "pat-value"}, {"ab-asana-pat"}), Clock()
    secrets = source({}, store, clock)
    for _ in range(3):
        assert secrets.optional("ASANA_PAT") is None
    clock.now = 301  # the TTL passes: one more read, still no second log line
    assert secrets.optional("ASANA_PAT") is None
    assert store.reads == 2
    denied = [r for r in caplog.records if getattr(r, "event", "") == "secret_denied"]
    assert len(denied) == 1
    assert denied[0].secret == "ab-asana-pat"  # type: ignore[attr-defined]
    assert "pat-value" not in caplog.text


@pytest.mark.parametrize(
    ("env", "name", "expected", "reads"),
    [
        ({}, "SENTRY_CLIENT_SECRET", "from-sm", 1),
        ({}, "ASANA_PAT", None, 0),
        ({"ASANA_PAT": "from-env"}, "ASANA_PAT", "from-env", 0),
    ],
    ids=["own-secret-read-from-secret-manager", "other-function-secret-never-asked",
         "environment-always-read"],
)
def test_only_readable_secrets_are_asked_of_secret_manager(
        env: dict[str, str], name: str, expected: str | None, reads: int) -> None:
    store = Store({"ab-sentry-client-secret": "from-sm", "ab-asana-pat": "from-sm"})
    secrets = SecretSource(env, "proj", "ab-", 300, fetch=store, clock=Clock(),
                           readable=("SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN"))
    assert secrets.optional(name) == expected
    assert store.reads == reads
