"""The Asana calls of the two-way sync: the task's state, our own user, and webhooks."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.adapters.asana import PAGE_LIMIT, AsanaClient, AsanaRejected, _created_gid, _gid

TASK_STATE_FIELDS = "completed,completed_by,modified_at"
WEBHOOK_FIELDS = ("resource,resource.name,target,active,filters,created_at,last_success_at,"
                  "last_failure_at,last_failure_content")


class AsanaSyncClient(AsanaClient):
    """AsanaClient plus the reads and webhook calls of the two-way sync."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._me: str | None = None
        self._me_lock = threading.Lock()

    def me(self) -> str:
        """Return the gid of the user the token acts as, asked once per instance."""
        with self._me_lock:
            if self._me is None:
                data = self._request("GET", "/users/me")
                self._me = str((data or {}).get("gid") or "")
            return self._me

    def task_state(self, task_gid: str) -> dict[str, Any]:
        """Return whether the task is completed, by whom, and when it last changed."""
        answer = self._send("GET", f"/tasks/{_gid(task_gid)}",
                            params={"opt_fields": TASK_STATE_FIELDS}, body=None)
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    def project_workspace(self, project_gid: str) -> str | None:
        """Return the gid of the workspace a project belongs to."""
        workspace = self.record("projects", project_gid, "workspace").get("workspace")
        return str(workspace["gid"]) if isinstance(workspace, dict) and workspace.get("gid") \
            else None

    def project_tasks(self, project_gid: str, modified_since: datetime | None
                      ) -> Iterator[dict[str, Any]]:
        """Yield the project's tasks (changed since ``modified_since``), a page at a time."""
        params: dict[str, str | int] = {"project": _gid(project_gid), "limit": PAGE_LIMIT,
                                        "opt_fields": TASK_STATE_FIELDS}
        if modified_since is not None:
            params["modified_since"] = modified_since.astimezone(UTC).isoformat(
                timespec="seconds")
        return self._pages("/tasks", params)

    def webhooks(self, workspace_gid: str, resource: str | None = None) -> list[dict[str, Any]]:
        """Return the webhooks of the workspace (optionally of one resource)."""
        params: dict[str, str | int] = {"workspace": workspace_gid, "limit": 100,
                                        "opt_fields": WEBHOOK_FIELDS}
        if resource:
            params["resource"] = resource
        return list(self._pages("/webhooks", params))

    def create_webhook(self, workspace_gid: str, resource: str, target: str,
                       filters: Sequence[Mapping[str, object]]) -> str:
        """Establish a webhook (Asana sends the handshake meanwhile); return its gid.

        An attempt whose answer was lost may have established it: look for it before
        sending again, so a project never gets two webhooks.
        """
        def recover() -> str | None:
            return next((str(hook.get("gid")) for hook in self.webhooks(workspace_gid, resource)
                         if hook.get("target") == target), None)

        body = {"data": {"resource": resource, "target": target,
                         "filters": [dict(f) for f in filters]}}
        answer = self._send("POST", "/webhooks", params=None, body=body, recover=recover)
        if isinstance(answer, str):
            return answer
        return _created_gid(answer.get("data"))

    def delete_webhook(self, webhook_gid: str) -> None:
        """Delete a webhook; one that is already gone is fine."""
        try:
            self._request("DELETE", f"/webhooks/{_gid(webhook_gid)}")
        except AsanaRejected as error:
            if error.status != 404:
                raise
