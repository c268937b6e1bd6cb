"""What `make run` refuses to start with, one line per problem naming what to set."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from scripts.localstack import LOCAL_DEFAULTS, REPO
from scripts.preflight import EMULATOR_JARS, asana_mode, check

GOOD = {k: v for k, v in LOCAL_DEFAULTS.items() if k != "DRY_RUN_FILE"}
GOOD["DRY_RUN_FILE"] = "/tmp/dry.jsonl"


@pytest.fixture
def sdk(tmp_path: Path) -> Path:
    """A Google Cloud SDK root holding both emulator jars."""
    for pattern in EMULATOR_JARS.values():
        jar = tmp_path / pattern.replace("*", "0.8.20")
        jar.parent.mkdir(parents=True, exist_ok=True)
        jar.touch()
    return tmp_path


def run_check(env: Mapping[str, str], sdk: Path, java: bool = True,
              busy: frozenset[int] = frozenset()) -> list[str]:
    plan, problems = check(env, repo=REPO, sdk_root=sdk,
                           which=lambda name: "/usr/bin/java" if java else None,
                           port_busy=lambda port: port in busy)
    assert (plan is None) == bool(problems)
    return problems


def test_the_local_defaults_pass(sdk: Path) -> None:
    plan, problems = check(GOOD, repo=REPO, sdk_root=sdk, which=lambda name: "/usr/bin/java",
                           port_busy=lambda port: False)
    assert problems == []
    assert plan is not None
    assert plan.ports == {"ingest": 8080, "worker": 8081, "pubsub": 8085, "firestore": 8086}


@pytest.mark.parametrize("env, busy, expected", [
    ({}, {8085}, "port 8085 is busy (PUBSUB_PORT): stop what listens there, or set PUBSUB_PORT "
                 "to a free port"),
    ({"INGEST_PORT": "9090"}, {9090}, "port 9090 is busy (INGEST_PORT)"),
    ({"WORKER_PORT": "http"}, set(), "WORKER_PORT='http' is not a port number"),
    ({"FIRESTORE_PORT": "8085"}, set(), "FIRESTORE_PORT and PUBSUB_PORT are both 8085"),
    ({"ENVIRONMENT": "prod"}, set(), "ENVIRONMENT=prod needs ASANA_PAT"),
    ({"ENVIRONMENT": "qa"}, set(), "ENVIRONMENT: expected one of dev, staging, prod, got 'qa'"),
    ({"SENTRY_CLIENT_SECRET": " "}, set(),
     "secret SENTRY_CLIENT_SECRET: empty value: set SENTRY_CLIENT_SECRET"),
    ({"ASANA_PAT": ""}, set(), "secret ASANA_PAT: empty value: set ASANA_PAT to a value, or "
                               "unset it"),
    ({"TEAMS_FILE": "tests/data/teams_broken.yaml"}, set(),
     "tests/data/teams_broken.yaml: team 'Payments': entity #1: matcher 'url:/(/': bad regex"),
    ({"TEAMS_FILE": "missing.yaml"}, set(), "missing.yaml: cannot read teams file"),
], ids=["pubsub-port-busy", "moved-port-busy", "port-not-a-number", "two-services-one-port",
        "prod-without-asana-pat", "unknown-environment", "blank-required-secret",
        "blank-asana-pat", "broken-teams-file", "missing-teams-file"])
def test_each_problem_is_one_line_naming_what_to_set(
        sdk: Path, env: Mapping[str, str], busy: set[int], expected: str) -> None:
    problems = run_check({**GOOD, **env}, sdk, busy=frozenset(busy))
    assert any(expected in line for line in problems), problems
    assert all("\n" not in line for line in problems)


def test_java_and_emulator_components_are_named(tmp_path: Path) -> None:
    problems = run_check(GOOD, tmp_path, java=False)
    assert problems[0].startswith("java not found: install Java 17")
    assert [line.split(" under ")[0] for line in problems[1:]] == [
        "the pubsub-emulator component is missing",
        "the cloud-firestore-emulator component is missing"]
    assert all("CLOUDSDK_ROOT" in line for line in problems[1:])


def test_every_problem_is_reported_at_once(sdk: Path) -> None:
    problems = run_check({**GOOD, "ENVIRONMENT": "prod", "INGEST_PORT": "x"}, sdk, java=False)
    assert len(problems) == 3


@pytest.mark.parametrize("env, mode", [
    ({}, "dry-run, requests are written to /tmp/dry.jsonl"),
    ({"ASANA_PAT": "pat"}, "live, tasks are created at https://app.asana.com/api/1.0"),
    ({"ASANA_PAT": "pat", "ASANA_API_URL": "http://127.0.0.1:9/api/1.0"},
     "live, tasks are created at http://127.0.0.1:9/api/1.0"),
], ids=["no-token-dry-run", "token-live", "token-fake-asana"])
def test_the_banner_names_the_real_asana_mode(sdk: Path, env: Mapping[str, str],
                                              mode: str) -> None:
    plan, _ = check({**GOOD, **env}, repo=REPO, sdk_root=sdk, which=lambda name: "java",
                    port_busy=lambda port: False)
    assert plan is not None
    assert asana_mode({**GOOD, **env}, plan.settings) == mode


LEGACY_WITHOUT_DEFAULT = """\
- Name: Payments
  AsanaBacklogId: "1200000000000201"
  Entities: []
- Name: Growth
  AsanaBacklogId: "1200000000000401"
  Entities: []
"""


@pytest.mark.parametrize(("default_team", "problem"), [
    pytest.param("Payments", None, id="default-from-DEFAULT_TEAM-is-accepted"),
    pytest.param(None, "no default team", id="no-default-is-refused"),
    pytest.param("Nobody", "DEFAULT_TEAM", id="unknown-DEFAULT_TEAM-is-refused"),
])
def test_the_teams_file_is_checked_with_DEFAULT_TEAM_as_the_functions_load_it(
        sdk: Path, tmp_path: Path, default_team: str | None, problem: str | None) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text(LEGACY_WITHOUT_DEFAULT)
    env = {**GOOD, "TEAMS_FILE": str(teams)}
    if default_team:
        env["DEFAULT_TEAM"] = default_team
    problems = run_check(env, sdk)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in line for line in problems), problems
