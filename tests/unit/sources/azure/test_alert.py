"""Azure Monitor's common alert schema: Microsoft's published samples, states, severities, scope."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.core.errors import Rejected
from shared.sources.azure.alert import AzureAction, parse_alert

VENDOR = Path(__file__).resolve().parents[3] / "data" / "vendor" / "azure"
SAMPLE = VENDOR / "common-schema-sample-metric-resolved.json"
TEST_ACTION = VENDOR / "test-action-metric-static-threshold-fired.json"


def _body(path: Path = TEST_ACTION, **changes: Any) -> bytes:
    payload = json.loads(path.read_bytes())
    essentials = payload["data"]["essentials"]
    for name, value in changes.items():
        if value is None:
            essentials.pop(name, None)
        else:
            essentials[name] = value
    return json.dumps(payload).encode()


def test_published_resolved_sample() -> None:
    alert = parse_alert(SAMPLE.read_bytes())
    assert alert.key == ("/subscriptions/<subscription ID>/providers/Microsoft.AlertsManagement/"
                         "alerts/b9569717-bc32-442f-add5-83a997729330")
    assert (alert.action, alert.condition) == (AzureAction.RESOLVE, "Resolved")
    assert (alert.severity, alert.severity_level) == ("Sev3", 3)
    assert alert.fired_at == datetime(2019, 3, 22, 13, 58, 24, 371321, tzinfo=UTC)
    assert alert.resolved_at == datetime(2019, 3, 22, 14, 3, 16, 224631, tzinfo=UTC)
    assert alert.occurred_at == alert.resolved_at
    assert (alert.rule, alert.signal_type, alert.monitoring_service) == (
        "WCUS-R2-Gen2", "Metric", "Platform")
    assert alert.description is None  # "" in the sample
    assert (alert.subscription_id, alert.resource_group) == ("<subscription ID>",
                                                             "pipelinealertrg")
    assert alert.configuration_items == ("wcus-r2-gen2",)
    assert alert.custom_properties == (("Key1", "Value1"), ("Key2", "Value2"))


def test_published_fired_test_action() -> None:
    alert = parse_alert(TEST_ACTION.read_bytes())
    assert (alert.action, alert.severity_level) == (AzureAction.TRIGGER, 3)
    assert alert.occurred_at == alert.fired_at == datetime(2021, 11, 15, 9, 35, 24, 346850,
                                                           tzinfo=UTC)
    assert alert.resolved_at is None
    assert (alert.subscription_id, alert.resource_group) == (
        "11111111-1111-1111-1111-111111111111", "test-RG")
    assert alert.target_ids == ("/subscriptions/11111111-1111-1111-1111-111111111111/"
                                "resourcegroups/test-RG/providers/Microsoft.Storage/"
                                "storageAccounts/test-storageAccount",)
    assert alert.description == "Alert rule description"


def test_fired_and_resolved_share_a_key() -> None:
    fired = parse_alert(_body(monitorCondition="Fired"))
    resolved = parse_alert(_body(monitorCondition="Resolved",
                                 resolvedDateTime="2021-11-15T09:45:00.0000000Z"))
    assert fired.key == resolved.key
    assert (fired.action, resolved.action) == (AzureAction.TRIGGER, AzureAction.RESOLVE)
    assert resolved.occurred_at is not None and fired.occurred_at is not None
    assert resolved.occurred_at > fired.occurred_at


def test_resolved_without_a_resolve_time_has_no_source_time() -> None:
    # Microsoft: resolvedDateTime is "currently only applicable for metric alerts".
    alert = parse_alert(_body(monitorCondition="Resolved", signalType="Log"))
    assert alert.occurred_at is None
    assert alert.fired_at is not None


@pytest.mark.parametrize(("severity", "level"), [
    ("Sev0", 0), ("Sev1", 1), ("Sev2", 2), ("Sev3", 3), ("Sev4", 4), ("Sev5", None),
    ("sev1", None), ("Critical", None), (None, None)])
def test_severity(severity: str | None, level: int | None) -> None:
    alert = parse_alert(_body(severity=severity))
    assert (alert.severity, alert.severity_level) == (severity, level)


@pytest.mark.parametrize(("targets", "scope"), [
    (["/subscriptions/s1/resourceGroups/RG-1/providers/x/y/z"], ("s1", "RG-1")),
    (["/SUBSCRIPTIONS/s1/RESOURCEGROUPS/rg/providers/x"], ("s1", "rg")),
    (["/subscriptions/s1", "/subscriptions/s2/resourcegroups/rg2/x"], ("s2", "rg2")),
    (["/subscriptions/s1"], ("s1", None)),
    (["not an id"], ("11111111-1111-1111-1111-111111111111", None)),  # from alertId
    ([], ("11111111-1111-1111-1111-111111111111", None)),
], ids=["resource", "upper-case", "first-with-a-group", "subscription-only", "unreadable",
        "none"])
def test_scope(targets: list[str], scope: tuple[str | None, str | None]) -> None:
    alert = parse_alert(_body(alertTargetIDs=targets))
    assert (alert.subscription_id, alert.resource_group) == scope


MALFORMED = [
    ("not-json", b"schemaId=azureMonitorCommonAlertSchema"),
    ("not-utf8", b'{"schemaId": "\xff"}'),
    ("not-an-object", b"[]"),
    ("other-schema", json.dumps({"schemaId": "Microsoft.Insights/activityLogs",
                                 "data": {}}).encode()),
    ("no-schema-id", json.dumps({"data": {"essentials": {}}}).encode()),
    ("no-essentials", json.dumps({"schemaId": "azureMonitorCommonAlertSchema",
                                  "data": {}}).encode()),
    ("no-alert-id", _body(alertId=None)),
    ("unknown-condition", _body(monitorCondition="Acknowledged")),
    ("no-condition", _body(monitorCondition=None)),
    ("fired-time-not-iso", _body(firedDateTime="yesterday")),
    ("fired-time-without-zone", _body(firedDateTime="2021-11-15T09:35:24")),
]


@pytest.mark.parametrize("body", [row[1] for row in MALFORMED],
                         ids=[row[0] for row in MALFORMED])
def test_malformed(body: bytes) -> None:
    with pytest.raises(Rejected) as refused:
        parse_alert(body)
    assert refused.value.reason == "malformed"
