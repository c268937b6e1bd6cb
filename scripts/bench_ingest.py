"""Measure the ingest function against Sentry's 1-second budget (``make bench``).

Starts the real Pub/Sub emulator and the ingest function under functions-framework, then
prints: cold start (process start → first 202), and latency percentiles of signed webhooks
sent one at a time and from concurrent senders. Numbers, not pass/fail: compare over time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    REPO,
    Topology,
    create_topology,
    free_port,
    sentry_headers,
    start_function,
    start_pubsub,
)

BODY = (REPO / "tests" / "data" / "sentry_event_alert.json").read_bytes()


def _send(session: requests.Session, url: str, secret: str) -> float:
    started = time.perf_counter()
    response = session.post(url, data=BODY, timeout=10, headers=sentry_headers(BODY, secret=secret))
    elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
    return elapsed


def _summary(label: str, samples: list[float]) -> dict[str, float | str | int]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"scenario": label, "requests": len(samples),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(pick(0.95) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    """Run the benchmark and print one JSON line per scenario."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    secret = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    pubsub = start_pubsub(free_port(), log_dir)
    host = pubsub.url.removeprefix("http://")
    topology = Topology("bench-project", "bench-events", "bench-dead", "bench-push", "bench-pull")
    create_topology(topology, f"http://127.0.0.1:{free_port()}/", host)
    env = {**os.environ, **LOCAL_DEFAULTS, "PUBSUB_EMULATOR_HOST": host,
           "GOOGLE_CLOUD_PROJECT": topology.project, "EVENTS_TOPIC": topology.events_topic,
           "LOG_LEVEL": "WARNING"}
    try:
        started = time.perf_counter()
        ingest = start_function("ingest", "ingest", free_port(), env, log_dir)
        with requests.Session() as session:
            first = _send(session, ingest.url, secret)
            cold = time.perf_counter() - started
            print(json.dumps({"scenario": "cold start (process start → first 202)",
                              "total_ms": round(cold * 1000, 1),
                              "first_request_ms": round(first * 1000, 1)}, ensure_ascii=False))
            serial = [_send(session, ingest.url, secret) for _ in range(args.requests)]
            print(json.dumps(_summary("sequential", serial), ensure_ascii=False))
        sessions = [requests.Session() for _ in range(args.concurrency)]
        with ThreadPoolExecutor(args.concurrency) as pool:
            concurrent = list(pool.map(lambda i: _send(sessions[i % args.concurrency],
                                                       ingest.url, secret),
                                       range(args.requests)))
        label = f"{args.concurrency} concurrent senders"
        print(json.dumps(_summary(label, concurrent), ensure_ascii=False))
        ingest.stop()
    finally:
        pubsub.stop()


if __name__ == "__main__":
    main()
