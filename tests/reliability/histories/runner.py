"""Run histories against one deployment: in waves, each history in its own thread, then a
barrier where the system settles, is reconciled, and every history of the wave is checked.

A step waits for its own effects, not for a fixed time: the Pub/Sub messages it caused (the
webhooks it sent, the Asana deliveries of a person's change, Sentry's echo of the service's
change) must all be acknowledged by a worker before the next step starts. Once they are, an
alert of which nothing was missed so far (no webhook lost, late, refused or dead-lettered,
every change of its task delivered) is judged on the spot: the two sides must agree already.
Faults in the environment hit every history running at that moment, so each is written into
all their logs.

The barrier: faults healed, quiet (no message on its way, no push failing, the ledger holding
no claim or lease and not changing), dead letters replayed, quiet again (only this second quiet
is judged: a delivery may be waiting for one that was dead-lettered). Then the alerts of
which nothing was missed (no webhook lost, late or refused, every change of the task in Asana
delivered) are judged at once: reconciliation is there for what webhooks lost, and must not be
what hides a webhook applied wrongly. Then one reconciliation run, once its grace has passed
(the scheduled job comes minutes later: records and tasks that just changed are left alone),
quiet again, and every alert is judged; late webhooks (held back by their fate) are sent after
that run, followed by a second run, and the histories that had any are judged after it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fakes.gcm_world import GcmWorld
from tests.fakes.vendor_world import Posted, Webhook, post
from tests.reliability.histories.invariants import CHECKS, STUCK, Finding, TaskSeen
from tests.reliability.histories.model import History, Step, generate
from tests.reliability.histories.sources import (
    CloudWatchSource,
    DatadogSource,
    Facts,
    GcmSource,
    SentrySource,
    Source,
)
from tests.reliability.histories.stack import (
    MONITOR_TAG,
    RECONCILE_GRACE_MINUTES,
    SENTRY_RULES,
    Deployment,
    Push,
    ledger_documents,
    ledger_settled,
)

STEP_SETTLE_SECONDS = 20.0
QUIET_SECONDS = 90.0
#: A push that failed is pushed again by the emulator about a second later: quiet means none
#: failed for longer than that.
REDELIVERY_SECONDS = 3.0
RECONCILED_WITHIN_SECONDS = 180.0
PERSON_GID = "1300000000009001"  # someone on call, acting in Asana's app
_TAG = re.compile(r"\((h(\d+)-a\d+)\)")


@dataclass
class Run:
    """One history as it runs: its log, what it learnt, what it found."""

    history: History
    log: list[str] = field(default_factory=list)
    facts: dict[int, Facts] = field(default_factory=dict)
    late: list[tuple[int, Webhook]] = field(default_factory=list)
    dead_letters: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    step: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.facts = {i: Facts() for i in range(len(self.history.alerts))}

    @property
    def seed(self) -> int:
        """Return the history's seed."""
        return self.history.seed

    def note(self, text: str) -> None:
        """Add a line to the log, under the current step."""
        with self._lock:
            self.log.append(f"      {text}")

    def line(self, text: str) -> None:
        """Add a top-level line to the log."""
        with self._lock:
            self.log.append(text)

    def report(self) -> str:
        """Return the whole history: schedule, what happened, what was found, how to rerun."""
        header = self.history.describe()
        with self._lock:
            body = list(self.log)
        findings = [f"  ✗ {f.describe()}" for f in self.findings] or ["  ✓ no finding"]
        rerun = (f"  rerun alone: ALERT_BRIDGE_SEED={self.seed} .venv/bin/python -m pytest "
                 "tests/reliability/test_histories.py -q")
        return "\n".join([*header, "  what happened:", *body, "  findings:", *findings, rerun])


