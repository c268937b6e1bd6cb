"""The samples `make send-sample` posts tell one coherent story on the local stack."""

import json

import pytest

from scripts.send_sample import SAMPLES, sample_body
from shared.alerts import alert_key
from shared.alerts_parse import parse_alert


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_parses(name: str) -> None:
    resource = SAMPLES[name][1] or "datadog"
    source = "datadog" if resource == "datadog" else "sentry"
    alert = parse_alert(sample_body(name), {"source": source, "resource": resource})
    assert alert.key == alert_key(source, resource, json.loads(sample_body(name)))


@pytest.mark.parametrize("name", ["sentry-resolved", "sentry-regressed"])
def test_issue_samples_update_the_task_of_the_sentry_sample(name: str) -> None:
    opened = alert_key("sentry", "event_alert", json.loads(sample_body("sentry")))
    assert alert_key("sentry", "issue", json.loads(sample_body(name))) == opened
