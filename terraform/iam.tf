# One identity per job, each with the few roles that job needs.

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "${var.name}-${each.key}"
  display_name = "alert-bridge ${each.key} function"
  description  = each.value

  depends_on = [google_project_service.api]
}

# Pub/Sub signs push requests to the worker as this account; it may only invoke the worker.
resource "google_service_account" "pusher" {
  account_id   = "${var.name}-pusher"
  display_name = "alert-bridge Pub/Sub push to worker"
  description  = "OIDC identity of the events push subscription; run.invoker on the worker only."

  depends_on = [google_project_service.api]
}

# Cloud Build runs as this account instead of the default compute account, which new
# projects no longer grant Editor, so builds neither fail nor run with broad rights.
resource "google_service_account" "builder" {
  account_id   = "${var.name}-builder"
  display_name = "alert-bridge function builds"
  description  = "Builds the function images: reads the source bucket, writes images and logs."

  depends_on = [google_project_service.api]
}

# The roles Google lists for a custom build account: the build reads the source archive and
# also writes its own staging objects, hence Storage Object Admin rather than Viewer.
resource "google_project_iam_member" "builder" {
  for_each = toset([
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
    "roles/storage.objectAdmin",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.builder.member
}

# Firestore grants are per database, by an IAM condition on the database's resource name, as
# Google documents it ("Configure per-database access permissions",
# https://cloud.google.com/firestore/docs/manage-databases#configure_per-database_access_permissions:
# --condition='expression=resource.name=="projects/PROJECT_ID/databases/DATABASE_ID"'). So the
# public ingest function reaches the hooks database only, never the ledger. A condition changes
# the binding's identity: create_before_destroy keeps the access while an existing deployment
# moves from the former unconditional grants.
locals {
  ledger_database = "projects/${var.project_id}/databases/${google_firestore_database.default.name}"
  hooks_database  = "projects/${var.project_id}/databases/${google_firestore_database.hooks.name}"
}

# The worker claims and completes ledger entries in Firestore.
resource "google_project_iam_member" "worker_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["worker"].member

  condition {
    title      = "ledger database only"
    expression = "resource.name == \"${local.ledger_database}\""
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The worker registers the Asana webhook of a project it creates an opted-in team's task in.
resource "google_project_iam_member" "worker_hooks" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["worker"].member

  condition {
    title      = "hooks database only"
    expression = "resource.name == \"${local.hooks_database}\""
  }
}

# Reconciliation reads the ledger, to see which alerts already have a task and which tasks
# disagree with Asana, and writes only where its last run stopped (collection
# <ledger_collection>_reconcile). Firestore IAM cannot grant less than a whole database, so
# this is datastore.user on the ledger's.
resource "google_project_iam_member" "reconcile_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["reconcile"].member

  condition {
    title      = "ledger database only"
    expression = "resource.name == \"${local.ledger_database}\""
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Reconciliation renews broken Asana webhooks and records how far it compared each project.
resource "google_project_iam_member" "reconcile_hooks" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["reconcile"].member

  condition {
    title      = "hooks database only"
    expression = "resource.name == \"${local.hooks_database}\""
  }
}

# Ingest confirms the Asana webhook handshakes a registration started, reads each webhook's
# token hash and secret to verify its deliveries, and records the last one: in the hooks
# database only, nothing on the ledger.
resource "google_project_iam_member" "ingest_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["ingest"].member

  condition {
    title      = "hooks database only"
    expression = "resource.name == \"${local.hooks_database}\""
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Every function writes structured logs that feed the log-based metrics.
resource "google_project_iam_member" "function_logs" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.function[each.key].member
}

# Pub/Sub's own agent mints the OIDC token of the push requests; needed explicitly in
# projects whose agent predates April 2021.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  # The agent exists only a while after the Pub/Sub API is enabled (waits.tf).
  depends_on = [time_sleep.pubsub_agent]
}
