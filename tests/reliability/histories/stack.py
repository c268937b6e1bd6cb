"""One deployment that every history runs against, and the controls of its environment.

On the reliability rig's emulators: the functions (ingest, six worker instances — one per
failpoint, behind a push tap that spreads pushes over them as a load balancer would — and
reconcile), the vendor worlds (Asana with people, Sentry, Datadog), a fault proxy in front of
Firestore, Pub/Sub, Asana and Sentry, and the bookkeeping of which Pub/Sub messages are still
on their way, which tells when the system is quiet.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import Service, Topology, free_port, start_function
from shared.core import failpoints
from tests.fakes.asana_people import PeopleAsana
from tests.fakes.cloudwatch_world import CloudWatchWorld
from tests.fakes.cloudwatch_world import trust_settings as cloudwatch_trust
from tests.fakes.datadog_world import DatadogWorld
from tests.fakes.sentry_world import SentryWorld
from tests.fakes.vendor_world import ASANA_LAG
from tests.reliability.histories.model import MONITORS_PROJECT, SYNC_PROJECT
from tests.reliability.proxy import FaultProxy

WORKSPACE = "1300000000000001"
ASANA_TOKEN = "histories-pat"
SENTRY_TOKEN = "histories-sentry-token"
DATADOG_API_KEY, DATADOG_APP_KEY = "histories-dd-api-key", "histories-dd-app-key"
SENTRY_RULES = {"hist-sync": "101", "hist-quiet": "102"}  # project slug -> alert rule
MONITOR_TAG = "suite:histories"
RECONCILE_GRACE_MINUTES = 1
TEAMS = f"""settings:
  workspace_gid: "{WORKSPACE}"
  default_team: Sync
  create_tasks_from: [event_alert, metric_alert, datadog, gcm_incident, cloudwatch]
teams:
  - name: Sync
    asana_team_id: "1300000000001000"
    asana_backlog_id: "{SYNC_PROJECT}"
    sync_back: true
    entities:
      - matchers: ["project:hist-sync"]
  - name: Quiet
    asana_team_id: "1300000000002000"
    asana_backlog_id: "{SYNC_PROJECT}"
    entities:
      - matchers: ["project:hist-quiet"]
  - name: Monitors
    asana_team_id: "1300000000003000"
    asana_backlog_id: "{MONITORS_PROJECT}"
    sync_back: true
    entities:
      - matchers: ["team:monitors"]
      - matchers: ["source:cloudwatch"]
