"""The reliability suite's results table: each scenario records what a user would see in Asana."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One scenario's outcome, counted in Asana (or at the ingest edge for the fuzz)."""

    scenario: str
    alerts: int
    tasks: int
    lost: int
    duplicated: int
    seconds: float


_rows: list[Row] = []
_lock = threading.Lock()


def record(scenario: str, *, alerts: int, tasks: int, lost: int, duplicated: int,
           seconds: float) -> None:
    """Add a scenario's row to the table printed at the end of the run."""
    with _lock:
        _rows.append(Row(scenario, alerts, tasks, lost, duplicated, seconds))


def rows() -> list[Row]:
    """Return the rows recorded so far."""
    with _lock:
        return list(_rows)


def render(table: list[Row]) -> list[str]:
    """Return the table as aligned text lines."""
    header = ("scenario", "alerts", "tasks", "lost", "duplicated", "seconds")
    cells = [header] + [(r.scenario, str(r.alerts), str(r.tasks), str(r.lost),
                         str(r.duplicated), f"{r.seconds:.1f}") for r in table]
    return _aligned(cells)


@dataclass(frozen=True)
class HistoriesRow:
    """One run of the randomized histories: how many, and what a user would have noticed."""

    seeds: str
    histories: int
    failed: int
    disagreements: int
    duplicates: int
    lost: int
    stuck: int
    seconds: float


_histories: list[HistoriesRow] = []


def record_histories(row: HistoriesRow) -> None:
    """Add a histories run to the second table printed at the end."""
    with _lock:
        _histories.append(row)


def histories_rows() -> list[HistoriesRow]:
    """Return the histories runs recorded so far."""
    with _lock:
        return list(_histories)


def render_histories(table: list[HistoriesRow]) -> list[str]:
    """Return the histories table as aligned text lines."""
    header = ("seeds", "histories", "failed", "disagreements", "duplicates", "lost",
              "not settled", "seconds")
    cells = [header] + [(r.seeds, str(r.histories), str(r.failed), str(r.disagreements),
                         str(r.duplicates), str(r.lost), str(r.stuck), f"{r.seconds:.1f}")
                        for r in table]
    return _aligned(cells)


def _aligned(cells: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for index, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        rest = "  ".join(cell.rjust(width) for cell, width in zip(row[1:], widths[1:],
                                                                   strict=True))
        lines.append(f"{first}  {rest}")
        if index == 0:
            lines.append("-" * len(lines[0]))
    return lines
