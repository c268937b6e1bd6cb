"""Measure the ingest function against a publish-only baseline (``make bench``).

Starts the real Pub/Sub emulator, then the ingest function and a minimal publish-only
function (scripts/bench_baseline_function.py: same emulator, same batch settings) under
functions-framework, and prints for each: cold start (process start → first 202, median of
several starts), latency of signed webhooks sent one at a time, and throughput of concurrent
senders; then ingest's figures as ratios to the baseline's. The two are measured in turns
(request by request, round by round) so that other load on the machine slows both alike.
Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
    start_pubsub,
)

BODY = (REPO / "tests" / "data" / "sentry_event_alert.json").read_bytes()
BASELINE_SOURCE = REPO / "scripts" / "bench_baseline_function.py"

#: (name, target, source) of each function measured; the first is the baseline.
FUNCTIONS = (("baseline", "publish", BASELINE_SOURCE), ("ingest", "ingest", None))
#: The concurrent run is split in rounds that alternate between the functions.
ROUNDS = 3


@dataclass
class Figures:
    """What one function measured."""

    cold_start_s: float
    serial: list[float]
    concurrent: list[float]
    concurrent_s: float

    def throughput(self) -> float:
        """Return requests per second of the concurrent run."""
        return len(self.concurrent) / self.concurrent_s


def _send(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = session.post(url, data=BODY, timeout=10, headers=sentry_headers(BODY))
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
    return elapsed


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cold_start(start: Callable[[], Service]) -> tuple[float, Service]:
    started = time.perf_counter()
    service = start()
    with requests.Session() as session:
        _send(session, service.url)
    return time.perf_counter() - started, service


def _concurrent(url: str, count: int, concurrency: int) -> tuple[list[float], float]:
    sessions = [requests.Session() for _ in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        samples = list(pool.map(lambda i: _send(sessions[i % concurrency], url), range(count)))
    return samples, time.perf_counter() - started


def _measure(starters: dict[str, Callable[[], Service]],
             args: argparse.Namespace) -> dict[str, Figures]:
    """Measure every function in turns, so that a busy machine slows them alike."""
    colds: dict[str, list[float]] = {name: [] for name in starters}
    services: dict[str, Service] = {}
    try:
        for attempt in range(args.cold_starts):
            for name, start in starters.items():
                cold, services[name] = _cold_start(start)
                colds[name].append(cold)
                if attempt < args.cold_starts - 1:
                    services.pop(name).stop()
        figures = {name: Figures(statistics.median(colds[name]), [], [], 0.0)
                   for name in starters}
        sessions = {name: requests.Session() for name in starters}
        for _ in range(args.requests):
            for name, service in services.items():
                figures[name].serial.append(_send(sessions[name], service.url))
        for _ in range(ROUNDS):
            for name, service in services.items():
                samples, seconds = _concurrent(service.url, args.requests // ROUNDS,
                                               args.concurrency)
                figures[name].concurrent.extend(samples)
                figures[name].concurrent_s += seconds
    finally:
        for service in services.values():
            service.stop()
    return figures


def _row(name: str, figures: Figures, concurrency: int) -> dict[str, object]:
    ms = lambda seconds: round(seconds * 1000, 1)  # noqa: E731
    return {"function": name, "cold_start_ms": ms(figures.cold_start_s),
            "serial_p50_ms": ms(statistics.median(figures.serial)),
            "serial_p95_ms": ms(_percentile(figures.serial, 0.95)),
            "serial_p99_ms": ms(_percentile(figures.serial, 0.99)),
            f"concurrent_{concurrency}_p50_ms": ms(statistics.median(figures.concurrent)),
            f"concurrent_{concurrency}_p99_ms": ms(_percentile(figures.concurrent, 0.99)),
            "throughput_rps": round(figures.throughput(), 1)}


def _ratios(ingest: Figures, baseline: Figures) -> dict[str, object]:
    ratio = lambda a, b: round(a / b, 2)  # noqa: E731
    return {"ingest / baseline": "ratios (1.0 = as fast as publishing alone)",
            "cold_start": ratio(ingest.cold_start_s, baseline.cold_start_s),
            "p50": ratio(statistics.median(ingest.serial), statistics.median(baseline.serial)),
            "p99": ratio(_percentile(ingest.serial, 0.99), _percentile(baseline.serial, 0.99)),
            "throughput": ratio(ingest.throughput(), baseline.throughput())}


def main() -> None:
    """Run the benchmark and print one JSON line per function, then the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cold-starts", type=int, default=3)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    pubsub = start_pubsub(free_port(), log_dir)
    host = pubsub.url.removeprefix("http://")
    topology = Topology("bench-project", "bench-events", "bench-dead", "bench-push", "bench-pull")
    create_topology(topology, f"http://127.0.0.1:{free_port()}/", host)
    env = {**os.environ, **LOCAL_DEFAULTS, "PUBSUB_EMULATOR_HOST": host,
           "GOOGLE_CLOUD_PROJECT": topology.project, "EVENTS_TOPIC": topology.events_topic,
           "LOG_LEVEL": "WARNING",
           # Every source on (LOCAL_DEFAULTS holds their credentials); each source's verifier
           # (cryptography, jwt) is built on its own first request only.
           "CLOUDWATCH_SNS_TOPIC_ARNS": "arn:aws:sns:us-east-2:123456789012:alert-bridge",
           "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
           "AZURE_AUDIENCES": "api://alert-bridge"}
    def starter(name: str, target: str, source: Path | None) -> Callable[[], Service]:
        return lambda: start_function(name, target, free_port(), env, log_dir, source=source)

    try:
        figures = _measure({name: starter(name, target, source)
                            for name, target, source in FUNCTIONS}, args)
        for name, measured in figures.items():
            print(json.dumps(_row(name, measured, args.concurrency)), flush=True)
        print(json.dumps(_ratios(figures["ingest"], figures["baseline"])), flush=True)
    finally:
        pubsub.stop()


if __name__ == "__main__":
    main()
