# The three gen2 functions. Each uploads main.py from functions/<name>/ at the archive root (Cloud
# Functions needs main.py and requirements.txt there) plus the shared package and teams.yaml.

locals {
  # __pycache__ differs between machines and would change the archive hash on every plan.
  shared_files = [
    for file in fileset("${local.repo_root}/shared", "**") : file
    if !strcontains(file, "__pycache__") && !endswith(file, ".pyc")
  ]
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build archives of the open-source code; admin and data access is already in Cloud Audit Logs.
  #checkov:skip=CKV_GCP_78:Objects are named by content hash and never overwritten, so versioning would keep nothing new.
  name     = "${var.project_id}-${var.name}-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Old archives are only needed while a deploy is in flight.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
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

# The object name carries the archive hash, so a code change is a new object and a new build.
resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  name   = "${each.key}/${data.archive_file.source[each.key].output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source[each.key].output_path
}

resource "google_cloudfunctions2_function" "ingest" {
  #checkov:skip=CKV_GCP_124:The webhook must be reachable from Sentry's and Datadog's servers on the internet.
  name        = "${var.name}-ingest"
  location    = var.region
  description = local.functions.ingest

  build_config {
    runtime         = "python311"
    entry_point     = "ingest"
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["ingest"].name
      }
    }
  }

  service_config {
    # A warm instance answers within Sentry's 1 s webhook timeout; a cold start may not.
    min_instance_count               = var.ingest_scaling.min_instances
    max_instance_count               = var.ingest_scaling.max_instances
    max_instance_request_concurrency = var.ingest_scaling.concurrency
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = 10
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function["ingest"].email
    environment_variables            = local.function_env

    dynamic "secret_environment_variables" {
      for_each = var.sentry_reporting ? [google_secret_manager_secret.sentry_dsn.secret_id] : []
      content {
        key        = "SENTRY_DSN"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_iam_member.builder, google_secret_manager_secret_iam_member.sentry_dsn_reader]
}

resource "google_cloudfunctions2_function" "worker" {
  name        = "${var.name}-worker"
  location    = var.region
  description = local.functions.worker

  build_config {
    runtime         = "python311"
    entry_point     = "worker"
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["worker"].name
      }
    }
  }

  service_config {
    # max_instance_count * concurrency <= 15 keeps within Asana's concurrent write limit
    # (validated in variables.tf); scale-to-zero is fine behind a queue.
    min_instance_count               = 0
    max_instance_count               = var.worker_scaling.max_instances
    max_instance_request_concurrency = var.worker_scaling.concurrency
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    timeout_seconds                  = var.worker_timeout_seconds
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function["worker"].email
    environment_variables            = local.function_env

    dynamic "secret_environment_variables" {
      for_each = var.sentry_reporting ? [google_secret_manager_secret.sentry_dsn.secret_id] : []
      content {
        key        = "SENTRY_DSN"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_iam_member.builder, google_secret_manager_secret_iam_member.sentry_dsn_reader]
}

resource "google_cloudfunctions2_function" "reconcile" {
  name        = "${var.name}-reconcile"
  location    = var.region
  description = local.functions.reconcile

  build_config {
    runtime         = "python311"
    entry_point     = "reconcile"
    service_account = google_service_account.builder.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source["reconcile"].name
      }
    }
  }

  service_config {
    # One run at a time: two overlapping runs would only publish the same keys twice.
    min_instance_count               = 0
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    # Paged reads that wait out rate limits; well inside the scheduler's attempt deadline.
    timeout_seconds = 300
    # Cloud Scheduler counts as internal traffic for Cloud Run ingress.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function["reconcile"].email
    environment_variables          = local.function_env

    dynamic "secret_environment_variables" {
      for_each = var.sentry_reporting ? [google_secret_manager_secret.sentry_dsn.secret_id] : []
      content {
        key        = "SENTRY_DSN"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_iam_member.builder, google_secret_manager_secret_iam_member.sentry_dsn_reader]
}

# Sentry and Datadog call the webhook without Google credentials; the function verifies
# their signatures itself, so the Cloud Run service behind it must admit anyone. (A gen2
# function is a Cloud Run service of the same name; run.invoker there is what counts.)
resource "google_cloud_run_service_iam_member" "ingest_public" {
  #checkov:skip=CKV_GCP_102:Sentry and Datadog call without Google credentials; ingest verifies each request's signature or token itself.
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.ingest.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Only the push subscription's identity may invoke the worker.
resource "google_cloud_run_service_iam_member" "worker_pusher" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.worker.name
  role     = "roles/run.invoker"
  member   = google_service_account.pusher.member
}
