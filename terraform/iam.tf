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

# The worker claims and completes ledger entries in Firestore.
resource "google_project_iam_member" "worker_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["worker"].member
}

# Reconciliation reads the ledger, to see which alerts already have a task, and writes only
# where its last run stopped (collection <ledger_collection>_reconcile). Firestore IAM cannot
# grant less than a whole database, so this is datastore.user on the (default) one.
resource "google_project_iam_member" "reconcile_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["reconcile"].member
}

# Ingest confirms the Asana webhook handshakes the worker started and reads each webhook's
# secret to verify its deliveries (collection var.asana_webhook_collection).
resource "google_project_iam_member" "ingest_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["ingest"].member
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
