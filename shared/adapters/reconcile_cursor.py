"""Where reconciliation stopped in the ledger, so that the next run carries on from there."""

from __future__ import annotations

from typing import Any

from shared.adapters.firestore_ledger import bounded, call


class FirestoreCursors:
    """One document per source (``sentry``, ``datadog``) in a collection of their own."""

    def __init__(self, project: str, collection: str, client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project)
        self._collection = client.collection(collection)

    def load(self, name: str) -> str | None:
        """Return the last key the previous run visited, None to start from the first."""
        snapshot = call(lambda: self._collection.document(name).get(**bounded()))
        after = (snapshot.to_dict() or {}).get("after") if snapshot.exists else None
        return after if isinstance(after, str) else None

    def save(self, name: str, after: str | None) -> None:
        """Remember where the next run starts (None: from the first key)."""
        from google.cloud import firestore

        document = {"after": after, "saved_at": firestore.SERVER_TIMESTAMP}
        call(lambda: self._collection.document(name).set(document, **bounded(write=True)))
