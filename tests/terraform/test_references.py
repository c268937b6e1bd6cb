"""The offline check on small modules: valid constructs pass, each kind of mistake fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.tfcheck.expressions import refs_in_value
from scripts.tfcheck.module import check_directory
from scripts.tfcheck.schema import Schema

# Everything here is valid Terraform; the check must say nothing about it.
GOOD = '''
variable "shape" {
  type = object({ a = optional(list(object({ b = string })), []), m = map(string), n = any })
}
output "shape" {
  value = [var.shape.a[0].b, var.shape.m.anything, var.shape.n.anything, var.shape]
}
variable "names" {
  type = list(string)
  validation {
    condition     = alltrue([for n in var.names : length(n) > 0])
    error_message = "Names must not be empty: ${join(",", var.names)}."
  }
}
locals {
  topics = { for i, name in var.names : name => { index = i, upper = upper(name) } }
  text   = "%{ for name in var.names }${name} %{ endfor }"
  ids    = [for t in google_pubsub_topic.t : t.id]
  first  = google_pubsub_topic.t[var.names[0]].name
  all    = google_pubsub_topic.c[*].name
  agent  = "service-${data.google_project.p.number}@x"
}
data "google_project" "p" {}
resource "google_pubsub_topic" "t" {
  for_each = local.topics
  name     = "${each.key}-${each.value.index}"
  labels   = { index = tostring(each.value.index), app = path.module }
}
resource "google_pubsub_topic" "c" {
  count = 2
  name  = "c-${count.index}"
}
resource "time_sleep" "wait" {
  create_duration = "60s"
  triggers        = { topic = google_pubsub_topic.c[0].id }
}
resource "terraform_data" "run" {
  triggers_replace = [time_sleep.wait.id]
  input            = { a = 1 }
  provisioner "local-exec" {
    command     = "echo ${self.id} ${terraform.workspace}"
    interpreter = ["bash", "-c"]
    environment = { TOPIC = google_pubsub_topic.c[0].name }
    when        = create
    on_failure  = fail
  }
  lifecycle {
    replace_triggered_by = [google_pubsub_topic.c[0].id]
    precondition {
      condition     = length(var.names) > 0
      error_message = "Need a name."
    }
    postcondition {
      condition     = self.output != null
      error_message = "No output."
    }
  }
}
resource "google_pubsub_subscription" "s" {
  name                 = "s"
  topic                = google_pubsub_topic.c[0].id
  ack_deadline_seconds = "60"
  dynamic "push_config" {
    for_each = toset(var.names)
    iterator = endpoint
    content {
      push_endpoint = "https://${endpoint.value}"
    }
  }
  lifecycle {
    ignore_changes = [labels, push_config]
  }
  depends_on = [terraform_data.run, time_sleep.wait]
}
output "ids" {
  value = { for name, topic in google_pubsub_topic.t : name => topic.id }
}
output "data_output" {
  value = terraform_data.run.output
}
resource "google_storage_bucket_object" "o" {
  provider = google.other
  name     = "o"
  bucket   = "b"
  content  = "x"
}
output "object_hash" {
  value = "${google_storage_bucket_object.o.md5hash}/${google_storage_bucket_object.o.crc32c}"
}
output "provider_function" {
  value = provider::time::rfc3339_parse("2026-01-01T00:00:00Z")
}
'''

BROKEN = [
    ("resource-used-without-name", 'output "o" {\n  value = google_pubsub_topic.id\n}',
     "output.o: reference to undeclared resource 'google_pubsub_topic.id'"),
    ("unknown-root-name", 'output "o" {\n  value = upper(topic)\n}',
     "output.o: unknown name 'topic'"),
    ("unknown-attribute-in-nested-variable-type",
     'variable "v" {\n  type = object({ a = list(object({ bee = string })) })\n}\n'
     'output "o" {\n  value = var.v.a[0].be\n}',
     "output.o: 'var.v.a[0].be': the type of var.v has no attribute 'be' (did you mean 'bee'?)"),
    ("unknown-function", 'output "o" {\n  value = lenght([])\n}',
     "output.o: unknown function 'lenght' (did you mean 'length'?)"),
    ("count-without-count", 'output "o" {\n  value = count.index\n}',
     "'count.index' used where there is no count (only in a block with count)"),
    ("self-outside-provisioner",
     'resource "terraform_data" "d" {\n  input = self.id\n}',
     "terraform_data.d: 'self' is only valid in provisioners and postconditions"),
    ("each-with-unknown-attribute",
     'resource "terraform_data" "d" {\n  for_each = {}\n  input = each.val\n}',
     "'each.val': each has no attribute 'val' (did you mean 'value'?)"),
    ("each-value-without-that-attribute",
     'locals {\n  m = { a = { size = 1 }, b = { size = 2 } }\n}\n'
     'resource "terraform_data" "d" {\n  for_each = local.m\n  input = each.value.sizes\n}',
     "'each.value.sizes': the elements of for_each have no attribute 'sizes' "
     "(did you mean 'size'?)"),
    ("undeclared-in-variable-validation",
     'variable "v" {\n  type = string\n  validation {\n    condition = var.w != ""\n'
     '    error_message = "x"\n  }\n}',
     "var.v: reference to undeclared variable 'var.w'"),
    ("unknown-attribute-of-time-sleep",
     'resource "time_sleep" "w" {\n  create_duration = "1s"\n}\n'
     'output "o" {\n  value = time_sleep.w.duration\n}',
     "time_sleep.w.duration: no attribute 'duration'"),
    ("unknown-time-sleep-argument",
     'resource "time_sleep" "w" {\n  create_duraton = "1s"\n}',
     "time_sleep.w: unknown argument 'create_duraton' (did you mean 'create_duration'?)"),
    ("unknown-local-exec-argument",
     'resource "terraform_data" "d" {\n  provisioner "local-exec" {\n    command = "x"\n'
     '    env = {}\n  }\n}',
     "terraform_data.d.provisioner.local-exec: unknown argument 'env'"),
    ("unknown-provisioner",
     'resource "terraform_data" "d" {\n  provisioner "local_exec" {\n    command = "x"\n  }\n}',
     "terraform_data.d: unknown provisioner 'local_exec' (did you mean 'local-exec'?)"),
    ("unknown-lifecycle-argument",
     'resource "terraform_data" "d" {\n  lifecycle {\n    prevent_destroyed = true\n  }\n}',
     "terraform_data.d.lifecycle: unknown argument 'prevent_destroyed'"),
    ("precondition-without-message",
     'resource "terraform_data" "d" {\n  lifecycle {\n    precondition {\n'
     '      condition = true\n    }\n  }\n}',
     "terraform_data.d.lifecycle.precondition: missing required argument 'error_message'"),
    ("read-only-attribute-set",
     'resource "google_service_account" "a" {\n  account_id = "a"\n  email = "a@b"\n}',
     "google_service_account.a: 'email' is read-only (computed by the provider)"),
    ("no-condition-in-alert-policy",
     'resource "google_monitoring_alert_policy" "p" {\n  display_name = "p"\n'
     '  combiner = "OR"\n  conditions {\n    display_name = "c"\n  }\n}',
     "google_monitoring_alert_policy.p.conditions: one of condition_threshold, "),
    ("push-and-bigquery-subscription",
     'resource "google_pubsub_subscription" "s" {\n  name = "s"\n  topic = "t"\n'
     '  push_config {\n    push_endpoint = "https://x"\n  }\n'
     '  bigquery_config {\n    table = "p.d.t"\n  }\n}',
     "google_pubsub_subscription.s: push_config and bigquery_config cannot both be set"),
    ("enum-in-nested-block",
     'resource "google_cloudfunctions2_function" "f" {\n  name = "f"\n  location = "l"\n'
     '  service_config {\n    ingress_settings = "ALLOW_EVERYTHING"\n  }\n}',
     "'ingress_settings' = \"ALLOW_EVERYTHING\" is not one of the provider's values "
     "(ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB)"),
    ("map-given-a-list",
     'resource "google_pubsub_topic" "t" {\n  name = "t"\n  labels = ["a"]\n}',
     "google_pubsub_topic.t: 'labels' must be a map(string), got a list"),
    ("number-in-list-given-a-word",
     'resource "google_pubsub_topic" "t" {\n  name = "t"\n'
     '  message_storage_policy {\n    allowed_persistence_regions = ["a", ["b"]]\n  }\n}',
     "'allowed_persistence_regions' element must be a string, got a list"),
]


def _check(tmp_path: Path, text: str, schema: Schema) -> list[str]:
    (tmp_path / "main.tf").write_text(text)
    return [p.split(": ", 1)[1] for p in check_directory(tmp_path, schema)]


def test_valid_constructs_pass(tmp_path: Path, schema: Schema) -> None:
    assert _check(tmp_path, GOOD, schema) == []


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_mistake_is_reported(text: str, expected: str, tmp_path: Path, schema: Schema) -> None:
    problems = _check(tmp_path, text, schema)
    assert len(problems) == 1 and expected in problems[0], problems


REFERENCES = [
    ("template", "${var.a}-${local.b}", ["var.a", "local.b"]),
    ("index-and-attribute", '${google_x.y["k"].z[0].w}', ['google_x.y["k"].z[0].w']),
    ("splat", "${google_x.y[*].id}", ["google_x.y[*].id"]),
    ("for-symbols-are-local", "${[for k, v in var.m : v.id if k != local.skip]}",
     ["var.m", "local.skip"]),
    ("object-keys-are-not-references", "${{a = var.b, c : local.d}}", ["var.b", "local.d"]),
    ("function-names-are-not-references", "${lower(var.a)}", ["var.a"]),
    ("nested-template-in-string", '${format("%s", "${var.a}")}', ["var.a"]),
    ("escaped-interpolation", "$${var.a}", []),
    ("conditional", "${var.a ? var.b : var.c}", ["var.a", "var.b", "var.c"]),
    ("reference-inside-index", "${local.m[each.key]}", ["local.m[each.key]", "each.key"]),
    ("template-for-directive", "%{ for x in var.l }${x.y}%{ endfor }", ["var.l"]),
    ("for-directive-in-nested-string", '${upper("%{ for x in var.l }${x}%{ endfor }")}',
     ["var.l"]),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in REFERENCES],
                         ids=[c[0] for c in REFERENCES])
def test_references_found_in_expressions(value: str, expected: list[str]) -> None:
    assert [ref.text() for ref in refs_in_value(value) if not ref.call] == expected


def test_function_calls_found_in_expressions() -> None:
    calls = [ref.root for ref in refs_in_value('${lower(format("%s", var.a))}') if ref.call]
    assert calls == ["lower", "format"]
