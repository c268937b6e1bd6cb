"""Find an alert's ledger record by its task gid: Asana's events name tasks, not alerts."""

from __future__ import annotations

from typing import Any

from shared.adapters.firestore_ledger import CALL_TIMEOUT_SECONDS, _call
from shared.ledger import Record, from_document


class LedgerIndex:
    """Queries the ledger collection on ``task_gid`` (Firestore's automatic single-field index)."""

    def __init__(self, project: str, collection: str, client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project)
        self._collection = client.collection(collection)

    def find_by_task(self, task_gid: str) -> Record | None:
        """Return the record of the alert whose task is ``task_gid``, if any."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self._collection.where(filter=FieldFilter("task_gid", "==", task_gid)).limit(1)
        snapshots = _call(lambda: list(query.stream(timeout=CALL_TIMEOUT_SECONDS)))
        return from_document(snapshots[0].to_dict()) if snapshots else None
