"""What a history is, and how a seed becomes one (pure: no I/O, one seeded RNG per history).

A history is a few alerts and a schedule of steps over them:

- what happens at the alert's source (a Sentry issue's first event, another event or a
  regression, a person resolving or reopening it in Sentry; a Datadog monitor triggering and
  recovering; a Cloud Monitoring policy opening and closing incidents), each webhook that
  results getting a *fate*: delivered, lost (Sentry does not retry), duplicated (the same
  request twice) or late (held back until after the first reconciliation run);
- people completing and reopening the alert's task in Asana;
- faults in the environment: a dependency of the service refusing, black-holing, slowing or
  resetting its connections (through the fault proxy), an emulator frozen (SIGSTOP), a worker
  killed at a named failpoint, Asana refusing requests for a moment (so messages dead-letter),
  an Asana webhook deleted, the dead letters replayed.

Sources are registered in KINDS (one row per kind of alert: its source, its team, and what can
happen to it); a new source (Google Cloud Monitoring, CloudWatch) is a new row here, a world
fake in tests/fakes, and its adapter in sources.py.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.core.failpoints import POINTS

#: The chance that a fault follows a step (a history has 0.4 of them on average).
FAULT_CHANCE = 0.06
FATES = ("deliver", "lose", "duplicate", "late")
FATE_WEIGHTS = (80, 8, 7, 5)
PROXIED = ("firestore", "pubsub", "asana", "sentry")
PROXY_WEIGHTS = (4, 3, 1, 1)
PROXY_MODES = ("refuse", "refuse-reset", "blackhole", "latency", "reset-mid-response")
PROXY_MODE_WEIGHTS = (3, 1, 2, 2, 2)
FROZEN = ("firestore", "pubsub")
ENVIRONMENT = ("proxy", "freeze", "kill", "asana-refuses", "delete-webhook", "replay")
ENVIRONMENT_WEIGHTS = (8, 2, 2, 2, 1, 2)


@dataclass(frozen=True)
class Transition:
    """Something that can happen to an alert: who does it, and what a tester then believes."""

    action: str
    actor: str  # "sentry", "datadog" (the source) or "asana" (a person on the task)
    weight: int
    then: str  # the state the alert is believed to be in afterwards


@dataclass(frozen=True)
class Kind:
    """One kind of alert: its source, the team it routes to, and what can happen to it."""

    name: str
    source: str
    team: str
    syncs: bool  # the team has sync_back: true
    project: str  # the team's Asana project
    fire: str  # the action that first fires it
    moves: Mapping[str, tuple[Transition, ...]]  # believed state -> what can happen next


SYNC_PROJECT = "1300000000001001"  # shared by Sync (sync_back) and Quiet (no sync_back)
MONITORS_PROJECT = "1300000000003001"

_SENTRY_MOVES = {
    "open": (Transition("resolve", "sentry", 4, "resolved"),
             Transition("complete", "asana", 4, "resolved"),
             Transition("event", "sentry", 2, "open"),
             Transition("reopen", "asana", 1, "open")),
    "resolved": (Transition("unresolve", "sentry", 3, "open"),
                 Transition("reopen", "asana", 4, "open"),
                 Transition("event", "sentry", 3, "open"),
                 Transition("resolve", "sentry", 1, "resolved"),
                 Transition("complete", "asana", 1, "resolved")),
}
_DATADOG_MOVES = {
    "alert": (Transition("recover", "datadog", 1, "ok"),),
    "ok": (Transition("trigger", "datadog", 1, "alert"),),
}
#: A Cloud Monitoring policy: each opening is a new incident (closed ones never reopen).
_GCM_MOVES = {
    "firing": (Transition("close", "gcm", 1, "quiet"),),
    "quiet": (Transition("open", "gcm", 1, "firing"),),
}

#: A CloudWatch alarm: its task follows ALARM and OK; INSUFFICIENT_DATA only notes.
_CLOUDWATCH_MOVES = {
    "alarm": (Transition("ok", "cloudwatch", 3, "ok"),
              Transition("no-data", "cloudwatch", 1, "no-data")),
    "ok": (Transition("alarm", "cloudwatch", 3, "alarm"),
           Transition("no-data", "cloudwatch", 1, "no-data")),
    "no-data": (Transition("alarm", "cloudwatch", 1, "alarm"),
                Transition("ok", "cloudwatch", 1, "ok")),
}

KINDS: dict[str, Kind] = {
    "sentry-sync": Kind("sentry-sync", "sentry", "Sync", True, SYNC_PROJECT, "fire",
                        _SENTRY_MOVES),
    "sentry-quiet": Kind("sentry-quiet", "sentry", "Quiet", False, SYNC_PROJECT, "fire",
                         _SENTRY_MOVES),
    "datadog": Kind("datadog", "datadog", "Monitors", True, MONITORS_PROJECT, "trigger",
                    _DATADOG_MOVES),
    "gcm": Kind("gcm", "gcm", "Monitors", True, MONITORS_PROJECT, "open", _GCM_MOVES),
    "cloudwatch": Kind("cloudwatch", "cloudwatch", "Monitors", False, MONITORS_PROJECT,
                       "alarm", _CLOUDWATCH_MOVES),
}
KIND_WEIGHTS = {"sentry-sync": 5, "sentry-quiet": 2, "datadog": 3, "gcm": 2, "cloudwatch": 2}
_FIRST_STATE = {"fire": "open", "trigger": "alert", "open": "firing", "alarm": "alarm"}


@dataclass(frozen=True)
class AlertSpec:
    """One alert of a history."""

    kind: str
    tag: str  # unique, in the alert's title and so in its task's name
    external_id: str  # the Sentry issue id, the Datadog monitor id or the GCM policy id

    @property
    def spec(self) -> Kind:
        """Return the alert's kind."""
        return KINDS[self.kind]


