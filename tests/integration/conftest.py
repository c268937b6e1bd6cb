"""The real local stack for integration tests: emulators and functions, started once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localstack import LOCAL_DEFAULTS, REPO, Stack, Topology, free_port, start_stack
from shared.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana

PROJECT = "alert-bridge-test"
ASANA_TOKEN = "integration-test-pat"
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
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, asana: FakeAsana) -> Iterator[Stack]:
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
