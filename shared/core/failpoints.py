"""Named crash points of the worker's multi-step writes, for the fault-injection suite.

Each point sits between two writes that cannot be made atomic (a ledger write and an Asana
call). ``ALERT_BRIDGE_FAILPOINT=after_asana_create`` makes the worker process die there with
SIGKILL, as an instance would on an OOM kill or a host failure; the suite then counts what a
user sees in Asana. What recovers each point:

- ``after_claim``: the claim's lease lapses; the redelivery looks the task up (none) and creates.
- ``after_asana_create``: the redelivery finds the task by its marker and adopts it.
- ``after_ledger_open``: the record holds the task; the redelivery's digest is known: skip.
- ``after_update_lease``: the lease lapses; the redelivery applies the update.
- ``after_asana_update``: the redelivery completes again (harmless) and finds its comment's
  marker on the task, so it does not comment twice; if a later word of the source overtook it
  (the redelivery is then stale), the next delivery puts the task back to the ledger's state.
- ``after_ledger_update``: the redelivery's digest is known: skip.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping

from shared.core.errors import ConfigError

POINTS = ("after_claim", "after_asana_create", "after_ledger_open", "after_update_lease",
          "after_asana_update", "after_ledger_update")
VARIABLE = "ALERT_BRIDGE_FAILPOINT"
ONCE_VARIABLE = "ALERT_BRIDGE_FAILPOINT_ONCE"  # a path: crash only while it does not exist

Failpoint = Callable[[str], None]


def none(point: str) -> None:
    """Crash nowhere (production)."""


def from_environment(environ: Mapping[str, str], environment: str) -> Failpoint:
    """Return the failpoint the environment names, or ``none``; never honoured in prod."""
    chosen = environ.get(VARIABLE, "").strip()
    if not chosen:
        return none
    if environment == "prod":
        raise ConfigError(f"{VARIABLE}: crash points are not allowed with ENVIRONMENT=prod")
    if chosen not in POINTS:
        raise ConfigError(f"{VARIABLE}: {chosen!r} is not one of {', '.join(POINTS)}")
    once = environ.get(ONCE_VARIABLE, "").strip()

    def hit(point: str) -> None:
        if point != chosen or (once and not _first_time(once)):
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return hit


def _first_time(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
