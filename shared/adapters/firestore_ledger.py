"""The alert ledger on Firestore: atomic create(), and writes conditional on update_time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from google.api_core import exceptions as api_exceptions

from shared.errors import Transient
from shared.ledger import Record, from_document, to_document

Version = Any  # the document's update_time; opaque to callers
T = TypeVar("T")

CALL_TIMEOUT_SECONDS = 5.0  # one RPC; Pub/Sub redelivery covers a longer outage
RETRY_DEADLINE_SECONDS = 8.0  # all of the client's own retries of one call

_TRANSIENT = (api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
              api_exceptions.InternalServerError, api_exceptions.Aborted,
              api_exceptions.ResourceExhausted, api_exceptions.Unknown,
              api_exceptions.RetryError)
_LOST_RACE = (api_exceptions.Conflict, api_exceptions.AlreadyExists,
              api_exceptions.FailedPrecondition, api_exceptions.NotFound)


def call_options() -> dict[str, Any]:
    """Return the timeout and the bounded retry of one Firestore call.

    The client's default retry waits up to 60 s, and longer against a refused connection.
    """
    from google.api_core.retry import Retry

    return {"timeout": CALL_TIMEOUT_SECONDS,
            "retry": Retry(deadline=RETRY_DEADLINE_SECONDS, initial=0.2, maximum=2.0)}


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
        self._options = call_options()

    def get(self, key: str) -> tuple[Record | None, Version]:
        """Return the record of ``key`` (None if absent) and its version."""
        snapshot = call(lambda: self._ref(key).get(**self._options))
        if not snapshot.exists:
            return None, None
        return from_document(snapshot.to_dict()), snapshot.update_time

    def create(self, record: Record) -> Version | None:
        """Store a new record unless one exists; return its version, or None if one did.

        create() is atomic: of two deliveries racing on a new alert exactly one wins.
        """
        ref = self._ref(record.key)
        return conditional(lambda: ref.create(to_document(record), **self._options))

    def update(self, record: Record, version: Version) -> Version | None:
        """Replace the record if nobody changed it since ``version``; return the new version."""
        ref = self._ref(record.key)
        option = self._client.write_option(last_update_time=version)
        return conditional(lambda: ref.update(to_document(record), option=option,
                                               **self._options))

    def delete(self, key: str, version: Version) -> bool:
        """Delete the record if nobody changed it since ``version``; tell whether it did."""
        ref = self._ref(key)
        option = self._client.write_option(last_update_time=version)
        return conditional(lambda: ref.delete(option=option, **self._options)) is not None

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
        raise Transient(f"firestore: {type(error).__name__}: {error}") from error
