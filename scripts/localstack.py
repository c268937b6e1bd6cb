"""Start and stop the local stack: the real Pub/Sub and Firestore emulators and both functions.

Used by ``make run`` (``python -m scripts.localstack``) and by the integration tests, so the
service is exercised locally exactly the way developers run it.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scripts import preflight
from shared.sources.sentry.verify import sentry_signature

REPO = Path(__file__).resolve().parent.parent
JVM_FLAGS = ["-Xmx512m", "-XX:+UseSerialGC"]


#: Ports handed out below Linux's ephemeral range (32768-60999 by default): the kernel gives
#: those to every outgoing connection, which could take a chosen port before the emulator
#: binds it. Random within the range, so parallel test runs rarely meet.
PORT_RANGE = (20000, 32000)
_HANDED_OUT: set[int] = set()
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on and this process never gave out."""
    import random

    with _PORTS_LOCK:
        for _ in range(200):
            port = random.randrange(*PORT_RANGE)
            if port in _HANDED_OUT:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port between {PORT_RANGE[0]} and {PORT_RANGE[1]}")


def port_in_use(port: int) -> bool:
    """Tell whether something already listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def sdk_root() -> Path:
    """Locate the Google Cloud SDK that ships the emulators."""
    configured = os.environ.get("CLOUDSDK_ROOT")
    if configured:
        return Path(configured)
    gcloud = shutil.which("gcloud")
    if gcloud:
        candidate = Path(os.path.realpath(gcloud)).parent.parent
        if (candidate / "platform").is_dir():
            return candidate
    return Path("/usr/lib/google-cloud-sdk")


def _jar(pattern: str) -> str:
    found = sorted(glob.glob(str(sdk_root() / pattern)))
    if not found:
        raise RuntimeError(f"emulator jar {pattern} not found under {sdk_root()}: install the "
                           "Google Cloud CLI components pubsub-emulator and "
                           "cloud-firestore-emulator")
    return found[-1]


@dataclass
class Service:
    """A process the stack started, with the URL it answers on."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """Stop the whole process group (the JVM or gunicorn and its children)."""
        _RUNNING.forget(self)
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


class _Running:
    """Every process started and not yet stopped, so that an interrupt at any moment of the
    start-up (even while a start-up thread still waits for its JVM) can stop them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: list[Service] = []
        self.closed = False

    def add(self, service: Service) -> None:
        """Remember ``service``; stop it at once if everything is being stopped."""
        with self._lock:
            if not self.closed:
                self._services.append(service)
                return
        service.stop()
        raise KeyboardInterrupt  # the run is stopping: start nothing more

    def forget(self, service: Service) -> None:
        """Drop a stopped ``service``."""
        with self._lock:
            if service in self._services:
                self._services.remove(service)

    def stop_all(self) -> None:
        """Stop every remembered process, newest first, and refuse to start new ones."""
        with self._lock:
            self.closed = True
            services = list(reversed(self._services))
        for service in services:
            service.stop()


_RUNNING = _Running()


def stop_all() -> None:
    """Stop every process started by this module, and start no more (Ctrl-C, exit)."""
    _RUNNING.stop_all()


def _start(name: str, argv: list[str], port: int, log_dir: Path,
           env: Mapping[str, str] | None = None, ready_body: bytes | None = b"Ok",
           timeout: float = 30.0) -> Service:
    if port_in_use(port):
        raise RuntimeError(f"{name}: port {port} is already in use; stop what runs there or "
                           "pick another port")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    # Ctrl-C between the fork and the registration would leak the process: hold it until
    # the process is registered.
    with _INTERRUPTS.held(), open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT,
                                   env=dict(env) if env is not None else None,
                                   start_new_session=True, cwd=REPO)
        service = Service(name, f"http://127.0.0.1:{port}", process, log_path)
        _RUNNING.add(service)
    try:
        _wait_ready(service, ready_body, timeout)
    except Exception:
        service.stop()
        raise
    return service


