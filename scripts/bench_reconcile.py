"""Measure reconciliation's state check of many open alerts (``make bench``).

Seeds open Sentry records in the ledger on the real Firestore emulator and the same issues in
the fake Sentry API (a few resolved there: their webhooks were lost), then runs reconciliation
with its real adapters (ledger queries, cursor store, Sentry reader, Pub/Sub emulator) until
its cursor has visited every record. Prints one JSON line: per run the Sentry requests, the
records visited, the corrections published and the seconds; then the totals, and for
comparison the time one Sentry read per record (the previous design) takes against the same
fake. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import free_port, start_emulators
from shared.adapters.firestore_ledger import document_id
from shared.adapters.ledger_queries import LedgerQueries
from shared.adapters.pubsub import Publisher
from shared.adapters.reconcile_cursor import FirestoreCursors
from shared.core.ledger import RETENTION, Record, State, to_document
from shared.flows.reconcile import ReconcileDeps, reconcile
from shared.sources.drift import RECORDS_PER_RUN
from shared.sources.sentry.reconcile import reconciler
from shared.sources.sentry.reconcile_reader import SentryReader
from tests.fakes.link_target_servers import FakeSentryApi

PROJECT = "bench-reconcile"
COLLECTION = "alert_ledger"
TOPIC = "bench-events"
TOKEN = "bench-sentry-token"
FIRST_ID = 4_000_000_000
WRITE_BATCH = 500  # Firestore's largest batched write


def main() -> None:
    """Run the reconciliation benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000, help="open Sentry records")
    parser.add_argument("--resolved", type=int, default=100,
                        help="of those, issues resolved in Sentry (lost resolve webhooks)")
    parser.add_argument("--per-run", type=int, default=RECORDS_PER_RUN,
                        help="records one run visits at most")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one alert_reconciled line per correction
    ports = {"pubsub": free_port(), "firestore": free_port()}
    os.environ.update({"GOOGLE_CLOUD_PROJECT": PROJECT,
                       "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{ports['pubsub']}",
                       "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{ports['firestore']}"})
    services = start_emulators(ports["pubsub"], ports["firestore"],
                               Path(tempfile.mkdtemp(prefix="bench-reconcile-")))
    sentry = FakeSentryApi(token=TOKEN).start()
    try:
        figures = _bench(sentry, args.records, args.resolved, args.per_run)
    finally:
        sentry.stop()
        for service in services:
            service.stop()
    print(json.dumps(figures, ensure_ascii=False))


def _bench(sentry: FakeSentryApi, records: int, resolved: int, per_run: int) -> dict[str, Any]:
    from google.cloud import firestore
    from google.cloud.pubsub_v1 import PublisherClient

    client = firestore.Client(project=PROJECT)
    publisher = PublisherClient()
    publisher.create_topic(request={"name": publisher.topic_path(PROJECT, TOPIC)})
    seeded = time.perf_counter()
    _seed(client, sentry, records, resolved)
    seed_seconds = time.perf_counter() - seeded
    deps = ReconcileDeps(
        ledger=LedgerQueries(PROJECT, COLLECTION, client),
        publish=Publisher(PROJECT, TOPIC, publisher).publish,
        now=lambda: datetime.now(UTC), lookback_minutes=60, grace_minutes=5,
        reconcilers=[reconciler(SentryReader(sentry.url, "acme", lambda: TOKEN, [], []),
                                org="acme", api_url=sentry.url)],
        cursors=FirestoreCursors(PROJECT, f"{COLLECTION}_reconcile", client),
        records_per_run=per_run)
    runs: list[dict[str, Any]] = []
    while True:
        before = len(sentry.requests)
        started = time.perf_counter()
        report = reconcile(deps, f"bench-{len(runs) + 1}")
        runs.append({"sentry_requests": len(sentry.requests) - before,
                     "records_visited": report.visited, "published": report.published,
                     "read_failures": report.read_failures,
                     "seconds": round(time.perf_counter() - started, 2)})
        if report.cursors.get("sentry") is None or len(runs) > records:
            break
    return {
        "scenario": (f"reconcile: {records} open Sentry records on the Firestore emulator, "
                     f"{resolved} resolved in the fake Sentry, at most {per_run} per run"),
        "seed_seconds": round(seed_seconds, 1),
        "runs_to_visit_every_record": len(runs),
        "sentry_requests": sum(r["sentry_requests"] for r in runs),
        "published": sum(r["published"] for r in runs),
        "seconds": round(sum(r["seconds"] for r in runs), 2),
        "runs": runs,
        "one_read_per_record": {"sentry_requests": records,
                                "seconds": round(_one_read_per_record(sentry, records), 2)},
    }


def _one_read_per_record(sentry: FakeSentryApi, records: int) -> float:
    """Return the seconds the previous design's reads took: one issue GET per open record."""
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        for issue in range(FIRST_ID, FIRST_ID + records):
            session.get(f"{sentry.url}/organizations/acme/issues/{issue}/",
                        timeout=10).raise_for_status()
    return time.perf_counter() - started


def _seed(client: Any, sentry: FakeSentryApi, records: int, resolved: int) -> None:
    """Write the open records in batches and give each its issue in the fake Sentry."""
    now = datetime.now(UTC)
    created = now - timedelta(days=2)
    collection = client.collection(COLLECTION)
    for start in range(0, records, WRITE_BATCH):
        batch = client.batch()
        for issue in range(FIRST_ID + start, FIRST_ID + min(start + WRITE_BATCH, records)):
            key = f"sentry:issue:{issue}"
            record = Record(key=key, state=State.OPEN, updated_at=created, created_at=created,
                            expires_at=created + RETENTION, task_gid=str(issue),
                            source="sentry", external_id=str(issue))
            batch.set(collection.document(document_id(key)), to_document(record))
            # Spread the resolved ones over the key range, so every run meets some.
            status = "resolved" if resolved and issue % max(records // resolved, 1) == 0 \
                else "unresolved"
            sentry.add_issue("bench", str(issue), first_seen=created, status=status)
        batch.commit()


if __name__ == "__main__":
    main()
