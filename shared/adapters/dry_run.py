"""The dry-run file: one JSON line per request the service would have sent."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

# One lock for the process: the Asana and link-back recorders append to the same file.
_LOCK = threading.Lock()


def record(path: str, line: dict[str, Any]) -> str:
    """Append ``line`` to the dry-run file at ``path`` and return it as written."""
    text = json.dumps(line, ensure_ascii=False)
    with _LOCK:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "a", encoding="utf-8") as file:
            file.write(text + "\n")
    return text
