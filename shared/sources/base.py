"""The Source type: what the flows call on an alert source, and the small types it is called with.

A source is one record of functions (a part it does not have is None), registered in the table
of ``shared/sources/__init__.py``. The flows look a source up there (ingest: the one that claims
a request; the worker: the message's ``source`` attribute; two-way sync and reconciliation: the
alert key's prefix) and never name one. Everything here is plain data and light to import: the
ingest function imports it on its cold-start path, so a slice imports its heavy parts (parsers,
API clients, verification libraries) inside the functions it registers.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from shared.core.errors import ConfigError, Permanent, Rejected
from shared.core.pubsub_attributes import MAX_VALUE_BYTES, encodable

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.core.envelope import PushMessage
    from shared.core.ledger import Record, Step
    from shared.core.links import LinkRequest, LinkSender
    from shared.core.settings import Settings
    from shared.routing.teams import TeamsConfig
    from shared.sources.build import Build, ReconcileParts, TaskSync
    from shared.sources.drift import Reconciler


# --- ingest: an HTTP request as plain data, and what a source makes of it ------------------------

@dataclass(frozen=True)
class Webhook:
    """An HTTP request as plain data; header names are lower-case."""

    method: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str
    query: Mapping[str, str] = field(default_factory=dict)  # the URL's query parameters
    path: str = "/"  # the URL's path


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to send back."""

    status: int
    body: Mapping[str, object] | Sequence[Mapping[str, object]]  # a list: a select's options
    headers: Mapping[str, str] = field(default_factory=dict)


class Message(NamedTuple):
    """One message to publish on the events topic: the raw body and its attributes."""

    body: bytes
    attributes: Mapping[str, str]


class Accepted(NamedTuple):
    """A verified request's messages, and how to answer once they are all published."""

    messages: tuple[Message, ...]
    #: The answer, given the published message ids (None: 202 with the first id, or 200
    #: "ignored" when there is none).
    reply: Callable[[Sequence[str]], Answer] | None = None


class IngestContext(Protocol):
    """What a source's ingest part is given (the ingest flow's dependencies)."""

    @property
    def secret(self) -> Callable[[str], tuple[str, ...]]:
        """Return a credential's active values (current first); raises ConfigError."""
        ...

    @property
    def now(self) -> Callable[[], datetime]:
        """Return the current time."""
        ...

    def service(self, name: str) -> Any:
        """Return what the source called ``name`` built for ingest (lazily), None if unwired."""
        ...


class Store(Protocol):
    """The ledger writes a source's part of the worker needs (joining a twin record)."""

    def get(self, key: str) -> tuple[Record | None, Any]:
        """Return the record of ``key`` and its version."""
        ...

    def create(self, record: Record) -> Any:
        """Store a new record; return its version, or None when the key already has one."""
        ...

    def update(self, record: Record, version: Any) -> Any:
        """Replace the record unless it changed since ``version``; return its new version."""
        ...


