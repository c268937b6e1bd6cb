"""The Asana webhooks' secrets and registrations on Firestore, one document per project.

Firestore rather than Secret Manager: the handshake must be accepted once, atomically, while
a registration is pending, which a conditional write gives; and ingest, the public function,
then needs no right to create secrets. The documents are readable only by the two functions'
service accounts (roles/datastore.user), like the ledger.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.firestore_ledger import bounded, call, conditional
from shared.asana_webhooks import Hook


class FirestoreHooks:
    """Hook documents keyed by project gid."""

    def __init__(self, project: str, collection: str, client: Any = None) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project)
        self._client = client
        self._collection = client.collection(collection)

    def get(self, project_gid: str) -> tuple[Hook | None, Any]:
        """Return the project's hook (None if absent) and its version."""
        snapshot = call(lambda: self._ref(project_gid).get(**bounded()))
        if not snapshot.exists:
            return None, None
        data = snapshot.to_dict()
        return Hook(project_gid, pending_until=data.get("pending_until"),
                    secret=data.get("secret"), webhook_gid=data.get("webhook_gid")
                    ), snapshot.update_time

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

    def delete(self, project_gid: str) -> None:
        """Forget the project's hook."""
        call(lambda: self._ref(project_gid).delete(**bounded(write=True)))

    def _ref(self, project_gid: str) -> Any:
        return self._collection.document(project_gid)


def _document(hook: Hook) -> dict[str, object]:
    return {"project_gid": hook.project_gid, "pending_until": hook.pending_until,
            "secret": hook.secret, "webhook_gid": hook.webhook_gid}
