"""SIGKILL the worker at each crash point of the create and update paths, then count in Asana.

Each crash point gets its own deployment whose worker dies (SIGKILL) the first time it
reaches that point; gunicorn starts a fresh worker process, as Cloud Run starts a fresh
instance, and Pub/Sub redelivers. A user must see exactly one task per alert, completed by
the later ``resolved``, with exactly one "Resolved" comment.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.core import failpoints
from tests.polling import eventually
from tests.reliability import summary
from tests.reliability.rig import (
    Deployment,
    Rig,
    sentry_firing,
    sentry_resolution,
)

ISSUES = 4
BASE_ISSUE = 7_100_000_000


def run_crash_scenario(rig: Rig, point: str, once: Path) -> dict[str, object]:
    """Crash once at ``point`` while ISSUES alerts are created and resolved; count the result."""
    started = time.monotonic()
    deployment = rig.deploy(point.replace("_", "-"), {
        failpoints.VARIABLE: point, failpoints.ONCE_VARIABLE: str(once)})
    issues = [BASE_ISSUE + hash(point) % 1_000_000 * 10 + n for n in range(ISSUES)]
    for issue in issues:
        assert deployment.send(sentry_firing(deployment.tag, issue), "event_alert") == 202
    eventually(lambda: len(deployment.tasks()) == ISSUES, 120, what=f"{point}: tasks created")
    for issue in issues:
        assert deployment.send(sentry_resolution(issue), "issue") == 202
    # The task the ledger holds is completed; a duplicate (the failure this guards) would not be.
    eventually(lambda: all(any(t["completed"] for t in ts)
                           for ts in deployment.tasks().values()), 120, what=f"{point}: completed")
    time.sleep(2)  # let any straggling redelivery land before counting
    tasks = deployment.tasks()
    return {"point": point, "deployment": deployment, "issues": issues, "tasks": tasks,
            "seconds": time.monotonic() - started}


def test_sigkill_at_every_crash_point_leaves_one_task_per_alert(
        rig: Rig, tmp_path: Path) -> None:
    points = [p for p in failpoints.POINTS if p in os.environ.get("CRASH_POINTS", p)]
    with ThreadPoolExecutor(len(points)) as pool:
        results = list(pool.map(lambda p: run_crash_scenario(rig, p, tmp_path / f"{p}.hit"),
                                points))
    failures = []
    for result in results:
        point, tasks = str(result["point"]), result["tasks"]
        deployment: Deployment = result["deployment"]  # type: ignore[assignment]
        assert isinstance(tasks, dict)
        per_issue = [len(tasks.get(issue, [])) for issue in result["issues"]]  # type: ignore[attr-defined]
        lost = per_issue.count(0)
        duplicated = sum(n - 1 for n in per_issue if n > 1)
        resolved_comments = [len([c for c in deployment.comments(t["gid"]) if "Resolved" in c])
                             for ts in tasks.values() for t in ts]
        summary.record(f"SIGKILL {point}", alerts=2 * ISSUES, tasks=sum(per_issue), lost=lost,
                       duplicated=duplicated, seconds=float(result["seconds"]))  # type: ignore[arg-type]
        if not (tmp_path / f"{point}.hit").exists():
            failures.append(f"{point}: the worker never reached the crash point")
        if lost or duplicated:
            failures.append(f"{point}: {lost} lost, {duplicated} duplicated")
        if resolved_comments != [1] * ISSUES:
            failures.append(f"{point}: 'Resolved' comments per task {resolved_comments}")
    assert failures == []


@pytest.fixture(autouse=True)
def _mark() -> None:
    """Nothing: the module is part of the reliability suite (see pytest.ini markers)."""
