"""An in-memory ledger with the Firestore ledger's semantics (atomic create, preconditions)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from shared.ledger import Record, State


class MemoryLedger:
    """Records by key, each with a version that changes on every write."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self._versions: dict[str, int] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Record | None, Any]:
        with self._lock:
            return self.records.get(key), self._versions.get(key)

    def claim(self, record: Record, version: Any) -> bool:
        with self._lock:
            if self._versions.get(record.key) != version:
                return False
            self._write(record)
            return True

    def save(self, record: Record) -> None:
        with self._lock:
            self._write(record)

    def release(self, record: Record) -> None:
        with self._lock:
            if record.state is State.CREATING:
                self.records.pop(record.key, None)
                self._versions.pop(record.key, None)

    def _write(self, record: Record) -> None:
        self.records[record.key] = record
        self._versions[record.key] = next(self._counter)
