"""The Asana webhooks' secrets and registrations on Firestore, one document per project.

Firestore rather than Secret Manager: the handshake must be accepted once, atomically, while
a registration is pending, which a conditional write gives; and ingest, the public function,
then needs no right to create secrets. The documents live in their own Firestore database
(ASANA_HOOKS_DATABASE), apart from the ledger's ``(default)``: Terraform grants ingest access
to that database only (an IAM condition on its name), and the worker and reconciliation,
which register webhooks, access to both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.adapters.firestore_ledger import bounded, call, conditional
from shared.sources.asana.webhooks import Hook

_FIELDS = ("pending_until", "secret", "webhook_gid", "token_hash", "last_delivery_at",
           "compared_at")


class FirestoreHooks:
    """Hook documents keyed by project gid, in the hooks database."""

    def __init__(self, project: str, collection: str, database: str,
                 client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        self._client = client
        self._collection = client.collection(collection)

    def get(self, project_gid: str) -> tuple[Hook | None, Any]:
        """Return the project's hook (None if absent) and its version."""
        snapshot = call(lambda: self._ref(project_gid).get(**bounded()))
        if not snapshot.exists:
            return None, None
        return _hook(project_gid, snapshot.to_dict() or {}), snapshot.update_time

    def all(self) -> list[Hook]:
        """Return every project's hook."""
        def read() -> list[Hook]:
            return [_hook(snapshot.id, snapshot.to_dict() or {})
                    for snapshot in self._collection.stream(**bounded())]

        return call(read)

    def create(self, hook: Hook) -> bool:
        """Store a new hook unless the project has one; tell whether it was stored."""
        ref = self._ref(hook.project_gid)
        return conditional(lambda: ref.create(_document(hook),
                                               **bounded(write=True))) is not None

    def replace(self, hook: Hook, version: Any) -> bool:
        """Store ``hook`` unless it changed since ``version``; tell whether it did."""
        ref = self._ref(hook.project_gid)
        option = self._client.write_option(last_update_time=version)
        return conditional(lambda: ref.update(_document(hook), option=option,
                                               **bounded(write=True))) is not None

    def touch(self, project_gid: str, at: datetime) -> bool:
        """Record a verified delivery at ``at``; tell whether the project's hook still existed."""
        ref = self._ref(project_gid)
        return conditional(lambda: ref.update({"last_delivery_at": at},
                                               **bounded(write=True))) is not None

    def compared(self, project_gid: str, at: datetime) -> None:
        """Record that the project's tasks changed before ``at`` were compared."""
        ref = self._ref(project_gid)
        call(lambda: ref.set({"project_gid": project_gid, "compared_at": at}, merge=True,
                             **bounded(write=True)))

    def delete(self, project_gid: str) -> None:
        """Forget the project's hook."""
        call(lambda: self._ref(project_gid).delete(**bounded(write=True)))

    def _ref(self, project_gid: str) -> Any:
        return self._collection.document(project_gid)


def _hook(project_gid: str, data: dict[str, Any]) -> Hook:
    return Hook(project_gid, **{name: data.get(name) for name in _FIELDS})


def _document(hook: Hook) -> dict[str, object]:
    return {"project_gid": hook.project_gid, **{name: getattr(hook, name) for name in _FIELDS}}
