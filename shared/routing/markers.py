"""Stable markers that let the worker find in Asana what a crashed attempt already wrote."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from shared.routing.tasks import TaskDraft

_TASK_PREFIX = "ab-task-"
_COMMENT_PREFIX = "ab-msg-"


def task_marker(alert_key: str) -> str:
    """Return the marker that identifies the one task of ``alert_key``."""
    return _TASK_PREFIX + hashlib.sha256(alert_key.encode("utf-8")).hexdigest()[:24]


def comment_marker(digest: str) -> str:
    """Return the marker that identifies the comment one delivered webhook wrote."""
    return _COMMENT_PREFIX + digest[:20]


def mark_task(draft: TaskDraft, marker: str) -> TaskDraft:
    """Return the draft with ``marker`` as the last line of its notes (rich and plain)."""
    line = f"alert-bridge reference: {marker}"
    html = draft.html_notes
    if html:
        html = html.removesuffix("</body>") + f"<em>{line}</em></body>"
    return replace(draft, html_notes=html, notes=f"{draft.notes}\n\n{line}")


def mark_comment(html_text: str, marker: str) -> str:
    """Return a comment's html_text ending with ``marker``."""
    return html_text.removesuffix("</body>") + f" <em>(ref {marker})</em></body>"
