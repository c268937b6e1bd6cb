"""Settings: defaults, validation, every problem reported at once."""

from dataclasses import fields

import pytest

from shared.core.errors import ConfigError
from shared.core.settings import (
    CREDENTIALS,
    DEFAULT_ASANA_API_URL,
    FUNCTIONS,
    SECRET_NAMES,
    SETTINGS,
    Settings,
    configuration_rows,
    credential_rows,
    load_settings,
)


def test_defaults() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p"})
    assert settings.events_topic == "alert-events"
    assert settings.teams_file == "teams.yaml"
    assert settings.asana_api_url == DEFAULT_ASANA_API_URL
    assert settings.environment == "prod"


def test_base_urls_lose_their_trailing_slash() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "ASANA_API_URL": "http://x:1/api/"})
    assert settings.asana_api_url == "http://x:1/api"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"ENVIRONMENT": "production", "LOG_LEVEL": "loud",
                       "MAX_BODY_BYTES": "1MB"})
    message = str(error.value)
    for key in ("GOOGLE_CLOUD_PROJECT", "ENVIRONMENT", "LOG_LEVEL", "MAX_BODY_BYTES"):
        assert key in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), (" Observability and Performance ",
                                               "Observability and Performance")],
    ids=["unset", "empty", "blank", "trimmed"],
)
def test_default_team(value: str | None, expected: str | None) -> None:
    env = {"GOOGLE_CLOUD_PROJECT": "p"} | ({"DEFAULT_TEAM": value} if value is not None else {})
    assert load_settings(env).default_team == expected


def test_sentry_defaults_follow_the_deployment() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "ENVIRONMENT": "staging"})
    assert (settings.sentry_dsn, settings.sentry_environment, settings.sentry_release,
            settings.sentry_traces_sample_rate, settings.sentry_profiles_sample_rate) == (
        None, "staging", None, 0.1, 0.1)


def test_sentry_settings_are_read() -> None:
    settings = load_settings({
        "GOOGLE_CLOUD_PROJECT": "p", "SENTRY_DSN": " https://k3y@o1.ingest.sentry.io/42 ",
        "SENTRY_ENVIRONMENT": "prod-eu", "SENTRY_RELEASE": "alert-bridge@1f2e3d4c5b6a",
        "SENTRY_TRACES_SAMPLE_RATE": "0", "SENTRY_PROFILES_SAMPLE_RATE": "1.0"})
    assert (settings.sentry_dsn, settings.sentry_environment, settings.sentry_release,
            settings.sentry_traces_sample_rate, settings.sentry_profiles_sample_rate) == (
        "https://k3y@o1.ingest.sentry.io/42", "prod-eu", "alert-bridge@1f2e3d4c5b6a", 0.0, 1.0)


BAD_SENTRY_VALUES = [
    ("SENTRY_TRACES_SAMPLE_RATE", "1.5"),
    ("SENTRY_TRACES_SAMPLE_RATE", "-0.1"),
    ("SENTRY_TRACES_SAMPLE_RATE", "ten percent"),
    ("SENTRY_TRACES_SAMPLE_RATE", "nan"),
    ("SENTRY_PROFILES_SAMPLE_RATE", "2"),
    ("SENTRY_ENVIRONMENT", "prod eu"),
    ("SENTRY_ENVIRONMENT", "prod/eu"),
    ("SENTRY_ENVIRONMENT", "None"),
    ("SENTRY_ENVIRONMENT", "e" * 65),
    ("SENTRY_RELEASE", "alert-bridge/1.0"),
    ("SENTRY_RELEASE", ".."),
    ("SENTRY_RELEASE", "r" * 201),
    ("SENTRY_DSN", "not a dsn"),
    ("SENTRY_DSN", "https://o1.ingest.sentry.io/42"),  # no public key
    ("SENTRY_DSN", "ftp://k3y@o1.ingest.sentry.io/42"),
    ("SENTRY_DSN", "https://k3y@o1.ingest.sentry.io/"),  # no project id
]


