# events topic -> push subscription -> worker; after max_delivery_attempts -> dead-letter topic
# -> pull subscription kept for replay. The alert on dead-lettered messages is in monitoring.tf.

resource "google_pubsub_topic" "events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; a CMEK key would add a KMS dependency most users do not need.
  name = "${var.name}-events"

  # Keep messages in the function region so alert payloads stay where the user deployed.
  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.api]
}

# Messages the worker could not process after max_delivery_attempts, or that it dead-lettered
# itself (attribute dead_letter_reason); without it a poison message would retry forever.
resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; a CMEK key would add a KMS dependency most users do not need.
  name = "${var.name}-events-dead-letter"

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }

  depends_on = [google_project_service.api]
}

# Terraform owns the push subscription (not the function trigger) so the dead-letter policy,
# retry backoff and OIDC identity are explicit and reviewed.
resource "google_pubsub_subscription" "events" {
  name  = "${var.name}-events-worker"
  topic = google_pubsub_topic.events.id

  ack_deadline_seconds       = var.worker_timeout_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloudfunctions2_function.function["worker"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.pusher.email
      audience              = google_cloudfunctions2_function.function["worker"].service_config[0].uri
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

  # An idle subscription must never expire: alerts can be quiet for weeks.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_agent_publisher,
    google_cloud_run_service_iam_member.worker_pusher,
  ]
}

# Dead-lettered messages wait here, long, for inspection and replay (docs/replay.md).
resource "google_pubsub_subscription" "dead_letter" {
  name  = "${var.name}-events-dead-letter-replay"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 600
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's service agent moves undeliverable messages: it must publish to the dead-letter
# topic and acknowledge them on the source subscription, or dead-lettering silently fails.
resource "google_pubsub_topic_iam_member" "dead_letter_agent_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent

  # The agent exists only a while after the Pub/Sub API is enabled (waits.tf).
  depends_on = [time_sleep.pubsub_agent]
}

resource "google_pubsub_subscription_iam_member" "events_agent_subscriber" {
  subscription = google_pubsub_subscription.events.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [time_sleep.pubsub_agent]
}

# Ingest publishes only to the events topic.
resource "google_pubsub_topic_iam_member" "ingest_publisher" {
  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["ingest"].member
}

# The worker dead-letters a message it knows it can never process (a permanent error).
resource "google_pubsub_topic_iam_member" "worker_dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["worker"].member
}

# Reconciliation publishes its synthetic alerts where ingest publishes webhooks.
resource "google_pubsub_topic_iam_member" "reconcile_publisher" {
  topic  = google_pubsub_topic.events.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function["reconcile"].member
}
