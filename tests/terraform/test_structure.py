"""Structural checks of the Terraform module: the wiring a wrong plan would not reveal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.core.settings import SECRET_NAMES, SECRET_READERS, SETTINGS
from tests.terraform.tfmodel import (
    FUNCTIONS,
    ROOT,
    TERRAFORM,
    Module,
    block,
    function,
    load_tfvars,
)

TFVARS = sorted((TERRAFORM / "environments").glob("*.tfvars"))

# Settings read by the code but deliberately not set in the deployment, with the reason.
NOT_DEPLOYED = {
    "DRY_RUN_FILE": "dry-run is for `make run` and dev without a token; the default path works",
    "SENTRY_DSN": "a secret environment variable from Secret Manager, not a plain one",
    "AZURE_ENTRA_KEYS_URL": "test-only (a local fake of Entra's keys); refused outside dev",
    "CLOUDWATCH_SNS_TEST_TRUST": "a test-only certificate trust, which prod refuses",
}


def test_events_subscription_dead_letters_after_configured_attempts(module: Module) -> None:
    subscription = module.resources["google_pubsub_subscription.events"]
    policy = block(subscription, "dead_letter_policy")
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert module.variables["max_delivery_attempts"]["default"] == 10


def test_events_subscription_retries_with_exponential_backoff(module: Module) -> None:
    retry = block(module.resources["google_pubsub_subscription.events"], "retry_policy")
    assert retry == {"minimum_backoff": "${var.retry_backoff.minimum}",
                     "maximum_backoff": "${var.retry_backoff.maximum}"}


def test_events_subscription_pushes_to_worker_with_oidc(module: Module) -> None:
    push = block(module.resources["google_pubsub_subscription.events"], "push_config")
    worker_uri = '${google_cloudfunctions2_function.function["worker"].service_config[0].uri}'
    assert push["push_endpoint"] == worker_uri
    oidc = block(push, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.pusher.email}"
    assert oidc["audience"] == worker_uri


def test_dead_letter_subscription_is_pull_with_long_retention(module: Module) -> None:
    replay = module.resources["google_pubsub_subscription.dead_letter"]
    assert replay["topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert "push_config" not in replay
    retention = module.variables["dead_letter_retention"]["default"]
    assert int(retention.removesuffix("s")) >= 7 * 24 * 3600


def test_pubsub_service_agent_can_dead_letter(module: Module) -> None:
    agent = "${local.pubsub_service_agent}"
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in module.locals["pubsub_service_agent"]
    publisher = module.resources["google_pubsub_topic_iam_member.dead_letter_agent_publisher"]
    assert (publisher["topic"], publisher["role"], publisher["member"]) == (
        "${google_pubsub_topic.dead_letter.id}", "roles/pubsub.publisher", agent)
    subscriber = module.resources["google_pubsub_subscription_iam_member.events_agent_subscriber"]
    assert (subscriber["subscription"], subscriber["role"], subscriber["member"]) == (
        "${google_pubsub_subscription.events.id}", "roles/pubsub.subscriber", agent)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_gets_every_setting_the_code_reads(module: Module, name: str) -> None:
    read = {setting.name for setting in SETTINGS}
    assert read >= {"GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC", "LEDGER_COLLECTION"}
    service = block(function(module, name), "service_config")
    assert service["environment_variables"] == "${local.function_env}"
    assert set(module.locals["function_env"]) == read - set(NOT_DEPLOYED)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_reads_the_sentry_dsn_from_secret_manager_when_reporting(
        module: Module, name: str) -> None:
    [dynamic] = block(function(module, name), "service_config")["dynamic"]
    mount = dynamic["secret_environment_variables"]
    assert mount["for_each"] == (
        "${var.sentry_reporting ? [google_secret_manager_secret.sentry_dsn.secret_id] : []}")
    assert mount["content"] == [{"key": "SENTRY_DSN",
                                 "project_id": "${data.google_project.this.number}",
                                 "secret": "${secret_environment_variables.value}",
                                 "version": "latest"}]
    # The revision is created only once the read grant has propagated (waits.tf).
    assert module.resources["time_sleep.builder_iam"]["triggers"]["secret_readers"].count(
        "google_secret_manager_secret_iam_member.sentry_dsn_reader") == 1
    assert function(module, name)["depends_on"] == ["${time_sleep.builder_iam}"]
    reader = module.resources["google_secret_manager_secret_iam_member.sentry_dsn_reader"]
    assert (reader["for_each"], reader["member"]) == (
        "${local.functions}", "${google_service_account.function[each.key].member}")
    assert module.variables["sentry_reporting"]["default"] is False


def test_sentry_release_is_the_deployed_source_hash(module: Module) -> None:
    env = module.locals["function_env"]
    assert env["SENTRY_RELEASE"] == "${local.release}"
    assert "data.archive_file.source[name].output_sha256" in module.locals["release"]
    assert env["SENTRY_ENVIRONMENT"] == (
        '${var.sentry_environment == "" ? var.environment : var.sentry_environment}')


def test_env_topics_are_the_module_topics(module: Module) -> None:
    env = module.locals["function_env"]
    assert env["EVENTS_TOPIC"] == "${google_pubsub_topic.events.name}"
    assert env["DEAD_LETTER_TOPIC"] == "${google_pubsub_topic.dead_letter.name}"
    assert env["LEDGER_COLLECTION"] == "${var.ledger_collection}"
    assert env["SECRET_PREFIX"] == "${var.secret_prefix}"


@pytest.mark.parametrize(("name", "entry_point", "ingress"),
                         [("ingest", "ingest", "ALLOW_ALL"),
                          ("worker", "worker", "ALLOW_INTERNAL_ONLY"),
                          ("reconcile", "reconcile", "ALLOW_INTERNAL_ONLY")], ids=FUNCTIONS)
def test_function_build_and_ingress(module: Module, name: str, entry_point: str,
                                    ingress: str) -> None:
    body = function(module, name)
    build = block(body, "build_config")
    assert (build["runtime"], build["entry_point"]) == ("python311", entry_point)
    storage = block(block(build, "source"), "storage_source")
    assert storage["object"] == f"${{google_storage_bucket_object.source[\"{name}\"].name}}"
    service = block(body, "service_config")
    assert service["ingress_settings"] == ingress
    assert service["service_account_email"] == (
        f"${{google_service_account.function[\"{name}\"].email}}")


def test_archive_puts_main_and_requirements_at_the_root(module: Module) -> None:
    archive = module.data["archive_file.source"]
    files = {s["filename"]: s["content"] for s in archive["source"]}
    assert files == {
        "main.py": '${file("${local.repo_root}/functions/${each.key}/main.py")}',
        "requirements.txt": '${file("${local.repo_root}/requirements.txt")}',
        "teams.yaml": '${file("${local.repo_root}/teams.yaml")}',
    }
    shared = archive["dynamic"][0]["source"]
    assert shared["for_each"] == "${toset(local.shared_files)}"
    assert block(shared, "content")["filename"] == "shared/${source.value}"


@pytest.mark.parametrize("path", ["functions/ingest/main.py", "functions/worker/main.py",
                                  "functions/reconcile/main.py", "requirements.txt",
                                  "teams.yaml", "shared/__init__.py"])
def test_archived_file_exists(path: str) -> None:
    assert (ROOT / path).is_file(), f"archive_file would fail at plan: {path} is missing"


def test_ingest_is_public_and_worker_only_invokable_by_the_pusher(module: Module) -> None:
    members = module.resources_of("google_cloud_run_service_iam_member")
    assert {(m["service"], m["role"], m["member"]) for m in members.values()} == {
        ('${google_cloudfunctions2_function.function["ingest"].name}', "roles/run.invoker",
         "allUsers"),
        ('${google_cloudfunctions2_function.function["worker"].name}', "roles/run.invoker",
         "${google_service_account.pusher.member}"),
        ('${google_cloudfunctions2_function.function["reconcile"].name}', "roles/run.invoker",
         "${google_service_account.scheduler.member}"),
    }


def test_scheduler_calls_reconcile_every_interval_with_oidc(module: Module) -> None:
    job = module.resources["google_cloud_scheduler_job.reconcile"]
    assert job["schedule"] == "*/${var.reconcile.interval_minutes} * * * *"
    target = block(job, "http_target")
    uri = '${google_cloudfunctions2_function.function["reconcile"].service_config[0].uri}'
    assert (target["http_method"], target["uri"]) == ("POST", uri)
    oidc = block(target, "oidc_token")
    assert oidc == {"service_account_email": "${google_service_account.scheduler.email}",
                    "audience": uri}
    assert module.variables["reconcile"]["type"].startswith("${object(")


def test_each_function_reads_only_its_own_secrets(module: Module) -> None:
    readers = module.locals["secret_readers"]
    assert readers == {
        "ingest": ["SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN", "ASANA_PAT",
                   "AZURE_WEBHOOK_TOKEN",
                   "ALERTMANAGER_TOKEN", "GRAFANA_WEBHOOK_SECRET", "GCM_WEBHOOK_TOKEN"],
        "worker": ["ASANA_PAT", "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY"],
        "reconcile": ["SENTRY_AUTH_TOKEN", "DATADOG_API_KEY", "DATADOG_APP_KEY", "ASANA_PAT"],
    }
    # The code asks Secret Manager for exactly what Terraform lets each function read.
    assert readers == {name: list(names) for name, names in SECRET_READERS.items()}
    assert {n for names in readers.values() for n in names} == set(SECRET_NAMES)
    assert module.resources["google_secret_manager_secret.credential"]["for_each"] == (
        "${local.secret_reader}")
    reader = module.resources["google_secret_manager_secret_iam_member.reader"]
    assert reader["for_each"] == "${local.secret_grants}"
    assert reader["role"] == "roles/secretmanager.secretAccessor"
    assert reader["member"] == "${google_service_account.function[each.value.reader].member}"


def test_secret_ids_follow_the_code_naming(module: Module) -> None:
    secret = module.resources["google_secret_manager_secret.credential"]
    assert secret["secret_id"] == '${var.secret_prefix}${lower(replace(each.key, "_", "-"))}'
    assert module.variables["secret_prefix"]["default"] == "alert-bridge-"


def test_no_secret_versions_in_terraform(module: Module) -> None:
    assert module.resources_of("google_secret_manager_secret_version") == {}


def test_ledger_ttl_policy_on_expires_at(module: Module) -> None:
    field = module.resources["google_firestore_field.ledger_ttl"]
    assert (field["collection"], field["field"]) == ("${var.ledger_collection}", "expires_at")
    assert "ttl_config" in field
    assert module.variables["ledger_collection"]["default"] == "alert_ledger"


LEDGER = 'resource.name == "${local.ledger_database}"'
HOOKS = 'resource.name == "${local.hooks_database}"'


def _member(name: str) -> str:
    return f'${{google_service_account.function["{name}"].member}}'


def _condition(grant: dict) -> str | None:
    blocks = grant.get("condition") or [{}]
    return blocks[0].get("expression")


def test_worker_roles_are_least_privilege(module: Module) -> None:
    project_roles = {(r["role"], r["member"], _condition(r))
                     for r in module.resources_of("google_project_iam_member").values()
                     if "function" in r["member"]}
    assert project_roles == {
        ("roles/datastore.user", _member("worker"), LEDGER),
        ("roles/datastore.user", _member("worker"), HOOKS),
        ("roles/datastore.user", _member("reconcile"), LEDGER),
        ("roles/datastore.user", _member("reconcile"), HOOKS),
        # Ingest, the public function, reaches the hooks database and nothing of the ledger.
        ("roles/datastore.user", _member("ingest"), HOOKS),
        ("roles/logging.logWriter", "${google_service_account.function[each.key].member}", None),
    }


def test_firestore_grants_name_one_database_each(module: Module) -> None:
    # Google's per-database condition: resource.name == "projects/PROJECT_ID/databases/DB".
    assert module.locals["ledger_database"] == (
        "projects/${var.project_id}/databases/${google_firestore_database.default.name}")
    assert module.locals["hooks_database"] == (
        "projects/${var.project_id}/databases/${google_firestore_database.hooks.name}")
    hooks = module.resources["google_firestore_database.hooks"]
    assert (hooks["name"], hooks["type"]) == ("${var.asana_hooks_database}", "FIRESTORE_NATIVE")
    assert module.variables["asana_hooks_database"]["default"] == "alert-bridge-hooks"
    assert module.locals["function_env"]["ASANA_HOOKS_DATABASE"] == (
        "${google_firestore_database.hooks.name}")


@pytest.mark.parametrize("name", ["ingest", "reconcile"])
def test_publishes_only_to_events(module: Module, name: str) -> None:
    grants = module.resources_of("google_pubsub_topic_iam_member")
    mine = [g for g in grants.values() if f'"{name}"' in g["member"]]
    assert [(g["topic"], g["role"]) for g in mine] == [
        ("${google_pubsub_topic.events.id}", "roles/pubsub.publisher")]


def _scaling(values: dict) -> tuple[int, int]:
    return values["max_instances"], values["concurrency"]


@pytest.mark.parametrize("path", TFVARS, ids=[p.stem for p in TFVARS])
def test_environment_respects_asana_concurrency(path: Path, module: Module) -> None:
    scaling = load_tfvars(path).get("worker_scaling", module.variables["worker_scaling"]["default"])
    instances, concurrency = _scaling(scaling)
    assert instances * concurrency <= 15


@pytest.mark.parametrize("path", TFVARS, ids=[p.stem for p in TFVARS])
def test_environment_lets_ingest_serve_concurrently(path: Path, module: Module) -> None:
    # Warmth (min_instances) is per environment: test_first_apply.py keeps prod warm.
    scaling = load_tfvars(path).get("ingest_scaling", module.variables["ingest_scaling"]["default"])
    assert scaling["concurrency"] > 1


def test_worker_concurrency_bound_is_validated(module: Module) -> None:
    variable = module.variables["worker_scaling"]
    conditions = [v["condition"] for v in variable["validation"]]
    assert any("max_instances * var.worker_scaling.concurrency <= 15" in c for c in conditions)
    assert _scaling(variable["default"])[0] * _scaling(variable["default"])[1] <= 15


def test_every_variable_is_typed_and_described(module: Module) -> None:
    untyped = [n for n, v in module.variables.items() if "type" not in v or not v.get(
        "description")]
    assert untyped == []


def test_every_output_is_described(module: Module) -> None:
    required = {"webhook_url", "events_topic", "dead_letter_topic", "dead_letter_subscription",
                "events_subscription", "ingest_service_account", "worker_service_account",
                "dashboard_url"}
    assert required <= set(module.outputs)
    assert [n for n, o in module.outputs.items() if not o.get("description")] == []


def test_every_alert_policy_has_runbook_and_channels(module: Module) -> None:
    policies = module.resources_of("google_monitoring_alert_policy")
    assert set(policies) == {"dead_lettered", "events_backlog", "ingest_errors",
                             "ingest_latency", "webhooks_unauthorized", "worker_errors",
                             "alerts_reconciled", "reconcile_failures",
                             "sync_webhook_inactive", "gcm_incidents_backlog"}
    for name, policy in policies.items():
        assert policy["notification_channels"] == "${local.notification_channels}", name
        assert "documentation" in policy, name


@pytest.mark.parametrize(("metric", "event", "labels"), [
    ("tasks_created", "task_created", ["team", "source"]),
    ("alerts_unrouted", "alert_unrouted", ["source"]),
    ("webhooks_rejected", "webhook_rejected", ["reason", "source"]),
    ("dead_lettered", "dead_lettered", ["reason"]),
    ("alerts_reconciled", "alert_reconciled", ["source", "reason"]),
    ("reconcile_failures", "reconcile_failed", ["reason"]),
    ("sync_webhooks_unhealthy", "asana_webhook_unhealthy", ["project", "health"]),
])
def test_log_metric_matches_code_log_event(module: Module, metric: str, event: str,
                                           labels: list[str]) -> None:
    spec = module.locals["log_metrics"][metric]
    assert (spec["event"], spec["labels"]) == (event, labels)


CREDENTIAL_PATTERNS = {
    "secret-version resource": re.compile(r"google_secret_manager_secret_version|secret_data"),
    "Asana personal access token": re.compile(r"\b\d/\d{6,}(/\d+)?:[0-9a-f]{16,}\b"),
    "Sentry token": re.compile(r"\bsntry[su]_[A-Za-z0-9_=+/]{20,}"),
    "long hex key (Datadog API/app key)": re.compile(r"\b[0-9a-f]{32,}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "credential-named literal": re.compile(
        r'^\s*"?\w*(secret|token|password|passwd|api_key|app_key|pat|dsn)"?\s*=\s*"(?!\$\{)'
        r'(?=[^"]*[A-Za-z0-9])[^"]+"', re.IGNORECASE | re.MULTILINE),
}
# Credential-sounding names that hold no credential.
NOT_CREDENTIALS = re.compile(r'^\s*"?\w*_(prefix|id|ids|name|names|seconds)"?\s*=', re.MULTILINE)


def find_secret_values(text: str) -> list[str]:
    """Name every kind of credential value that appears in Terraform text."""
    cleaned = NOT_CREDENTIALS.sub("ignored =", text)
    return [kind for kind, pattern in CREDENTIAL_PATTERNS.items() if pattern.search(cleaned)]


SCAN_CASES = [
    ("asana-pat", 'x = "2/1204928374650/1209876543210:4f1c2b3a4d5e6f708192a3b4c5d6e7f8"',
     ["Asana personal access token", "long hex key (Datadog API/app key)"]),
    ("datadog-key", 'datadog_api_key = "0123456789abcdef0123456789abcdef"',
     ["long hex key (Datadog API/app key)", "credential-named literal"]),
    ("sentry-token", 'value = "sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCwidXJsIjoi"', ["Sentry token"]),
    ("named-literal", 'sentry_client_secret = "hunter22"', ["credential-named literal"]),
    ("secret-data", 'secret_data = var.x', ["secret-version resource"]),
    ("reference-is-fine", 'secret_id = "${var.secret_prefix}asana-pat"', []),
    ("prefix-is-fine", 'secret_prefix = "alert-bridge-"', []),
    ("empty-dsn-is-fine", 'sentry_dsn = ""', []),
    ("url-is-fine", 'asana = "https://app.asana.com/api/1.0"', []),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SCAN_CASES],
                         ids=[c[0] for c in SCAN_CASES])
def test_secret_scanner(text: str, expected: list[str]) -> None:
    assert find_secret_values(text) == expected


TERRAFORM_TEXT = sorted([*TERRAFORM.glob("*.tf"), *TFVARS,
                         *(TERRAFORM / "environments").glob("*.hcl")])


@pytest.mark.parametrize("path", TERRAFORM_TEXT,
                         ids=[str(p.relative_to(TERRAFORM)) for p in TERRAFORM_TEXT])
def test_no_secret_values_in_terraform(path: Path) -> None:
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.lstrip().startswith(("#", "//")))
    assert find_secret_values(text) == []


def test_every_checkov_skip_has_a_reason() -> None:
    skips = [line.strip() for path in TERRAFORM.glob("*.tf")
             for line in path.read_text().splitlines() if "checkov:skip=" in line]
    assert skips, "expected the documented checkov skips"
    for skip in skips:
        match = re.fullmatch(r"#checkov:skip=CKV_\w+:(.*)", skip)
        assert match and len(match.group(1)) >= 30, f"skip without a written reason: {skip}"


def test_azure_monitor_is_one_switch(module: Module) -> None:
    # Off by default; its URL token's secret (and grant) exists only when on with url_token.
    variable = module.variables["azure_monitor"]
    assert variable["default"] == {}
    assert "enabled = optional(bool, false)" in variable["type"].replace("   =", " =")
    assert module.locals["source_switches"]["AZURE_WEBHOOK_TOKEN"] == (
        "${var.azure_monitor.enabled && var.azure_monitor.url_token}")
    assert "lookup(local.source_switches, name, true)" in module.locals["secret_reader"]
    assert "lookup(local.source_switches, name, true)" in module.locals["secret_grants"]
    env = module.locals["function_env"]
    assert env["AZURE_TENANT_ID"] == (
        '${var.azure_monitor.enabled ? var.azure_monitor.tenant_id : ""}')
    assert "AZURE_ENTRA_KEYS_URL" not in env  # test-only: never deployed
    url = module.outputs["azure_monitor_webhook_url"]["value"]
    assert url.startswith("${var.azure_monitor.enabled ? ")
    assert "/azure" in url and "?token=<AZURE_WEBHOOK_TOKEN>" in url


def test_ingest_takes_only_the_sources_switched_on(module: Module) -> None:
    # ALERT_SOURCES keeps ingest from reading a switched-off source's secret, which Terraform
    # never created (a secret_denied error on every cold start otherwise).
    assert module.locals["function_env"]["ALERT_SOURCES"] == '${join(",", local.alert_sources)}'
    switched = set(module.locals["optional_sources"])
    from shared.sources import SOURCES

    always = {"sentry", "datadog", "asana"}
    assert switched | always == set(SOURCES.names()), "every source is on always or by a switch"
