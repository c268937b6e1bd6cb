"""A delivery's hold on a ledger record while it changes the task: renewed, then written or freed.

The lease is what lets a crashed worker's work be taken over within seconds: it lapses by itself
(ledger.LEASE_SECONDS) unless the holder renews it, which a background thread does while a slow
Asana call is in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.core import ledger
from shared.core.errors import AlertBridgeError
from shared.core.ledger import Record

log = logging.getLogger(__name__)


class Ledger(Protocol):
    """The storage operations the flow needs (Firestore in production); writes are conditional."""

    def get(self, key: str) -> tuple[Record | None, Any]:
        """Return the record of ``key`` and its version."""
        ...

    def create(self, record: Record) -> Any:
        """Store a new record; return its version, or None when the key already has one."""
        ...

    def update(self, record: Record, version: Any) -> Any:
        """Replace the record unless it changed since ``version``; return its new version."""
        ...

    def delete(self, key: str, version: Any) -> bool:
        """Delete the record unless it changed since ``version``; tell whether it did."""
        ...


class Lease:
    """This delivery's hold on a record, renewed in the background while Asana is slow."""

    def __init__(self, store: Ledger, record: Record, version: Any,
                 now: Callable[[], datetime], renew_seconds: float) -> None:
        self.record, self.version = record, version
        self._store, self._now, self._renew_seconds = store, now, renew_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self._renew_seconds):
            with self._lock:
                if self._stop.is_set():
                    return
                renewed = ledger.renew(self.record, self._now())
                try:
                    version = self._store.update(renewed, self.version)
                except AlertBridgeError as error:
                    log.warning("lease on %s not renewed: %s", self.record.key, error,
                                extra={"event": "lease_renewal_failed",
                                       "alert_key": self.record.key})
                    continue
                if version is None:
                    return  # taken over: the final write will say so
                self.record, self.version = renewed, version

    def write(self, record: Record) -> bool:
        """Stop renewing and store ``record`` if the lease is still ours; tell whether it was."""
        self._stop.set()
        with self._lock:
            version = self._store.update(record, self.version)
        return version is not None

    def give_up(self, *, forget: bool) -> None:
        """Stop renewing and free the record: delete it (``forget``) or let the lease lapse."""
        self._stop.set()
        with self._lock:
            try:
                if forget:
                    self._store.delete(self.record.key, self.version)
                else:
                    self._store.update(ledger.lapse(self.record, self._now()),
                                             self.version)
            except AlertBridgeError as error:  # the lease lapses by itself anyway
                log.warning("lease on %s not released: %s", self.record.key, error,
                            extra={"event": "lease_release_failed",
                                   "alert_key": self.record.key})
