output "webhook_url" {
  description = "Public URL of the ingest function; Sentry and Datadog post here (the source is read from headers). Asana posts to the same function at its cloudfunctions.net address, with ?source=asana."
  value       = google_cloudfunctions2_function.function["ingest"].service_config[0].uri
}

output "sentry_webhook_url" {
  description = "Webhook URL to paste into the Sentry internal integration (same as webhook_url)."
  value       = google_cloudfunctions2_function.function["ingest"].service_config[0].uri
}

output "datadog_webhook_url" {
  description = "Webhook URL to paste into the Datadog Webhooks integration (same as webhook_url)."
  value       = google_cloudfunctions2_function.function["ingest"].service_config[0].uri
}

output "azure_monitor_webhook_url" {
  description = "URL to paste into the Azure action group's Webhook (replace <AZURE_WEBHOOK_TOKEN> with the secret's value) or Secure Webhook action; null when azure_monitor is off."
  value       = var.azure_monitor.enabled ? "${google_cloudfunctions2_function.function["ingest"].service_config[0].uri}/azure${var.azure_monitor.url_token ? "?token=<AZURE_WEBHOOK_TOKEN>" : ""}" : null
}

output "worker_url" {
  description = "Internal URL of the worker; only the events push subscription may call it."
  value       = google_cloudfunctions2_function.function["worker"].service_config[0].uri
}

output "events_topic" {
  description = "Short name of the topic ingest publishes to (EVENTS_TOPIC)."
  value       = google_pubsub_topic.events.name
}

output "events_subscription" {
  description = "Short name of the push subscription that feeds the worker."
  value       = google_pubsub_subscription.events.name
}

output "dead_letter_topic" {
  description = "Short name of the dead-letter topic (DEAD_LETTER_TOPIC)."
  value       = google_pubsub_topic.dead_letter.name
}

output "dead_letter_subscription" {
  description = "Short name of the pull subscription that keeps dead-lettered messages for replay."
  value       = google_pubsub_subscription.dead_letter.name
}

output "ingest_service_account" {
  description = "Email of the ingest function's service account."
  value       = google_service_account.function["ingest"].email
}

output "worker_service_account" {
  description = "Email of the worker function's service account."
  value       = google_service_account.function["worker"].email
}

output "reconcile_service_account" {
  description = "Email of the reconcile function's service account."
  value       = google_service_account.function["reconcile"].email
}

output "reconcile_job" {
  description = "Cloud Scheduler job that runs reconciliation; run it now with gcloud scheduler jobs run."
  value       = google_cloud_scheduler_job.reconcile.name
}

output "push_service_account" {
  description = "Email of the identity Pub/Sub uses to sign push requests to the worker."
  value       = google_service_account.pusher.email
}

output "secret_ids" {
  description = "Secret Manager secret ids by credential name; add versions with gcloud (docs/deploy.md, step 5)."
  value       = { for name, secret in google_secret_manager_secret.credential : name => secret.secret_id }
}

output "dashboard_url" {
  description = "Cloud Monitoring dashboard of tasks created, unrouted alerts, rejected webhooks and backlog."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${element(split("/", google_monitoring_dashboard.main.id), 3)}?project=${var.project_id}"
}

output "alertmanager_webhook_url" {
  description = "The url of Alertmanager's webhook_config (docs/alertmanager.md); null while alertmanager.enabled is false."
  value       = var.alertmanager.enabled ? "${google_cloudfunctions2_function.function["ingest"].service_config[0].uri}/alertmanager" : null
}

output "grafana_webhook_url" {
  description = "The URL of Grafana's webhook contact point (docs/grafana.md); null while grafana.enabled is false."
  value       = var.grafana.enabled ? "${google_cloudfunctions2_function.function["ingest"].service_config[0].uri}/grafana" : null
}

output "cloud_monitoring_notification_channel" {
  description = "Id of the pubsub notification channel to add to your Cloud Monitoring alert policies (with notification_prompts = [\"OPENED\", \"CLOSED\"]); null unless cloud_monitoring_channel is pubsub or both."
  value       = one(google_monitoring_notification_channel.gcm_pubsub[*].id)
}

output "cloud_monitoring_webhook_url" {
  description = "URL to give a webhook_tokenauth channel, once <GCM_WEBHOOK_TOKEN> is replaced by the secret's value (a webhook_basicauth channel takes it without auth_token and the value as password); null unless cloud_monitoring_channel is webhook or both."
  value       = local.gcm_webhook ? "${google_cloudfunctions2_function.function["ingest"].service_config[0].uri}/?source=gcm&auth_token=<GCM_WEBHOOK_TOKEN>" : null
}

output "cloudwatch_sns_subscription_url" {
  description = "Endpoint of the SNS HTTPS subscription of each topic in cloudwatch.sns_topic_arns (protocol https; ingest confirms it); null while cloudwatch.enabled is false."
  value       = var.cloudwatch.enabled ? google_cloudfunctions2_function.function["ingest"].service_config[0].uri : null
}