# --- the record of one source -------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Source:
    """One source: its name and, per flow, the functions that flow calls (None: no such part)."""

    name: str
    # -- ingest
    #: Whether a request is this source's, from its headers, query or path.
    claims: Callable[[Webhook], bool] | None = None
    #: Verify a claimed POST and say what to publish, or answer it directly (a handshake, a
    #: resource the service ignores). Raises Unauthorized, Rejected or ConfigError.
    accept: Callable[[Webhook, IngestContext], Accepted | Answer] | None = None
    #: The header that marks this source's requests, named when no source claims a request.
    claim_header: str | None = None
    #: The credentials its ingest part reads (shared/core/settings.py SECRET_READERS).
    credentials: tuple[str, ...] = ()
    #: URL path prefixes this source answers itself, whatever the method (Sentry's UI forms),
    #: and the function that answers them; nothing under them is published.
    paths: tuple[str, ...] = ()
    answer: Callable[[Webhook, IngestContext], Answer] | None = None
    #: Build, on the first request that needs it, what ``accept`` / ``answer`` reach through
    #: ``context.service(name)``; a failure is not remembered.
    ingest_service: Callable[[Build], Any] | None = None
    # -- the worker
    #: Messages the vendor publishes to Pub/Sub itself (no ingest, no attributes): (message,
    #: now, claimed: the push endpoint's ``?source=`` names this source) -> the message with
    #: the attributes ingest gives a webhook, None when it is not this source's.
    adopt: Callable[[PushMessage, datetime, bool], PushMessage | None] | None = None
    #: The webhook resources it publishes; the first is the one a bare ``key=value`` alert is.
    resources: tuple[str, ...] = ()
    #: (resource, payload) -> the alert's dedup key, None when the payload carries no usable id.
    alert_key: Callable[[str, object], str | None] | None = None
    #: (body, attributes) -> the normalized alert; Permanent when it never can be.
    parse: Callable[[bytes, Mapping[str, str]], Alert] | None = None
    #: Its messages are changes of tasks (the two-way sync), handled by the sync flow.
    task_changes: bool = False
    #: (body, task gid) -> who made each change a task-change message carries (user gids).
    changed_by: Callable[[bytes, str], list[str | None]] | None = None
    #: Give a new alert's key the task reconciliation opened for the same object, if any;
    #: (alert, records of the same object, store, now) -> whether it did.
    join: Callable[[Alert, Callable[[Alert], list[Record]], Store, datetime], bool] | None = None
    #: (alert, task gid, task url, team) -> the request that links a new task back; the
    #: sender of its requests (link-back and two-way sync) is built from the settings.
    link_request: Callable[[Alert, str, str, str], LinkRequest | None] | None = None
    link_sender: Callable[[Build], LinkSender] | None = None
    # -- two-way sync (a task completed or reopened in Asana)
    #: (record, step, task gid, settings) -> the request that tells the source; raises Untold
    #: when it has an API for it that this deployment cannot call.
    sync_request: Callable[[Record, Step, str, Settings], LinkRequest | None] | None = None
    #: (build, teams.yaml loader, team -> opted in) -> the tracker's reads and project watcher.
    task_sync: Callable[[Build, Callable[[], TeamsConfig], Callable[[str], bool]],
                        TaskSync] | None = None
    # -- reconciliation
    #: Its part of a run, None when the settings leave it off.
    reconciler: Callable[[Build, ReconcileParts], Reconciler | None] | None = None
    #: What to set to reconcile it, for a dry run that finds it off.
    reconcile_settings: str = ""
    # -- explain-route
    #: (saved body) -> the resource it is, None when it is not this source's.
    sniff: Callable[[object], str | None] | None = None
    #: Resources it sends that the service answers 200 and ignores, with why (explain-route).
    ignored: Mapping[str, str] = field(default_factory=dict)
    #: The Alert field its severity is in (explain-route's ``key=value`` alerts).
    severity_field: str | None = None


class Untold(Exception):
    """The source has an API for a task's change, but this deployment cannot call it."""

    def __init__(self, reason: str, why: str) -> None:
        super().__init__(why)
        self.reason = reason  # the log line's words: "SENTRY_ORG is not set"