@dataclass(frozen=True)
class Step:
    """One step of a schedule."""

    actor: str  # "sentry", "datadog", "asana" or "env"
    action: str
    alert: int | None = None  # index into History.alerts
    fates: tuple[str, ...] = ()  # for a source's webhooks, in the order they are sent
    target: str = ""  # env: the dependency, failpoint or project
    mode: str = ""  # env proxy: the mode
    seconds: float = 0.0  # env: how long the fault lasts (latency: the delay in `amount`)
    amount: float = 0.0  # env: latency seconds, bytes before a reset, requests refused

    def describe(self, alerts: tuple[AlertSpec, ...]) -> str:
        """Return the step in words."""
        if self.actor == "env":
            return _describe_env(self)
        alert = alerts[self.alert if self.alert is not None else 0]
        who = {"sentry": "in Sentry", "datadog": "in Datadog", "gcm": "in Cloud Monitoring",
               "cloudwatch": "in CloudWatch", "asana": "a person in Asana"}
        fates = f" [fate of each webhook sent: {', '.join(self.fates)}]" if self.fates else ""
        return f"{alert.tag}: {self.action} ({who[self.actor]}){fates}"


def _describe_env(step: Step) -> str:
    if step.action == "proxy":
        extra = {"latency": f" +{step.amount:.1f}s each way",
                 "reset-mid-response": f" after {int(step.amount)} bytes"}.get(step.mode, "")
        return f"env: {step.target} proxy {step.mode}{extra} for {step.seconds:.1f}s"
    if step.action == "freeze":
        return f"env: {step.target} emulator frozen (SIGSTOP) for {step.seconds:.1f}s"
    if step.action == "kill":
        return f"env: arm SIGKILL of a worker instance at failpoint {step.target}"
    if step.action == "asana-refuses":
        return f"env: Asana answers the next {int(step.amount)} requests 400 (dead letters)"
    if step.action == "delete-webhook":
        return f"env: Asana deletes the webhook of project {step.target}"
    return "env: an operator replays the dead letters"


