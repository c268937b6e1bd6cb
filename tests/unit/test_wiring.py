"""Configuration errors name the keys an operator has to fix; the two-way sync's check is
wired from settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.secrets import SecretSource
from shared.core.errors import ConfigError
from shared.core.settings import load_settings
from shared.sources.asana.build import reconciler
from shared.sources.build import Build, ReconcileParts
from shared.wiring import config_keys, utc_now


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



class Ledger:
    """A ledger the sync check never reads (no team reaches the comparison)."""

    def by_keys(self, keys: Iterable[str]) -> Mapping[str, Any]:
        return {}

    def by_external_id(self, source: str, external_id: str) -> Sequence[Any]:
        return []

    def page(self, prefix: str, after: str | None, limit: int) -> Sequence[Any]:
        return []


def _sync_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync_back: bool
                ) -> Callable[[str, bool], Mapping[str, int]]:
    teams = tmp_path / "teams.yaml"
    teams.write_text("settings:\n  default_team: A\nteams:\n  - name: A\n"
                     f'    asana_backlog_id: "1"\n    sync_back: {str(sync_back).lower()}\n')
    # The hooks' Firestore client is built, never called: no emulator needs to run.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "TEAMS_FILE": str(teams)})
    source = SecretSource({}, "p", "alert-bridge-", 60, fetch=lambda name: None)
    check = reconciler(Build(settings, source, utc_now),
                       ReconcileParts(Ledger(), lambda body, attributes: "1", lambda gids: {}))
    assert check.after is not None
    return check.after


def test_the_sync_check_does_nothing_without_an_opted_in_team(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _sync_check(tmp_path, monkeypatch, False)("run", False) == {}


def test_the_sync_check_needs_asana_pat_once_a_team_opted_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="ASANA_PAT: not set"):
        _sync_check(tmp_path, monkeypatch, True)("run", False)


class RecordingSecrets:
    """A credential source that says which credentials were asked for."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def get(self, name: str) -> tuple[str, ...]:
        self.read.append(name)
        return ("value",)


def _ingest_with(monkeypatch: pytest.MonkeyPatch, alert_sources: str | None
                 ) -> tuple[Any, RecordingSecrets]:
    from shared import wiring

    for name, value in {"GOOGLE_CLOUD_PROJECT": "p", "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
                        "ALERT_SOURCES": alert_sources}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    recording = RecordingSecrets()
    monkeypatch.setattr(wiring, "settings", lambda function="worker": load_settings())
    monkeypatch.setattr(wiring, "secrets", lambda function="worker": recording)
    return wiring.ingest_deps.__wrapped__(), recording  # the instance keeps its first


def test_ingest_reads_only_the_credentials_of_the_sources_switched_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    deps, recording = _ingest_with(monkeypatch, "sentry,datadog,asana")
    assert deps.sources.names() == ("sentry", "datadog", "asana")
    # A switched-off source's secret does not exist: reading it would log secret_denied on
    # every cold start.
    assert set(recording.read) == {"SENTRY_CLIENT_SECRET", "ASANA_PAT", "DATADOG_SECRET_TOKEN"}


def test_ingest_takes_every_source_when_alert_sources_is_unset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.sources import SOURCES

    deps, _ = _ingest_with(monkeypatch, None)
    assert deps.sources.names() == SOURCES.names()


def test_an_unknown_alert_source_is_a_configuration_error_naming_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"ALERT_SOURCES: no such source 'grafna' "
                                          r"\(did you mean 'grafana'\?\)"):
        _ingest_with(monkeypatch, "sentry,grafna")
