"""The reliability suite's rig: real emulators, the fake Asana, and one deployment per scenario.

Every scenario gets its own topics, its own worker and ingest (so a crash point or a fault
touches only that scenario) and a tag in its alert titles, and counts what a user would see
in Asana: tasks per alert, duplicates, completions, comments.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    REPO,
    Service,
    Topology,
    create_topology,
    free_port,
    sentry_headers,
    start_function,
)
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana

DATA = REPO / "tests" / "data"
PROJECT = "alert-bridge-reliability"
ASANA_TOKEN = "reliability-test-pat"


def seeded_asana() -> FakeAsana:
    """Return a fake Asana that knows the backlog of every team in the repository's teams.yaml."""
    config = load_teams(str(REPO / "teams.yaml"))
    fake = FakeAsana(token=ASANA_TOKEN)
    for team in config.teams:
        fake.add_project(team.backlog_project_gid, f"{team.name} backlog")
    return fake


def sentry_firing(tag: str, issue: int, event: int = 0) -> bytes:
    """Return a signed-able event_alert body: the n-th event of one issue of a scenario."""
    payload = json.loads((DATA / "sentry_event_alert.json").read_text())
    body = payload["data"]["event"]
    body["issue_id"] = str(issue)
    body["event_id"] = f"{issue:016x}{event:016x}"
    body["title"] = f"{tag}-{issue} {body['title']}"
    return json.dumps(payload).encode()


def datadog_firing(tag: str, cycle: int, team: str = "growth") -> dict[str, Any]:
    """Return a Datadog webhook of one alert cycle, owned by ``team``."""
    return {"id": str(cycle), "alert_cycle_key": f"{tag}-{cycle}",
            "alert_transition": "Triggered", "alert_priority": "P2",
            "title": f"{tag}-{cycle} Signup errors above 5%", "tags": f"team:{team},env:prod",
            "date": str(1_764_000_000_000 + cycle)}


def sentry_resolution(issue: int) -> bytes:
    """Return the issue webhook that resolves ``issue``."""
    payload = json.loads((DATA / "sentry_issue_resolved.json").read_text())
    payload["data"]["issue"]["id"] = str(issue)
    return json.dumps(payload).encode()


@dataclass
class Deployment:
    """One scenario's topics, worker and ingest on the shared emulators."""

    tag: str
    asana: FakeAsana
    topology: Topology
    env: dict[str, str]
    worker: Service
    ingest: Service
    session: requests.Session = field(default_factory=requests.Session)

    def send(self, body: bytes, resource: str, timeout: float = 10,
             request_id: str | None = None) -> int:
        """Post a signed Sentry webhook to ingest (a new delivery, unless ``request_id`` names
        an earlier one: then it is that delivery again); return the HTTP status."""
        response = self.session.post(self.ingest.url, data=body, timeout=timeout,
                                     headers=sentry_headers(body, resource,
                                                            request_id=request_id))
        return response.status_code

    def send_datadog(self, payload: dict[str, Any], timeout: float = 10) -> int:
        """Post a Datadog webhook with the shared-secret header; return the HTTP status."""
        response = self.session.post(
            self.ingest.url, data=json.dumps(payload).encode(), timeout=timeout,
            headers={"datadog-secret-token": LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]})
        return response.status_code

    def tasks(self) -> dict[int, list[dict[str, Any]]]:
        """Return this scenario's tasks in Asana, by issue number."""
        found: dict[int, list[dict[str, Any]]] = {}
        for task in list(self.asana.tasks.values()):
            name = task["name"]
            marker = f"{self.tag}-"
            if marker not in name:
                continue
            issue = int(name.split(marker, 1)[1].split(" ", 1)[0])
            found.setdefault(issue, []).append(task)
        return found

    def comments(self, task_gid: str) -> list[str]:
        """Return the texts of a task's comments."""
        return [s.get("text", "") for s in list(self.asana.stories.get(task_gid, []))]

    def log(self) -> str:
        """Return the worker's log so far."""
        return self.worker.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop this scenario's functions."""
        self.session.close()
        for service in (self.ingest, self.worker):
            service.stop()


@dataclass
class Rig:
    """The shared emulators and fake Asana, and a factory of per-scenario deployments."""

    env: dict[str, str]
    asana: FakeAsana
    log_dir: Path
    emulators: list[Service]
    deployments: list[Deployment] = field(default_factory=list)

    def deploy(self, name: str, extra_env: dict[str, str] | None = None,
               max_delivery_attempts: int = 50) -> Deployment:
        """Create topics and start a worker and an ingest for one scenario."""
        suffix = f"{name}-{uuid.uuid4().hex[:6]}"
        topology = Topology(PROJECT, f"ev-{suffix}", f"dl-{suffix}", f"ev-{suffix}-push",
                            f"dl-{suffix}-pull", max_delivery_attempts=max_delivery_attempts)
        env = {**self.env, "EVENTS_TOPIC": topology.events_topic,
               "DEAD_LETTER_TOPIC": topology.dead_letter_topic, **(extra_env or {})}
        worker_port, ingest_port = free_port(), free_port()
        logs = self.log_dir / suffix
        create_topology(topology, f"http://127.0.0.1:{worker_port}/",
                        self.env["PUBSUB_EMULATOR_HOST"])
        worker = start_function("worker", "worker", worker_port, env, logs)
        ingest = start_function("ingest", "ingest", ingest_port, env, logs)
        deployment = Deployment(suffix, self.asana, topology, env, worker, ingest)
        self.deployments.append(deployment)
        return deployment

    def growth_backlog(self) -> str:
        """Return the Asana project of the Growth team's backlog (where its tasks go)."""
        return load_teams(str(REPO / "teams.yaml")).team("Growth").backlog_project_gid

    def emulator(self, name: str) -> Service:
        """Return the emulator service called ``name`` (pubsub-emulator, firestore-emulator)."""
        return next(s for s in self.emulators if s.name == name)

    @contextlib.contextmanager
    def outage(self, name: str, seconds: float) -> Iterator[None]:
        """Freeze an emulator for ``seconds`` (SIGSTOP / SIGCONT), keeping its data.

        A frozen server accepts connections and answers nothing: what a client sees while a
        managed service is unreachable, without the data loss an emulator restart would add.
        """
        service = self.emulator(name)
        os.killpg(service.process.pid, signal.SIGSTOP)
        try:
            yield
            time.sleep(seconds)
        finally:
            os.killpg(service.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop every deployment and emulator."""
        for deployment in self.deployments:
            deployment.stop()
        for service in reversed(self.emulators):
            service.stop()


def base_env(asana: FakeAsana, pubsub_port: int, firestore_port: int) -> dict[str, str]:
    """Return the functions' environment shared by every scenario."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update(LOCAL_DEFAULTS)
    env.update({"GOOGLE_CLOUD_PROJECT": PROJECT, "ENVIRONMENT": "staging",
                "ASANA_API_URL": asana.url, "ASANA_PAT": ASANA_TOKEN,
                "TEAMS_FILE": str(REPO / "teams.yaml"), "LOG_LEVEL": "INFO",
                "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}",
                "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}"})
    return env
