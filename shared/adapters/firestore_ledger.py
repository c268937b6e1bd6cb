"""The alert ledger on Firestore: atomic create(), and writes conditional on update_time."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type

from shared.adapters.google_errors import describe
from shared.core.errors import Transient
from shared.core.ledger import Record, from_document, to_document

Version = Any  # the document's update_time; opaque to callers
T = TypeVar("T")

#: One call, every attempt included: a healthy Firestore answers in milliseconds, and the
#: ingest function itself is cut off after 10 s (terraform/functions.tf).
CALL_TIMEOUT_SECONDS = 5.0
#: No retry starts later than this after the first attempt. The client's own defaults (300 s
#: for reads, 60 s for writes) kept a webhook, a push or a command waiting minutes on a
#: Firestore that refused connections; anything longer than a blip is retried by Pub/Sub, the
#: sender or the operator. Shorter than CALL_TIMEOUT_SECONDS, so an attempt that used the whole
#: timeout is never followed by another (the client would give that one the full timeout again).
RETRY_DEADLINE_SECONDS = 4.0

# What a second attempt can fix, as the client's defaults have it. A read is also retried when
# it timed out (it changed nothing; a long query resumes after its last document); a write
# only when it never ran (refused, throttled): a timed-out conditional write may have been
# applied, and its retry would then fail its own precondition and look like a lost race.
_RETRY_READ = (api_exceptions.ServiceUnavailable, api_exceptions.InternalServerError,
               api_exceptions.DeadlineExceeded, api_exceptions.ResourceExhausted)
_RETRY_WRITE = (api_exceptions.ServiceUnavailable, api_exceptions.ResourceExhausted)


def _retry(*retryable: type[Exception]) -> Retry:
    return Retry(predicate=if_exception_type(*retryable), initial=0.2, maximum=2.0,
                 multiplier=2.0, timeout=RETRY_DEADLINE_SECONDS)


_READS, _WRITES = _retry(*_RETRY_READ), _retry(*_RETRY_WRITE)

_TRANSIENT = (api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
              api_exceptions.InternalServerError, api_exceptions.Aborted,
              api_exceptions.ResourceExhausted, api_exceptions.Unknown,
              api_exceptions.RetryError)
_LOST_RACE = (api_exceptions.Conflict, api_exceptions.AlreadyExists,
              api_exceptions.FailedPrecondition, api_exceptions.NotFound)


def bounded(*, write: bool = False) -> dict[str, Any]:
    """Return the ``timeout`` and ``retry`` of every Firestore call: seconds, never minutes.

    Refused connections fail after about RETRY_DEADLINE_SECONDS, a call nobody answers after
    CALL_TIMEOUT_SECONDS: about 5 s either way.
    """
    return {"timeout": CALL_TIMEOUT_SECONDS, "retry": _WRITES if write else _READS}


def document_id(key: str) -> str:
    """Return the document id of an alert key (keys may hold characters ids cannot)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class FirestoreLedger:
    """Ledger records in one collection, one document per alert key."""

    def __init__(self, project: str, collection: str, client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project)
        self._client = client
        self._collection = client.collection(collection)

    def get(self, key: str) -> tuple[Record | None, Version]:
        """Return the record of ``key`` (None if absent) and its version."""
        snapshot = call(lambda: self._ref(key).get(**bounded()))
        if not snapshot.exists:
            return None, None
        return from_document(snapshot.to_dict()), snapshot.update_time

    def create(self, record: Record) -> Version | None:
        """Store a new record unless a live one exists; return its version, or None if one did.

        create() is atomic: of two deliveries racing on a new alert exactly one wins. A record
        that expired by ``record.created_at`` counts as absent, as the ledger's decision table
        has it (Firestore's TTL deletes it only some time later): it is replaced on the
        condition that it is still the version read, so that race has one winner too.
        """
        ref = self._ref(record.key)
        created = conditional(lambda: ref.create(to_document(record), **bounded(write=True)))
        if created is not None:
            return created
        snapshot = call(lambda: ref.get(**bounded()))
        if not snapshot.exists or from_document(snapshot.to_dict()).expires_at > record.created_at:
            return None  # live (a lost race), or deleted meanwhile: the caller reads again
        # update() rewrites every field to_document() writes, which is every field of a Record.
        option = self._client.write_option(last_update_time=snapshot.update_time)
        return conditional(lambda: ref.update(to_document(record), option=option,
                                               **bounded(write=True)))

    def update(self, record: Record, version: Version) -> Version | None:
        """Replace the record if nobody changed it since ``version``; return the new version."""
        ref = self._ref(record.key)
        option = self._client.write_option(last_update_time=version)
        return conditional(lambda: ref.update(to_document(record), option=option,
                                               **bounded(write=True)))

    def delete(self, key: str, version: Version) -> bool:
        """Delete the record if nobody changed it since ``version``; tell whether it did."""
        ref = self._ref(key)
        option = self._client.write_option(last_update_time=version)
        return conditional(lambda: ref.delete(option=option, **bounded(write=True))) is not None

    def _ref(self, key: str) -> Any:
        return self._collection.document(document_id(key))


def conditional(write: Callable[[], Any]) -> Version | None:
    """Run a conditional write; return the new version, or None when its precondition failed."""
    try:
        result = call(write)
    except _LOST_RACE:
        return None
    # delete() answers a bare Timestamp, create()/update() a WriteResult.
    return getattr(result, "update_time", result) or True


def call(operation: Callable[[], T]) -> T:
    """Run one Firestore operation; a failure a retry can fix becomes Transient."""
    try:
        return operation()
    except _TRANSIENT as error:
        raise Transient(f"firestore at {firestore_host()}: "
                        f"{describe(error, RETRY_DEADLINE_SECONDS)}") from error


def firestore_host() -> str:
    """Return where Firestore calls go: the emulator when FIRESTORE_EMULATOR_HOST is set."""
    emulator = os.environ.get("FIRESTORE_EMULATOR_HOST", "").strip()
    return f"{emulator} (FIRESTORE_EMULATOR_HOST)" if emulator else "firestore.googleapis.com"
