"""What a slice builds its adapters from, and what it builds for the flows' wiring.

Kept apart from base.py: the ingest function needs these only on the first request that
reaches a source's own adapters (an Asana delivery, a Sentry alert-rule form).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.adapters.secrets import SecretSource
    from shared.core.settings import Settings
    from shared.sources.drift import LedgerView


@dataclass(frozen=True)
class Build:
    """The deployment a slice builds its adapters for: settings, credentials and the clock."""

    settings: Settings
    secrets: SecretSource
    now: Callable[[], datetime]


@dataclass(frozen=True)
class TaskSync:
    """A task tracker source's part of the two-way sync: its reads, and its webhook per project."""

    reads: Any  # me() and task_state(task_gid) (shared/flows/sync_back.py SyncAsana)
    watch: Callable[[str, str], None]  # (project gid, team name): make sure changes arrive


@dataclass(frozen=True)
class ReconcileParts:
    """What the reconcile function shares with each source's reconciler."""

    ledger: LedgerView
    publish: Callable[[bytes, Mapping[str, str]], str]
    records_by_task: Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]
