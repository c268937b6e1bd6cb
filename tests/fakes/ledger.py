"""An in-memory ledger with the Firestore ledger's semantics (atomic create, preconditions)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from shared.core.errors import Transient
from shared.core.ledger import Record


class MemoryLedger:
    """Records by key, each with a version that changes on every write."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.unavailable = False  # every call raises Transient, like Firestore being down
        self._versions: dict[str, int] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Record | None, Any]:
        with self._lock:
            self._check()
            return self.records.get(key), self._versions.get(key)

    def create(self, record: Record) -> Any:
        with self._lock:
            self._check()
            existing = self.records.get(record.key)
            # An expired record counts as absent, as in FirestoreLedger.create().
            if existing is not None and existing.expires_at > record.created_at:
                return None
            return self._write(record)

    def update(self, record: Record, version: Any) -> Any:
        with self._lock:
            self._check()
            if version is None or self._versions.get(record.key) != version:
                return None
            return self._write(record)

    def delete(self, key: str, version: Any) -> bool:
        with self._lock:
            self._check()
            if version is None or self._versions.get(key) != version:
                return False
            self.records.pop(key)
            self._versions.pop(key)
            return True

    def _check(self) -> None:
        if self.unavailable:
            raise Transient("firestore: ServiceUnavailable (test)")

    def _write(self, record: Record) -> int:
        self.records[record.key] = record
        version = next(self._counter)
        self._versions[record.key] = version
        return version