class Sources:
    """The registered sources, in order, and the lookups the flows make in them."""

    def __init__(self, *sources: Source) -> None:
        names = [source.name for source in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique: {names}")
        self._sources = sources
        self._by_name = {source.name: source for source in sources}

    def __iter__(self) -> Iterator[Source]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def names(self) -> tuple[str, ...]:
        """Return every source's name, in order."""
        return tuple(self._by_name)

    def only(self, names: tuple[str, ...], setting: str) -> Sources:
        """Return the table narrowed to ``names`` (all of it when empty), in the table's order;
        a ConfigError naming ``setting`` for a name no source has."""
        unknown = [name for name in names if name not in self._by_name]
        if unknown:
            hints = [f"{name!r}" + "".join(f" (did you mean {m!r}?)" for m in
                                            difflib.get_close_matches(name, self.names(), 1))
                     for name in unknown]
            raise ConfigError(f"{setting}: no such source {', '.join(hints)}; the sources are "
                              f"{', '.join(self.names())}")
        return Sources(*(s for s in self._sources if not names or s.name in names))

    def named(self, name: str | None) -> Source | None:
        """Return the source called ``name``."""
        return self._by_name.get(name or "")

    def of_key(self, key: str) -> Source | None:
        """Return the source of an alert key (``sentry:issue:1`` is Sentry's)."""
        return self.named(key.partition(":")[0])

    def answering(self, path: str) -> Source | None:
        """Return the source that answers requests under ``path`` itself."""
        return next((s for s in self._sources if s.answer is not None
                     and any(path.startswith(prefix) for prefix in s.paths)), None)

    def claiming(self, hook: Webhook) -> Source | None:
        """Return the first source, in the table's order, that claims a request."""
        return next((s for s in self._sources if s.claims is not None and s.claims(hook)), None)

    def claim_headers(self) -> tuple[str, ...]:
        """Return the headers that mark a source's requests."""
        return tuple(s.claim_header for s in self._sources if s.claim_header)

    def parsing(self) -> tuple[str, ...]:
        """Return the names of the sources whose messages are alerts."""
        return tuple(s.name for s in self._sources if s.parse is not None)

    def parse_alert(self, body: bytes, attributes: Mapping[str, str]) -> Alert:
        """Normalize a message by its ``source`` attribute; Permanent if it never can be."""
        name = (attributes.get("source") or "").strip() or None
        source = self.named(name)
        if source is None or source.parse is None:
            expected = " or ".join(repr(n) for n in self.parsing())
            raise Permanent(f"pubsub message: attribute 'source' is {name!r}, expected "
                            f"{expected}", reason="bad_payload")
        return source.parse(body, attributes)

    def adopted(self, message: PushMessage, named: str | None, now: datetime) -> PushMessage:
        """Return a message with the attributes of its source when the vendor published it.

        A message with a ``source`` attribute came through ingest or reconciliation and is
        returned as it is. Otherwise the source ``named`` by the push endpoint adopts it, or,
        when none is named (a vendor's message replayed from the dead letters), the first
        source that recognises it.
        """
        if message.attributes.get("source"):
            return message
        source = self.named(named)
        candidates = [source] if source is not None else list(self._sources)
        for candidate in candidates:
            if candidate.adopt is not None:
                adopted = candidate.adopt(message, now, candidate is source)
                if adopted is not None:
                    return adopted
        return message

    def alert_key(self, name: str, resource: str, payload: object) -> str | None:
        """Return the dedup key a source gives a payload, None when it carries no usable id."""
        source = self.named(name)
        if source is None or source.alert_key is None:
            return None
        return source.alert_key(resource, payload)


# --- helpers the slices share ---------------------------------------------------------------------

def json_payload(body: bytes) -> dict[str, object]:
    """Decode a webhook body that must be a JSON object; Rejected (400) says what it is instead."""
    from shared.core.payload import json_object

    try:
        return json_object(body)
    except ValueError as error:
        raise Rejected(str(error), reason="malformed") from error


def json_message(body: bytes, unit: str) -> dict[str, object]:
    """Decode a published body that must be a JSON object; Permanent names the webhook."""
    from shared.core.payload import json_object

    try:
        return json_object(body)
    except ValueError as error:
        raise Permanent(f"{unit}: {error}", reason="bad_payload") from error


def alert_attributes(hook: Webhook, now: datetime, *, source: str, resource: str,
                     action: object, key: str | None, unit: str,
                     key_fields: str) -> dict[str, str]:
    """Return the attributes of an alert webhook's message (issue 15's contract).

    ``unit`` names the webhook in messages ("sentry issue webhook") and ``key_fields`` the
    payload fields its key comes from; Rejected (400) when the key is missing or unusable.
    """
    if key is None:
        raise Rejected(f"{unit} carries no alert id ({key_fields})", reason="malformed")
    if len(key.encode("utf-8", errors="replace")) > MAX_VALUE_BYTES:
        # Cutting it would merge distinct alerts into one task.
        raise Rejected(f"{unit}: alert id longer than {MAX_VALUE_BYTES} bytes",
                       reason="malformed")
    return {
        "source": source,
        "resource": resource,
        "action": _unicode("action", "" if action is None else str(action)),
        "alert_key": _unicode("alert id", key),
        "received_at": now.isoformat(timespec="milliseconds"),
        "request_id": hook.request_id,
    }


def _unicode(field: str, text: str) -> str:
    """Return ``text``; refuse it when it holds a lone surrogate, which nothing can encode."""
    if encodable(text) != text:
        raise Rejected(f"{field} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff "
                       "escape), which is not valid Unicode", reason="malformed")
    return text
