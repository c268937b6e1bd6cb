"""What a user of a fresh project would notice: the first apply, the alerts, what is kept and paid.

Each check is a function returning the problems it finds, run on the module (no problems) and on
a copy with its protection removed (the problem is named), so none of them can pass vacuously.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from scripts.provider_schema import parse_hcl
from tests.terraform.tfmodel import (
    FUNCTIONS,
    ROOT,
    TERRAFORM,
    Module,
    block,
    function,
    load_tfvars,
)

TFVARS = {p.stem: p for p in sorted((TERRAFORM / "environments").glob("*.tfvars"))}
USER_METRIC = re.compile(r"logging\.googleapis\.com/user/\$\{(google_logging_metric\.\w+)"
                         r"(\[\"\w+\"\])?\.name\}")
DISPLAY_PREFIX = "alert-bridge ${var.environment}: "


def _seconds(duration: str) -> int:
    return int(duration.removesuffix("s"))


def _mentions(body: Any, address: str) -> bool:
    """Say whether ``body`` refers to ``address`` (e.g. a resource, or one for_each instance)."""
    text = json.dumps(body).replace('\\"', '"')
    return re.search(re.escape(address) + r"(?![\w-])", text) is not None


def _sleeps_depended_on(module: Module, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(ref, module.resources[ref[2:-1]]) for ref in body.get("depends_on", [])
            if ref.startswith("${time_sleep.")]


def unwaited_user_metrics(module: Module) -> list[str]:
    """Name each alert policy on a log-based metric that does not wait for that metric."""
    problems = []
    for name, policy in module.resources_of("google_monitoring_alert_policy").items():
        for resource, key in USER_METRIC.findall(json.dumps(policy).replace('\\"', '"')):
            metric = resource + key
            waits = [ref for ref, sleep in _sleeps_depended_on(module, policy)
                     if _mentions(sleep, metric) and _seconds(sleep["create_duration"]) >= 600]
            if not waits:
                problems.append(f"{name}: {metric}")
    return problems


def unwaited_builds(module: Module) -> list[str]:
    """Name each function whose build does not wait for the builder's roles to propagate."""
    problems = []
    for name in FUNCTIONS:
        waits = [ref for ref, sleep in _sleeps_depended_on(module, function(module, name))
                 if _mentions(sleep, "google_project_iam_member.builder")
                 and _seconds(sleep["create_duration"]) >= 60]
        if not waits:
            problems.append(name)
    return problems


def unwaited_agent_grants(module: Module) -> list[str]:
    """Name each grant to the Pub/Sub service agent made before the agent can exist."""
    problems = []
    for address, body in module.resources.items():
        if body.get("member") != "${local.pubsub_service_agent}":
            continue
        waits = [ref for ref, sleep in _sleeps_depended_on(module, body)
                 if _mentions(sleep, 'google_project_service.api["pubsub.googleapis.com"]')]
        if not waits:
            problems.append(address)
    return problems


def _count_for(body: dict[str, Any], access: str) -> int:
    match = re.fullmatch(r'\$\{var\.ingest_public_access == "(\w+)" \? 1 : 0\}', body["count"])
    assert match, f"unexpected count expression {body['count']}"
    return 1 if match.group(1) == access else 0


def public_access_problems(module: Module, access: str) -> list[str]:
    """List what is wrong with how ingest is made public for one ingest_public_access value."""
    grants = [g for g in module.resources_of("google_cloud_run_service_iam_member").values()
              if g["member"] == "allUsers"]
    checks_off = list(module.resources_of("terraform_data").values())
    granted = sum(_count_for(g, access) if "count" in g else 1 for g in grants)
    disabled = sum(_count_for(d, access) for d in checks_off)
    problems = []
    if access == "invoker_iam_check_disabled" and granted:
        problems.append("allUsers is granted although Domain Restricted Sharing refuses it")
    if granted + disabled != 1:
        problems.append(f"ingest is made public {granted + disabled} times, not once")
    return problems


