"""Alertmanager-style grouped bodies: one notification carrying several alerts (``alerts[]``).

Prometheus Alertmanager's webhook (payload version 4) and Grafana Alerting's webhook contact
point send the same shape: a group of alerts, each with its ``fingerprint``, ``status``,
``labels``, ``annotations``, ``startsAt``, ``endsAt`` and ``generatorURL``. Both slices read it
through this module, which sits beside the table (not inside either slice) so that the slices
stay independent of each other (.importlinter).

Each alert of a group is its own task: ingest publishes one message per alert, all carrying the
same raw body, and the message's ``alert_key`` attribute says which alert of the body it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.core.errors import Permanent, Rejected
from shared.core.payload import clean_text, parse_time
from shared.sources.base import Message, Webhook, alert_attributes, json_message

if TYPE_CHECKING:
    from shared.core.alert import Action

FIRING = "firing"
RESOLVED = "resolved"
STATUSES = (FIRING, RESOLVED)
#: Go's zero time, which both senders write for a time they do not know ("0001-01-01T00:00:00Z").
_EARLIEST_REAL_YEAR = 1971


@dataclass(frozen=True)
class GroupedAlert:
    """One alert of a grouped body, its fields checked and typed."""

    fingerprint: str
    status: str  # "firing" | "resolved"
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str | None
    raw: Mapping[str, object]  # the alert as sent: a sender's own fields (Grafana's URLs)

    @property
    def action(self) -> Action:
        """Return what the alert's status means for its task."""
        from shared.core.alert import Action  # the worker's: off ingest's cold-start path

        return Action.RESOLVED if self.status == RESOLVED else Action.TRIGGERED

    def said_at(self, received_at: datetime | None = None) -> datetime | None:
        """Return when the source says this happened (a firing's start, a resolve's end),
        never later than ``received_at``; that when the source does not say."""
        said = self.ends_at if self.status == RESOLVED else self.starts_at
        if said is None or received_at is None:
            return said or received_at
        return min(said, received_at)


@dataclass(frozen=True)
class Group:
    """A grouped body: its alerts and what the group says about them all."""

    alerts: tuple[GroupedAlert, ...]
    truncated: int  # alerts the sender left out (Alertmanager's max_alerts)
    external_url: str | None
    receiver: str | None
    group_key: str | None
    raw: Mapping[str, object]


def read_group(payload: Mapping[str, object], unit: str,
               error: Callable[[str], Exception]) -> Group:
    """Return the group a body holds; ``error`` (Rejected at ingest, Permanent in the worker)
    says what is wrong with it."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise error(f"{unit}: 'alerts' is missing or not a list")
    read = tuple(_read_alert(alert, index, unit, error) for index, alert in enumerate(alerts))
    truncated = payload.get("truncatedAlerts")
    return Group(
        alerts=read,
        truncated=truncated if isinstance(truncated, int) and not isinstance(truncated, bool)
        and truncated > 0 else 0,
        external_url=clean_text(payload.get("externalURL")),
        receiver=clean_text(payload.get("receiver")),
        group_key=clean_text(payload.get("groupKey")),
        raw=payload,
    )


def rejected(message: str) -> Exception:
    """Return the ingest error of a malformed group (400: the sender must not retry it)."""
    return Rejected(message, reason="malformed")


def permanent(message: str) -> Exception:
    """Return the worker's error of a group it can never parse."""
    return Permanent(message, reason="bad_payload")


