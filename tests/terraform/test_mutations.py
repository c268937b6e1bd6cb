"""Mutation tests: each mistake, made in a copy of the real module, fails the offline check.

One table, MUTATIONS, so the list of what the check catches can be printed:
``.venv/bin/python -m tests.terraform.test_mutations`` (a markdown table).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from scripts.tfcheck.module import check_directory
from scripts.tfcheck.schema import Schema, load_schema
from tests.terraform.tfmodel import TERRAFORM


class Mutation(NamedTuple):
    """One edit of a module file (a regex, first match) and the one problem it must cause."""

    id: str
    kind: str
    file: str
    pattern: str
    replacement: str
    expected: str | None  # None: Terraform accepts it, so must the check


_CONDITION_ABSENT = ('condition_absent {\n      filter   = "resource.type=\\"x\\""\n'
                     '      duration = "300s"\n    }\n\n    condition_threshold {')

MUTATIONS = [
    Mutation("block-written-as-argument", "block vs argument", "firestore.tf",
             r"ttl_config \{\}", "ttl_config = {}",
             "google_firestore_field.ledger_ttl: 'ttl_config' is a block, not an argument: "
             "write ttl_config { ... }"),
    Mutation("argument-written-as-block", "block vs argument", "monitoring.tf",
             r"labels = \{\n(\s+email_address)", r"labels {\n\1",
             "google_monitoring_notification_channel.email: 'labels' is an argument, "
             "not a block: write labels = ..."),
    Mutation("unknown-attribute-of-nested-block", "attribute reference", "pubsub.tf",
             r'(push_endpoint = google_cloudfunctions2_function\.function\["worker"\]'
             r"\.service_config\[0\])\.uri", r"\1.url",
             "google_pubsub_subscription.events: "
             'google_cloudfunctions2_function.function["worker"].service_config[0].url: '
             "no attribute 'url' (did you mean 'uri'?)"),
    Mutation("nested-block-without-index", "attribute reference", "outputs.tf",
             r"service_config\[0\]\.uri", "service_config.uri",
             'google_cloudfunctions2_function.function["ingest"].service_config: '
             "'service_config' is a list "
             "of blocks: index it, service_config[0].uri"),
    Mutation("for-each-resource-without-instance-key", "attribute reference", "outputs.tf",
             r'google_service_account\.function\["ingest"\]\.email',
             "google_service_account.function.email",
             "google_service_account.function has count or for_each: pick an instance, "
             "google_service_account.function[...].email"),
    Mutation("unknown-attribute-of-data-source", "attribute reference", "main.tf",
             r"data\.google_project\.this\.number", "data.google_project.this.numbr",
             "local.pubsub_service_agent: data.google_project.this.numbr: "
             "no attribute 'numbr' (did you mean 'number'?)"),
    Mutation("unknown-attribute-in-output", "attribute reference", "outputs.tf",
             r"google_pubsub_topic\.events\.name", "google_pubsub_topic.events.nam",
             "google_pubsub_topic.events.nam: no attribute 'nam' (did you mean 'name'?)"),
    Mutation("number-given-a-word", "literal type", "pubsub.tf",
             r"ack_deadline_seconds(\s+)= 600", r'ack_deadline_seconds\1= "sixty"',
             "google_pubsub_subscription.dead_letter: 'ack_deadline_seconds' must be a number, "
             'got the string "sixty"'),
    Mutation("number-given-a-numeric-string", "literal type", "pubsub.tf",
             r"ack_deadline_seconds(\s+)= 600", r'ack_deadline_seconds\1= "600"', None),
    Mutation("bool-given-yes", "literal type", "main.tf",
             r"(?m)^(\s+)disable_on_destroy = false", r'\1disable_on_destroy = "yes"',
             "google_project_service.api: 'disable_on_destroy' must be a bool (true or false), "
             'got the string "yes"'),
    Mutation("bool-given-a-bool-string", "literal type", "main.tf",
             r"(?m)^(\s+)disable_on_destroy = false", r'\1disable_on_destroy = "false"', None),
    Mutation("list-given-a-string", "literal type", "pubsub.tf",
             r"allowed_persistence_regions = \[var\.region\]",
             'allowed_persistence_regions = "europe-west1"',
             "google_pubsub_topic.events.message_storage_policy: 'allowed_persistence_regions' "
             'must be a list(string), got the string "europe-west1"'),
    Mutation("undeclared-variable", "undeclared name", "pubsub.tf",
             r"\[var\.region\]", "[var.regionn]",
             "google_pubsub_topic.events: reference to undeclared variable 'var.regionn' "
             "(did you mean 'var.region'?)"),
    Mutation("unknown-attribute-of-object-variable", "undeclared name", "main.tf",
             r"var\.api_urls\.asana", "var.api_urls.asan",
             "local.function_env: 'var.api_urls.asan': the type of var.api_urls has no "
             "attribute 'asan' (did you mean 'asana'?)"),
    Mutation("unknown-function", "undeclared name", "main.tf",
             r"tostring\(var\.max_body_bytes\)", "to_string(var.max_body_bytes)",
             "local.function_env: unknown function 'to_string' (did you mean 'tostring'?)"),
    Mutation("undeclared-local", "undeclared name", "monitoring.tf",
             r"= local\.notification_channels\n", "= local.notification_channel\n",
             "reference to undeclared local value 'local.notification_channel' "
             "(did you mean 'local.notification_channels'?)"),
    Mutation("undeclared-resource", "undeclared name", "pubsub.tf",
             r"topic(\s+)= google_pubsub_topic\.events\.id",
             r"topic\1= google_pubsub_topic.nope.id",
             "google_pubsub_subscription.events: reference to undeclared resource "
             "'google_pubsub_topic.nope'"),
    Mutation("undeclared-data-source", "undeclared name", "main.tf",
             r"data\.google_project\.this\.number", "data.google_project.that.number",
             "local.pubsub_service_agent: reference to undeclared data source "
             "'data.google_project.that' (did you mean 'data.google_project.this'?)"),
    Mutation("each-without-for-each", "undeclared name", "firestore.tf",
             r"collection = var\.ledger_collection", "collection = each.value",
             "google_firestore_field.ledger_ttl: 'each.value' used where there is no each "
             "(only in a block with for_each)"),
    Mutation("unknown-attribute-of-each-value", "undeclared name", "functions.tf",
             r"= each\.value\.min_instances", "= each.value.min_instancez",
             "google_cloudfunctions2_function.function: 'each.value.min_instancez': the "
             "elements of for_each have no attribute 'min_instancez' "
             "(did you mean 'min_instances'?)"),
    Mutation("invalid-enum-value", "enum", "monitoring.tf",
             r'per_series_aligner = "ALIGN_MAX"', 'per_series_aligner = "ALIGN_PERCENTILE99"',
             "condition_threshold.aggregations: 'per_series_aligner' = \"ALIGN_PERCENTILE99\" "
             "is not one of the provider's values (19 values) "
             "(did you mean 'ALIGN_PERCENTILE_99'?)"),
    Mutation("two-condition-types", "mutually exclusive", "monitoring.tf",
             r"condition_threshold \{", _CONDITION_ABSENT,
             ".conditions: condition_threshold and condition_absent cannot both be set: "
             "exactly one of condition_threshold, condition_absent"),
    Mutation("secret-replication-auto-and-user-managed", "mutually exclusive", "secrets.tf",
             r"auto \{\}",
             'auto {}\n    user_managed {\n      replicas {\n        location = "europe-west1"\n'
             "      }\n    }",
             "google_secret_manager_secret.credential.replication: auto and user_managed "
             "cannot both be set: exactly one of auto, user_managed"),
    Mutation("object-source-and-content", "mutually exclusive", "functions.tf",
             r"(source = data\.archive_file\.source\[each\.key\]\.output_path)",
             r'\1\n  content = "print(1)"',
             "google_storage_bucket_object.source: source and content cannot both be set"),
]


def mutate(directory: Path, mutation: Mutation) -> None:
    """Apply one mutation (first match) to a module copy; fail if its anchor is gone."""
    path = directory / mutation.file
    text, count = re.subn(mutation.pattern, mutation.replacement, path.read_text(), count=1)
    assert count == 1, f"{mutation.id}: /{mutation.pattern}/ not found in {mutation.file}"
    path.write_text(text)


def copy_module(target: Path) -> Path:
    """Copy the module's .tf files into ``target``."""
    for path in TERRAFORM.glob("*.tf"):
        shutil.copy(path, target / path.name)
    return target


def test_unmodified_module_passes(schema: Schema) -> None:
    assert check_directory(TERRAFORM, schema) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_fails_the_check(mutation: Mutation, tmp_path: Path, schema: Schema) -> None:
    mutate(copy_module(tmp_path), mutation)
    problems = check_directory(tmp_path, schema)
    if mutation.expected is None:
        assert problems == []
        return
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / mutation.file}: "), problems
    assert mutation.expected in problems[0], problems


def main() -> None:
    """Print the mutation table with what the check says about each mutation."""
    import tempfile

    schema = load_schema()
    print("| Mutation | Class | File | Check says |")
    print("|---|---|---|---|")
    for mutation in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            mutate(copy_module(Path(tmp)), mutation)
            problems = check_directory(Path(tmp), schema)
        said = "; ".join(p.split(": ", 1)[1] for p in problems) or "accepted (as by Terraform)"
        print(f"| `{mutation.id}` | {mutation.kind} | {mutation.file} | {said} |")


if __name__ == "__main__":
    main()