@dataclass(frozen=True)
class History:
    """A seed's alerts and schedule."""

    seed: int
    alerts: tuple[AlertSpec, ...]
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def describe(self) -> list[str]:
        """Return the schedule as numbered lines."""
        lines = [f"history seed={self.seed}"]
        for alert in self.alerts:
            kind = alert.spec
            lines.append(f"  alert {alert.tag}: {kind.source} {alert.external_id}, team "
                         f"{kind.team} ({'sync_back' if kind.syncs else 'no sync_back'})")
        lines += [f"  {n:>2}. {step.describe(self.alerts)}"
                  for n, step in enumerate(self.steps, start=1)]
        return lines


def external_id(kind: Kind, seed: int, index: int) -> str:
    """Return a Sentry issue id, Datadog monitor id or Cloud Monitoring policy id unique to
    (seed, index)."""
    base = {"sentry": 9_000_000_000, "gcm": 7_000_000_000}.get(kind.source, 8_000_000_000)
    return str(base + seed * 10 + index)


def generate(seed: int, *, faults: bool = True) -> History:
    """Return the history of ``seed``: 1-3 alerts, 4-10 of their steps, and a few faults."""
    rng = random.Random(seed)
    names = list(KIND_WEIGHTS)
    count = rng.choice((1, 2, 2, 3))
    alerts = tuple(AlertSpec(kind, f"h{seed}-a{n}", external_id(KINDS[kind], seed, n))
                   for n, kind in enumerate(rng.choices(names, [KIND_WEIGHTS[k] for k in names],
                                                        k=count), start=1))
    believed: dict[int, str] = {}
    steps: list[Step] = []
    for _ in range(rng.randint(4, 10)):
        unfired = [i for i in range(len(alerts)) if i not in believed]
        if unfired and (not believed or rng.random() < 0.5):
            index = rng.choice(unfired)
            kind = alerts[index].spec
            believed[index] = _FIRST_STATE[kind.fire]
            steps.append(Step(kind.source, kind.fire, index, _fates(rng)))
        else:
            index = rng.choice(sorted(believed))
            moves = alerts[index].spec.moves[believed[index]]
            move = rng.choices(moves, [m.weight for m in moves])[0]
            believed[index] = move.then
            steps.append(Step(move.actor, move.action, index,
                              _fates(rng) if move.actor != "asana" else ()))
        if faults and rng.random() < FAULT_CHANCE:
            steps.append(_environment(rng, alerts))
    for index in range(len(alerts)):  # an alert the schedule never reached fires last
        if index not in believed:
            kind = alerts[index].spec
            steps.append(Step(kind.source, kind.fire, index, _fates(rng)))
    return History(seed, alerts, tuple(steps))


def _fates(rng: random.Random) -> tuple[str, ...]:
    # An action sends one or two webhooks (a regression: issue.unresolved and event_alert).
    return tuple(rng.choices(FATES, FATE_WEIGHTS, k=2))


def _environment(rng: random.Random, alerts: tuple[AlertSpec, ...]) -> Step:
    action = rng.choices(ENVIRONMENT, ENVIRONMENT_WEIGHTS)[0]
    if action == "proxy":
        mode = rng.choices(PROXY_MODES, PROXY_MODE_WEIGHTS)[0]
        amount = {"latency": round(rng.uniform(0.2, 1.0), 1),
                  "reset-mid-response": float(rng.choice((1, 64, 512)))}.get(mode, 0.0)
        return Step("env", action, target=rng.choices(PROXIED, PROXY_WEIGHTS)[0], mode=mode,
                    seconds=round(rng.uniform(0.3, 1.5), 1), amount=amount)
    if action == "freeze":
        return Step("env", action, target=rng.choice(FROZEN),
                    seconds=round(rng.uniform(0.5, 2.0), 1))
    if action == "kill":
        return Step("env", action, target=rng.choice(POINTS))
    if action == "asana-refuses":
        return Step("env", action, amount=float(rng.randint(2, 4)))
    if action == "delete-webhook":
        return Step("env", action, target=rng.choice(alerts).spec.project)
    return Step("env", "replay")
