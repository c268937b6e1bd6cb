"""Replay dead letters: what to republish, which ones to pick, and the pull/ack loop over them."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from shared.core.envelope import DeadLetter, Pulled
from shared.core.errors import AlertBridgeError

#: Attributes added on the way into the dead-letter topic, by the worker (dead_letter_* and
#: dead_lettered_at) or by Pub/Sub itself (CloudPubSubDeadLetter*).
BOOKKEEPING_PREFIXES = ("dead_letter", "CloudPubSubDeadLetter")
#: Reason shown for messages Pub/Sub dead-lettered after max_delivery_attempts.
EXHAUSTED = "max_delivery_attempts"
SUMMARY_ERROR_CHARS = 160
BATCH_SIZE = 100
#: After this many failed publishes in a row the target is down or unreachable: trying the rest
#: would only take longer and fail the same way.
MAX_CONSECUTIVE_FAILURES = 3
#: Attribute naming the replay run that republished a message. The worker and Pub/Sub both keep
#: a message's attributes when they dead-letter it, so a letter carrying the current run's id
#: was replayed by this very run and failed again: replaying it once more would only loop.
RUN_ATTRIBUTE = "replay_run_id"

Outcome = Literal["replayed", "unacked", "unpublished"]


@dataclass(frozen=True)
class Selection:
    """Which dead letters to act on; an empty criterion matches everything."""

    reason: str | None = None
    source: str | None = None
    key: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """Tell whether ``letter`` passes every criterion that is set."""
        attributes = letter.attributes
        if self.reason and reason_of(attributes) != self.reason:
            return False
        if self.source and attributes.get("source", "") != self.source:
            return False
        return not self.key or self.key in attributes.get("alert_key", "")


@dataclass(frozen=True)
class Republish:
    """What to publish to the events topic for one dead letter."""

    data: bytes
    attributes: dict[str, str]


@dataclass
class ReplayReport:
    """What one replay run did."""

    replayed: int = 0
    skipped: int = 0
    failures: list[tuple[DeadLetter, str]] = field(default_factory=list)
    #: Letters this run replayed that were dead-lettered again before it ended: still broken.
    returned: list[DeadLetter] = field(default_factory=list)
    stopped_early: str = ""  # why the run gave up before the subscription was drained

    @property
    def failed(self) -> int:
        """Count the dead letters left in the subscription because their replay failed."""
        return len(self.failures)


class Inbox(Protocol):
    """The dead-letter subscription, seen through the three operations replay needs."""

    def pull(self, max_messages: int) -> list[Pulled]:
        """Lease up to ``max_messages``; an empty list means nothing is waiting."""

    def ack(self, ack_id: str) -> None:
        """Remove a message for good; raise AlertBridgeError if that was not confirmed."""

    def release(self, ack_ids: Sequence[str]) -> None:
        """Give leased messages back to the subscription at once (deadline 0)."""


def is_bookkeeping(name: str) -> bool:
    """Tell whether an attribute was added by dead-lettering rather than by ingest."""
    return name.startswith(BOOKKEEPING_PREFIXES)


def reason_of(attributes: Mapping[str, str]) -> str:
    """Return why the message was dead-lettered: the worker's reason, or retries exhausted."""
    reason = attributes.get("dead_letter_reason", "").strip()
    if reason:
        return reason
    if "CloudPubSubDeadLetterSourceDeliveryCount" in attributes:
        return EXHAUSTED
    return "unknown"


def error_of(attributes: Mapping[str, str]) -> str:
    """Return the error that dead-lettered the message, or how Pub/Sub gave up on it."""
    error = attributes.get("dead_letter_error", "")
    if error:
        return error
    count = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount")
    if count is None:
        return ""
    subscription = attributes.get("CloudPubSubDeadLetterSourceSubscription", "?")
    return f"not acknowledged after {count} deliveries from {subscription}"


def plan_republish(letter: DeadLetter, now: datetime, run_id: str) -> Republish:
    """Return the original message with its bookkeeping removed and the replay recorded."""
    attributes = {k: v for k, v in letter.attributes.items() if not is_bookkeeping(k)}
    attributes["replay_count"] = str(_count(letter.attributes.get("replay_count")) + 1)
    attributes["replayed_at"] = now.isoformat(timespec="seconds")
    attributes[RUN_ATTRIBUTE] = run_id
    return Republish(letter.data, attributes)


def _count(raw: str | None) -> int:
    # A garbled count must not block a replay; the worker never reads it.
    try:
        return max(int(raw or "0"), 0)
    except ValueError:
        return 0