def _read_alert(alert: object, index: int, unit: str,
                error: Callable[[str], Exception]) -> GroupedAlert:
    where = f"{unit}: alerts[{index}]"
    if not isinstance(alert, dict):
        raise error(f"{where} is not an object")
    fingerprint = clean_text(alert.get("fingerprint"))
    if fingerprint is None:
        raise error(f"{where} has no fingerprint")
    status = (clean_text(alert.get("status")) or "").lower()
    if status not in STATUSES:
        raise error(f"{where}: status {alert.get('status')!r} is neither firing nor resolved")
    return GroupedAlert(
        fingerprint=fingerprint,
        status=status,
        labels=_pairs(alert.get("labels")),
        annotations=_pairs(alert.get("annotations")),
        starts_at=real_time(alert.get("startsAt")),
        ends_at=real_time(alert.get("endsAt")),
        generator_url=clean_text(alert.get("generatorURL")),
        raw=alert,
    )


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    """Return a labels / annotations object as (name, text) pairs, leaving non-scalars out."""
    if not isinstance(value, dict):
        return ()
    pairs = []
    for name, raw in value.items():
        text = clean_text(raw)
        if str(name).strip() and text is not None:
            pairs.append((str(name).strip(), text))
    return tuple(pairs)


def real_time(value: object) -> datetime | None:
    """Return an RFC 3339 time, None when it is missing or Go's zero time (unknown)."""
    moment = parse_time(value) if isinstance(value, str) else None
    return moment if moment is not None and moment.year >= _EARLIEST_REAL_YEAR else None


def messages(hook: Webhook, now: datetime, group: Group, *, source: str, resource: str,
             key: Callable[[GroupedAlert, Group], str], unit: str) -> tuple[Message, ...]:
    """Return one message per alert of the group (the same body), in the group's order.

    ``source_time`` is the alert's own time (startsAt of a firing, endsAt of a resolve), never
    later than our receipt: a sender's clock ahead of ours must not outrank what it says next.
    An alert listed twice in one body is published once.
    """
    published: dict[str, Message] = {}
    for alert in group.alerts:
        alert_key = key(alert, group)
        if alert_key in published:
            continue
        attributes = alert_attributes(hook, now, source=source, resource=resource,
                                      action=alert.status, key=alert_key, unit=unit,
                                      key_fields="alerts[].fingerprint")
        said = alert.said_at()
        if said is not None:
            attributes["source_time"] = min(said, now).isoformat(timespec="milliseconds")
        published[alert_key] = Message(hook.body, attributes)
    return tuple(published.values())


def published_alert(body: bytes, attributes: Mapping[str, str], unit: str,
                    key: Callable[[GroupedAlert, Group], str]
                    ) -> tuple[GroupedAlert, Group, datetime | None]:
    """Return the alert a published message is about, its group and when ingest received it."""
    group = read_group(json_message(body, unit), unit, permanent)
    return alert_of(group, attributes, key, unit), group, parse_time(attributes.get("received_at"))


def alert_of(group: Group, attributes: Mapping[str, str],
             key: Callable[[GroupedAlert, Group], str], unit: str) -> GroupedAlert:
    """Return the alert a message is about: the one its ``alert_key`` names (the first alert of
    the group when the message names none, as explain-route's saved bodies)."""
    wanted = attributes.get("alert_key")
    for alert in group.alerts:
        if not wanted or key(alert, group) == wanted:
            return alert
    if wanted:
        raise Permanent(f"{unit}: no alert of the body has the key {wanted!r}",
                        reason="bad_payload")
    raise Permanent(f"{unit}: the body holds no alert", reason="bad_payload")


def label(pairs: tuple[tuple[str, str], ...], *names: str) -> str | None:
    """Return the first of ``names`` that ``pairs`` has a value for."""
    found = dict(pairs)
    return next((found[name] for name in names if found.get(name)), None)


def truncation_note(group: Group) -> tuple[tuple[str, str], ...]:
    """Return the task fact that says alerts of the group were left out, if any were."""
    if not group.truncated:
        return ()
    return (("Left out", f"{group.truncated} more alert(s) of this group were not sent "
                         "(the receiver's max_alerts): they have no task from this "
                         "notification"),)


def severity(pairs: tuple[tuple[str, str], ...]) -> str | None:
    """Return the ``severity`` label, lower-case (the convention of Prometheus' alert rules)."""
    value = label(pairs, "severity", "priority")
    return value.lower() if value else None