"""
#: A fault proxy mode and how much it hurts: the worst active fault of a dependency wins.
SEVERITY = {"refuse": 5, "refuse-reset": 4, "blackhole": 3, "reset-mid-response": 2,
            "latency": 1}


class Messages:
    """Pub/Sub messages each owner (a history's seed) is waiting for: published, not acked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[str, int | None] = {}
        self._waiting: dict[int | None, set[str]] = {}
        self._acked: set[str] = set()

    def published(self, owner: int | None, ids: Iterable[str]) -> None:
        """Note messages published for ``owner`` (None: nobody known)."""
        with self._lock:
            for message_id in ids:
                if message_id in self._acked:
                    continue
                self._owner[message_id] = owner
                self._waiting.setdefault(owner, set()).add(message_id)

    def acked(self, message_id: str) -> None:
        """Note that the worker acknowledged a message."""
        with self._lock:
            self._acked.add(message_id)
            owner = self._owner.pop(message_id, None)
            self._waiting.get(owner, set()).discard(message_id)

    def waiting(self, owner: int | None = None, *, everyone: bool = False) -> int:
        """Return how many messages ``owner`` (or everyone) still waits for."""
        with self._lock:
            if everyone:
                return sum(len(ids) for ids in self._waiting.values())
            return len(self._waiting.get(owner, set()))


@dataclass(frozen=True)
class Push:
    """One push of a message to a worker instance, and what it answered."""

    message_id: str
    attributes: Mapping[str, str]
    status: int
    outcome: Mapping[str, Any]
    seconds: float = 0.0  # how long the worker took to answer


class Pusher:
    """Push delivery of the events subscription to the worker instances, as Pub/Sub does.

    The emulator's push subscriptions push at most two messages at a time (measured), where
    Pub/Sub pushes many; that alone would make a few hundred histories take many minutes. So
    the subscription is a pull one and this pushes what it pulls, with Pub/Sub's push rules:
    the standard envelope (with ``deliveryAttempt``), one worker instance chosen at random
    (as a load balancer would), acknowledged on a 2xx answer, otherwise given back to be
    redelivered after a second; dead-lettering after ``max_delivery_attempts`` stays the
    emulator's. The pulls and acks go to the emulator directly: faults of the service's own
    connections (the fault proxy) do not touch this path, a frozen emulator does.
    """

    def __init__(self, subscription: str, on_push: Callable[[Push], None],
                 concurrency: int = 40, retry_seconds: float = 1.0) -> None:
        from google.cloud.pubsub_v1 import SubscriberClient

        self.ports: list[int] = []
        self.subscription = subscription
        self._client = SubscriberClient()
        self._on_push = on_push
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="pusher")
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stopped = threading.Event()
        self.most_in_flight = 0
        self.last_push = 0.0
        self.last_failure = 0.0
        self._thread = threading.Thread(target=self._pull_loop, daemon=True, name="puller")

    def start(self) -> None:
        """Start pulling and pushing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop pulling; pushes under way finish."""
        self._stopped.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def in_flight(self) -> int:
        """Return how many pushes are being handled (a worker is processing them)."""
        with self._lock:
            return self._in_flight

    def _pull_loop(self) -> None:
        from google.api_core import exceptions as api_exceptions

        while not self._stopped.is_set():
            self._slots.acquire()
            free = 1
            while free < 20 and self._slots.acquire(blocking=False):
                free += 1
            try:
                answer = self._client.pull(request={"subscription": self.subscription,
                                                    "max_messages": free}, timeout=2)
                received = list(answer.received_messages)
            except (api_exceptions.GoogleAPICallError, api_exceptions.RetryError):
                received = []  # nothing to pull before the deadline, or the emulator frozen
            for _ in range(free - len(received)):
                self._slots.release()
            for message in received:
                with self._lock:
                    self._in_flight += 1
                    self.most_in_flight = max(self.most_in_flight, self._in_flight)
                    self.last_push = time.monotonic()
                self._pool.submit(self._push, message)

    def _push(self, received: Any) -> None:
        message = received.message
        attributes = dict(message.attributes)
        envelope = {"subscription": self.subscription,
                    "deliveryAttempt": received.delivery_attempt or 1,
                    "message": {"data": base64.b64encode(message.data).decode(),
                                "attributes": attributes, "messageId": message.message_id,
                                "publishTime": message.publish_time.isoformat()}}
        status, answer, acked = 502, b"", False
        begun = time.monotonic()
        try:
            status, answer = _post(random.choice(self.ports), json.dumps(envelope).encode())
            acked = 200 <= status < 300 and self._settle(received.ack_id, ack=True)
            if not acked:
                time.sleep(self._retry_seconds)  # Pub/Sub's push backoff, at its shortest
                self._settle(received.ack_id, ack=False)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.last_push = time.monotonic()
                if not acked:
                    self.last_failure = self.last_push
            self._slots.release()
        try:
            outcome = json.loads(answer) if answer else {}
        except ValueError:
            outcome = {}
        self._on_push(Push(message.message_id, attributes, status if acked else 503,
                           outcome if isinstance(outcome, dict) else {},
                           time.monotonic() - begun))

    def _settle(self, ack_id: str, *, ack: bool) -> bool:
        """Acknowledge, or give back for redelivery; False if the emulator did not take it."""
        from google.api_core import exceptions as api_exceptions

        try:
            if ack:
                self._client.acknowledge(request={"subscription": self.subscription,
                                                  "ack_ids": [ack_id]}, timeout=10)
            else:
                self._client.modify_ack_deadline(request={
                    "subscription": self.subscription, "ack_ids": [ack_id],
                    "ack_deadline_seconds": 0}, timeout=10)
        except (api_exceptions.GoogleAPICallError, api_exceptions.RetryError):
            return False  # redelivered when its ack deadline passes
        return True


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=90)
    try:
        connection.request("POST", "/", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        return 502, json.dumps({"error": f"worker gone: {type(error).__name__}"}).encode()
    finally:
        connection.close()


@dataclass
class WorkerInstance:
    """One worker process, which kills itself at ``point`` once armed."""

    point: str
    once: Path  # exists: disarmed (shared/core/failpoints.py crashes only while it is absent)
    service: Service | None = None

    def arm(self) -> None:
        """Crash the next time a message reaches the failpoint."""
        with contextlib.suppress(FileNotFoundError):
            self.once.unlink()

    def disarm(self) -> None:
        """Crash no more."""
        self.once.touch()

    def armed(self) -> bool:
        """Tell whether the crash is still to come."""
        return not self.once.exists()


class FaultBoard:
    """Faults of the proxied dependencies, which may overlap: the worst active one applies."""

    def __init__(self, proxies: Mapping[str, FaultProxy]) -> None:
        self.proxies = proxies
        self._lock = threading.Lock()
        self._active: dict[str, list[tuple[int, str, float]]] = {name: [] for name in proxies}
        self._ids = iter(range(1, 10**9))
        self._timers: list[threading.Timer] = []

    def add(self, target: str, mode: str, amount: float, seconds: float) -> None:
        """Apply a fault for ``seconds``."""
        with self._lock:
            fault = (next(self._ids), mode, amount)
            self._active[target].append(fault)
            timer = threading.Timer(seconds, self._remove, args=(target, fault[0]))
            timer.daemon = True
            self._timers.append(timer)
            self._apply(target)
        timer.start()

    def heal(self) -> None:
        """End every fault now."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            for target in self._active:
                self._active[target].clear()
                self._apply(target)

    def active(self) -> bool:
        """Tell whether any fault is on."""
        with self._lock:
            return any(self._active.values())

    def _remove(self, target: str, fault_id: int) -> None:
        with self._lock:
            self._active[target] = [f for f in self._active[target] if f[0] != fault_id]
            self._apply(target)

    def _apply(self, target: str) -> None:
        proxy = self.proxies[target]
        faults = self._active[target]
        if not faults:
            proxy.pass_through()
            return
        _, mode, amount = max(faults, key=lambda f: SEVERITY[f[1]])
        if mode in ("refuse", "refuse-reset"):
            proxy.refuse(reset=mode == "refuse-reset")
        elif mode == "blackhole":
            proxy.blackhole()
        elif mode == "latency":
            proxy.latency(amount)
        else:
            proxy.reset_mid_response(int(amount))


class Freezer:
    """SIGSTOP an emulator for a while; overlapping freezes keep it stopped until the last."""

    def __init__(self, emulators: Mapping[str, Service]) -> None:
        self.emulators = emulators
        self._lock = threading.Lock()
        self._count = {name: 0 for name in emulators}

    def freeze(self, name: str, seconds: float) -> None:
        """Stop the emulator's process group for ``seconds``."""
        with self._lock:
            if self._count[name] == 0:
                os.killpg(self.emulators[name].process.pid, signal.SIGSTOP)
            self._count[name] += 1
        timer = threading.Timer(seconds, self._thaw, args=(name,))
        timer.daemon = True
        timer.start()

    def thaw_all(self) -> None:
        """Continue every emulator now."""
        with self._lock:
            for name, service in self.emulators.items():
                if self._count[name]:
                    os.killpg(service.process.pid, signal.SIGCONT)
                self._count[name] = 0

    def _thaw(self, name: str) -> None:
        with self._lock:
            if self._count[name] == 0:
                return  # thawed by thaw_all meanwhile
            self._count[name] -= 1
            if self._count[name] == 0:
                os.killpg(self.emulators[name].process.pid, signal.SIGCONT)


@dataclass
class Deployment:
    """The running deployment and its controls."""

    env: dict[str, str]
    topology: Topology
    asana: PeopleAsana
    sentry: SentryWorld
    datadog: DatadogWorld
    proxies: dict[str, FaultProxy]
    faults: FaultBoard
    freezer: Freezer
    tap: Pusher
    workers: list[WorkerInstance]
    messages: Messages
    log_dir: Path
    ingest: Service | None = None
    reconciler: Service | None = None
    pushes: list[Push] = field(default_factory=list)
    cloudwatch: CloudWatchWorld = field(default_factory=CloudWatchWorld)

    @property
    def ingest_url(self) -> str:
        """Return ingest's URL (where every webhook goes)."""
        assert self.ingest is not None
        return self.ingest.url + "/"

    def services(self) -> list[Service]:
        """Return every function process."""
        found = [self.ingest, self.reconciler, *(w.service for w in self.workers)]
        return [s for s in found if s is not None]

    def worker_logs(self) -> list[Path]:
        """Return the worker instances' log files."""
        return [w.service.log_path for w in self.workers if w.service is not None]

    def reconcile(self) -> dict[str, Any]:
        """Run one reconciliation (what Cloud Scheduler does) and return its answer."""
        assert self.reconciler is not None
        answer = requests.post(self.reconciler.url, timeout=180)
        body = answer.json() if answer.content else {}
        return {**(body if isinstance(body, dict) else {}), "http": answer.status_code}

    def stop(self) -> None:
        """Stop everything this deployment started (not the rig's emulators)."""
        self.faults.heal()
        self.freezer.thaw_all()
        for service in self.services():
            service.stop()
        self.tap.stop()
        for proxy in self.proxies.values():
            proxy.stop()
        for fake in (self.asana, self.sentry, self.datadog):
            fake.stop()


def deploy(base_env: Mapping[str, str], emulators: Mapping[str, Service], log_dir: Path,
           on_push: Callable[[Push], None]) -> Deployment:
    """Start the fakes, the proxies, the functions and the tap; return the deployment."""
    suffix = uuid.uuid4().hex[:6]
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "teams.yaml").write_text(TEAMS)
    asana = PeopleAsana(token=ASANA_TOKEN, lag=ASANA_LAG)
    asana.add_workspace(WORKSPACE, "Histories")
    for gid, name in ((SYNC_PROJECT, "Sync and Quiet backlog"),
                      (MONITORS_PROJECT, "Monitors backlog")):
        asana.add_project(gid, name, workspace={"gid": WORKSPACE, "resource_type": "workspace"})
    sentry = SentryWorld(token=SENTRY_TOKEN, org="acme")
    sentry.projects.update(SENTRY_RULES)  # both exist, with their alert rule, from the start
    sentry.rules.update(SENTRY_RULES.items())
    datadog = DatadogWorld(api_key=DATADOG_API_KEY, app_key=DATADOG_APP_KEY)
    for fake in (asana, sentry, datadog):
        fake.start()
    hosts = {name: _host_port(base_env[f"{name.upper()}_EMULATOR_HOST"])
             for name in ("firestore", "pubsub")}
    hosts["asana"] = ("127.0.0.1", _port_of(asana.url))
    hosts["sentry"] = ("127.0.0.1", _port_of(sentry.url))
    # Ports below the ephemeral range: a refusing proxy closes its port for a while, and an
    # outgoing connection must not take it meanwhile.
    proxies = {name: FaultProxy(target, name=name, port=free_port()).start()
               for name, target in hosts.items()}
    messages = Messages()
    pushes: list[Push] = []

    def pushed(push: Push) -> None:
        pushes.append(push)
        if 200 <= push.status < 300:
            messages.acked(push.message_id)
        on_push(push)

    topology = Topology(base_env["GOOGLE_CLOUD_PROJECT"], f"hist-{suffix}",
                        f"hist-dl-{suffix}", f"hist-{suffix}-sub", f"hist-dl-{suffix}-pull",
                        max_delivery_attempts=100)
    subscription = create_subscriptions(topology)
    tap = Pusher(subscription, pushed)
    ingest_port = free_port()
    env = {**base_env,
           "EVENTS_TOPIC": topology.events_topic, "DEAD_LETTER_TOPIC": topology.dead_letter_topic,
           "LEDGER_COLLECTION": f"hist-ledger-{suffix}",
           "ASANA_WEBHOOK_COLLECTION": f"hist-hooks-{suffix}",
           "FIRESTORE_EMULATOR_HOST": proxies["firestore"].address,
           "PUBSUB_EMULATOR_HOST": proxies["pubsub"].address,
           "ASANA_API_URL": f"http://{proxies['asana'].address}/api/1.0",
           "ASANA_PAT": ASANA_TOKEN, "ASANA_MAX_ATTEMPTS": "3",
           "ASANA_WEBHOOK_TARGET_URL": f"http://127.0.0.1:{ingest_port}/",
           "SENTRY_API_URL": f"http://{proxies['sentry'].address}/api/0",
           "SENTRY_AUTH_TOKEN": SENTRY_TOKEN, "SENTRY_ORG": "acme",
           "DATADOG_API_URL": datadog.url, "DATADOG_API_KEY": DATADOG_API_KEY,
           "DATADOG_APP_KEY": DATADOG_APP_KEY,
           "RECONCILE_SENTRY_RULES": ",".join(f"{p}:{r}" for p, r in SENTRY_RULES.items()),
           "RECONCILE_DATADOG_WEBHOOK": datadog.webhook_name,
           "RECONCILE_DATADOG_MONITOR_TAGS": MONITOR_TAG,
           # Reconciliation leaves alone what changed within its grace: the shortest it takes.
           "RECONCILE_GRACE_MINUTES": str(RECONCILE_GRACE_MINUTES),
           "TEAMS_FILE": str(log_dir / "teams.yaml"), "THREADS": "6",
           **cloudwatch_trust(log_dir)}
    sentry.ingest_url = datadog.ingest_url = env["ASANA_WEBHOOK_TARGET_URL"]
    sentry.client_secret = env["SENTRY_CLIENT_SECRET"]
    datadog.secret_token = env["DATADOG_SECRET_TOKEN"]
    workers = [WorkerInstance(point, log_dir / f"{point}.once") for point in failpoints.POINTS]
    deployment = Deployment(env, topology, asana, sentry, datadog, proxies,
                            FaultBoard(proxies), Freezer(emulators), tap, workers, messages,
                            log_dir, pushes=pushes,
                            cloudwatch=CloudWatchWorld(env["ASANA_WEBHOOK_TARGET_URL"]))
    try:
        _start_functions(deployment, ingest_port)
    except BaseException:
        deployment.stop()
        raise
    tap.ports = [_port_of(w.service.url) for w in workers if w.service is not None]
    tap.start()
    return deployment


