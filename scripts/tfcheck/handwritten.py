"""Schemas the google cdktf package does not hold, written from the providers' registry docs.

Same shape as the extracted schema (see ``schema.Schema``).
"""

from __future__ import annotations

from typing import Any


def _spec(attrs: dict[str, tuple[bool, str]], *, blocks: dict[str, list[Any]] | None = None,
          computed: dict[str, str] | None = None,
          enums: dict[str, list[str]] | None = None) -> dict[str, Any]:
    computed = computed or {}
    return {"attrs": {name: required for name, (required, _) in attrs.items()},
            "types": {name: kind for name, (_, kind) in attrs.items()} | computed,
            "blocks": blocks or {}, "computed": dict.fromkeys(computed, ""),
            "enums": enums or {}}


# hashicorp/archive 2.7, data source archive_file.
_ARCHIVE = {
    "archive_file": _spec(
        {"type": (True, "string"), "output_path": (True, "string"),
         "output_file_mode": (False, "string"), "source_content": (False, "string"),
         "source_content_filename": (False, "string"), "source_file": (False, "string"),
         "source_dir": (False, "string"), "excludes": (False, "list(string)"),
         "exclude_symlink_directories": (False, "bool")},
        blocks={"source": ["archive_file.source", False]},
        computed={name: "string" for name in (
            "output_size", "output_md5", "output_sha", "output_sha256", "output_sha512",
            "id", "output_base64sha256", "output_base64sha512")} | {"output_size": "number"}),
    "archive_file.source": _spec({"content": (True, "string"), "filename": (True, "string")}),
}

# hashicorp/time 0.12, resource time_sleep.
_TIME = {
    "time_sleep": _spec(
        {"create_duration": (False, "string"), "destroy_duration": (False, "string"),
         "triggers": (False, "map(string)")},
        computed={"id": "string"}),
}

# Terraform's built-in terraform_data resource (Terraform >= 1.4).
_BUILTIN = {
    "terraform_data": _spec(
        {"input": (False, "any"), "triggers_replace": (False, "any")},
        computed={"id": "string", "output": "any"}),
}

# Terraform's own blocks inside resources: lifecycle (with its conditions) and provisioners.
# when/on_failure take bare keywords (destroy, continue, fail), not references.
_PROVISIONER_COMMON = {"when": (False, "any"), "on_failure": (False, "any")}
_META = {
    "lifecycle": _spec(
        {"create_before_destroy": (False, "bool"), "prevent_destroy": (False, "bool"),
         "ignore_changes": (False, "any"), "replace_triggered_by": (False, "list(any)")},
        blocks={"precondition": ["lifecycle.condition", False],
                "postcondition": ["lifecycle.condition", False]}),
    "lifecycle.condition": _spec({"condition": (True, "bool"),
                                  "error_message": (True, "string")}),
    "provisioner.local-exec": _spec(
        {"command": (True, "string"), "interpreter": (False, "list(string)"),
         "environment": (False, "map(string)"), "working_dir": (False, "string"),
         "quiet": (False, "bool")} | _PROVISIONER_COMMON),
    "provisioner.file": _spec(
        {"source": (False, "string"), "content": (False, "string"),
         "destination": (True, "string")} | _PROVISIONER_COMMON,
        blocks={"connection": ["connection", False]}),
    "provisioner.remote-exec": _spec(
        {"inline": (False, "list(string)"), "script": (False, "string"),
         "scripts": (False, "list(string)")} | _PROVISIONER_COMMON,
        blocks={"connection": ["connection", False]}),
    "connection": _spec({name: (False, "any") for name in (
        "type", "user", "password", "host", "port", "timeout", "script_path", "private_key",
        "certificate", "agent", "agent_identity", "host_key", "target_platform", "https",
        "insecure", "use_ntlm", "cacert", "bastion_host", "bastion_host_key", "bastion_port",
        "bastion_user", "bastion_password", "bastion_private_key", "bastion_certificate",
        "proxy_scheme", "proxy_host", "proxy_port", "proxy_user_name", "proxy_user_password")}),
}

HANDWRITTEN_TYPES: dict[str, Any] = _ARCHIVE | _TIME | _BUILTIN | _META
HANDWRITTEN_DATA = {"archive_file": "archive_file"}
HANDWRITTEN_RESOURCES = {"time_sleep": "time_sleep", "terraform_data": "terraform_data"}

# Blocks/arguments the provider or API accepts only one of, which the jsii schema does not
# carry (no ConflictsWith/ExactlyOneOf). Keyed by resource type and block path; "exactly"
# also fails when none is set. Each with the doc that says so.
_API = "https://cloud.google.com/"
EXCLUSIVE: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    # AlertPolicy.Condition: "Only one of the following condition types will be specified."
    "google_monitoring_alert_policy.conditions": [
        ("exactly", ("condition_threshold", "condition_absent", "condition_matched_log",
                     "condition_monitoring_query_language",
                     "condition_prometheus_query_language", "condition_sql"),
         _API + "monitoring/api/ref_v3/rest/v3/projects.alertPolicies#condition"),
    ],
    # Registry docs of google_storage_bucket_object: content "Must be defined if source is
    # not", and the two conflict.
    "google_storage_bucket_object": [
        ("exactly", ("source", "content"),
         "https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/"
         "storage_bucket_object#content"),
    ],
    # Replication: "can be only one of the following: automatic, userManaged".
    "google_secret_manager_secret.replication": [
        ("exactly", ("auto", "user_managed"),
         _API + "secret-manager/docs/reference/rest/v1/projects.secrets#replication"),
    ],
    # Source: "can be only one of the following: storageSource, repoSource, gitUri".
    "google_cloudfunctions2_function.build_config.source": [
        ("at most", ("storage_source", "repo_source"),
         _API + "functions/docs/reference/rest/v2/projects.locations.functions#source"),
    ],
    # Subscription: "At most one of these fields may be set."
    "google_pubsub_subscription": [
        ("at most", ("push_config", "bigquery_config", "cloud_storage_config"),
         _API + "pubsub/docs/reference/rest/v1/projects.subscriptions"),
    ],
}

# Terraform's built-in functions (language docs, "Functions", Terraform 1.9); provider-defined
# functions (provider::name::function) are not checked.
_FUNCTION_NAMES = """
abs ceil floor log max min parseint pow signum
chomp endswith format formatlist indent join lower regex regexall replace split startswith
strcontains strrev substr templatestring title trim trimprefix trimsuffix trimspace upper
alltrue anytrue chunklist coalesce coalescelist compact concat contains distinct element
flatten index keys length lookup matchkeys merge one range reverse setintersection setproduct
setsubtract setunion slice sort sum transpose values zipmap
base64decode base64encode base64gzip csvdecode jsondecode jsonencode textdecodebase64
textencodebase64 urlencode yamldecode yamlencode
abspath dirname pathexpand basename file fileexists fileset filebase64 templatefile
formatdate plantimestamp timeadd timecmp timestamp
base64sha256 base64sha512 bcrypt filebase64sha256 filebase64sha512 filemd5 filesha1
filesha256 filesha512 md5 rsadecrypt sha1 sha256 sha512 uuid uuidv5
cidrhost cidrnetmask cidrsubnet cidrsubnets
can issensitive nonsensitive sensitive tobool tolist tomap tonumber toset tostring try
ephemeralasnull
"""
TERRAFORM_FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
