"""Small helpers to watch a topic on the emulator from a test."""

from __future__ import annotations

import time
import uuid
from typing import Any


def tap(subscriber: Any, project: str, topic: str) -> str:
    """Create a fresh pull subscription on ``topic`` and return its path."""
    path = subscriber.subscription_path(project, f"tap-{uuid.uuid4().hex[:10]}")
    subscriber.create_subscription(request={"name": path,
                                            "topic": f"projects/{project}/topics/{topic}"})
    return str(path)


def pull(subscriber: Any, subscription: str, want: int = 1, timeout: float = 10.0,
         ) -> list[Any]:
    """Pull until ``want`` messages arrived or ``timeout`` passed; ack what was pulled."""
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < want and time.monotonic() < deadline:
        # return_immediately keeps the loop responsive; the emulator honours it.
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 10,
                                            "return_immediately": True}, timeout=5)
        if response.received_messages:
            subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [
                m.ack_id for m in response.received_messages]})
            messages.extend(m.message for m in response.received_messages)
        else:
            time.sleep(0.1)
    return messages