def summary(letter: DeadLetter) -> str:
    """Return one printable line: when, reason, source, alert key, error."""
    attributes = letter.attributes
    when = attributes.get("dead_lettered_at") or letter.published_at or "-"
    error = _one_line(error_of(attributes))
    if len(error) > SUMMARY_ERROR_CHARS:
        error = error[:SUMMARY_ERROR_CHARS - 1] + "…"
    fields = (when, reason_of(attributes), attributes.get("source") or "-",
              _one_line(attributes.get("alert_key", "")) or "-", error or "-")
    return "  ".join(fields)


def _one_line(text: str) -> str:
    # Errors quote webhook text: drop control characters (newlines, terminal escapes).
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(visible.split())


def count_by_reason(letters: Iterable[DeadLetter]) -> dict[str, int]:
    """Return how many dead letters there are per reason, most frequent first."""
    return dict(Counter(reason_of(letter.attributes) for letter in letters).most_common())


def peek(inbox: Inbox, selection: Selection, limit: int) -> list[DeadLetter]:
    """Return up to ``limit`` selected dead letters and give every one back, acking none."""
    leases = _Leases(inbox)
    found: list[DeadLetter] = []
    try:
        for pulled in leases.pull(lambda: limit - len(found)):
            if selection.matches(pulled.letter):
                found.append(pulled.letter)
    finally:
        leases.release_all()
    return found


def replay(inbox: Inbox, publish: Callable[[bytes, Mapping[str, str]], str],
           selection: Selection, limit: int, now: Callable[[], datetime], run_id: str,
           progress: Callable[[ReplayReport], None] = lambda report: None) -> ReplayReport:
    """Republish up to ``limit`` selected dead letters, each at most once in this run; ack each
    only once its publish is confirmed, and give everything else back to the subscription."""
    report = ReplayReport()
    leases = _Leases(inbox)
    streak = 0  # failed publishes in a row

    def wanted() -> int:
        return 0 if report.stopped_early else limit - report.replayed - report.failed

    try:
        for pulled in leases.pull(wanted):
            if report.stopped_early:
                continue
            if pulled.letter.attributes.get(RUN_ATTRIBUTE) == run_id:
                report.returned.append(pulled.letter)  # held, then given back at the end
                continue
            if not selection.matches(pulled.letter):
                report.skipped += 1
                continue
            outcome = _replay_one(pulled, leases, publish, now(), run_id, report)
            streak = streak + 1 if outcome == "unpublished" else 0
            if streak >= MAX_CONSECUTIVE_FAILURES:
                report.stopped_early = f"stopped after {streak} failed publishes in a row"
            progress(report)
    finally:
        leases.release_all()
    return report


def _replay_one(pulled: Pulled, leases: _Leases,
                publish: Callable[[bytes, Mapping[str, str]], str], now: datetime,
                run_id: str, report: ReplayReport) -> Outcome:
    """Republish then ack one dead letter, recording a failure in ``report``."""
    plan = plan_republish(pulled.letter, now, run_id)
    try:
        publish(plan.data, plan.attributes)
    except AlertBridgeError as error:
        report.failures.append((pulled.letter, f"not republished: {error}"))
        return "unpublished"
    try:
        leases.ack(pulled.ack_id)
    except AlertBridgeError as error:
        # Published but still in the subscription: a later replay sends it again, and the
        # worker's de-duplication by alert key makes that harmless.
        report.failures.append((pulled.letter, f"republished but not acknowledged: {error}"))
        return "unacked"
    report.replayed += 1
    return "replayed"


class _Leases:
    """The messages one run has pulled and not acked; all given back together at the end, so
    none is pulled twice in the run and none stays invisible after it."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._open: dict[str, None] = {}  # ack ids in pull order
        self._seen: set[str] = set()

    def pull(self, wanted: Callable[[], int]) -> Iterator[Pulled]:
        """Yield new messages until the subscription is empty or ``wanted`` drops to 0."""
        while wanted() > 0:
            batch = self._inbox.pull(min(BATCH_SIZE, wanted()))
            # A message seen twice had its lease lapse mid-run: what is new has been covered.
            fresh = [p for p in batch if p.letter.message_id not in self._seen]
            _release(self._inbox, [p.ack_id for p in batch if p not in fresh])
            if not fresh:
                return
            for pulled in fresh:
                self._seen.add(pulled.letter.message_id)
                self._open[pulled.ack_id] = None
            yield from fresh

    def ack(self, ack_id: str) -> None:
        """Ack one message for good."""
        self._inbox.ack(ack_id)
        del self._open[ack_id]

    def release_all(self) -> None:
        """Give back every message pulled and not acked."""
        _release(self._inbox, list(self._open))
        self._open.clear()


def _release(inbox: Inbox, ack_ids: Sequence[str]) -> None:
    for start in range(0, len(ack_ids), BATCH_SIZE):
        inbox.release(ack_ids[start:start + BATCH_SIZE])