def create_subscriptions(topology: Topology) -> str:
    """Create the topics, the events subscription (pulled by the Pusher) with Terraform's
    dead-letter policy, and the dead letters' pull subscription; return the events one."""
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

    publisher, subscriber = PublisherClient(), SubscriberClient()
    project = topology.project
    events = publisher.topic_path(project, topology.events_topic)
    dead = publisher.topic_path(project, topology.dead_letter_topic)
    for topic in (events, dead):
        publisher.create_topic(request={"name": topic})
    path = subscriber.subscription_path(project, topology.events_subscription)
    subscriber.create_subscription(request={
        "name": path, "topic": events, "ack_deadline_seconds": 60,
        "dead_letter_policy": {"dead_letter_topic": dead,
                               "max_delivery_attempts": topology.max_delivery_attempts}})
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, topology.dead_letter_subscription),
        "topic": dead, "ack_deadline_seconds": 60})
    subscriber.close()
    return str(path)


def _start_functions(deployment: Deployment, ingest_port: int) -> None:
    env, log_dir = deployment.env, deployment.log_dir
    for worker in deployment.workers:
        worker.disarm()

    def start_worker(worker: WorkerInstance) -> None:
        worker_env = {**env, failpoints.VARIABLE: worker.point,
                      failpoints.ONCE_VARIABLE: str(worker.once)}
        worker.service = start_function("worker", "worker", free_port(), worker_env,
                                        log_dir / f"worker-{worker.point}")

    with ThreadPoolExecutor(4) as pool:
        ingest = pool.submit(start_function, "ingest", "ingest", ingest_port, env, log_dir)
        reconciler = pool.submit(start_function, "reconcile", "reconcile", free_port(), env,
                                 log_dir)
        started = [pool.submit(start_worker, worker) for worker in deployment.workers]
    deployment.ingest, deployment.reconciler = ingest.result(), reconciler.result()
    for future in started:
        future.result()


def ledger_documents(project: str, collection: str) -> list[dict[str, Any]]:
    """Return every ledger document of the deployment, read straight from the emulator."""
    from google.cloud import firestore

    client = firestore.Client(project=project)
    try:
        return [s.to_dict() or {} for s in client.collection(collection).stream(timeout=10)]
    finally:
        client.close()


def ledger_settled(documents: list[dict[str, Any]]) -> bool:
    """Tell whether no record is being created or held by a live lease."""
    now = datetime.now(UTC)
    for document in documents:
        lease = document.get("lease_expires_at")
        if document.get("state") == "creating" or (isinstance(lease, datetime) and lease > now):
            return False
    return True


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def _port_of(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