def archive_deletion_problems(module: Module) -> list[str]:
    """List how the source bucket could delete an archive a function still builds from."""
    bucket = module.resources["google_storage_bucket.source"]
    problems = []
    if block(bucket, "versioning").get("enabled") is not True:
        problems.append("bucket not versioned")
    for rule in bucket.get("lifecycle_rule", []):
        if block(rule, "action")["type"] == "Delete" and \
                block(rule, "condition").get("with_state") != "ARCHIVED":
            problems.append(f"Delete rule also matches live objects: {block(rule, 'condition')}")
    for name in FUNCTIONS:
        build = block(function(module, name), "build_config")
        storage = block(block(build, "source"), "storage_source")
        if storage.get("generation") != (
                f'${{google_storage_bucket_object.source["{name}"].generation}}'):
            problems.append(f"{name} does not name the generation it builds from")
    return problems


def mutated(module: Module, address: str, change: Any) -> Module:
    """Return a copy of ``module`` with ``change`` applied to one resource body."""
    copied = copy.deepcopy(module)
    change(copied.resources[address])
    return copied


def test_every_alert_policy_on_a_log_based_metric_waits_for_it(module: Module) -> None:
    assert unwaited_user_metrics(module) == []
    without_wait = mutated(module, "google_monitoring_alert_policy.reconcile_failures",
                           lambda body: body.pop("depends_on"))
    assert unwaited_user_metrics(without_wait) == [
        'reconcile_failures: google_logging_metric.event["reconcile_failures"]']


def test_a_wait_for_another_metric_does_not_count(module: Module) -> None:
    def other_metric(body: dict[str, Any]) -> None:
        body["triggers"] = {"x": '${google_logging_metric.event["tasks_created"].id}'}

    assert unwaited_user_metrics(mutated(module, "time_sleep.log_metrics", other_metric)) == [
        'reconcile_failures: google_logging_metric.event["reconcile_failures"]']


def test_function_builds_wait_for_builder_iam_to_propagate(module: Module) -> None:
    assert unwaited_builds(module) == []
    only_created = mutated(module, "google_cloudfunctions2_function.function",
                           lambda body: body.update(depends_on=[
                               "${google_project_iam_member.builder}"]))
    assert unwaited_builds(only_created) == list(FUNCTIONS)


def test_grants_to_the_pubsub_agent_wait_for_the_agent(module: Module) -> None:
    assert len([b for b in module.resources.values()
                if b.get("member") == "${local.pubsub_service_agent}"]) == 4
    assert unwaited_agent_grants(module) == []
    early = mutated(module, "google_pubsub_topic_iam_member.dead_letter_agent_publisher",
                    lambda body: body.pop("depends_on"))
    assert unwaited_agent_grants(early) == [
        "google_pubsub_topic_iam_member.dead_letter_agent_publisher"]


def test_time_provider_is_pinned_and_terraform_can_validate_across_variables() -> None:
    versions = (TERRAFORM / "versions.tf").read_text()
    assert re.search(r'time = \{\s+source\s+= "hashicorp/time"\s+version = "~> 0\.12"', versions)
    assert 'required_version = ">= 1.9"' in versions


def test_worker_errors_use_the_builtin_error_count_of_the_worker(module: Module) -> None:
    policy = module.resources["google_monitoring_alert_policy.worker_errors"]
    condition = block(block(policy, "conditions"), "condition_threshold")
    assert condition["filter"] == (
        'resource.type="cloud_run_revision" AND '
        'resource.labels.service_name="${local.worker_service}" AND ${local.error_log_entries}')
    errors = module.locals["error_log_entries"]
    assert 'metric.type="logging.googleapis.com/log_entry_count"' in errors
    # Filters compare the severity label as a string: >= ERROR would not mean what it says.
    assert 'metric.labels.severity=one_of("ERROR", "CRITICAL", "ALERT", "EMERGENCY")' in errors
    assert "google_logging_metric.worker_errors" not in json.dumps(module.resources)


