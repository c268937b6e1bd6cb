"""Settings: defaults, validation, every problem reported at once."""

import pytest

from shared.errors import ConfigError
from shared.settings import DEFAULT_ASANA_API_URL, load_settings


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
