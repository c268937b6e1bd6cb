# The credentials of the sources switched on. Terraform creates the secrets but never their
# versions, so no secret value reaches state or plan output; add values with gcloud
# (docs/deploy.md, step 5).

resource "google_secret_manager_secret" "credential" {
  for_each = local.secret_reader

  secret_id = "${var.secret_prefix}${lower(replace(each.key, "_", "-"))}"

  labels = {
    readers = join("_", each.value)
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

# Each function reads only the credentials it uses.
resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.secret_grants

  secret_id = google_secret_manager_secret.credential[each.value.name].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.reader].member
}

# The DSN of the Sentry project alert-bridge reports its own errors to. Like the credentials it
# has no version here; with sentry_reporting on, all three functions read it as SENTRY_DSN.
resource "google_secret_manager_secret" "sentry_dsn" {
  secret_id = "${var.secret_prefix}sentry-dsn"

  labels = {
    readers = "ingest_reconcile_worker"
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_iam_member" "sentry_dsn_reader" {
  for_each = local.functions

  secret_id = google_secret_manager_secret.sentry_dsn.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}
