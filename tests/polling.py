"""Wait for what an asynchronous system does: the one polling helper every stack test uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
               interval: float = 0.2) -> Any:
    """Return check()'s first truthy result; fail naming ``what`` once ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        time.sleep(interval)
