"""The real local stack for integration tests: emulators and functions, started once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localstack import LOCAL_DEFAULTS, Stack, Topology, free_port, start_stack

PROJECT = "alert-bridge-test"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start both emulators, the topology, the worker and the ingest function."""
    log_dir = tmp_path_factory.mktemp("stack-logs")
    suffix = uuid.uuid4().hex[:8]
    topology = Topology(PROJECT, f"events-{suffix}", f"dead-{suffix}", f"events-{suffix}-push",
                        f"dead-{suffix}-pull", max_delivery_attempts=5)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update(LOCAL_DEFAULTS)
    env.update({"GOOGLE_CLOUD_PROJECT": PROJECT,
                "DRY_RUN_FILE": str(log_dir / "dry-run.jsonl"),
                "ENVIRONMENT": "prod"})
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
