"""Each alert source of the histories: how its actions are done in its vendor world, whose
messages its ids are, and what the user sees at the source when the history is over.

The extension point for a new source (Google Cloud Monitoring, CloudWatch): a world fake in
tests/fakes, a Kind row in model.KINDS, a class here registered in ``SOURCES``, and a check in
invariants.CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tests.fakes.cloudwatch_world import CLOUDWATCH_LAG, CloudWatchWorld
from tests.fakes.datadog_world import DatadogWorld
from tests.fakes.gcm_world import GCM_LAG, GcmWorld
from tests.fakes.sentry_world import Person, SentryWorld
from tests.fakes.vendor_world import DATADOG_LAG, SENTRY_LAG, Webhook, WorldClock
from tests.reliability.histories.invariants import CloudWatchEnd, DatadogEnd, GcmEnd, SentryEnd
from tests.reliability.histories.model import AlertSpec

#: Sentry users who resolve and reopen issues in Sentry's UI.
PEOPLE = (Person("2740133", "Chloé Martin"), Person("2740188", "Ravi Patel"))
SENTRY_PROJECTS = {"Sync": "hist-sync", "Quiet": "hist-quiet"}


def title(alert: AlertSpec) -> str:
    """Return the alert's title: its tag in parentheses lets a test find its tasks by name."""
    if alert.spec.source == "datadog":
        return f"Checkout latency above 2s ({alert.tag})"
    if alert.spec.source == "gcm":
        return f"Checkout p99 latency ({alert.tag})"
    if alert.spec.source == "cloudwatch":
        return f"Checkout ALB latency ({alert.tag})"
    return f"KeyError: 'owner' ({alert.tag})"


@dataclass
class Facts:
    """What a history learnt while it ran that its source's end state depends on."""

    person_changed_task: bool = False
    accepted_cycles: frozenset[str] = frozenset()  # Datadog cycles whose Triggered got a 202
    #: Cloud Monitoring incidents whose open, and whose close, got a 202.
    accepted_opens: frozenset[str] = frozenset()
    accepted_closes: frozenset[str] = frozenset()
    #: ... and those whose open, or close, was answered 5xx or not at all: maybe published.
    maybe_opens: frozenset[str] = frozenset()
    maybe_closes: frozenset[str] = frozenset()
    #: What of this alert may not have reached the service (a lost, late or refused webhook,
    #: a person's change no webhook delivered): empty, the sides must agree before any
    #: reconciliation.
    missed: list[str] = field(default_factory=list)


class Source(Protocol):
    """One alert source, over its vendor world."""

    def setup(self, alert: AlertSpec, seed: int, own: Callable[[str], None]) -> None:
        """Create the alert's world object (not yet firing); ``own`` claims ids for the run."""
        ...

    def act(self, alert: AlertSpec, action: str, seed: int) -> list[Webhook]:
        """Do ``action`` at the source; return the webhooks it sends (none: nothing changed)."""
        ...

    def end(self, alert: AlertSpec, facts: Facts) -> object:
        """Return the source's side of the alert at the end (an invariants.*End)."""
        ...


class SentrySource:
    """Sentry issues: first event, more events (regressions), people resolving, reopening."""

    def __init__(self, world: SentryWorld, rules: dict[str, str]) -> None:
        self.world = world
        self.rules = rules  # project slug -> alert rule id

    def setup(self, alert: AlertSpec, seed: int, own: Callable[[str], None]) -> None:
        own(f"issue:{alert.external_id}")

    def act(self, alert: AlertSpec, action: str, seed: int) -> list[Webhook]:
        issue = alert.external_id
        if action == "fire":
            project = SENTRY_PROJECTS[alert.spec.team]
            clock = WorldClock(SENTRY_LAG)
            return self.world.open_issue(issue, project, title(alert), clock, self.rules[project])
        if action == "event":
            return self.world.new_event(issue)
        person = PEOPLE[seed % len(PEOPLE)]
        if action == "resolve":
            return self.world.resolve(issue, person)
        return self.world.unresolve(issue, person)

    def end(self, alert: AlertSpec, facts: Facts) -> SentryEnd:
        changes = self.world.changed_by_service(alert.external_id)
        return SentryEnd(self.world.status(alert.external_id), tuple(c.status for c in changes),
                         facts.person_changed_task)


