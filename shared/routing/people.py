"""People named by e-mail (an alert rule's assignee and followers) as Asana users, remembered
for minutes so a burst of alerts costs one lookup per person."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

#: e-mail -> the Asana user record (gid, email, workspaces), or None when Asana has none.
FetchUser = Callable[[str], Mapping[str, Any] | None]


class PeopleCache:
    """Asana users by e-mail; a miss is remembered for less time than a hit.

    A failed lookup (Transient) is not remembered: the caller retries it.
    """

    def __init__(self, fetch: FetchUser, clock: Callable[[], float] = time.monotonic,
                 ttl_seconds: float = 600, miss_ttl_seconds: float = 60) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl_seconds
        self._miss_ttl = miss_ttl_seconds
        self._entries: dict[str, tuple[float, Mapping[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def user(self, email: str) -> Mapping[str, Any] | None:
        """Return the Asana user with this e-mail, or None when Asana has no such user."""
        key = email.strip().lower()
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None:
            expiry = self._ttl if cached[1] is not None else self._miss_ttl
            if now - cached[0] < expiry:
                return cached[1]
        found = self._fetch(key)
        with self._lock:
            self._entries[key] = (now, found)
        return found

    def gid(self, email: str, workspace: str | None) -> str | None:
        """Return the gid of the user with this e-mail who can be put on a task in
        ``workspace`` (any workspace when None); None otherwise."""
        user = self.user(email)
        if user is None or not user.get("gid") or not in_workspace(user, workspace):
            return None
        return str(user["gid"])


def in_workspace(user: Mapping[str, Any], workspace: str | None) -> bool:
    """Tell whether ``user`` is a member of ``workspace`` (True when either is unknown)."""
    listed = user.get("workspaces")
    if not workspace or not isinstance(listed, list):
        return True
    return any(isinstance(w, Mapping) and str(w.get("gid")) == workspace for w in listed)
