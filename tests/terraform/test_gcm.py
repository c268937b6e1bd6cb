"""Cloud Monitoring in Terraform: the pubsub channel, its topic, grant and push subscription, the
webhook secret only when switched on, and the loop guard (the service's own alert policies never
notify its own channel)."""

from __future__ import annotations

import re

from tests.terraform.tfmodel import TERRAFORM, Module, block

WORKER_URI = '${google_cloudfunctions2_function.function["worker"].service_config[0].uri}'
GCM_RESOURCES = ("google_pubsub_topic.gcm_incidents",
                 "google_monitoring_notification_channel.gcm_pubsub",
                 "google_pubsub_topic_iam_member.gcm_notification_agent_publisher",
                 "google_pubsub_subscription.gcm_incidents",
                 "google_pubsub_subscription_iam_member.gcm_agent_subscriber",
                 "google_monitoring_alert_policy.gcm_incidents_backlog")


def test_one_switch_with_the_known_values(module: Module) -> None:
    variable = module.variables["cloud_monitoring_channel"]
    assert (variable["type"], variable["default"]) == ("string", "off")
    assert '["off", "pubsub", "webhook", "both"]' in variable["validation"][0]["condition"]
    assert 'notification_prompts = ["OPENED", "CLOSED"]' in variable["description"]


def test_everything_of_the_pubsub_channel_exists_only_when_switched_on(module: Module) -> None:
    for address in GCM_RESOURCES:
        assert module.resources[address]["count"] == "${local.gcm_pubsub ? 1 : 0}", address
    assert module.locals["gcm_pubsub"] == '${contains(["pubsub", "both"], ' \
                                          'var.cloud_monitoring_channel)}'


def test_the_channel_publishes_to_its_topic_and_only_the_agent_may(module: Module) -> None:
    channel = module.resources["google_monitoring_notification_channel.gcm_pubsub"]
    assert (channel["type"], channel["labels"]) == (
        "pubsub", {"topic": "${google_pubsub_topic.gcm_incidents[0].id}"})
    grant = module.resources["google_pubsub_topic_iam_member.gcm_notification_agent_publisher"]
    assert (grant["topic"], grant["role"], grant["member"]) == (
        "${google_pubsub_topic.gcm_incidents[0].id}", "roles/pubsub.publisher",
        "${local.monitoring_notification_agent}")
    assert module.locals["monitoring_notification_agent"] == (
        "serviceAccount:service-${data.google_project.this.number}"
        "@gcp-sa-monitoring-notification.iam.gserviceaccount.com")
    # Google creates the agent with the project's first channel.
    assert grant["depends_on"] == ["${google_monitoring_notification_channel.gcm_pubsub}"]
    publishers = [g for g in module.resources_of("google_pubsub_topic_iam_member").values()
                  if "gcm_incidents" in g["topic"]]
    assert publishers == [grant]  # ingest, the worker and reconcile publish nothing there


def test_the_subscription_pushes_to_the_worker_as_the_events_one_does(module: Module) -> None:
    events = module.resources["google_pubsub_subscription.events"]
    incidents = module.resources["google_pubsub_subscription.gcm_incidents"]
    push = block(incidents, "push_config")
    assert push["push_endpoint"] == "${local.worker_uri}?source=gcm"
    assert module.locals["worker_uri"] == WORKER_URI
    assert block(push, "oidc_token") == {
        "service_account_email": "${google_service_account.pusher.email}",
        "audience": "${local.worker_uri}"}
    for same in ("dead_letter_policy", "retry_policy", "expiration_policy"):
        assert block(incidents, same) == block(events, same), same
    assert incidents["ack_deadline_seconds"] == events["ack_deadline_seconds"]
    assert incidents["depends_on"] == events["depends_on"]


def test_the_webhook_secret_exists_only_when_the_webhook_is_on(module: Module) -> None:
    assert module.locals["source_switches"]["GCM_WEBHOOK_TOKEN"] == "${local.gcm_webhook}"
    assert module.locals["optional_sources"]["gcm"] == "${local.gcm_webhook}"
    assert "lookup(local.source_switches, name, true)" in module.locals["secret_reader"]
    assert "lookup(local.source_switches, name, true)" in module.locals["secret_grants"]


def test_the_services_own_policies_never_notify_its_own_channel(module: Module) -> None:
    # The loop guard: an alert about the worker failing must not depend on the worker.
    channels = module.locals["notification_channels"]
    assert "gcm_pubsub" not in channels
    for name, policy in module.resources_of("google_monitoring_alert_policy").items():
        assert policy["notification_channels"] == "${local.notification_channels}", name
    text = "".join(p.read_text() for p in TERRAFORM.glob("*.tf"))
    users = re.findall(r"google_monitoring_notification_channel\.gcm_pubsub\b[^\n]*", text)
    assert all("[*].id" in use or "depends_on" in use or "gcm_pubsub]" in use
               for use in users), users
    channel = module.resources["google_monitoring_notification_channel.gcm_pubsub"]
    [postcondition] = block(channel, "lifecycle")["postcondition"]
    assert postcondition["condition"] == "${!contains(var.extra_notification_channels, self.id)}"


def test_own_metric_policies_notify_closure_and_log_ones_cannot(module: Module) -> None:
    for name, policy in module.resources_of("google_monitoring_alert_policy").items():
        condition = block(policy, "conditions")
        prompts = block(policy, "alert_strategy")["notification_prompts"]
        expected = ["OPENED"] if "condition_matched_log" in condition else ["OPENED", "CLOSED"]
        assert prompts == expected, name


def test_outputs_give_the_channel_and_the_webhook_url(module: Module) -> None:
    assert module.outputs["cloud_monitoring_notification_channel"]["value"] == (
        "${one(google_monitoring_notification_channel.gcm_pubsub[*].id)}")
    url = module.outputs["cloud_monitoring_webhook_url"]["value"]
    assert "?source=gcm&auth_token=<GCM_WEBHOOK_TOKEN>" in url and "local.gcm_webhook" in url
