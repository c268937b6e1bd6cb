"""Read-only ledger queries by field: for reconciliation, and for the two-way sync's task → alert.

The ledger's writes are in firestore_ledger.py; these only read, on single-field filters
(Firestore indexes every field on its own, so they need no composite index).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.adapters.firestore_ledger import bounded, call
from shared.core.ledger import Record, from_document

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

    def by_task_gids(self, task_gids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return the documents of the alerts whose tasks are these, by task gid."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        wanted = sorted(set(task_gids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), IN_LIMIT):
            chunk = wanted[start:start + IN_LIMIT]
            query = self._collection.where(filter=FieldFilter("task_gid", "in", chunk))
            for document in _documents(query):
                found.setdefault(str(document.get("task_gid")), document)
        return found

    def page(self, prefix: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Return up to ``limit`` documents whose key starts with ``prefix``, in key order,
        the first key after ``after`` (None: from the first)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        # A range and an order on the same field: the single-field index of key serves it.
        query = (self._collection.where(filter=FieldFilter("key", ">=", prefix))
                 .where(filter=FieldFilter("key", "<", _successor(prefix)))
                 .order_by("key").limit(limit))
        if after is not None:
            query = query.start_after({"key": after})
        return _documents(query)


def _successor(prefix: str) -> str:
    """Return the least string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _documents(query: Any) -> list[dict[str, Any]]:
    return call(lambda: [snapshot.to_dict() or {}
                         for snapshot in query.stream(**bounded())])