class _Interrupts:
    """Ctrl-C and TERM as exceptions, except inside a critical section (a process forked and
    not yet registered), where they wait for its end. Python runs signal handlers in the main
    thread only, so only the main thread defers."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: BaseException | None = None

    def handle(self, signum: int, frame: object) -> None:
        """Raise at once, or remember the signal while a critical section runs."""
        error: BaseException = KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(143)
        if self.depth:
            self.pending = error
            return
        raise error

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Defer signals in the main thread until the block ends."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            pending, self.pending = self.pending, None
            if pending is not None and not self.depth:
                raise pending


_INTERRUPTS = _Interrupts()


def handle_interrupts() -> None:
    """Turn Ctrl-C and TERM into exceptions that stop what started, from now on (a shell
    running us in the background may have set SIGINT to be ignored)."""
    signal.signal(signal.SIGINT, _INTERRUPTS.handle)
    signal.signal(signal.SIGTERM, _INTERRUPTS.handle)


#: What the JVMs and gunicorn print when their port is taken.
_PORT_TAKEN = ("Address already in use", "BindException", "Connection in use")


#: How often a starting service is asked whether it listens: `make bench`'s cold-start figure
#: is no finer than this (at 0.1 s, a 430 ms start read as 530 ms one time in three).
READY_POLL_SECONDS = 0.02


def _wait_ready(service: Service, ready_body: bytes | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            output = service.log_path.read_text(errors="replace")
            if any(sign in output for sign in _PORT_TAKEN):
                raise RuntimeError(f"{service.name} could not listen on {service.url}: another "
                                   f"process took the port first; see {service.log_path}")
            raise RuntimeError(f"{service.name} exited early; see {service.log_path}:\n"
                               + output[-2000:])
        try:
            with urllib.request.urlopen(service.url + "/", timeout=1) as response:
                body = response.read()
                if ready_body is None or body.startswith(ready_body):
                    return
        except urllib.error.HTTPError:
            if ready_body is None:
                return  # functions-framework answers (an error) once it listens
        except OSError:
            pass
        time.sleep(READY_POLL_SECONDS)
    raise RuntimeError(f"{service.name} not ready after {timeout}s; see {service.log_path}")


def start_pubsub(port: int, log_dir: Path) -> Service:
    """Start the Pub/Sub emulator JVM directly (gcloud's wrapper is slower and leaks the JVM)."""
    argv = ["java", *JVM_FLAGS, "-jar", _jar("platform/pubsub-emulator/lib/"
                                            "cloud-pubsub-emulator-*-all.jar"),
            "--host=127.0.0.1", f"--port={port}"]
    return _start("pubsub-emulator", argv, port, log_dir)


def start_firestore(port: int, log_dir: Path) -> Service:
    """Start the Firestore emulator JVM directly."""
    argv = ["java", *JVM_FLAGS, "-cp",
            _jar("platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
            "--host=127.0.0.1", f"--port={port}"]
    return _start("firestore-emulator", argv, port, log_dir)


def start_emulators(pubsub_port: int, firestore_port: int, log_dir: Path) -> list[Service]:
    """Start both emulators side by side (each JVM takes a second or two to boot)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_pubsub, pubsub_port, log_dir),
                   pool.submit(start_firestore, firestore_port, log_dir)]
    started = [f.result() for f in futures if f.exception() is None]
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        for service in started:
            service.stop()
        raise failed[0]  # type: ignore[misc]
    return started


def start_function(name: str, target: str, port: int, env: Mapping[str, str],
                   log_dir: Path, source: Path | None = None) -> Service:
    """Run one function (by default functions/<name>/main.py) under functions-framework."""
    executable = Path(sys.executable).parent / "functions-framework"
    source = source or REPO / "functions" / name / "main.py"
    argv = [str(executable), f"--target={target}", f"--source={source}", "--signature-type=http",
            "--host=127.0.0.1", f"--port={port}"]
    full_env = {**env, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return _start(name, argv, port, log_dir, env=full_env, ready_body=None)


@dataclass(frozen=True)
class Topology:
    """Names of the topics and subscriptions of one local deployment."""

    project: str
    events_topic: str
    dead_letter_topic: str
    events_subscription: str
    dead_letter_subscription: str
    max_delivery_attempts: int = 5


def create_topology(topology: Topology, push_endpoint: str, pubsub_host: str) -> None:
    """Create the topics, the push subscription with its dead-letter policy, and the DLQ pull
    subscription on the emulator, as Terraform does in the cloud."""
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_host
    from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

    publisher = PublisherClient()
    subscriber = SubscriberClient()
    project = topology.project
    events = publisher.topic_path(project, topology.events_topic)
    dead = publisher.topic_path(project, topology.dead_letter_topic)
    for topic in (events, dead):
        publisher.create_topic(request={"name": topic})
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, topology.events_subscription),
        "topic": events,
        "push_config": {"push_endpoint": push_endpoint},
        "ack_deadline_seconds": 60,  # as Terraform's default worker_timeout_seconds
        "dead_letter_policy": {"dead_letter_topic": dead,
                               "max_delivery_attempts": topology.max_delivery_attempts},
        # No retry_policy here, unlike Terraform's: with one, the emulator (0.8.20) stops
        # redelivering a message after its second or third failed push (measured: 0 of 50
        # messages redelivered a third time within 45 s); without, it redelivers every ~1 s.
    })
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, topology.dead_letter_subscription),
        "topic": dead,
        "ack_deadline_seconds": 60,
    })
    # Cloud Monitoring's pubsub channel (Terraform: gcm.tf): Google publishes incidents to a
    # topic of their own, pushed to the worker with ?source=gcm and the same dead letters.
    incidents = publisher.topic_path(project, gcm_topic(topology))
    publisher.create_topic(request={"name": incidents})
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, gcm_topic(topology) + "-push"),
        "topic": incidents,
        "push_config": {"push_endpoint": push_endpoint.rstrip("/") + "/?source=gcm"},
        "ack_deadline_seconds": 60,
        "dead_letter_policy": {"dead_letter_topic": dead,
                               "max_delivery_attempts": topology.max_delivery_attempts},
    })
    subscriber.close()


def gcm_topic(topology: Topology) -> str:
    """Return the topic a local Cloud Monitoring pubsub channel publishes incidents to."""
    return topology.events_topic + "-gcm"


@dataclass
class Stack:
    """A running local stack."""

    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop every process this stack started, newest first."""
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def url(self, name: str) -> str:
        """Return the URL of the service called ``name``."""
        return next(s.url for s in self.services if s.name == name)


#: Settings of a local run; any of them can be overridden from the environment.
LOCAL_DEFAULTS = {
    "GOOGLE_CLOUD_PROJECT": "alert-bridge-local",
    "EVENTS_TOPIC": "alert-events",
    "DEAD_LETTER_TOPIC": "alert-events-dead-letter",
    "ENVIRONMENT": "dev",
    "LOG_LEVEL": "INFO",
    "SENTRY_CLIENT_SECRET": "local-sentry-client-secret",
    "DATADOG_SECRET_TOKEN": "local-datadog-token",
    "AZURE_WEBHOOK_TOKEN": "local-azure-token",
    "ALERTMANAGER_TOKEN": "local-alertmanager-token",
    "GRAFANA_WEBHOOK_SECRET": "local-grafana-secret",
    "GRAFANA_TIMESTAMP_HEADER": "X-Grafana-Alerting-Timestamp",
    "GCM_WEBHOOK_TOKEN": "local-gcm-token",
    "DRY_RUN_FILE": str(REPO / ".run" / "asana-dry-run.jsonl"),
}


def sentry_headers(body: bytes, resource: str = "event_alert",
                   secret: str = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"], *,
                   request_id: str | None = None, sent_at: float | None = None
                   ) -> dict[str, str]:
    """Return the headers Sentry sends with ``body``, signed with ``secret``.

    Like Sentry, every request gets its own ``Request-ID`` and the time it was sent.
    """
    return {"Content-Type": "application/json", "Request-ID": request_id or str(uuid.uuid4()),
            "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Timestamp": str(int(time.time() if sent_at is None else sent_at)),
            "Sentry-Hook-Signature": sentry_signature(secret, body)}


def start_stack(*, env: Mapping[str, str], ports: Mapping[str, int], log_dir: Path,
                topology: Topology) -> Stack:
    """Start emulators, create the topology, start ingest and worker; stop all on failure."""
    stack = Stack()
    try:
        stack.services.extend(start_emulators(ports["pubsub"], ports["firestore"], log_dir))
        pubsub_host = f"127.0.0.1:{ports['pubsub']}"
        stack.env = {
            **env,
            "GOOGLE_CLOUD_PROJECT": topology.project,
            "EVENTS_TOPIC": topology.events_topic,
            "DEAD_LETTER_TOPIC": topology.dead_letter_topic,
            "PUBSUB_EMULATOR_HOST": pubsub_host,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{ports['firestore']}",
        }
        create_topology(topology, f"http://127.0.0.1:{ports['worker']}/", pubsub_host)
        stack.services.append(start_function("worker", "worker", ports["worker"], stack.env,
                                             log_dir))
        stack.services.append(start_function("ingest", "ingest", ports["ingest"], stack.env,
                                             log_dir))
    except BaseException:
        stack.stop()
        raise
    return stack


def local_env() -> dict[str, str]:
    """Return the environment of a local run: the caller's, with the local defaults filled in."""
    env = dict(os.environ)
    for key, value in LOCAL_DEFAULTS.items():
        env.setdefault(key, value)
    env.setdefault("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false")
    if env.get("ENVIRONMENT", "").strip().lower() != "prod":
        # The CloudWatch samples are signed with a local key that only a local run believes.
        from scripts import sns_sample

        for key, value in sns_sample.local_settings(run_dir(env)).items():
            env.setdefault(key, value)
    return env


def run_dir(env: Mapping[str, str]) -> Path:
    """Return the directory of this run's logs and lock (RUN_DIR, default .run/)."""
    return Path(env.get("RUN_DIR", "").strip() or REPO / ".run")


class Busy(Exception):
    """Another local run holds the run directory."""


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[IO[str]]:
    """Hold ``directory``'s lock for the whole run, so no second run touches its files; the
    kernel drops the lock when the process dies, however it dies."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "run.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise Busy(f"another `make run` (pid {holder}) is using {directory}: stop it first, "
                       "or set RUN_DIR to another directory (and other ports)") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield lock


def main() -> int:
    """Run the service locally until Ctrl-C, printing how to use it; return the exit status."""
    handle_interrupts()
    env = local_env()
    directory = run_dir(env)
    if not os.environ.get("DRY_RUN_FILE"):
        env["DRY_RUN_FILE"] = str(directory / "asana-dry-run.jsonl")
    return supervise("make run", directory, lambda: _run(env, directory))


def supervise(command: str, directory: Path, body: Callable[[], int]) -> int:
    """Run ``body`` holding ``directory``'s lock; whatever ends it, stop every process started.

    A directory another run holds exits 1 and Ctrl-C exits 130, each with one line.
    """
    try:
        with run_lock(directory):
            return body()
    except Busy as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130
    finally:
        stop_all()


def _run(env: dict[str, str], directory: Path) -> int:
    plan, problems = preflight.check(env, repo=REPO, sdk_root=sdk_root(), which=shutil.which,
                                     port_busy=port_in_use)
    if plan is None:
        for problem in problems:
            print(f"make run: {problem}", file=sys.stderr)
        return 1
    topology = Topology(plan.settings.project, plan.settings.events_topic,
                        plan.settings.dead_letter_topic, plan.settings.events_topic + "-push",
                        plan.settings.dead_letter_topic + "-pull")
    log_dir = directory / "logs"
    try:
        stack = start_stack(env=env, ports=plan.ports, log_dir=log_dir, topology=topology)
    except Exception as error:  # one line: the log file it names holds the rest
        print(f"make run: start-up failed: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    _print_banner(stack, topology, log_dir, preflight.asana_mode(env, plan.settings))
    try:
        while all(s.process.poll() is None for s in stack.services):
            time.sleep(0.5)
        dead = [s.name for s in stack.services if s.process.poll() is not None]
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        stack.stop()
    print(f"make run: stopping: {', '.join(dead)} exited; see {log_dir}", file=sys.stderr)
    return 1


def _print_banner(stack: Stack, topology: Topology, log_dir: Path, mode: str) -> None:
    env = stack.env
    print(f"""
alert-bridge is running locally (project {topology.project}, ENVIRONMENT={env['ENVIRONMENT']})
  Asana    {mode}
  ingest   {stack.url('ingest')}/     (Sentry and Datadog webhooks)
  worker   {stack.url('worker')}/     (fed by push subscription {topology.events_subscription})
  pubsub   {env['PUBSUB_EMULATOR_HOST']}   topics {topology.events_topic}, \
{topology.dead_letter_topic} (pull: {topology.dead_letter_subscription})
  firestore {env['FIRESTORE_EMULATOR_HOST']}
  logs     {log_dir}/

Send a signed sample Sentry alert (in another terminal):
  make send-sample INGEST_PORT={stack.url('ingest').rsplit(':', 1)[1]}
Cloud Monitoring's pubsub channel publishes to topic {gcm_topic(topology)} (make send-sample \
SAMPLE=gcm-pubsub PUBSUB_EMULATOR_HOST={env['PUBSUB_EMULATOR_HOST']} \
GOOGLE_CLOUD_PROJECT={topology.project})
Replay dead letters:
  PUBSUB_EMULATOR_HOST={env['PUBSUB_EMULATOR_HOST']} GOOGLE_CLOUD_PROJECT={topology.project} \
make replay-dead-letters ARGS=list
Ctrl-C stops everything.
""", flush=True)


if __name__ == "__main__":
    sys.exit(main())
