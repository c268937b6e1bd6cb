"""Configuration errors name the keys an operator has to fix."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.wiring import config_keys


@pytest.mark.parametrize("message, keys", [
    ("invalid configuration: GOOGLE_CLOUD_PROJECT: required (the project that holds the topics)",
     ["GOOGLE_CLOUD_PROJECT"]),
    ("invalid configuration: ENVIRONMENT: expected one of dev, staging, prod, got 'qa'; "
     "MAX_BODY_BYTES: must be positive, got -1", ["ENVIRONMENT", "MAX_BODY_BYTES"]),
    ("ASANA_PAT: not set (secret alert-bridge-asana-pat); dry-run is only allowed with "
     "ENVIRONMENT=dev", ["ASANA_PAT", "ENVIRONMENT"]),
    ("secret SENTRY_CLIENT_SECRET: empty value", ["SENTRY_CLIENT_SECRET"]),
    ("teams.yaml: team 'Payments': matcher 'url:/(/': bad regex", []),
], ids=["missing-project", "two-bad-settings", "prod-without-pat", "empty-secret",
        "teams-file-names-no-variable"])
def test_config_keys(message: str, keys: list[str]) -> None:
    assert config_keys(ConfigError(message)) == keys
