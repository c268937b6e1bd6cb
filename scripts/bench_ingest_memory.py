"""Measure the ingest process's memory while oversized bodies are posted to it.

Starts the real Pub/Sub emulator and ingest under functions-framework, then posts concurrent
oversized bodies (with a Content-Length, then chunked) and prints, per framing, the gunicorn
worker's resident memory before and its peak during the burst (``/proc/<pid>/status``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    Service,
    free_port,
    start_firestore,
    start_function,
    start_pubsub,
)

MIB = 1024 * 1024
CHUNK = 64 * 1024
FRAMINGS = ("content-length", "chunked")


def worker_pid(arbiter: int) -> int:
    """Return the pid of the gunicorn worker that functions-framework's process forked."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == arbiter:  # field 4 of stat: the parent pid
                return int(entry.name)
    return arbiter  # no child: the app runs in this process


def memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0+; ignored where not allowed)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _chunks(size: int) -> Iterator[bytes]:
    block = b"x" * CHUNK
    for _ in range(size // CHUNK):
        yield block


def _post(url: str, size: int, framing: str) -> int:
    # No signature: the memory must stay flat for anyone on the internet, not just Sentry.
    headers = {"Content-Type": "application/json"}
    data: bytes | Iterator[bytes] = _chunks(size) if framing == "chunked" else b"x" * size
    with requests.Session() as session:
        return session.post(url, data=data, headers=headers, timeout=120).status_code


def oversized_burst(url: str, arbiter: int, *, framing: str, concurrency: int = 16,
                    size: int = 32 * MIB) -> dict[str, object]:
    """Post ``concurrency`` bodies of ``size`` bytes at once; return statuses and memory."""
    pid = worker_pid(arbiter)
    # One small request first: what the first request allocates once is not the burst's.
    requests.post(url, data=b"{}", timeout=10)
    reset_peak(pid)
    before = memory_kib(pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda _: _post(url, size, framing), range(concurrency)))
    seconds = time.perf_counter() - started
    after = memory_kib(pid)
    return {"scenario": f"{concurrency} concurrent {size // MIB} MiB posts, {framing}",
            "statuses": sorted(set(statuses)), "rss_before_mib": round(before["VmRSS"] / 1024, 1),
            "peak_mib": round(after["VmHWM"] / 1024, 1),
            "growth_mib": round((after["VmHWM"] - before["VmRSS"]) / 1024, 1),
            "seconds": round(seconds, 2)}


@dataclass(frozen=True)
class IngestEdge:
    """Ingest running on the Pub/Sub emulator, and where it publishes."""

    ingest: Service
    pubsub_host: str
    project: str
    topic: str


@contextlib.contextmanager
def ingest_on_emulator(log_dir: Path, *, firestore: bool = False,
                       **settings: str) -> Iterator[IngestEdge]:
    """Run the Pub/Sub emulator with one events topic and ingest publishing to it (and the
    Firestore emulator, which Asana's webhooks read their secrets from, if asked)."""
    pubsub = start_pubsub(free_port(), log_dir)
    started = [pubsub]
    host = pubsub.url.removeprefix("http://")
    topic = f"edge-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update({**LOCAL_DEFAULTS, "PUBSUB_EMULATOR_HOST": host, "EVENTS_TOPIC": topic,
                "LOG_LEVEL": "WARNING", **settings})
    try:
        if firestore:
            started.append(start_firestore(free_port(), log_dir))
            env["FIRESTORE_EMULATOR_HOST"] = started[-1].url.removeprefix("http://")
        _create_topic(host, env["GOOGLE_CLOUD_PROJECT"], topic)
        ingest = start_function("ingest", "ingest", free_port(), env, log_dir)
        try:
            yield IngestEdge(ingest, host, env["GOOGLE_CLOUD_PROJECT"], topic)
        finally:
            ingest.stop()
    finally:
        for service in reversed(started):
            service.stop()


def _create_topic(host: str, project: str, topic: str) -> None:
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    publisher.create_topic(request={"name": publisher.topic_path(project, topic)})


def main() -> None:
    """Print one JSON line per framing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mib", type=int, default=32)
    args = parser.parse_args()
    with ingest_on_emulator(Path(tempfile.mkdtemp(prefix="bench-mem-"))) as edge:
        ingest = edge.ingest
        for framing in FRAMINGS:
            print(json.dumps(oversized_burst(ingest.url, ingest.process.pid, framing=framing,
                                             concurrency=args.concurrency,
                                             size=args.mib * MIB)), flush=True)


if __name__ == "__main__":
    main()
