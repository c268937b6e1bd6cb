"""Read-only ledger queries by field, for reconciliation (the worker's ledger writes elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.api_core import exceptions as api_exceptions

from shared.errors import Transient

# Firestore allows at most 30 values in one "in" filter.
IN_LIMIT = 30

_TRANSIENT = (api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
              api_exceptions.InternalServerError, api_exceptions.Aborted,
              api_exceptions.ResourceExhausted, api_exceptions.Unknown)


class LedgerQueries:
    """Query ledger documents by their ``key``, ``state``, ``source`` and ``external_id`` fields.

    Only single-field filters: they need no composite index.
    """

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

    def open_with_prefix(self, prefix: str) -> list[dict[str, Any]]:
        """Return the open documents whose key starts with ``prefix``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("state", "==", "open"))
        return [d for d in _documents(query) if str(d.get("key", "")).startswith(prefix)]


def _documents(query: Any) -> list[dict[str, Any]]:
    return _call(lambda: [snapshot.to_dict() or {} for snapshot in query.stream()])


def _call(operation: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return operation()
    except _TRANSIENT as error:
        raise Transient(f"firestore: {type(error).__name__}: {error}") from error
