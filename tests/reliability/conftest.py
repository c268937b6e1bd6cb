"""Reliability suite: faults injected into the real local stack, counted in (fake) Asana."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.localstack import REPO, free_port, start_emulators
from tests.reliability import summary
from tests.reliability.rig import Rig, base_env, seeded_asana


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the scenario table (scenario, alerts, tasks, lost, duplicated, seconds) and the
    randomized histories' table (seeds, histories, disagreements, duplicates, lost)."""
    table, histories = summary.rows(), summary.histories_rows()
    if not table and not histories:
        return
    terminalreporter.section("reliability summary")
    if table:
        for line in summary.render(table):
            terminalreporter.write_line(line)
    if histories:
        if table:
            terminalreporter.write_line("")
        for line in summary.render_histories(histories):
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Start both emulators and the fake Asana; each scenario deploys its own functions."""
    # Outside pytest's temporary directories, which other pytest runs rotate away.
    log_dir = REPO / ".run" / "reliability" / time.strftime("%Y%m%d-%H%M%S")
    pubsub_port, firestore_port = free_port(), free_port()
    asana = seeded_asana().start()
    emulators = start_emulators(pubsub_port, firestore_port, log_dir)
    world = Rig(base_env(asana, pubsub_port, firestore_port), asana, log_dir, emulators)
    try:
        yield world
    finally:
        world.stop()
        asana.stop()
