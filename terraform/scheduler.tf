# Reconciliation runs on a schedule: Cloud Scheduler calls the private reconcile function
# every var.reconcile.interval_minutes with an OIDC token of its own identity.

# Cloud Scheduler signs its requests as this account; it may only invoke reconcile.
resource "google_service_account" "scheduler" {
  account_id   = "${var.name}-scheduler"
  display_name = "alert-bridge reconcile schedule"
  description  = "OIDC identity of the reconcile Cloud Scheduler job; run.invoker on reconcile only."

  depends_on = [google_project_service.api]
}

resource "google_cloud_run_service_iam_member" "reconcile_scheduler" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function["reconcile"].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_scheduler_job" "reconcile" {
  name        = "${var.name}-reconcile"
  description = "Publishes Sentry and Datadog alerts whose webhook never arrived (docs/reconciliation.md)."
  region      = var.region
  schedule    = "*/${var.reconcile.interval_minutes} * * * *"
  time_zone   = "Etc/UTC"
  # The function may take its whole timeout waiting out rate limits.
  attempt_deadline = "320s"

  # No retries: the next run is minutes away and covers the same window.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function["reconcile"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.function["reconcile"].service_config[0].uri
    }
  }

  depends_on = [google_project_service.api, google_cloud_run_service_iam_member.reconcile_scheduler]
}
