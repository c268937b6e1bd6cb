"""A CloudWatch alarm state change, read from the ``Message`` of a verified SNS notification.

The message is the JSON CloudWatch publishes to an alarm's SNS action: ``AlarmName``,
``AWSAccountId``, ``NewStateValue`` / ``OldStateValue``, ``NewStateReason``, ``StateChangeTime``,
``Region`` (a display name such as "US East (N. Virginia)"), ``AlarmArn`` (since 2019) and
``Trigger`` (one metric, or ``Metrics`` for metric math). The result is plain data; mapping it to
the service's alert model is the slice's job.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from shared.core.errors import Rejected
from shared.sources.cloudwatch.trust import REGION


class AlarmAction(enum.StrEnum):
    """What a state change asks of the alarm's task."""

    TRIGGER = "trigger"  # NewStateValue ALARM
    RESOLVE = "resolve"  # NewStateValue OK
    COMMENT = "comment"  # NewStateValue INSUFFICIENT_DATA: worth a note, changes nothing


STATE_ACTIONS = {"ALARM": AlarmAction.TRIGGER, "OK": AlarmAction.RESOLVE,
                 "INSUFFICIENT_DATA": AlarmAction.COMMENT}

#: ``arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`` (AWS's ARN pattern).
_ALARM_ARN = re.compile(
    rf"arn:(?P<partition>aws[a-zA-Z-]*):cloudwatch:(?P<region>{REGION}):(?P<account>\d{{12}})"
    r":alarm:(?P<name>.+)", re.DOTALL)
_TOPIC_REGION = re.compile(rf"arn:aws[a-zA-Z-]*:sns:(?P<region>{REGION}):")
_REGION = re.compile(REGION)

#: Region display names as CloudWatch writes them in ``Region``; older messages used the older
#: names (``EU (Ireland)``, ``US - N. Virginia``). Only a fallback: ``AlarmArn`` names the code.
REGION_NAMES = {
    "US East (N. Virginia)": "us-east-1", "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1", "US West (Oregon)": "us-west-2",
    "Africa (Cape Town)": "af-south-1", "Asia Pacific (Hong Kong)": "ap-east-1",
    "Asia Pacific (Taipei)": "ap-east-2", "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3", "Asia Pacific (Malaysia)": "ap-southeast-5",
    "Asia Pacific (Melbourne)": "ap-southeast-4", "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (New Zealand)": "ap-southeast-6", "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Seoul)": "ap-northeast-2", "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2", "Asia Pacific (Thailand)": "ap-southeast-7",
    "Asia Pacific (Tokyo)": "ap-northeast-1", "Canada (Central)": "ca-central-1",
    "Canada West (Calgary)": "ca-west-1", "Europe (Frankfurt)": "eu-central-1",
    "Europe (Ireland)": "eu-west-1", "Europe (London)": "eu-west-2",
    "Europe (Milan)": "eu-south-1", "Europe (Paris)": "eu-west-3",
    "Europe (Spain)": "eu-south-2", "Europe (Stockholm)": "eu-north-1",
    "Europe (Zurich)": "eu-central-2", "Israel (Tel Aviv)": "il-central-1",
    "Mexico (Central)": "mx-central-1", "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1", "South America (Sao Paulo)": "sa-east-1",
    "South America (São Paulo)": "sa-east-1", "AWS GovCloud (US-East)": "us-gov-east-1",
    "AWS GovCloud (US-West)": "us-gov-west-1", "China (Beijing)": "cn-north-1",
    "China (Ningxia)": "cn-northwest-1",
    "EU (Frankfurt)": "eu-central-1", "EU (Ireland)": "eu-west-1", "EU (London)": "eu-west-2",
    "EU (Milan)": "eu-south-1", "EU (Paris)": "eu-west-3", "EU (Stockholm)": "eu-north-1",
    "US - N. Virginia": "us-east-1", "EU - Ireland": "eu-west-1",
}

#: The console of each partition; the alarm page is ``/cloudwatch/home?region=…#alarmsV2:alarm/…``.
CONSOLES = {"aws": "https://console.aws.amazon.com", "aws-cn": "https://console.amazonaws.cn",
            "aws-us-gov": "https://console.amazonaws-us-gov.com"}


@dataclass(frozen=True)
class CloudWatchAlarm:
    """One alarm state change, with the fields routing and the task need."""

    key: str  # AlarmArn, else "aws:<account>:<region>:<AlarmName>": the same on ALARM and OK
    action: AlarmAction
    state: str  # NewStateValue
    previous_state: str | None
    changed_at: datetime  # StateChangeTime: the source's own clock, for ordering
    name: str
    account: str | None
    region: str | None  # a Region code, e.g. "us-east-1"
    arn: str | None
    description: str | None
    reason: str | None  # NewStateReason
    namespace: str | None
    metric_name: str | None
    dimensions: tuple[tuple[str, str], ...]
    console_url: str | None


