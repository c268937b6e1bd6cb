"""Measure alert → Asana task latency through the whole local stack (``make bench``).

Real Pub/Sub and Firestore emulators, ingest and worker under functions-framework, and the
fake Asana from the tests. Sends signed Sentry alerts with distinct issue ids and times
each from the webhook's 202 to the task's creation at the fake Asana. Prints numbers only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    REPO,
    Topology,
    free_port,
    sentry_headers,
    start_stack,
)
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana

TEMPLATE = json.loads((REPO / "tests" / "data" / "sentry_event_alert.json").read_text())


def _body(issue_id: int) -> bytes:
    payload = json.loads(json.dumps(TEMPLATE))
    payload["data"]["event"]["issue_id"] = str(issue_id)
    payload["data"]["event"]["title"] = f"bench alert #{issue_id}"
    return json.dumps(payload).encode()


def main() -> None:
    """Run the pipeline benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between alerts")
    args = parser.parse_args()
    asana = FakeAsana(token="bench-token")
    for team in load_teams(str(REPO / "teams.yaml")).teams:
        asana.add_project(team.backlog_project_gid)
    asana.start()
    env = {**os.environ, **LOCAL_DEFAULTS, "ASANA_API_URL": asana.url, "ASANA_PAT": "bench-token",
           "ENVIRONMENT": "prod", "LOG_LEVEL": "WARNING"}
    topology = Topology("bench-project", "bench-events", "bench-dead", "bench-push", "bench-pull")
    ports = {name: free_port() for name in ("ingest", "worker", "pubsub", "firestore")}
    stack = start_stack(env=env, ports=ports, log_dir=Path(tempfile.mkdtemp(prefix="bench-")),
                        topology=topology)
    try:
        with requests.Session() as session:
            # The first alert pays the worker's cold start (clients, teams.yaml): measured apart.
            cold = _wait_for_tasks(asana, _send(session, stack.url("ingest"), [0]), timeout=60)
            sent = _send(session, stack.url("ingest"), range(1, args.alerts + 1), args.gap)
        latencies = _wait_for_tasks(asana, sent, timeout=120)
    finally:
        stack.stop()
        asana.stop()
    ordered = sorted(latencies)
    print(json.dumps({
        "scenario": f"webhook 202 → Asana task (local stack, one alert every {args.gap}s)",
        "first_alert_cold_ms": round(cold[0] * 1000, 1) if cold else None,
        "alerts": args.alerts,
        "tasks": len(ordered), "duplicates": len(asana.tasks) - len(ordered) - len(cold),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1)}, ensure_ascii=False))


def _send(session: requests.Session, url: str, issue_ids: Iterable[int],
          gap: float = 0.0) -> dict[str, float]:
    sent: dict[str, float] = {}
    for issue_id in issue_ids:
        body = _body(issue_id)
        response = session.post(url, data=body, timeout=10, headers=sentry_headers(body))
        response.raise_for_status()
        sent[f"#{issue_id}"] = time.time()  # wall clock, as the fake stamps tasks
        time.sleep(gap)
    return sent


def _wait_for_tasks(asana: FakeAsana, sent: dict[str, float], timeout: float) -> list[float]:
    """Return, per alert, the seconds from its 202 to its task's creation at the fake Asana."""
    created: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(created) < len(sent) and time.monotonic() < deadline:
        for task in list(asana.tasks.values()):
            marker = task["name"].rsplit(" ", 1)[-1]
            if marker in sent:
                created[marker] = datetime.fromisoformat(task["created_at"]).timestamp()
        time.sleep(0.05)
    return [created[marker] - sent[marker] for marker in created]

if __name__ == "__main__":
    main()