@pytest.mark.parametrize(("key", "value"), BAD_SENTRY_VALUES,
                         ids=[f"{k}={v[:20]}" for k, v in BAD_SENTRY_VALUES])
def test_a_bad_sentry_value_is_a_config_error_naming_the_variable(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings({"GOOGLE_CLOUD_PROJECT": "p", key: value})


def test_a_bad_dsn_is_reported_without_its_key() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"GOOGLE_CLOUD_PROJECT": "p", "SENTRY_DSN": "https://s3cr3tkey@host/x"})
    assert "s3cr3tkey" not in str(error.value)


def test_two_way_sync_settings() -> None:
    base = {"GOOGLE_CLOUD_PROJECT": "p"}
    off = load_settings(base)
    assert (off.asana_webhook_target_url, off.asana_webhook_collection, off.sentry_org) == (
        None, "asana_webhooks", None)
    on = load_settings({**base, "ASANA_WEBHOOK_TARGET_URL": "https://x.run.app/",
                        "SENTRY_ORG": "acme"})
    assert (on.asana_webhook_target_url, on.sentry_org) == ("https://x.run.app", "acme")
    with pytest.raises(ConfigError, match="ASANA_WEBHOOK_TARGET_URL: expected an http"):
        load_settings({**base, "ASANA_WEBHOOK_TARGET_URL": "x.run.app"})


@pytest.mark.parametrize(("value", "problem"), [
    pytest.param(None, None, id="default"),
    pytest.param("hooks-2", None, id="named"),
    pytest.param("(default)", "ASANA_HOOKS_DATABASE", id="the-ledgers-database"),
    pytest.param("abc", "ASANA_HOOKS_DATABASE", id="too-short"),
    pytest.param("Hooks", "ASANA_HOOKS_DATABASE", id="capitals"),
    pytest.param("hooks-", "ASANA_HOOKS_DATABASE", id="trailing-dash"),
    pytest.param("1hooks", "ASANA_HOOKS_DATABASE", id="leading-digit"),
    pytest.param("abcdef12-3456-7890-abcd-ef1234567890", "ASANA_HOOKS_DATABASE",
                 id="uuid-like"),
])
def test_the_hooks_database_is_a_named_one(value: str | None, problem: str | None) -> None:
    env = {"GOOGLE_CLOUD_PROJECT": "p", **({"ASANA_HOOKS_DATABASE": value} if value else {})}
    if problem is None:
        assert load_settings(env).asana_hooks_database == (value or "alert-bridge-hooks")
        return
    with pytest.raises(ConfigError, match=problem):
        load_settings(env)


def test_every_setting_is_one_row_of_the_table() -> None:
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert {f.name for f in fields(Settings)} == {setting.field for setting in SETTINGS}
    for setting in SETTINGS:
        assert setting.description and setting.readers, setting.name
        assert set(setting.readers) <= set(FUNCTIONS), setting.name


def test_the_configuration_table_has_a_row_per_setting_with_its_default() -> None:
    rows = {name: (default, description) for name, default, description in configuration_rows()}
    assert list(rows)[:len(SETTINGS)] == [setting.name for setting in SETTINGS]
    defaults = load_settings({"GOOGLE_CLOUD_PROJECT": "p"})
    assert rows["EVENTS_TOPIC"][0] == f"`{defaults.events_topic}`"
    assert rows["MAX_BODY_BYTES"][0] == f"`{defaults.max_body_bytes}`"
    assert rows["GOOGLE_CLOUD_PROJECT"][0] == "*(required)*"


def test_every_credential_is_described_and_read_by_some_function() -> None:
    assert set(CREDENTIALS) == set(SECRET_NAMES)
    readers = {name: functions for name, functions, _ in credential_rows()}
    assert readers["DATADOG_APP_KEY"] == "reconcile"
    assert readers["ASANA_PAT"] == "ingest, worker, reconcile"