def test_rejected_webhook_policy_watches_ingest_401s_over_ten_minutes(module: Module) -> None:
    policy = module.resources["google_monitoring_alert_policy.webhooks_unauthorized"]
    assert "check the secret" in policy["display_name"]
    condition = block(block(policy, "conditions"), "condition_threshold")
    assert condition["filter"] == (
        'resource.type="cloud_run_revision" AND '
        'resource.labels.service_name="${local.ingest_service}" AND '
        'metric.type="run.googleapis.com/request_count" AND metric.labels.response_code="401"')
    assert condition["threshold_value"] == "${var.alert_thresholds.rejected_webhooks}"
    aggregation = block(condition, "aggregations")
    assert (aggregation["alignment_period"], aggregation["per_series_aligner"]) == (
        "600s", "ALIGN_SUM")
    assert "rejected_webhooks = optional(number, 5)" in module.variables["alert_thresholds"]["type"]


def test_lost_webhooks_alert_needs_no_log_based_metric(module: Module) -> None:
    policy = module.resources["google_monitoring_alert_policy.alerts_reconciled"]
    match = block(block(policy, "conditions"), "condition_matched_log")
    assert 'jsonPayload.event="alert_reconciled"' in match["filter"]
    assert 'service_name="${local.reconcile_service}"' in match["filter"]
    # Required by Monitoring for a log-match condition.
    strategy = block(policy, "alert_strategy")
    assert block(strategy, "notification_rate_limit")["period"]
    # The API's value for a log match; left out, every plan would show it as a change.
    assert strategy["notification_prompts"] == ["OPENED"]


@pytest.mark.parametrize("access", ["all_users", "invoker_iam_check_disabled"])
def test_ingest_is_made_public_exactly_once_and_never_by_allusers_under_drs(
        module: Module, access: str) -> None:
    variable = module.variables["ingest_public_access"]
    assert variable["default"] == "all_users"
    assert f'"{access}"' in variable["validation"][0]["condition"]
    assert public_access_problems(module, access) == []


def test_drs_mode_with_an_unconditional_allusers_grant_is_caught(module: Module) -> None:
    always = mutated(module, "google_cloud_run_service_iam_member.ingest_public",
                     lambda body: body.pop("count"))
    assert public_access_problems(always, "invoker_iam_check_disabled") == [
        "allUsers is granted although Domain Restricted Sharing refuses it",
        "ingest is made public 2 times, not once",
    ]


def test_upgrading_keeps_the_existing_allusers_grant() -> None:
    # Without the move, adding count would destroy and recreate the grant: 403s in between.
    moved = parse_hcl((TERRAFORM / "functions.tf").read_text()).get("moved", [])
    assert {"from": "${google_cloud_run_service_iam_member.ingest_public}",
            "to": "${google_cloud_run_service_iam_member.ingest_public[0]}"} in moved


def test_drs_mode_turns_off_the_invoker_check_after_every_ingest_deploy(module: Module) -> None:
    step = module.resources["terraform_data.ingest_invoker_check_disabled"]
    ingest = 'google_cloudfunctions2_function.function["ingest"]'
    assert step["triggers_replace"] == [f"${{{ingest}.update_time}}"]
    [provisioner] = step["provisioner"]
    local_exec = provisioner["local-exec"]
    assert local_exec["command"].startswith('gcloud run services update "$SERVICE" ')
    assert "--no-invoker-iam-check" in local_exec["command"].split()
    assert local_exec["environment"] == {
        "SERVICE": '${google_cloudfunctions2_function.function["ingest"].name}',
        "REGION": "${var.region}", "PROJECT": "${var.project_id}"}


def test_source_bucket_never_deletes_the_archive_in_use(module: Module) -> None:
    assert archive_deletion_problems(module) == []

    def age_rule(body: dict[str, Any]) -> None:
        body["lifecycle_rule"] = [{"condition": [{"age": 30}], "action": [{"type": "Delete"}]}]

    broken = mutated(module, "google_storage_bucket.source", age_rule)
    assert archive_deletion_problems(broken) == [
        "Delete rule also matches live objects: {'age': 30}"]


