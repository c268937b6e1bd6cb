"""Every resource and data block matches the google provider 6.50 schema, as validate would."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.provider_schema import Schema, check_config, check_directory, parse_explicit
from tests.terraform.tfmodel import TERRAFORM

TF_FILES = sorted(TERRAFORM.glob("*.tf"))


@pytest.mark.parametrize("path", TF_FILES, ids=[p.name for p in TF_FILES])
def test_file_matches_provider_schema(path: Path, schema: Schema) -> None:
    assert check_config(parse_explicit(path.read_text()), schema, path.name) == []


def test_module_has_resources_to_check() -> None:
    assert len(TF_FILES) >= 8


def test_schema_knows_push_subscription_shape(schema: Schema) -> None:
    subscription = schema["types"][schema["resource"]["google_pubsub_subscription"]]
    push = schema["types"][subscription["blocks"]["push_config"][0]]
    assert subscription["attrs"]["name"] is True
    assert push["attrs"]["push_endpoint"] is True
    assert "oidc_token" in push["blocks"]


GOOD = '''
resource "google_pubsub_subscription" "s" {
  for_each   = toset(["a"])
  name       = each.key
  topic      = "t"
  depends_on = [google_pubsub_topic.t]
  push_config {
    push_endpoint = "https://x"
    oidc_token { service_account_email = "a@b" }
  }
  lifecycle { ignore_changes = [labels] }
}
data "archive_file" "a" {
  type        = "zip"
  output_path = "x.zip"
  dynamic "source" {
    for_each = toset(["a"])
    content {
      content  = "x"
      filename = source.value
    }
  }
}
'''

BROKEN = [
    ("misspelt-argument",
     'resource "google_pubsub_topic" "t" {\n  name = "t"\n  labelz = {}\n}',
     "google_pubsub_topic.t: unknown argument 'labelz' (did you mean 'labels'?)"),
    ("misspelt-nested-argument",
     'resource "google_pubsub_subscription" "s" {\n  name = "s"\n  topic = "t"\n'
     '  dead_letter_policy {\n    dead_letter_topic = "d"\n    max_delivery_attempt = 5\n  }\n}',
     "google_pubsub_subscription.s.dead_letter_policy: unknown argument 'max_delivery_attempt'"),
    ("misspelt-block",
     'resource "google_pubsub_subscription" "s" {\n  name = "s"\n  topic = "t"\n'
     '  retry_polcy {\n    minimum_backoff = "10s"\n  }\n}',
     "unknown argument 'retry_polcy' (did you mean 'retry_policy'?)"),
    ("missing-required-argument",
     'resource "google_pubsub_subscription" "s" {\n  name = "s"\n}',
     "google_pubsub_subscription.s: missing required argument 'topic'"),
    ("missing-required-nested-argument",
     'resource "google_pubsub_subscription" "s" {\n  name = "s"\n  topic = "t"\n'
     '  push_config {\n    oidc_token { service_account_email = "a" }\n  }\n}',
     "google_pubsub_subscription.s.push_config: missing required argument 'push_endpoint'"),
    ("missing-required-block",
     'resource "google_secret_manager_secret" "s" {\n  secret_id = "s"\n}',
     "google_secret_manager_secret.s: missing required block 'replication'"),
    ("unknown-resource-type",
     'resource "google_pubsub_topik" "t" {\n  name = "t"\n}',
     "google_pubsub_topik.t: unknown resource type (did you mean 'google_pubsub_topic'?)"),
    ("unknown-data-source",
     'data "google_projekt" "p" {}',
     "data.google_projekt.p: unknown data type"),
    ("misspelt-dynamic-content",
     'data "archive_file" "a" {\n  type = "zip"\n  output_path = "x"\n'
     '  dynamic "source" {\n    for_each = []\n    content {\n      content = "x"\n'
     '      file_name = "y"\n    }\n  }\n}',
     "data.archive_file.a.source: unknown argument 'file_name' (did you mean 'filename'?)"),
    ("unknown-dynamic-block",
     'resource "google_pubsub_topic" "t" {\n  name = "t"\n'
     '  dynamic "storage_policy" {\n    for_each = []\n    content {}\n  }\n}',
     "google_pubsub_topic.t: unknown dynamic block 'storage_policy'"),
    ("meta-argument-inside-nested-block",
     'resource "google_pubsub_topic" "t" {\n  name = "t"\n'
     '  message_storage_policy {\n    allowed_persistence_regions = []\n    count = 1\n  }\n}',
     "google_pubsub_topic.t.message_storage_policy: unknown argument 'count'"),
]


def test_valid_config_with_meta_arguments_passes(schema: Schema) -> None:
    assert check_config(parse_explicit(GOOD), schema, "good.tf") == []


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_checker_reports_mistake(text: str, expected: str, schema: Schema) -> None:
    problems = check_config(parse_explicit(text), schema, "broken.tf")
    assert any(expected in problem for problem in problems), problems


def test_misspelt_argument_in_a_copy_of_the_module_fails(tmp_path: Path, schema: Schema) -> None:
    for path in TF_FILES:
        text = path.read_text()
        if path.name == "pubsub.tf":
            text = text.replace("max_delivery_attempts = var", "max_delivery_atempts = var")
        (tmp_path / path.name).write_text(text)
    problems = check_directory(tmp_path, schema)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "google_pubsub_subscription.events.dead_letter_policy: unknown argument "
        "'max_delivery_atempts' (did you mean 'max_delivery_attempts'?)",
    ]
