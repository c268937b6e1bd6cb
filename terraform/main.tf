# alert-bridge: ingest (public webhook) -> Pub/Sub -> worker (private, push) -> Asana; reconcile
# (private, Cloud Scheduler) publishes what never arrived. Resources are split by concern:
# iam.tf, pubsub.tf, firestore.tf, secrets.tf, functions.tf, scheduler.tf, monitoring.tf,
# waits.tf. This file holds what they share.

locals {
  repo_root = "${path.module}/.."

  functions = {
    ingest    = "Verifies Sentry, Datadog and Asana webhooks and publishes them to ${var.name}-events."
    worker    = "Turns alerts from the events push subscription into Asana tasks."
    reconcile = "Publishes Sentry and Datadog alerts whose webhook never arrived, and heals the two-way sync's Asana webhooks, every few minutes."
  }

  # Which function reads which credential (see shared/core/settings.py SECRET_NAMES); each gets
  # accessor on its own secrets only. Only reconcile reads monitors, so only it has the
  # Datadog application key; it reads Asana's webhooks and tasks (two-way sync) with ASANA_PAT.
  # Ingest reads ASANA_PAT only to check a Sentry alert rule's settings (board, people) in
  # Asana when the rule is saved.
  secret_readers = {
    ingest    = ["SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN", "ASANA_PAT", "AZURE_WEBHOOK_TOKEN", "ALERTMANAGER_TOKEN", "GRAFANA_WEBHOOK_SECRET", "GCM_WEBHOOK_TOKEN"]
    worker    = ["ASANA_PAT", "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY"]
    reconcile = ["SENTRY_AUTH_TOKEN", "DATADOG_API_KEY", "DATADOG_APP_KEY", "ASANA_PAT"]
  }
  # The credentials of the sources a deployment switches on: off, their secret and its grants
  # do not exist (the code reads them only for a request to that source, which then fails
  # naming the credential).
  source_switches = {
    AZURE_WEBHOOK_TOKEN    = var.azure_monitor.enabled && var.azure_monitor.url_token
    ALERTMANAGER_TOKEN     = var.alertmanager.enabled
    GRAFANA_WEBHOOK_SECRET = var.grafana.enabled
    GCM_WEBHOOK_TOKEN      = local.gcm_webhook
  }
  # The webhook sources ingest takes (ALERT_SOURCES): Sentry, Datadog and Asana's two-way sync
  # always, the others when switched on. A request for one that is off reads no secret.
  # (Cloud Monitoring's pubsub channel goes to the worker, not through ingest.)
  optional_sources = {
    azure        = var.azure_monitor.enabled
    alertmanager = var.alertmanager.enabled
    grafana      = var.grafana.enabled
    gcm          = local.gcm_webhook
    cloudwatch   = var.cloudwatch.enabled
  }
  alert_sources = concat(["sentry", "datadog", "asana"], [for name, on in local.optional_sources : name if on])
  # credential -> the functions that read it, and one grant per (function, credential).
  secret_reader = {
    for name in distinct(flatten(values(local.secret_readers))) :
    name => sort([for reader, names in local.secret_readers : reader if contains(names, name)])
    if lookup(local.source_switches, name, true)
  }
  secret_grants = merge([
    for reader, names in local.secret_readers :
    {
      for name in names : "${reader}/${name}" => { reader = reader, name = name }
      if lookup(local.source_switches, name, true)
    }
  ]...)

  # The environment-variable contract of the code's settings; the three functions read the
  # same Settings, so all three get the same set. Credentials are not here: the code reads them from
  # Secret Manager at run time, which keeps their values out of state and function config.
  function_env = {
    GOOGLE_CLOUD_PROJECT     = var.project_id
    EVENTS_TOPIC             = google_pubsub_topic.events.name
    DEAD_LETTER_TOPIC        = google_pubsub_topic.dead_letter.name
    ENVIRONMENT              = var.environment
    TEAMS_FILE               = "teams.yaml"
    ASANA_API_URL            = var.api_urls.asana
    SENTRY_API_URL           = var.api_urls.sentry
    DATADOG_API_URL          = var.api_urls.datadog
    LOG_LEVEL                = var.log_level
    SECRET_PREFIX            = var.secret_prefix
    SECRET_CACHE_TTL_SECONDS = tostring(var.secret_cache_ttl_seconds)
    MAX_BODY_BYTES           = tostring(var.max_body_bytes)
    LEDGER_COLLECTION        = var.ledger_collection
    ASANA_MAX_ATTEMPTS       = tostring(var.asana_max_attempts)
    DEFAULT_TEAM             = var.default_team
    # Reconciliation (read by the reconcile function only; harmless elsewhere).
    SENTRY_ORG                     = var.sentry_org != "" ? var.sentry_org : var.reconcile.sentry_org
    RECONCILE_SENTRY_RULES         = join(",", var.reconcile.sentry_rules)
    RECONCILE_SENTRY_PROJECTS      = join(",", var.reconcile.sentry_projects)
    RECONCILE_DATADOG_WEBHOOK      = var.reconcile.datadog_webhook
    RECONCILE_DATADOG_MONITOR_TAGS = join(",", var.reconcile.datadog_monitor_tags)
    RECONCILE_INTERVAL_MINUTES     = tostring(var.reconcile.interval_minutes)
    RECONCILE_LOOKBACK_MINUTES     = tostring(var.reconcile.lookback_minutes)
    RECONCILE_GRACE_MINUTES        = tostring(var.reconcile.grace_minutes)
    # SENTRY_DSN is not here: it comes from Secret Manager (functions.tf), out of state.
    SENTRY_ENVIRONMENT          = var.sentry_environment == "" ? var.environment : var.sentry_environment
    SENTRY_RELEASE              = local.release
    SENTRY_TRACES_SAMPLE_RATE   = tostring(var.sentry_traces_sample_rate)
    SENTRY_PROFILES_SAMPLE_RATE = tostring(var.sentry_profiles_sample_rate)
    # The ingest function's own cloudfunctions.net URL, spelled out: referencing the
    # function's url attribute here would make ingest's environment depend on itself.
    ASANA_WEBHOOK_TARGET_URL = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name}-ingest"
    ASANA_WEBHOOK_COLLECTION = var.asana_webhook_collection
    ASANA_HOOKS_DATABASE     = google_firestore_database.hooks.name
    ALERT_SOURCES            = join(",", local.alert_sources)
    # Azure Monitor's Secure Webhook (ingest); empty: off. AZURE_ENTRA_KEYS_URL is test-only.
    AZURE_TENANT_ID = var.azure_monitor.enabled ? var.azure_monitor.tenant_id : ""
    AZURE_AUDIENCES = var.azure_monitor.enabled ? join(",", var.azure_monitor.audiences) : ""
    # Grafana's webhook contact point: how it signs (read by ingest only).
    GRAFANA_SIGNATURE_HEADER      = var.grafana.signature_header
    GRAFANA_TIMESTAMP_HEADER      = var.grafana.timestamp_header
    GRAFANA_REPLAY_WINDOW_SECONDS = tostring(var.grafana.replay_window_seconds)
    # CloudWatch alarms through SNS (read by ingest only): off, no topic is allowed.
    CLOUDWATCH_SNS_TOPIC_ARNS      = var.cloudwatch.enabled ? join(",", var.cloudwatch.sns_topic_arns) : ""
    CLOUDWATCH_SNS_MAX_AGE_SECONDS = tostring(var.cloudwatch.max_age_seconds)
  }

  # One release per deployed source: the hash of the three functions' archives, so Sentry's
  # "first seen in release" changes exactly when the code does.
  release = "${var.name}@${substr(sha256(join(",", [for name in sort(keys(local.functions)) : data.archive_file.source[name].output_sha256])), 0, 12)}"

  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

data "google_project" "this" {
  project_id = var.project_id
}

# Every API the module touches; disable_on_destroy = false so destroying alert-bridge never
# switches off an API something else in the project still uses.
resource "google_project_service" "api" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