class DatadogSource:
    """Datadog monitors: triggering (a new alert cycle) and recovering."""

    def __init__(self, world: DatadogWorld, tags: list[str]) -> None:
        self.world = world
        self.tags = tags

    def setup(self, alert: AlertSpec, seed: int, own: Callable[[str], None]) -> None:
        monitor = int(alert.external_id)
        # A monitor evaluates at most once a minute: its transitions are 30 s apart at least.
        clock = WorldClock(DATADOG_LAG, least=30)
        self.world.add_world_monitor(monitor, title(alert), clock, self.tags)
        own(f"monitor:{monitor}")

    def act(self, alert: AlertSpec, action: str, seed: int) -> list[Webhook]:
        monitor = int(alert.external_id)
        return self.world.trigger(monitor) if action == "trigger" else self.world.recover(monitor)

    def end(self, alert: AlertSpec, facts: Facts) -> DatadogEnd:
        monitor = int(alert.external_id)
        cycles = self.world.cycles[monitor]
        state = self.world.state(monitor)
        accepted = sum(1 for c in cycles if c.key in facts.accepted_cycles)
        return DatadogEnd(state, len(cycles), accepted)


class GcmSource:
    """Cloud Monitoring policies: opening incidents and closing them (webhook_tokenauth)."""

    def __init__(self, world: GcmWorld) -> None:
        self.world = world

    def setup(self, alert: AlertSpec, seed: int, own: Callable[[str], None]) -> None:
        self.world.add_policy(alert.external_id, title(alert), WorldClock(GCM_LAG))
        own(f"policy:{alert.external_id}")

    def act(self, alert: AlertSpec, action: str, seed: int) -> list[Webhook]:
        policy = alert.external_id
        return self.world.open(policy) if action == "open" else self.world.close(policy)

    def end(self, alert: AlertSpec, facts: Facts) -> GcmEnd:
        incidents = self.world.incidents[alert.external_id]
        opened = [i.incident_id for i in incidents if i.incident_id in facts.accepted_opens]
        maybe = [i.incident_id for i in incidents
                 if i.incident_id in facts.accepted_opens | facts.maybe_opens]
        closed, maybe_closed = facts.accepted_closes, facts.accepted_closes | facts.maybe_closes
        return GcmEnd(len(incidents), sum(1 for i in opened if i not in maybe_closed),
                      sum(1 for i in maybe if i not in closed), len(maybe))


class CloudWatchSource:
    """CloudWatch alarms: ALARM, OK and INSUFFICIENT_DATA, each sent as an SNS notification."""

    STATES = {"alarm": "ALARM", "ok": "OK", "no-data": "INSUFFICIENT_DATA"}

    def __init__(self, world: CloudWatchWorld) -> None:
        self.world = world

    def setup(self, alert: AlertSpec, seed: int, own: Callable[[str], None]) -> None:
        self.world.add_alarm(alert.external_id, title(alert), WorldClock(CLOUDWATCH_LAG))
        own(f"alarm:{alert.external_id}")

    def act(self, alert: AlertSpec, action: str, seed: int) -> list[Webhook]:
        return self.world.set_state(alert.external_id, self.STATES[action])

    def end(self, alert: AlertSpec, facts: Facts) -> CloudWatchEnd:
        alarm = self.world.alarm(alert.external_id)
        # A late notification is delivered before the end; a lost one never is.
        judged = all(word.endswith(" late") for word in facts.missed)
        return CloudWatchEnd(alarm.state, alarm.decisive, judged)
