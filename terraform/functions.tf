# The three gen2 functions. Each uploads main.py from functions/<name>/ at the archive root (Cloud
# Functions needs main.py and requirements.txt there) plus the shared package and teams.yaml.

locals {
  # __pycache__ differs between machines and would change the archive hash on every plan.
  shared_files = [
    for file in fileset("${local.repo_root}/shared", "**") : file
    if !strcontains(file, "__pycache__") && !endswith(file, ".pyc")
  ]

  # What the three functions do not share (the keys are those of local.functions).
  function_service = {
    # A warm instance answers within Sentry's 1 s webhook timeout; a cold start may not
    # (0 is allowed for dev; docs/deploy.md states what one warm instance costs). Public:
    # Sentry and Datadog post from the internet.
    ingest = {
      min_instances   = var.ingest_scaling.min_instances
      max_instances   = var.ingest_scaling.max_instances
      concurrency     = var.ingest_scaling.concurrency
      timeout_seconds = 10
      ingress         = "ALLOW_ALL"
    }
    # max_instances * concurrency <= 15 keeps within Asana's concurrent write limit
    # (validated in variables.tf); scale-to-zero is fine behind a queue.
    worker = {
      min_instances   = 0
      max_instances   = var.worker_scaling.max_instances
      concurrency     = var.worker_scaling.concurrency
      timeout_seconds = var.worker_timeout_seconds
      ingress         = "ALLOW_INTERNAL_ONLY"
    }
    # One run at a time: two overlapping runs would only publish the same keys twice. Paged
    # reads wait out rate limits, well inside the scheduler's attempt deadline. Cloud
    # Scheduler counts as internal traffic for Cloud Run ingress.
    reconcile = {
      min_instances   = 0
      max_instances   = 1
      concurrency     = 1
      timeout_seconds = 300
      ingress         = "ALLOW_INTERNAL_ONLY"
    }
  }
}

# Versioned, with one fixed object name per function: a code change uploads a new generation
# of the same object and each function builds from the generation it names. Only replaced
# (noncurrent) generations expire, so the archive a function was built from stays as long as
# it is the one in use, and an unchanged archive is never uploaded again.
resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build archives of the open-source code; admin and data access is already in Cloud Audit Logs.
  name     = "${var.project_id}-${var.name}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  # A replaced archive is only needed while a deploy that still names it is in flight.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# Function images go here instead of the default gcf-artifacts repository, which keeps the image
# of every build forever. Cleanup keeps the newest var.images_kept versions of each image (the
# running one among them) and deletes the rest once they are a day old.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Holds only images built from the open-source code; Google-managed encryption, no KMS key to run.
  repository_id = "${var.name}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of the alert-bridge functions; older builds are cleaned up."

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"

    most_recent_versions {
      keep_count = var.images_kept
    }
  }

  cleanup_policies {
    id     = "delete-older"
    action = "DELETE"

    condition {
      tag_state  = "ANY"
      older_than = "86400s"
    }
  }

  depends_on = [google_project_service.api]
}

data "archive_file" "source" {
  for_each = local.functions

  type        = "zip"
  output_path = "${path.module}/.terraform/build/${each.key}.zip"

  source {
    content  = file("${local.repo_root}/functions/${each.key}/main.py")
    filename = "main.py"
  }

  source {
    content  = file("${local.repo_root}/requirements.txt")
    filename = "requirements.txt"
  }

  source {
    content  = file("${local.repo_root}/teams.yaml")
    filename = "teams.yaml"
  }

  dynamic "source" {
    for_each = toset(local.shared_files)
    content {
      content  = file("${local.repo_root}/shared/${source.value}")
      filename = "shared/${source.value}"
    }
  }
}

# A code change replaces the object (a new generation; the old one becomes noncurrent) and the
# function, which names the generation, builds again.
resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  name   = "${each.key}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source[each.key].output_path
}

# One function per entry of local.function_service; they differ only in what that map holds.
resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:Only ingest admits all traffic: the webhook must be reachable from Sentry's and Datadog's servers on the internet; worker and reconcile are internal only.
  for_each = local.function_service

  name        = "${var.name}-${each.key}"
  location    = var.region
  description = local.functions[each.key]

  build_config {
    runtime           = "python311"
    entry_point       = each.key
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket     = google_storage_bucket.source.name
        object     = google_storage_bucket_object.source[each.key].name
        generation = google_storage_bucket_object.source[each.key].generation
      }
    }
  }

  service_config {
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = each.value.timeout_seconds
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_env

    dynamic "secret_environment_variables" {
      for_each = var.sentry_reporting ? [google_secret_manager_secret.sentry_dsn.secret_id] : []
      content {
        key = "SENTRY_DSN"
        # The provider prefers the number; an id may be echoed back as the number and diff.
        project_id = data.google_project.this.number
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # The builder's roles and the SENTRY_DSN grants must have propagated, not only exist (waits.tf).
  depends_on = [time_sleep.builder_iam]
}

# Deployments from before the three functions shared one block keep them as they are.
moved {
  from = google_cloudfunctions2_function.ingest
  to   = google_cloudfunctions2_function.function["ingest"]
}

moved {
  from = google_cloudfunctions2_function.worker
  to   = google_cloudfunctions2_function.function["worker"]
}

moved {
  from = google_cloudfunctions2_function.reconcile
  to   = google_cloudfunctions2_function.function["reconcile"]
}

# Sentry and Datadog call the webhook without Google credentials; the function verifies
# their signatures itself, so the Cloud Run service behind it must admit anyone. (A gen2
# function is a Cloud Run service of the same name; run.invoker there is what counts.)
# var.ingest_public_access chooses how: docs/deploy.md, "Domain Restricted Sharing".
resource "google_cloud_run_service_iam_member" "ingest_public" {
  #checkov:skip=CKV_GCP_102:Sentry and Datadog call without Google credentials; ingest verifies each request's signature or token itself.
  count = var.ingest_public_access == "all_users" ? 1 : 0

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function["ingest"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Deployments from before ingest_public_access keep their grant instead of losing it for a
# moment (a destroy and create would refuse webhooks in between).
moved {
  from = google_cloud_run_service_iam_member.ingest_public
  to   = google_cloud_run_service_iam_member.ingest_public[0]
}

# Under Domain Restricted Sharing the allUsers grant is refused (setIamPolicy: "One or more
# users named in the policy do not belong to a permitted customer"). Cloud Run's documented
# route for a public service there is to turn off its invoker IAM check; provider 6.50 sets
# that only on google_cloud_run_v2_service, not on the service behind a function, so gcloud
# does it, again after every redeploy of ingest (update_time changes) in case the deploy
# reset it. Needs gcloud, authenticated as the applying identity, where Terraform runs.
resource "terraform_data" "ingest_invoker_check_disabled" {
  count = var.ingest_public_access == "invoker_iam_check_disabled" ? 1 : 0

  triggers_replace = [google_cloudfunctions2_function.function["ingest"].update_time]

  provisioner "local-exec" {
    command = "gcloud run services update \"$SERVICE\" --region=\"$REGION\" --project=\"$PROJECT\" --no-invoker-iam-check --quiet"
    environment = {
      SERVICE = google_cloudfunctions2_function.function["ingest"].name
      REGION  = var.region
      PROJECT = var.project_id
    }
  }
}

# Only the push subscription's identity may invoke the worker.
resource "google_cloud_run_service_iam_member" "worker_pusher" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function["worker"].name
  role     = "roles/run.invoker"
  member   = google_service_account.pusher.member
}