class Harness:
    """Runs histories against ``deployment`` (see module doc)."""

    def __init__(self, deployment: Deployment, skip: Iterable[str] = ()) -> None:
        self.d = deployment
        self.skip = frozenset(skip)  # environment actions left out (ALERT_BRIDGE_HISTORY_SKIP)
        self.sources: dict[str, Source] = {
            "sentry": SentrySource(deployment.sentry, SENTRY_RULES),
            "datadog": DatadogSource(deployment.datadog, ["team:monitors", MONITOR_TAG]),
            # A webhook_tokenauth channel to ingest (the pubsub channel skips ingest's faults).
            "gcm": GcmSource(GcmWorld(ingest_url=deployment.env["ASANA_WEBHOOK_TARGET_URL"],
                                      token=deployment.env["GCM_WEBHOOK_TOKEN"])),
            "cloudwatch": CloudWatchSource(deployment.cloudwatch),
        }
        self.running: dict[int, Run] = {}
        self.owners: dict[str, int] = {}
        self.reconciled: set[str] = set()
        self._lock = threading.Lock()
        self._replay_lock = threading.Lock()
        self._tasks: dict[str, list[dict[str, Any]]] = {}  # tag -> its tasks, oldest first
        deployment.asana.observe = self._asana_delivery
        deployment.asana.on_created = self._task_created
        deployment.sentry.outbox.send = self._echo

    # -- waves -------------------------------------------------------------------------------

    def run(self, seeds: Sequence[int], concurrency: int) -> list[Run]:
        """Run every seed's history, ``concurrency`` at a time; return them, checked."""
        runs: list[Run] = []
        for start in range(0, len(seeds), concurrency):
            runs += self.wave(seeds[start:start + concurrency])
        return runs

    def wave(self, seeds: Sequence[int]) -> list[Run]:
        """Run histories side by side, then settle, reconcile and check them."""
        runs = [Run(generate(seed)) for seed in seeds]
        for run in runs:
            with self._lock:
                self.running[run.seed] = run
            for alert in run.history.alerts:
                self.sources[alert.spec.source].setup(alert, run.seed, self._owner(run.seed))
        with ThreadPoolExecutor(len(runs)) as pool:
            list(pool.map(self._run_steps, runs))
        try:
            self._barrier(runs)
        finally:
            with self._lock:
                for run in runs:
                    self.running.pop(run.seed, None)
        return runs

    def _run_steps(self, run: Run) -> None:
        started = time.monotonic()
        for number, step in enumerate(run.history.steps, start=1):
            run.step = number
            run.line(f"  {number:>2}. {step.describe(run.history.alerts)}")
            begun = time.monotonic()
            try:
                outcome = self._perform(run, step)
            except Exception as error:  # a harness failure must show, not end the wave
                outcome = f"HARNESS ERROR {type(error).__name__}: {error}"
            run.note(f"→ {outcome}")
            if not self._settle(run, STEP_SETTLE_SECONDS):
                run.note(f"(not settled after {STEP_SETTLE_SECONDS:.0f}s: "
                         f"{self.d.messages.waiting(run.seed)} message(s) on their way)")
            else:
                run.note(f"(settled in {time.monotonic() - begun:.1f}s)")
                if step.alert is not None:
                    self._judge(run, step.alert, f"after step {number}, nothing missed")
        run.seconds = time.monotonic() - started

    # -- steps -------------------------------------------------------------------------------

    def _perform(self, run: Run, step: Step) -> str:
        if step.actor == "env":
            return self._environment(run, step)
        assert step.alert is not None
        alert = run.history.alerts[step.alert]
        if step.actor == "asana":
            return self._person(run, step.alert, step.action == "complete")
        hooks = self.sources[alert.spec.source].act(alert, step.action, run.seed)
        for hook in hooks:
            cycle = _cycle_key(hook)
            if cycle:
                self._owner(run.seed)(f"cycle:{cycle}")
        if not hooks:
            return "nothing changes: the alert already is in that state"
        words = []
        for index, hook in enumerate(hooks):
            fate = step.fates[index] if index < len(step.fates) else "deliver"
            if fate == "lose":
                run.facts[step.alert].missed.append(f"step {run.step}: {hook.label} lost")
                words.append(f"{hook.label}: lost")
            elif fate == "late":
                run.facts[step.alert].missed.append(f"step {run.step}: {hook.label} late")
                run.late.append((step.alert, hook))
                words.append(f"{hook.label}: held back (sent late)")
            else:
                words.append(f"{hook.label} {_body_id(hook)}: "
                             f"{self._send(run, step.alert, hook, fate)}")
        return "; ".join(words)

    def _send(self, run: Run, index: int, hook: Webhook, fate: str) -> str:
        """Post a webhook (twice at once when duplicated); Datadog retries a 5xx, Sentry not."""
        attempts = 3 if hook.source in ("datadog", "cloudwatch") else 1  # SNS retries 5xx too

        def once() -> Posted:
            posted = Posted(None)
            for attempt in range(attempts):
                posted = post(hook)
                self.d.messages.published(run.seed, posted.ids)
                if posted.status is not None and posted.status < 500:
                    break
                if attempt + 1 < attempts:
                    time.sleep(0.5 * 2 ** attempt)
            return posted

        copies = 2 if fate == "duplicate" else 1
        with ThreadPoolExecutor(copies) as pool:
            results = list(pool.map(lambda _: once(), range(copies)))
        cycle = _cycle_key(hook)
        if cycle and hook.label == "Triggered" and any(p.status == 202 for p in results):
            facts = run.facts[index]
            facts.accepted_cycles = facts.accepted_cycles | {cycle}
        incident = _incident_id(hook)
        if incident:
            _note_incident(run.facts[index], incident, hook.label == "incident open", results)
        answers = " + ".join(p.describe() for p in results)
        lost = "" if any(p.status == 202 for p in results) else " (not accepted: lost)"
        if lost:
            run.facts[index].missed.append(f"step {run.step}: {hook.label} not accepted")
        return f"{'sent twice at once: ' if copies == 2 else ''}{answers}{lost}"

    def _person(self, run: Run, index: int, completed: bool) -> str:
        tag = run.history.alerts[index].tag
        tasks = self.tasks_of(tag)
        if not tasks:
            return "no task in Asana to act on"
        task = tasks[0]
        verb = "completes" if completed else "reopens"
        if bool(task.get("completed")) == completed:
            return f"task {task['gid']} already {'completed' if completed else 'open'}"
        deliveries = self.d.asana.act(task["gid"], completed, PERSON_GID)
        run.facts[index].person_changed_task = True
        if not deliveries:
            run.facts[index].missed.append(f"step {run.step}: no webhook delivered the change")
        return f"a person {verb} task {task['gid']}; {deliveries} webhook delivery(ies)"

    def _environment(self, run: Run, step: Step) -> str:
        d = self.d
        if step.action in self.skip:
            return "skipped (ALERT_BRIDGE_HISTORY_SKIP)"
        if step.action == "proxy":
            d.faults.add(step.target, step.mode, step.amount, step.seconds)
        elif step.action == "freeze":
            d.freezer.freeze(step.target, step.seconds)
        elif step.action == "kill":
            worker = next(w for w in d.workers if w.point == step.target)
            worker.arm()
            threading.Thread(target=self._watch_kill, args=(worker.point, worker.once),
                             daemon=True).start()
        elif step.action == "asana-refuses":
            d.asana.fail_next(int(step.amount), 400, message="injected refusal")
        elif step.action == "delete-webhook":
            gone = d.asana.delete_project_webhooks(step.target)
            self._broadcast(run, f"Asana deleted webhook(s) {gone or 'none'} of {step.target}")
            return f"deleted {gone or 'nothing'}"
        else:
            return self.replay()
        self._broadcast(run, step.describe(run.history.alerts))
        return "applied"

    def _broadcast(self, source: Run, text: str) -> None:
        with self._lock:
            others = [r for r in self.running.values() if r is not source]
        for other in others:
            other.note(f"[h{source.seed}, its step {source.step}] {text}")

    def _watch_kill(self, point: str, once: Path) -> None:
        deadline = time.monotonic() + 120
        while not once.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if once.exists():
            with self._lock:
                runs = list(self.running.values())
            for run in runs:
                run.note(f"[env] a worker instance was SIGKILLed at {point}")

    def replay(self) -> str:
        """Replay every dead letter to the events topic (what an operator does)."""
        from shared.adapters.dead_letters import DeadLetterSubscription
        from shared.adapters.pubsub import Publisher
        from shared.flows.replay import Selection, replay

        with self._replay_lock:
            topology = self.d.topology
            inbox = DeadLetterSubscription(topology.project, topology.dead_letter_subscription)
            publisher = Publisher(topology.project, topology.events_topic)

            def publish(data: bytes, attributes: Any) -> str:
                message_id = publisher.publish(data, attributes)
                owner = self.owner_of(attributes)
                self.d.messages.published(owner, [message_id])
                run = self.running.get(owner) if owner is not None else None
                if run is not None:
                    run.note(f"[replay] dead letter {attributes.get('alert_key')} republished")
                return message_id

            try:
                report = replay(inbox, publish, Selection(), 1000, lambda: datetime.now(UTC),
                                uuid.uuid4().hex[:12])
            finally:
                inbox.close()
        return f"replayed {report.replayed} dead letter(s), {report.failed} failed"

    # -- settling ----------------------------------------------------------------------------

    def _settle(self, run: Run, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        issues = [a.external_id for a in run.history.alerts if a.spec.source == "sentry"]
        while True:
            tasks = [t["gid"] for a in run.history.alerts for t in self.tasks_of(a.tag)]
            if (self.d.messages.waiting(run.seed) == 0
                    and not any(self.d.sentry.outbox.pending(i) for i in issues)
                    and not any(self.d.asana.in_flight(t) for t in tasks)):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def quiet(self, timeout: float = QUIET_SECONDS) -> bool:
        """Wait until nothing moves: no message, delivery or push on its way, no push failed
        lately, and the ledger holds no claim or lease and does not change."""
        deadline = time.monotonic() + timeout
        d = self.d
        while time.monotonic() < deadline:
            now = time.monotonic()
            if (d.messages.waiting(everyone=True) == 0 and d.asana.in_flight() == 0
                    and d.sentry.outbox.pending() == 0 and d.tap.in_flight() == 0
                    and now - d.tap.last_failure > REDELIVERY_SECONDS
                    and now - d.tap.last_push > 0.5):
                first = self._ledger()
                if ledger_settled(first):
                    time.sleep(0.3)
                    if _fingerprint(self._ledger()) == _fingerprint(first) and \
                            d.tap.in_flight() == 0:
                        return True
            time.sleep(0.1)
        return False

    def _ledger(self) -> list[dict[str, Any]]:
        return ledger_documents(self.d.env["GOOGLE_CLOUD_PROJECT"],
                                self.d.env["LEDGER_COLLECTION"])

    # -- the barrier -------------------------------------------------------------------------

    def _barrier(self, runs: list[Run]) -> None:
        begun = time.monotonic()
        self._heal()
        self._everyone(runs, "— end of the schedule: faults healed, waiting for quiet")
        if any(run.dead_letters for run in runs):
            # A delivery may wait for one that was dead-lettered (the close of an alert whose
            # task creation Asana refused): as for an operator, quiet comes after the replay.
            self.quiet()
            self._everyone(runs, f"[operator] {self.replay()}")
        self._quiet_or_stuck(runs)
        for run in runs:
            self._check(run, before_reconciliation=True)
        self._reconcile(runs, "1")
        late = [run for run in runs if run.late]
        for run in runs:
            if not run.late:
                self._check(run)
        self._everyone(runs, f"— checked {time.monotonic() - begun:.1f}s after the schedule")
        if not late:
            return
        for run in late:
            for index, hook in run.late:
                run.note(f"late {hook.label}: {self._send(run, index, hook, 'deliver')}")
        self._quiet_or_stuck(late)
        self._reconcile(late, "2")
        for run in late:
            self._check(run)

    def _heal(self) -> None:
        self.d.asana.calm()  # refusals queued by "asana-refuses" and not yet used up
        self.d.faults.heal()
        self.d.freezer.thaw_all()
        for worker in self.d.workers:
            worker.disarm()

    def _reconcile(self, runs: list[Run], label: str) -> None:
        waited = self._outwait_grace()
        with self._lock:
            before = set(self.reconciled)
        answer = self.d.reconcile()
        # The alerts it published, and the task changes its Asana comparison published.
        published = sum(int(answer.get(name, 0) or 0) for name in ("published", "asana_published"))
        self._everyone(runs, f"— reconciliation run {label} (after {waited:.0f}s of its grace): "
                             f"HTTP {answer.get('http')} {answer.get('status')}, "
                             f"published {published}")
        # The workers take every message reconciliation published: within a few crashed
        # workers' leases (20 s each), however many of them the schedule's kills left behind.
        deadline = time.monotonic() + RECONCILED_WITHIN_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                handled = len(self.reconciled - before)
            if handled >= published:
                break
            time.sleep(0.05)
        else:
            for run in runs:
                run.findings.append(Finding(STUCK, f"h{run.seed}", f"reconciliation published "
                                    f"{published}, the workers took {handled} within "
                                    f"{RECONCILED_WITHIN_SECONDS:.0f}s"))
        self._quiet_or_stuck(runs)

    def _outwait_grace(self) -> float:
        """Wait until the last change is older than what reconciliation leaves alone (a ledger
        record changed within its grace, a task changed within shared/sources/asana/health.py's
        COMPARE_GRACE on Asana's clock), as it is when the scheduled run comes minutes later;
        return the seconds waited."""
        from shared.sources.asana.health import COMPARE_GRACE

        grace = timedelta(minutes=RECONCILE_GRACE_MINUTES)
        due = [d["updated_at"] + grace for d in self._ledger()
               if isinstance(d.get("updated_at"), datetime)]
        due += [_parse(t["modified_at"]) + COMPARE_GRACE
                for t in list(self.d.asana.tasks.values()) if t.get("modified_at")]
        if not due:
            return 0.0
        wait = max(0.0, (max(due) + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
        time.sleep(wait)
        return wait

    def _quiet_or_stuck(self, runs: list[Run]) -> None:
        if self.quiet():
            return
        waiting = {run.seed: self.d.messages.waiting(run.seed) for run in runs}
        busy = {self.owner_of({"alert_key": str(doc.get("key", ""))})
                for doc in self._ledger() if not ledger_settled([doc])}
        for run in runs:
            if waiting[run.seed] or run.seed in busy:
                run.findings.append(Finding(STUCK, f"h{run.seed}", f"{waiting[run.seed]} "
                                    f"message(s) never acknowledged, ledger busy: "
                                    f"{run.seed in busy}, after {QUIET_SECONDS:.0f}s"))
        self._everyone(runs, "— the system did not settle")

    def _everyone(self, runs: Iterable[Run], text: str) -> None:
        for run in runs:
            run.line(f"  {text}")

    def _check(self, run: Run, *, before_reconciliation: bool = False) -> None:
        """Judge each alert (before reconciliation: only those of which nothing was missed,
        since reconciliation is there for what webhooks lost, not for what they said)."""
        run.line("  before reconciliation, alerts of which no webhook was missed:"
                 if before_reconciliation else "  at the end:")
        for index in range(len(run.history.alerts)):
            if before_reconciliation:
                self._judge(run, index, "before reconciliation, nothing missed")
            else:
                self._judge(run, index, "", always=True)

    def _judge(self, run: Run, index: int, when: str, *, always: bool = False) -> None:
        """Check one alert now; ``when`` it is judged early, only if nothing of it was missed,
        and each broken promise is kept once (the earliest)."""
        if not always and run.facts[index].missed:
            return
        alert = run.history.alerts[index]
        tasks = [TaskSeen(t["gid"], bool(t.get("completed"))) for t in self.tasks_of(alert.tag)]
        end = self.sources[alert.spec.source].end(alert, run.facts[index])
        if always or when.startswith("before"):
            run.note(f"{alert.tag}: {end}; tasks "
                     f"{[(t.gid, 'completed' if t.completed else 'open') for t in tasks]}")
        known = {(f.tag, f.kind) for f in run.findings}
        for finding in CHECKS[alert.spec.source](alert, tasks, end):
            if (finding.tag, finding.kind) in known:
                continue
            if when:
                finding = replace(finding, detail=f"{finding.detail} ({when})")
                run.note(f"✗ {finding.describe()}")
            run.findings.append(finding)

    # -- who owns what -----------------------------------------------------------------------

    def tasks_of(self, tag: str) -> list[dict[str, Any]]:
        """Return the alert's tasks in Asana, oldest first (the records Asana holds)."""
        with self._lock:
            return list(self._tasks.get(tag, ()))

    def _task_created(self, task: dict[str, Any]) -> None:
        match = _TAG.search(task.get("name", ""))
        if match is not None:
            with self._lock:
                self._tasks.setdefault(match.group(1), []).append(task)
                self.owners[f"task:{task['gid']}"] = int(match.group(2))

    def owner_of(self, attributes: Any) -> int | None:
        """Return the seed whose alert a message is about (from its attributes)."""
        key = str(attributes.get("alert_key", ""))
        if key.startswith("sentry:issue:"):
            return self.owners.get(f"issue:{key.removeprefix('sentry:issue:')}")
        if key.startswith("datadog:cycle:reconcile-"):
            monitor = key.removeprefix("datadog:cycle:reconcile-").split("-")[0]
            return self.owners.get(f"monitor:{monitor}")
        if key.startswith("datadog:cycle:"):
            return self.owners.get(f"cycle:{key.removeprefix('datadog:cycle:')}")
        if key.startswith("gcm:incident:0."):  # the world's ids: 0.<policy>-<n>
            policy = key.removeprefix("gcm:incident:0.").rsplit("-", 1)[0]
            return self.owners.get(f"policy:{policy}")
        if key.startswith("cloudwatch:"):  # the alarm's name carries its history's tag
            match = _TAG.search(key)
            return int(match.group(2)) if match else None
        task = attributes.get("task_gid") or key.removeprefix("asana:task:")
        return self._task_owner(str(task)) if task else None

    def _owner(self, seed: int) -> Any:
        def own(name: str) -> None:
            with self._lock:
                self.owners[name] = seed
        return own

    def _task_owner(self, gid: str) -> int | None:
        known = self.owners.get(f"task:{gid}")
        if known is not None:
            return known
        task = self.d.asana.tasks.get(gid)
        match = _TAG.search(task.get("name", "")) if task else None
        if match is None:
            return None
        seed = int(match.group(2))
        with self._lock:
            self.owners[f"task:{gid}"] = seed
        return seed

    def on_push(self, push: Push) -> None:
        """Note in the owner's log what a push did that a reader of the history needs."""
        owner = self.owner_of(push.attributes)
        run = self.running.get(owner) if owner is not None else None
        key = push.attributes.get("alert_key", "")
        if push.attributes.get("source_reason") == "reconcile" and 200 <= push.status < 300:
            with self._lock:
                first = push.message_id not in self.reconciled
                self.reconciled.add(push.message_id)
            if run is not None and first:
                run.note(f"[reconcile] published {push.attributes.get('action')} for {key}: "
                         f"worker {push.outcome.get('step') or push.outcome.get('status')}")
        if push.outcome.get("status") == "dead-lettered" and run is not None:
            run.dead_letters += 1
            run.note(f"[worker] dead-lettered {key}: {push.outcome.get('reason')}")
            # Replayed later, out of order: what reconciliation is there for.
            for index in self._alerts_of(run, push.attributes):
                run.facts[index].missed.append(f"{key} dead-lettered, replayed later")

    def _alerts_of(self, run: Run, attributes: Any) -> list[int]:
        """Return the indexes of the run's alerts a message is about."""
        key = str(attributes.get("alert_key", ""))
        task = str(attributes.get("task_gid") or "")
        found = []
        for index, alert in enumerate(run.history.alerts):
            cycles = [c.key for c in self.d.datadog.cycles.get(int(alert.external_id), [])] \
                if alert.spec.source == "datadog" else []
            if (key == f"sentry:issue:{alert.external_id}" or alert.external_id in key
                    or f"({alert.tag})" in key  # a CloudWatch alarm's name carries its tag
                    or any(key == f"datadog:cycle:{c}" for c in cycles)
                    or any(t["gid"] == task for t in self.tasks_of(alert.tag))):
                found.append(index)
        return found

    def _asana_delivery(self, tasks: list[str], posted: Posted) -> None:
        owner = self._task_owner(tasks[0]) if tasks else None
        self.d.messages.published(owner, posted.ids)
        run = self.running.get(owner) if owner is not None else None
        if run is not None and posted.status not in (200, 202):
            run.note(f"[asana] delivery of task {tasks[0]}: {posted.describe()}")
            for index, alert in enumerate(run.history.alerts):
                if any(t["gid"] == tasks[0] for t in self.tasks_of(alert.tag)):
                    run.facts[index].missed.append(f"a delivery of task {tasks[0]} failed")

    def _echo(self, hook: Webhook) -> Posted:
        posted = post(hook)
        owner = self.owners.get(f"issue:{hook.alert}")
        self.d.messages.published(owner, posted.ids)
        run = self.running.get(owner) if owner is not None else None
        if run is not None:
            run.note(f"[sentry] sent {hook.label}: {posted.describe()}")
        return posted


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _body_id(hook: Webhook) -> str:
    """Return a short id of the body, so a reader sees two webhooks with the same bytes."""
    return f"[body {hashlib.sha256(hook.body).hexdigest()[:8]}]"


def _cycle_key(hook: Webhook) -> str | None:
    if hook.source != "datadog":
        return None
    key = hook.payload().get("alert_cycle_key")
    return str(key) if key else None


def _incident_id(hook: Webhook) -> str | None:
    if hook.source != "gcm":
        return None
    incident = hook.payload().get("incident") or {}
    return str(incident.get("incident_id") or "") or None


def _fingerprint(documents: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((str(d.get("key")), str(d.get("state")), str(d.get("updated_at")))
                  for d in documents)


def service_story(run: Run, logs: Iterable[Path], tasks: Iterable[str],
                  cycles: Iterable[str] = ()) -> list[str]:
    """Return the workers' log lines about the history's alerts and tasks, oldest first."""
    keys = {f"sentry:issue:{a.external_id}" for a in run.history.alerts}
    keys |= {f"datadog:cycle:{c}" for c in cycles}
    keys |= {f"datadog:cycle:reconcile-{a.external_id}-" for a in run.history.alerts}
    keys |= {f"gcm:incident:0.{a.external_id}-" for a in run.history.alerts}
    keys |= {f"({a.tag})" for a in run.history.alerts if a.spec.source == "cloudwatch"}
    gids = set(tasks)
    lines: list[tuple[str, str]] = []
    for path in logs:
        for raw in path.read_text(errors="replace").splitlines():
            if not raw.startswith("{"):
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            text = f"{entry.get('alert_key', '')} {entry.get('message', '')}"
            if entry.get("task_gid") in gids or any(key in text for key in keys | gids):
                lines.append((str(entry.get("time") or entry.get("timestamp") or ""),
                              f"{path.parent.name}: {entry.get('message')}"))
    return [text for _, text in sorted(lines)]


def _note_incident(facts: Facts, incident: str, opening: bool, results: Sequence[Any]) -> None:
    """Record whether a Cloud Monitoring webhook reached the service: a 202 did; a 5xx or no
    answer maybe did (ingest may have published it before its answer was lost); a 4xx did not."""
    if any(p.status == 202 for p in results):
        if opening:
            facts.accepted_opens = facts.accepted_opens | {incident}
        else:
            facts.accepted_closes = facts.accepted_closes | {incident}
    elif any(p.status is None or p.status >= 500 for p in results):
        if opening:
            facts.maybe_opens = facts.maybe_opens | {incident}
        else:
            facts.maybe_closes = facts.maybe_closes | {incident}
