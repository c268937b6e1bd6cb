"""An in-memory task tracker with the Asana client's interface and error behaviour."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from shared.adapters.asana import AsanaRejected
from shared.core.errors import AlertBridgeError
from shared.routing.tasks import TaskDraft


class MemoryTracker:
    """Tasks, comments and completion state; ``failures`` are raised by the next writes."""

    def __init__(self, portfolios: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.tasks: dict[str, TaskDraft] = {}
        self.completed: dict[str, bool] = {}
        self.comments: dict[str, list[str]] = {}
        self.portfolios = portfolios or {}
        self.portfolio_reads = 0
        self.failures: list[AlertBridgeError] = []
        self.lookups = 0
        self._ids = itertools.count(1000)

    def create_task(self, draft: TaskDraft, marker: str) -> str:
        self._fail()
        gid = str(next(self._ids))
        self.tasks[gid] = draft
        self.completed[gid] = draft.completed
        self.comments[gid] = []
        return gid

    def find_task(self, project_gid: str, marker: str, modified_since: datetime) -> str | None:
        self.lookups += 1
        for gid, draft in self.tasks.items():
            if project_gid in draft.projects and marker in draft.notes:
                return gid
        return None

    def has_comment(self, task_gid: str, marker: str) -> bool:
        self._exists(task_gid)
        return any(marker in text for text in self.comments[task_gid])

    def add_comment(self, task_gid: str, html_text: str) -> str:
        self._fail()
        self._exists(task_gid)
        self.comments[task_gid].append(html_text)
        return str(next(self._ids))

    def set_completed(self, task_gid: str, completed: bool) -> None:
        self._fail()
        self._exists(task_gid)
        self.completed[task_gid] = completed

    def get_task(self, task_gid: str) -> dict[str, Any]:
        self._exists(task_gid)
        return {"gid": task_gid, "completed": self.completed[task_gid]}

    def portfolio_items(self, portfolio_gid: str) -> list[dict[str, Any]]:
        self.portfolio_reads += 1
        return self.portfolios.get(portfolio_gid, [])

    def delete(self, task_gid: str) -> None:
        """Delete a task, as a person might in Asana."""
        del self.tasks[task_gid]

    def _exists(self, task_gid: str) -> None:
        if task_gid not in self.tasks:
            raise AsanaRejected(f"asana task {task_gid}: 404 Not Found", status=404)

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)
