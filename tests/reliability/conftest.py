"""Reliability suite: faults injected into the real local stack, counted in (fake) Asana."""

from __future__ import annotations

from typing import Any

from tests.reliability import summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the scenario table (scenario, alerts, tasks, lost, duplicated, seconds)."""
    table = summary.rows()
    if not table:
        return
    terminalreporter.section("reliability summary")
    for line in summary.render(table):
        terminalreporter.write_line(line)