def test_archive_names_are_stable_so_an_unchanged_archive_is_not_uploaded_again(
        module: Module) -> None:
    assert module.resources["google_storage_bucket_object.source"]["name"] == "${each.key}.zip"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_images_go_to_a_repository_that_is_cleaned_up(module: Module, name: str) -> None:
    build = block(function(module, name), "build_config")
    assert build["docker_repository"] == "${google_artifact_registry_repository.functions.id}"
    repository = module.resources["google_artifact_registry_repository.functions"]
    assert repository["cleanup_policy_dry_run"] is False
    policies = {p["action"]: p for p in repository["cleanup_policies"]}
    assert block(policies["KEEP"], "most_recent_versions")["keep_count"] == "${var.images_kept}"
    assert block(policies["DELETE"], "condition")["tag_state"] == "ANY"
    assert module.variables["images_kept"]["default"] >= 2


def test_at_least_one_notification_channel_is_required(module: Module) -> None:
    conditions = [v["condition"] for v in module.variables["alert_emails"]["validation"]]
    assert ("${length(var.alert_emails) + length(var.extra_notification_channels) > 0}"
            in conditions)
    for env, path in TFVARS.items():
        values = load_tfvars(path)
        channels = values.get("alert_emails", []) + values.get("extra_notification_channels", [])
        assert channels, f"{env}.tfvars: its alerts would notify nobody"


def test_ingest_may_scale_to_zero_but_prod_stays_warm(module: Module) -> None:
    condition = module.variables["ingest_scaling"]["validation"][0]["condition"]
    assert "var.ingest_scaling.min_instances >= 0" in condition
    assert load_tfvars(TFVARS["prod"])["ingest_scaling"]["min_instances"] >= 1
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert "https://cloud.google.com/run/pricing" in guide


def test_dashboard_leaves_out_what_the_api_drops(module: Module) -> None:
    json_expression = module.resources["google_monitoring_dashboard.main"]["dashboard_json"]
    # Empty groupByFields and zero positions are dropped by the API: a perpetual diff.
    assert "groupByFields      = tile.group" not in json_expression
    assert ("{for key, fields in {groupByFields = tile.group} : key => fields "
            "if length(fields) > 0}") in json_expression
    assert ("{for key, position in {xPos = (index % 2) * 6, yPos = floor(index / 2) * 4} : "
            "key => position if position != 0}") in json_expression


def _alert_sections(text: str) -> dict[str, str]:
    """Map each alert policy name to the comment lines right above its block."""
    sections = {}
    for match in re.finditer(r'((?:^#.*\n)+)resource "google_monitoring_alert_policy" "(\w+)"',
                             text, re.MULTILINE):
        sections[match.group(2)] = match.group(1)
    return sections


def test_every_alert_policy_names_the_silent_failure_it_catches(module: Module) -> None:
    sections = _alert_sections((TERRAFORM / "monitoring.tf").read_text())
    policies = module.resources_of("google_monitoring_alert_policy")
    assert set(sections) == set(policies)
    assert [n for n, comment in sections.items() if not comment.startswith("# Catches: ")] == []


def _runbook_rows(runbook: str) -> set[str]:
    section = runbook.split("## What the alerts watch", 1)[1].split("\n## ", 1)[0]
    return {line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| Alert |")}


def test_every_alert_policy_has_a_row_in_the_runbook(module: Module) -> None:
    rows = _runbook_rows((ROOT / "docs" / "alerts.md").read_text())
    names = {p["display_name"].removeprefix(DISPLAY_PREFIX)
             for p in module.resources_of("google_monitoring_alert_policy").values()}
    assert names - rows == set()


def test_the_deploy_guide_says_what_the_first_apply_waits_for(module: Module) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    section = re.split(r"\n#{2,3} ", guide.split("### What the first apply waits for", 1)[1])[0]
    for name, sleep in module.resources_of("time_sleep").items():
        assert f"`{name}`" in section and sleep["create_duration"] in section, name