def parse_alarm(message: str, *, topic_arn: str | None = None) -> CloudWatchAlarm:
    """Return the alarm in an SNS ``Message``; Rejected if it is not a CloudWatch alarm."""
    try:
        alarm = json.loads(message)
    except ValueError as error:
        raise Rejected(f"cloudwatch: Message is not JSON: {error}", reason="malformed") from error
    except RecursionError as error:
        raise Rejected("cloudwatch: Message is nested too deeply", reason="malformed") from error
    if not isinstance(alarm, dict):
        raise Rejected("cloudwatch: Message is not a JSON object", reason="malformed")
    name = _text(alarm, "AlarmName")
    state = _text(alarm, "NewStateValue")
    if not name or not state:
        raise Rejected("cloudwatch: Message is not an alarm (no AlarmName or NewStateValue)",
                       reason="malformed")
    action = STATE_ACTIONS.get(state)
    if action is None:
        raise Rejected(f"cloudwatch: unknown alarm state {state[:40]!r}", reason="malformed")
    arn = _text(alarm, "AlarmArn")
    parsed = _ALARM_ARN.fullmatch(arn) if arn else None
    account = _text(alarm, "AWSAccountId") or (parsed["account"] if parsed else None)
    region = _region(alarm, parsed, topic_arn)
    if arn:
        key = arn
    elif account and region:
        key = f"aws:{account}:{region}:{name}"
    else:
        raise Rejected(f"cloudwatch: alarm {name[:80]!r} has no AlarmArn, and no account and "
                       "Region to key it by", reason="malformed")
    namespace, metric_name, dimensions = _metric(alarm.get("Trigger"))
    partition = parsed["partition"] if parsed else _partition(region)
    return CloudWatchAlarm(
        key=key, action=action, state=state, previous_state=_text(alarm, "OldStateValue"),
        changed_at=_changed_at(alarm), name=name, account=account, region=region, arn=arn,
        description=_text(alarm, "AlarmDescription"), reason=_text(alarm, "NewStateReason"),
        namespace=namespace, metric_name=metric_name, dimensions=dimensions,
        console_url=console_url(partition, region, name))


def console_url(partition: str, region: str | None, name: str) -> str | None:
    """Return the CloudWatch console page of alarm ``name``, or None without a Region."""
    console = CONSOLES.get(partition)
    if console is None or region is None:
        return None
    return f"{console}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name, safe='')}"


def _text(alarm: Mapping[str, object], name: str) -> str | None:
    value = alarm.get(name)
    return value if isinstance(value, str) and value else None


def _region(alarm: Mapping[str, object], parsed: re.Match[str] | None,
            topic_arn: str | None) -> str | None:
    """Return the alarm's Region code: from its ARN, its Region name, or its topic's ARN."""
    if parsed:
        return parsed["region"]
    named = REGION_NAMES.get(_text(alarm, "Region") or "")
    if named:
        return named
    code = _text(alarm, "Region")
    if code and _REGION.fullmatch(code):
        return code
    # CloudWatch notifies SNS topics of its own Region.
    topic = _TOPIC_REGION.match(topic_arn or "")
    return topic["region"] if topic else None


def _partition(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _changed_at(alarm: Mapping[str, object]) -> datetime:
    text = _text(alarm, "StateChangeTime") or ""
    try:
        changed = datetime.fromisoformat(text)  # "2015-06-03T17:43:27.123+0000"
    except ValueError as error:
        raise Rejected(f"cloudwatch: StateChangeTime {text[:40]!r} is not ISO 8601",
                       reason="malformed") from error
    if changed.tzinfo is None:
        raise Rejected(f"cloudwatch: StateChangeTime {text[:40]!r} has no time zone",
                       reason="malformed")
    return changed


def _metric(trigger: object) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
    """Return namespace, metric name and dimensions of the metric the alarm watches."""
    if not isinstance(trigger, dict):
        return None, None, ()  # a composite alarm watches other alarms, not a metric
    if _text(trigger, "MetricName"):
        return (_text(trigger, "Namespace"), _text(trigger, "MetricName"),
                _dimensions(trigger.get("Dimensions")))
    # Metric math: the metric whose data the alarm returns, else the first one it reads.
    stats = [query for query in trigger.get("Metrics") or ()
             if isinstance(query, dict) and isinstance(query.get("MetricStat"), dict)]
    stats.sort(key=lambda query: query.get("ReturnData") is not True)
    for query in stats:
        metric = query["MetricStat"].get("Metric")
        if isinstance(metric, dict):
            return (_text(metric, "Namespace"), _text(metric, "MetricName"),
                    _dimensions(metric.get("Dimensions")))
    return None, None, ()


def _dimensions(raw: object) -> tuple[tuple[str, str], ...]:
    """Return ``[{"name": …, "value": …}]`` as (name, value) pairs, in the alarm's order."""
    pairs = []
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, dict):
            continue
        name = item.get("name", item.get("Name"))
        value = item.get("value", item.get("Value"))
        if isinstance(name, str) and isinstance(value, str):
            pairs.append((name, value))
    return tuple(pairs)
