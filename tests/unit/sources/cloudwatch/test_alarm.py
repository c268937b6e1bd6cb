"""CloudWatch alarms in SNS messages: AWS's published payloads, states, keys, regions, links."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.core.errors import Rejected
from shared.sources.cloudwatch.alarm import AlarmAction, console_url, parse_alarm
from tests.unit.sources.cloudwatch.signer import ALARM

VENDOR = Path(__file__).resolve().parents[3] / "data" / "vendor" / "aws_sns"


def _vendor(name: str) -> dict[str, Any]:
    sns: dict[str, Any] = json.loads((VENDOR / f"{name}.json").read_bytes())["Records"][0]["Sns"]
    return sns


def _alarm(**changes: Any) -> str:
    alarm = {**ALARM, **changes}
    return json.dumps({k: v for k, v in alarm.items() if v is not None})


def test_published_single_metric_alarm() -> None:
    sns = _vendor("lambda-cloudwatch-alarm-sns-payload-single-metric")
    alarm = parse_alarm(sns["Message"], topic_arn=sns["TopicArn"])
    # AWS's placeholder ARN: the key is the ARN as sent.
    assert alarm.key == "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE"
    assert alarm.action is AlarmAction.TRIGGER
    assert (alarm.state, alarm.previous_state) == ("ALARM", "INSUFFICIENT_DATA")
    assert alarm.changed_at == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    assert (alarm.name, alarm.account, alarm.description) == ("EXAMPLE", "123456789012", "EXAMPLE")
    assert (alarm.namespace, alarm.metric_name) == ("AWS/EC2", "NetworkOut")
    assert alarm.dimensions == (("InstanceId", "TestInstance"),)
    assert alarm.reason is not None and alarm.reason.startswith("Threshold Crossed")
    assert alarm.region is None  # "REGION" and "EXAMPLE" name none: no link rather than a wrong one
    assert alarm.console_url is None


def test_published_metric_math_alarm_reads_the_metric_behind_the_expression() -> None:
    sns = _vendor("lambda-cloudwatch-alarm-sns-payload-multiple-metrics")
    alarm = parse_alarm(sns["Message"], topic_arn=sns["TopicArn"])
    assert (alarm.namespace, alarm.metric_name) == ("AWS/EC2", "NetworkOut")
    assert alarm.dimensions == (("InstanceId", "TestInstance"),)


def test_recorded_alarm_has_every_routing_field() -> None:
    alarm = parse_alarm(_alarm())
    assert alarm.key == "arn:aws:cloudwatch:us-east-2:123456789012:alarm:checkout-5xx"
    assert (alarm.account, alarm.region) == ("123456789012", "us-east-2")
    assert (alarm.name, alarm.namespace) == ("checkout-5xx", "AWS/ApplicationELB")
    assert alarm.metric_name == "HTTPCode_Target_5XX_Count"
    assert alarm.dimensions == (("LoadBalancer", "app/checkout/50dc6c495c0c9188"),)
    assert alarm.description == "Checkout answers 5xx"
    assert alarm.console_url == ("https://console.aws.amazon.com/cloudwatch/home?region=us-east-2"
                                 "#alarmsV2:alarm/checkout-5xx")


@pytest.mark.parametrize(("state", "action"), [
    ("ALARM", AlarmAction.TRIGGER),
    ("OK", AlarmAction.RESOLVE),
    ("INSUFFICIENT_DATA", AlarmAction.COMMENT),
])
def test_state_to_action(state: str, action: AlarmAction) -> None:
    assert parse_alarm(_alarm(NewStateValue=state)).action is action


def test_alarm_and_its_recovery_share_a_key() -> None:
    fired = parse_alarm(_alarm(NewStateValue="ALARM"))
    recovered = parse_alarm(_alarm(NewStateValue="OK", OldStateValue="ALARM",
                                   StateChangeTime="2026-06-01T12:10:00.000+0000"))
    assert fired.key == recovered.key
    assert recovered.changed_at > fired.changed_at


@pytest.mark.parametrize(("changes", "topic", "key", "region"), [
    ({"AlarmArn": None}, None, "aws:123456789012:us-east-2:checkout-5xx", "us-east-2"),
    ({"AlarmArn": None, "Region": "EU (Ireland)"}, None, "aws:123456789012:eu-west-1:checkout-5xx",
     "eu-west-1"),
    ({"AlarmArn": None, "Region": "US - N. Virginia"}, None,
     "aws:123456789012:us-east-1:checkout-5xx", "us-east-1"),
    ({"AlarmArn": None, "Region": "Somewhere New"}, "arn:aws:sns:ap-east-2:123456789012:alerts",
     "aws:123456789012:ap-east-2:checkout-5xx", "ap-east-2"),
    ({"AlarmArn": None, "Region": "eu-central-2"}, None,
     "aws:123456789012:eu-central-2:checkout-5xx", "eu-central-2"),
    ({"AlarmArn": "arn:aws:cloudwatch:eu-west-3:210987654321:alarm:a:b"}, None,
     "arn:aws:cloudwatch:eu-west-3:210987654321:alarm:a:b", "eu-west-3"),
], ids=["region-name", "older-region-name", "oldest-region-name", "topic-region", "region-code",
        "arn-wins"])
def test_key_and_region(changes: dict[str, Any], topic: str | None, key: str, region: str) -> None:
    alarm = parse_alarm(_alarm(**changes), topic_arn=topic)
    assert (alarm.key, alarm.region) == (key, region)


def test_account_comes_from_the_arn_when_the_message_lacks_it() -> None:
    assert parse_alarm(_alarm(AWSAccountId=None)).account == "123456789012"


@pytest.mark.parametrize(("partition", "region", "url"), [
    ("aws", "eu-west-1", "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
                         "#alarmsV2:alarm/a%2Fb%20c%3A%23"),
    ("aws-cn", "cn-north-1", "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1"
                             "#alarmsV2:alarm/a%2Fb%20c%3A%23"),
    ("aws-us-gov", "us-gov-west-1", "https://console.amazonaws-us-gov.com/cloudwatch/home?region="
                                    "us-gov-west-1#alarmsV2:alarm/a%2Fb%20c%3A%23"),
    ("aws", None, None),
    ("aws-eusc", "eusc-de-east-1", None),
])
def test_console_url(partition: str, region: str | None, url: str | None) -> None:
    assert console_url(partition, region, "a/b c:#") == url


def test_china_alarm_links_to_the_china_console() -> None:
    alarm = parse_alarm(_alarm(AlarmArn="arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x",
                               AlarmName="x"))
    assert alarm.console_url == ("https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1"
                                 "#alarmsV2:alarm/x")


def test_composite_alarm_has_no_metric() -> None:
    alarm = parse_alarm(_alarm(Trigger=None))
    assert (alarm.namespace, alarm.metric_name, alarm.dimensions) == (None, None, ())


MALFORMED = [
    ("not-json", "Hello world"),
    ("not-an-object", "[1, 2]"),
    ("no-name", _alarm(AlarmName=None)),
    ("no-state", _alarm(NewStateValue=None)),
    ("unknown-state", _alarm(NewStateValue="PANIC")),
    ("no-state-change-time", _alarm(StateChangeTime=None)),
    ("state-change-time-not-iso", _alarm(StateChangeTime="June 1st")),
    ("state-change-time-without-zone", _alarm(StateChangeTime="2026-06-01T11:59:58")),
    ("no-key", _alarm(AlarmArn=None, Region="Somewhere New")),
]


@pytest.mark.parametrize("message", [row[1] for row in MALFORMED],
                         ids=[row[0] for row in MALFORMED])
def test_malformed(message: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_alarm(message)
    assert refused.value.reason == "malformed"
