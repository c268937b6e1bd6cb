"""The dead-letter pull subscription: lease, acknowledge and release messages for replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud.pubsub_v1 import SubscriberClient

from shared.errors import AlertBridgeError, ConfigError, Transient
from shared.replay import DeadLetter, Pulled

#: How long one pull waits for messages; an empty or timed-out pull means the subscription is
#: drained. The server holds an empty pull until about this deadline, so every run ends with
#: one such wait: short enough to keep `list` quick, long enough for a backlog to be answered.
PULL_WAIT_SECONDS = 3.0
CALL_TIMEOUT_SECONDS = 30.0


class DeadLetterSubscription:
    """Pull, ack and release messages of one pull subscription (the Inbox of shared.replay)."""

    def __init__(self, project: str, subscription: str,
                 client: SubscriberClient | None = None) -> None:
        self._client = client or SubscriberClient()
        # Accept the full path too: it is what the console and gcloud print.
        self.path = (subscription if subscription.startswith("projects/")
                     else self._client.subscription_path(project, subscription))

    def pull(self, max_messages: int) -> list[Pulled]:
        """Lease up to ``max_messages``; return [] when none arrived in PULL_WAIT_SECONDS."""
        try:
            response = self._client.pull(
                request={"subscription": self.path, "max_messages": max_messages},
                timeout=PULL_WAIT_SECONDS)
        except api_exceptions.DeadlineExceeded:
            return []
        except api_exceptions.GoogleAPICallError as error:
            raise self._error("pull", error) from error
        return [Pulled(received.ack_id, _letter(received.message))
                for received in response.received_messages]

    def ack(self, ack_id: str) -> None:
        """Remove one message for good; raise if Pub/Sub did not confirm it."""
        try:
            self._client.acknowledge(request={"subscription": self.path, "ack_ids": [ack_id]},
                                     timeout=CALL_TIMEOUT_SECONDS)
        except api_exceptions.GoogleAPICallError as error:
            raise self._error("acknowledge", error) from error

    def release(self, ack_ids: Sequence[str]) -> None:
        """Give leased messages back at once; if this fails their lease lapses on its own."""
        if not ack_ids:
            return
        try:
            self._client.modify_ack_deadline(
                request={"subscription": self.path, "ack_ids": list(ack_ids),
                         "ack_deadline_seconds": 0},
                timeout=CALL_TIMEOUT_SECONDS)
        except api_exceptions.GoogleAPICallError:
            # Nothing is lost: the messages come back once the subscription's ack deadline
            # passes, which is all a release would have hastened.
            return

    def close(self) -> None:
        """Close the gRPC channel."""
        self._client.close()

    def _error(self, operation: str, error: api_exceptions.GoogleAPICallError,
               ) -> AlertBridgeError:
        if isinstance(error, api_exceptions.NotFound):
            return ConfigError(f"subscription {self.path} not found: pass --subscription or set "
                               "DEAD_LETTER_SUBSCRIPTION (Terraform output "
                               "dead_letter_subscription)")
        if isinstance(error, api_exceptions.PermissionDenied):
            return ConfigError(f"subscription {self.path}: {operation} denied: the caller needs "
                               "roles/pubsub.subscriber on it")
        return Transient(f"subscription {self.path}: {operation} failed: "
                         f"{type(error).__name__}: {error.message}")


def _letter(message: Any) -> DeadLetter:
    published = message.publish_time
    return DeadLetter(message_id=str(message.message_id), data=bytes(message.data),
                      attributes=dict(message.attributes),
                      published_at=published.isoformat(timespec="seconds") if published else "")
