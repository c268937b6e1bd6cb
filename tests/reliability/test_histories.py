"""Randomized histories: the task and the alert's source must tell the same story in the end.

For each seed, a random schedule over a few alerts (Sentry issues of a team that syncs back and
of one that does not, in one shared Asana project; Datadog monitors) of firings, regressions,
resolves and recoveries at the source, people completing and reopening tasks in Asana, lost,
duplicated and late webhooks, and faults: proxy cuts and black holes of Firestore, Pub/Sub,
Asana and Sentry, emulators frozen, workers SIGKILLed at their failpoints, Asana refusing
requests (dead letters, then replayed), Asana webhooks deleted. Many histories run at once on
one deployment (disjoint alerts; a fault hits all that run at that moment, and each of their
logs says so), then the system settles, is reconciled, and each alert is checked (see
histories/invariants.py): one task, none lost, and the task's state equals the source's.

``ALERT_BRIDGE_HISTORIES`` (default 200) sets how many, ``ALERT_BRIDGE_FIRST_SEED`` (default 1)
where the seeds start, ``ALERT_BRIDGE_HISTORY_CONCURRENCY`` (default 200: one wave) how many
run at once;
``ALERT_BRIDGE_SEED=<n>`` runs that one history alone and prints it whole;
``ALERT_BRIDGE_HISTORY_SKIP=delete-webhook,kill`` leaves those faults out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from tests.reliability import summary
from tests.reliability.histories.invariants import (
    DISAGREEMENT,
    DUPLICATE,
    LOST,
    STUCK,
    UNASKED_SYNC,
)
from tests.reliability.histories.runner import Harness, Run, service_story
from tests.reliability.histories.stack import Push, deploy
from tests.reliability.rig import Rig

HISTORIES = int(os.environ.get("ALERT_BRIDGE_HISTORIES", "200"))
FIRST_SEED = int(os.environ.get("ALERT_BRIDGE_FIRST_SEED", "1"))
CONCURRENCY = int(os.environ.get("ALERT_BRIDGE_HISTORY_CONCURRENCY", "200"))
ONE_SEED = os.environ.get("ALERT_BRIDGE_SEED", "").strip()
#: Environment faults to leave out, comma-separated (e.g. delete-webhook): to look past one
#: defect that breaks every later history (histories stay the same, the step is skipped).
SKIP = [a.strip() for a in os.environ.get("ALERT_BRIDGE_HISTORY_SKIP", "").split(",") if a.strip()]
SHOWN_WHOLE = 3  # failing histories printed in full in the failure message


def seeds() -> list[int]:
    """Return the seeds this run covers."""
    if ONE_SEED:
        return [int(ONE_SEED)]
    return list(range(FIRST_SEED, FIRST_SEED + HISTORIES))


@pytest.fixture(scope="module")
def harness(rig: Rig) -> Iterator[Harness]:
    """One deployment for every history, on the rig's emulators."""
    for name in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
        os.environ[name] = rig.env[name]  # the harness itself reads and replays directly
    listeners: list[Callable[[Push], None]] = []

    def on_push(push: Push) -> None:
        for listener in listeners:
            listener(push)

    emulators = {"firestore": rig.emulator("firestore-emulator"),
                 "pubsub": rig.emulator("pubsub-emulator")}
    deployment = deploy(rig.env, emulators, rig.log_dir / "histories", on_push)
    running = Harness(deployment, SKIP)
    listeners.append(running.on_push)
    try:
        yield running
    finally:
        deployment.stop()


def test_random_histories_end_with_asana_and_the_sources_in_agreement(
        harness: Harness) -> None:
    chosen = seeds()
    started = time.monotonic()
    runs = harness.run(chosen, 1 if ONE_SEED else CONCURRENCY)
    seconds = time.monotonic() - started
    failed = [run for run in runs if run.findings]
    reports = harness.d.log_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "environment.txt").write_text("".join(
        f"{name} proxy: {proxy.stats}\n" for name, proxy in harness.d.proxies.items()))
    for run in failed:
        (reports / f"seed-{run.seed}.txt").write_text(full_report(harness, run) + "\n")

    def count(*kinds: str) -> int:
        return sum(1 for run in runs for f in run.findings if f.kind in kinds)

    span = f"{chosen[0]}" if len(chosen) == 1 else f"{chosen[0]}-{chosen[-1]}"
    summary.record_histories(summary.HistoriesRow(
        span, len(runs), len(failed), count(DISAGREEMENT, UNASKED_SYNC), count(DUPLICATE),
        count(LOST), count(STUCK), seconds))
    if ONE_SEED and not failed:  # (-s shows it) a failing one is in the failure message
        print("\n" + full_report(harness, runs[0]))
    lines = [f"{len(failed)} of {len(runs)} histories broke a promise (each history in "
             f"{reports}/seed-<n>.txt):"]
    lines += [f"  seed {run.seed}: " + "; ".join(f.describe() for f in run.findings)
              for run in failed]
    lines += ["", *(full_report(harness, run) for run in failed[:SHOWN_WHOLE])]
    if failed:
        pytest.fail("\n".join(lines), pytrace=False)


def full_report(harness: Harness, run: Run) -> str:
    """Return a history, what the workers logged about it, and how to rerun it."""
    tasks = [t["gid"] for a in run.history.alerts for t in harness.tasks_of(a.tag)]
    cycles = [c.key for a in run.history.alerts if a.spec.source == "datadog"
              for c in harness.d.datadog.cycles.get(int(a.external_id), [])]
    story = service_story(run, harness.d.worker_logs(), tasks, cycles)
    return "\n".join([run.report(), "  the workers' log about it:",
                      *(f"    {line}" for line in story[-60:])])
