# Google Cloud Monitoring as an alert source (docs/cloud-monitoring.md), switched by
# var.cloud_monitoring_channel:
#   pubsub  - a notification channel of type pubsub: Cloud Monitoring's notification service
#             agent publishes each incident to a topic of its own, pushed to the worker (with
#             ?source=gcm) by a subscription with the events subscription's dead letters and
#             retries. IAM is the check; nothing public.
#   webhook - the webhook_tokenauth / webhook_basicauth channels post to ingest with
#             ?source=gcm and the GCM_WEBHOOK_TOKEN secret (created only then).
#
# The service's own alert policies (monitoring.tf) never notify the pubsub channel: an alert
# about the worker failing must not travel through the worker. They use local.notification_channels
# (email and extra_notification_channels), and the channel below refuses to be one of those.

locals {
  gcm_pubsub  = contains(["pubsub", "both"], var.cloud_monitoring_channel)
  gcm_webhook = contains(["webhook", "both"], var.cloud_monitoring_channel)

  monitoring_notification_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
  worker_uri                    = google_cloudfunctions2_function.function["worker"].service_config[0].uri
}

# The topic Cloud Monitoring publishes incidents to; ingest never touches it.
resource "google_pubsub_topic" "gcm_incidents" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; a CMEK key would add a KMS dependency most users do not need.
  count = local.gcm_pubsub ? 1 : 0

  name = "${var.name}-gcm-incidents"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.api]
}

# The channel users add to their alert policies, with notification_prompts = ["OPENED",
# "CLOSED"]: without CLOSED no closure is ever sent and the task stays open.
resource "google_monitoring_notification_channel" "gcm_pubsub" {
  count = local.gcm_pubsub ? 1 : 0

  display_name = "alert-bridge ${var.environment}: Asana tasks"
  type         = "pubsub"
  description  = "Opens an Asana task per incident and completes it when the incident closes (alert-bridge)."

  labels = {
    topic = google_pubsub_topic.gcm_incidents[0].id
  }

  lifecycle {
    # The loop guard: the service's own alert policies notify local.notification_channels.
    postcondition {
      condition     = !contains(var.extra_notification_channels, self.id)
      error_message = "extra_notification_channels names alert-bridge's own Cloud Monitoring channel: an alert about the worker failing must not depend on the worker. Use another channel for the service's own alerts."
    }
  }

  depends_on = [google_project_service.api]
}

# Only the project's monitoring notification service agent may publish incidents. Google
# creates the agent with the project's first notification channel, hence the dependency.
resource "google_pubsub_topic_iam_member" "gcm_notification_agent_publisher" {
  count = local.gcm_pubsub ? 1 : 0

  topic  = google_pubsub_topic.gcm_incidents[0].id
  role   = "roles/pubsub.publisher"
  member = local.monitoring_notification_agent

  depends_on = [google_monitoring_notification_channel.gcm_pubsub]
}

# Pushes incidents to the worker as the events subscription does: the worker adopts them
# (?source=gcm: they carry no ingest attributes) and they go through the same ledger, retries
# and dead letters.
resource "google_pubsub_subscription" "gcm_incidents" {
  count = local.gcm_pubsub ? 1 : 0

  name  = "${var.name}-gcm-incidents-worker"
  topic = google_pubsub_topic.gcm_incidents[0].id

  ack_deadline_seconds       = var.worker_timeout_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${local.worker_uri}?source=gcm"

    oidc_token {
      service_account_email = google_service_account.pusher.email
      audience              = local.worker_uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.retry_backoff.minimum
    maximum_backoff = var.retry_backoff.maximum
  }

  # Incidents can be quiet for weeks.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_agent_publisher,
    google_cloud_run_service_iam_member.worker_pusher,
  ]
}

# Pub/Sub's service agent acknowledges what it dead-letters on this subscription too.
resource "google_pubsub_subscription_iam_member" "gcm_agent_subscriber" {
  count = local.gcm_pubsub ? 1 : 0

  subscription = google_pubsub_subscription.gcm_incidents[0].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [time_sleep.pubsub_agent]
}
