"""Read-only ledger queries by field: for reconciliation, and for the two-way sync's task → alert.

The ledger's writes are in firestore_ledger.py; these only read, on single-field filters
(Firestore indexes every field on its own, so they need no composite index).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.adapters.firestore_ledger import bounded, call
from shared.ledger import Record, from_document

# Firestore allows at most 30 values in one "in" filter.
IN_LIMIT = 30


class LedgerQueries:
    """Query ledger documents by ``key``, ``state``, ``source``, ``external_id``, ``task_gid``."""

    def __init__(self, project: str, collection: str, client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project)
        self._collection = client.collection(collection)

    def by_keys(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the documents of these alert keys, by key."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        wanted = sorted(set(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), IN_LIMIT):
            chunk = wanted[start:start + IN_LIMIT]
            query = self._collection.where(filter=FieldFilter("key", "in", chunk))
            for document in _documents(query):
                found[str(document.get("key"))] = document
        return found

    def by_external_id(self, source: str, external_id: str) -> list[dict[str, Any]]:
        """Return the documents of one Sentry issue or Datadog monitor of ``source``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("external_id", "==", external_id))
        return [d for d in _documents(query) if d.get("source") == source]

    def find_by_task(self, task_gid: str) -> Record | None:
        """Return the record of the alert whose task is ``task_gid``, if any."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("task_gid", "==", task_gid)).limit(1)
        documents = _documents(query)
        return from_document(documents[0]) if documents else None

    def open_with_prefix(self, prefix: str) -> list[dict[str, Any]]:
        """Return the open documents whose key starts with ``prefix``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("state", "==", "open"))
        return [d for d in _documents(query) if str(d.get("key", "")).startswith(prefix)]


def _documents(query: Any) -> list[dict[str, Any]]:
    return call(lambda: [snapshot.to_dict() or {}
                         for snapshot in query.stream(**bounded())])
