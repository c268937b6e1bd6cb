"""The real local stack for integration tests: emulators and functions, started once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localstack import LOCAL_DEFAULTS, REPO, Stack, Topology, free_port, start_stack
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeDatadogApi, FakeSentryApi

PROJECT = "alert-bridge-test"
ASANA_TOKEN = "integration-test-pat"
SENTRY_TOKEN = "integration-sentry-token"
DATADOG_API_KEY = "integration-datadog-api-key"
#: installation.uuid of the Sentry fixtures in tests/data.
SENTRY_INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
#: Teams whose Asana projects the fake knows; Growth's backlog is left unknown so that
#: tasks routed to it are refused by "Asana" with a 400, a permanent failure.
SEEDED_TEAMS = ("Platform", "Payments", "Investigations")


@pytest.fixture(scope="session")
def asana() -> Iterator[FakeAsana]:
    """A local Asana API that knows the backlogs of the repository's teams.yaml."""
    config = load_teams(str(REPO / "teams.yaml"))
    fake = FakeAsana(token=ASANA_TOKEN)
    for name in SEEDED_TEAMS:
        fake.add_project(config.team(name).backlog_project_gid, f"{name} backlog")
    with fake:
        yield fake


@pytest.fixture(scope="session")
def sentry_api() -> Iterator[FakeSentryApi]:
    """A local Sentry API that accepts external-issue links of the fixtures' installation."""
    fake = FakeSentryApi(token=SENTRY_TOKEN)
    fake.add_installation(SENTRY_INSTALLATION)
    with fake:
        yield fake


@pytest.fixture(scope="session")
def datadog_api() -> Iterator[FakeDatadogApi]:
    """A local Datadog API that accepts posted events."""
    fake = FakeDatadogApi(api_key=DATADOG_API_KEY)
    with fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, asana: FakeAsana,
          sentry_api: FakeSentryApi, datadog_api: FakeDatadogApi) -> Iterator[Stack]:
    """Start both emulators, the topology, the worker (talking to the fake Asana) and ingest."""
    log_dir = tmp_path_factory.mktemp("stack-logs")
    suffix = uuid.uuid4().hex[:8]
    topology = Topology(PROJECT, f"events-{suffix}", f"dead-{suffix}", f"events-{suffix}-push",
                        f"dead-{suffix}-pull", max_delivery_attempts=5)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update(LOCAL_DEFAULTS)
    env.update({"GOOGLE_CLOUD_PROJECT": PROJECT,
                "DRY_RUN_FILE": str(log_dir / "dry-run.jsonl"),
                "ENVIRONMENT": "prod",
                "ASANA_API_URL": asana.url,
                "ASANA_PAT": ASANA_TOKEN,
                "ASANA_MAX_ATTEMPTS": "2",
                "SENTRY_API_URL": sentry_api.url,
                "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
                "DATADOG_API_URL": datadog_api.url,
                "DATADOG_API_KEY": DATADOG_API_KEY,
                "TEAMS_FILE": str(REPO / "teams.yaml")})
    ports = {name: free_port() for name in ("ingest", "worker", "pubsub", "firestore")}
    started = start_stack(env=env, ports=ports, log_dir=Path(log_dir), topology=topology)
    started.env["_DEAD_LETTER_SUBSCRIPTION"] = topology.dead_letter_subscription
    started.env["_LOG_DIR"] = str(log_dir)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def subscriber(stack: Stack) -> Iterator[object]:
    """A Pub/Sub subscriber client bound to the test stack's emulator."""
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.env["PUBSUB_EMULATOR_HOST"]
    from google.cloud import pubsub_v1

    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()
