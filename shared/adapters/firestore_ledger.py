"""The alert ledger on Firestore: atomic claims with create(), preconditions on takeover."""

from __future__ import annotations

import hashlib
from typing import Any

from google.api_core import exceptions as api_exceptions

from shared.errors import Transient
from shared.ledger import Record, State, from_document, to_document

Version = Any  # the snapshot's update_time; opaque to callers

_TRANSIENT = (api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
              api_exceptions.InternalServerError, api_exceptions.Aborted,
              api_exceptions.ResourceExhausted, api_exceptions.Unknown)


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
        """Return the record of ``key`` (None if absent) and its version for a later claim."""
        snapshot = self._call(lambda: self._ref(key).get())
        if not snapshot.exists:
            return None, None
        return from_document(snapshot.to_dict()), snapshot.update_time

    def claim(self, record: Record, version: Version) -> bool:
        """Store a claim if nobody changed the record since ``version``; tell whether it won.

        ``version`` None means the record must not exist yet: create() is atomic, so of
        two deliveries racing on a new alert exactly one wins.
        """
        ref = self._ref(record.key)
        try:
            if version is None:
                self._call(lambda: ref.create(to_document(record)))
            else:
                option = self._client.write_option(last_update_time=version)
                self._call(lambda: ref.update(to_document(record), option=option))
        except (api_exceptions.Conflict, api_exceptions.FailedPrecondition,
                api_exceptions.NotFound):
            return False
        return True

    def save(self, record: Record) -> None:
        """Store the record as it now stands."""
        ref = self._ref(record.key)
        self._call(lambda: ref.set(to_document(record)))

    def release(self, record: Record) -> None:
        """Drop this delivery's claim so the next delivery can create the task at once."""
        if record.state is not State.CREATING:
            return
        ref = self._ref(record.key)
        self._call(lambda: ref.delete())

    def _ref(self, key: str) -> Any:
        return self._collection.document(document_id(key))

    @staticmethod
    def _call(operation: Any) -> Any:
        try:
            return operation()
        except _TRANSIENT as error:
            raise Transient(f"firestore: {type(error).__name__}: {error}") from error

