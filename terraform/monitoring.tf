# Alerting and visibility. Each alert policy names the silent failure it catches, and its
# runbook row is in docs/alerts.md, "What the alerts watch".
#
# Alert policies watch built-in metrics, or match log entries directly, wherever that can
# express the condition: Cloud Monitoring rejects a condition on a log-based metric created in
# the same apply (waits.tf), so only reconcile_failures uses one, and it waits for it.

locals {
  ingest_service    = google_cloudfunctions2_function.function["ingest"].name
  worker_service    = google_cloudfunctions2_function.function["worker"].name
  reconcile_service = google_cloudfunctions2_function.function["reconcile"].name

  notification_channels = concat(
    [for channel in google_monitoring_notification_channel.email : channel.id],
    var.extra_notification_channels,
  )

  # Log-based metrics over the code's structured log lines (jsonPayload.event); labels are
  # extracted from the same line.
  log_metrics = {
    tasks_created = {
      description = "Asana tasks created, by owning team and alert source."
      service     = local.worker_service
      event       = "task_created"
      labels      = ["team", "source"]
    }
    alerts_unrouted = {
      description = "Alerts that matched no team and fell through to the default team."
      service     = local.worker_service
      event       = "alert_unrouted"
      labels      = ["source"]
    }
    webhooks_rejected = {
      description = "Webhooks the ingest function refused, by reason and source."
      service     = local.ingest_service
      event       = "webhook_rejected"
      labels      = ["reason", "source"]
    }
    dead_lettered = {
      description = "Messages the worker dead-lettered itself, by reason."
      service     = local.worker_service
      event       = "dead_lettered"
      labels      = ["reason"]
    }
    alerts_reconciled = {
      description = "Alerts reconciliation published because their webhook never arrived, by source and reason."
      service     = local.reconcile_service
      event       = "alert_reconciled"
      labels      = ["source", "reason"]
    }
    reconcile_failures = {
      description = "Reconciliation runs that failed, by reason."
      service     = local.reconcile_service
      event       = "reconcile_failed"
      labels      = ["reason"]
    }
    sync_webhooks_unhealthy = {
      description = "Two-way sync Asana webhooks reconciliation found deleted, inactive, unconfirmed or silent, by project and health."
      service     = local.reconcile_service
      event       = "asana_webhook_unhealthy"
      labels      = ["project", "health"]
    }
  }

  # Log entries at ERROR or above, as counted by the built-in metric.
  error_log_entries = "metric.type=\"logging.googleapis.com/log_entry_count\" AND metric.labels.severity=one_of(\"ERROR\", \"CRITICAL\", \"ALERT\", \"EMERGENCY\")"

  alert_documentation = "Runbook: docs/alerts.md of the alert-bridge repository, section \"What the alerts watch\". Dead-lettered messages wait on ${google_pubsub_subscription.dead_letter.name} for replay."
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "alert-bridge ${var.environment}: ${each.value}"
  type         = "email"

  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "event" {
  for_each = local.log_metrics

  name        = "${var.name}/${each.key}"
  description = each.value.description
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${each.value.service}\" AND jsonPayload.event=\"${each.value.event}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    dynamic "labels" {
      for_each = toset(each.value.labels)
      content {
        key        = labels.value
        value_type = "STRING"
      }
    }
  }

  label_extractors = { for label in each.value.labels : label => "EXTRACT(jsonPayload.${label})" }

  depends_on = [google_project_service.api]
}

# Catches: an alert that will never become a task (the worker failed max_delivery_attempts
# times, or gave up on a permanent error). Watching the replay subscription rather than the
# publish rate covers both paths, and the incident stays open until someone has looked at the
# dead letters (pulled and acknowledged them), so a lost alert is never invisible.
resource "google_monitoring_alert_policy" "dead_lettered" {
  display_name = "alert-bridge ${var.environment}: alerts dead-lettered"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Messages waiting on ${google_pubsub_subscription.dead_letter.name}"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Alerts were dead-lettered and will not become Asana tasks until replayed. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: the worker stopped acknowledging (down, crashing on start, IAM broken, Asana down).
# Messages pile up silently while Pub/Sub keeps retrying; their age is the symptom.
resource "google_monitoring_alert_policy" "events_backlog" {
  display_name = "alert-bridge ${var.environment}: alerts not being processed"
  combiner     = "OR"
  severity     = "CRITICAL"

  conditions {
    display_name = "Oldest unacked message on ${google_pubsub_subscription.events.name}"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.events.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.oldest_unacked_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "The worker is not acknowledging alerts; check its logs and the Asana credentials. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: webhooks failing at the door (bad deploy, missing secret, Pub/Sub publish denied).
# Sentry and Datadog do not page anyone when their webhook calls fail.
resource "google_monitoring_alert_policy" "ingest_errors" {
  display_name = "alert-bridge ${var.environment}: webhook 5xx ratio"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "5xx share of ${local.ingest_service} requests"

    condition_threshold {
      filter             = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.ingest_service}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
      denominator_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.ingest_service}\" AND metric.type=\"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_thresholds.ingest_5xx_ratio
      duration           = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "The webhook is failing; Sentry and Datadog alerts are being lost at ingest. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: ingest getting slow enough that Sentry (1 s timeout) starts dropping webhooks,
# e.g. cold starts after min instances were lowered, or a slow Pub/Sub publish.
resource "google_monitoring_alert_policy" "ingest_latency" {
  display_name = "alert-bridge ${var.environment}: webhook latency near Sentry's 1 s timeout"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "p99 latency of ${local.ingest_service}"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.ingest_service}\" AND metric.type=\"run.googleapis.com/request_latencies\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.ingest_latency_ms
      duration        = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Webhook p99 latency is close to Sentry's 1 s timeout; Sentry drops slow deliveries. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: a wrongly rotated Sentry client secret or Datadog token (or a wrong secret
# version). Every webhook is then refused with a 401: Sentry does not retry, Datadog gives up,
# the 5xx ratio stays at zero, and alerts vanish without a trace. A few 401s are normal
# (scanners, a stray unsigned request); a run of them in 10 minutes is not.
resource "google_monitoring_alert_policy" "webhooks_unauthorized" {
  display_name = "alert-bridge ${var.environment}: webhooks rejected as unauthorized (alerts are being lost: check the secret)"
  combiner     = "OR"
  severity     = "CRITICAL"

  conditions {
    display_name = "401 responses of ${local.ingest_service} in 10 min"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.ingest_service}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code=\"401\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.rejected_webhooks
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Ingest answers 401 to webhooks: a source's credential in Secret Manager does not match what the sender signs or authenticates with, and those alerts are lost (Sentry does not retry). The ingest logs (jsonPayload.event=\"webhook_rejected\", reason unauthorized) name the source and the credential checked (checked against ...). Compare the latest version of that secret (${var.secret_prefix}sentry-client-secret, ${var.secret_prefix}datadog-secret-token, or the secret of an optional source: azure-webhook-token, alertmanager-token, grafana-webhook-secret, gcm-webhook-token) with the sender's setting, add the right value as a new version, then let reconciliation or a test notification resend. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: the worker failing repeatedly before messages reach the dead-letter topic, such as
# an expired Asana token or a routing config the worker cannot load: tasks silently late.
# Built-in log_entry_count, not a log-based metric, so the first apply needs no wait; its
# severity label is compared as a string (filters know no severity order), hence one_of.
resource "google_monitoring_alert_policy" "worker_errors" {
  display_name = "alert-bridge ${var.environment}: worker errors"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Error log lines from ${local.worker_service}"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.worker_service}\" AND ${local.error_log_entries}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.worker_errors
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "The worker keeps failing; tasks are delayed and will be dead-lettered. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: webhooks lost on the way (Sentry does not retry an internal integration's webhook
# that timed out or got a 5xx; a Datadog webhook can be dropped too). Reconciliation has
# already published each one, so no alert is lost, but any one means the webhook path is
# failing silently and will keep doing so. A log-match condition on reconcile's own line, so
# it needs no log-based metric (and no wait on the first apply); one notification per hour.
resource "google_monitoring_alert_policy" "alerts_reconciled" {
  display_name = "alert-bridge ${var.environment}: webhooks lost (alerts reconciled)"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "Alerts published by ${local.reconcile_service}"

    condition_matched_log {
      filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.reconcile_service}\" AND jsonPayload.event=\"alert_reconciled\""

      label_extractors = {
        source = "EXTRACT(jsonPayload.source)"
        reason = "EXTRACT(jsonPayload.reason)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    # The only prompt a log-match condition has; left out, the API's value would show as a
    # change on every plan.
    notification_prompts = ["OPENED"]
    auto_close           = "3600s"
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Reconciliation found alerts whose webhook never arrived and published them (they still become tasks). Find which in the logs of ${local.reconcile_service} (jsonPayload.event=\"alert_reconciled\", with alert_key and reason). Then look where the webhooks were lost: ingest's refusals and 5xx (jsonPayload.event=\"webhook_rejected\" or \"publish_failed\" on ${local.ingest_service}, the \"webhook 5xx ratio\" and \"latency\" policies), Sentry's integration request log (Settings → Developer Settings → the integration → Dashboard), and Datadog's Webhooks integration (the monitor's event stream shows failed webhook notifications). ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: the two-way sync losing a project's Asana webhook. Asana deletes a webhook after 24 h
# of failed deliveries (an ingest outage, a broken deploy) and may mark one inactive; a
# handshake may never have reached ingest; or a webhook stays listed but sends nothing, not even
# the heartbeat Asana sends every 8 h. Completing a task then resolves nothing until the next
# reconciliation passes the change on, and nothing else says so. Reconciliation logs one line
# per such project (and re-registers deleted, inactive and unconfirmed ones itself): a
# log-match condition with the project as a label, no log-based metric to wait for.
resource "google_monitoring_alert_policy" "sync_webhook_inactive" {
  display_name = "alert-bridge ${var.environment}: two-way sync webhook inactive"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "Unhealthy Asana webhooks found by ${local.reconcile_service}"

    condition_matched_log {
      filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.reconcile_service}\" AND jsonPayload.event=\"asana_webhook_unhealthy\""

      label_extractors = {
        project = "EXTRACT(jsonPayload.project)"
        health  = "EXTRACT(jsonPayload.health)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s"
    }
    # The only prompt a log-match condition has; left out, the API's value would show as a
    # change on every plan.
    notification_prompts = ["OPENED"]
    auto_close           = "3600s"
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "The two-way sync's Asana webhook of the project named in the incident's `project` label is broken (`health`: deleted, inactive, unconfirmed, or silent for more than 9 h). Reconciliation re-registers deleted, inactive and unconfirmed webhooks itself and passes on the task changes they missed; if this fires again, the new registration failed too: see `make asana-webhooks ARGS=list` (last failure) and the logs of ${local.reconcile_service} (jsonPayload.event=\"asana_webhook_failed\" or \"asana_check_failed\") and ${local.ingest_service} (jsonPayload.event=\"webhook_rejected\"). ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}

# Catches: reconciliation itself failing (a revoked Sentry token, a missing Datadog
# application key, an API down for long): lost webhooks would then go unnoticed again.
# More than 2 failures an hour, so one failed run during a blip pages nobody.
resource "google_monitoring_alert_policy" "reconcile_failures" {
  display_name = "alert-bridge ${var.environment}: reconciliation failing"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "Failed runs of ${local.reconcile_service}"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["reconcile_failures"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 2
      duration        = "0s"

      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  # Closed incidents are notified too: without CLOSED Cloud Monitoring never says an incident
  # ended (docs/cloud-monitoring.md).
  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Reconciliation runs keep failing; lost webhooks are not being recovered. The reason is in the logs of ${local.reconcile_service} (jsonPayload.event=\"reconcile_failed\"): reconcile_http_401/403 means the SENTRY_AUTH_TOKEN or the Datadog keys are wrong or lack a scope, config a missing setting or credential. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }

  # The only policy on a log-based metric: Monitoring accepts it once the metric has
  # propagated (waits.tf). A log-match condition would page on a single failed run.
  depends_on = [time_sleep.log_metrics]
}

# The API drops empty lists and zero numbers from what it stores, so the tiles leave them out
# too; otherwise every plan would show the dashboard as changed.
resource "google_monitoring_dashboard" "main" {
  dashboard_json = jsonencode({
    displayName = "alert-bridge (${var.environment})"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, tile in [
          {
            title  = "Tasks created by team"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["tasks_created"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.team"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Tasks created by source"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["tasks_created"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.source"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Unrouted alerts (default team)"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["alerts_unrouted"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.source"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Rejected webhooks by reason"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["webhooks_rejected"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.reason"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Dead letters waiting for replay"
            filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\""
            group  = []
            align  = "ALIGN_MAX"
          },
          {
            title  = "Alerts reconciled (webhooks lost)"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["alerts_reconciled"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.source"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Two-way sync webhooks unhealthy, by project"
            filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event["sync_webhooks_unhealthy"].name}\" resource.type=\"cloud_run_revision\""
            group  = ["metric.label.project"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Worker errors"
            filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.worker_service}\" AND ${local.error_log_entries}"
            group  = []
            align  = "ALIGN_SUM"
          },
          {
            title  = "Webhook requests by response code"
            filter = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" resource.label.service_name=\"${local.ingest_service}\""
            group  = ["metric.label.response_code"]
            align  = "ALIGN_SUM"
          },
          {
            title  = "Oldest unacked event (s)"
            filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=\"${google_pubsub_subscription.events.name}\""
            group  = []
            align  = "ALIGN_MAX"
          },
          ] : merge(
          {
            width  = 6
            height = 4
            widget = {
              title = tile.title
              xyChart = {
                dataSets = [{
                  plotType = "STACKED_BAR"
                  timeSeriesQuery = {
                    timeSeriesFilter = {
                      filter = tile.filter
                      aggregation = merge(
                        {
                          alignmentPeriod    = "300s"
                          perSeriesAligner   = tile.align
                          crossSeriesReducer = "REDUCE_SUM"
                        },
                        { for key, fields in { groupByFields = tile.group } : key => fields if length(fields) > 0 },
                      )
                    }
                  }
                }]
              }
            }
          },
          { for key, position in { xPos = (index % 2) * 6, yPos = floor(index / 2) * 4 } : key => position if position != 0 },
        )
      ]
    }
  })
}

# Catches: Cloud Monitoring incidents piling up unacknowledged (the worker down or refusing
# them): the incidents' tasks are not being opened or completed. Notifies the service's own
# channels, never the pubsub channel of gcm.tf (it would wait on the same worker).
resource "google_monitoring_alert_policy" "gcm_incidents_backlog" {
  count = local.gcm_pubsub ? 1 : 0

  display_name = "alert-bridge ${var.environment}: Cloud Monitoring incidents not being processed"
  combiner     = "OR"
  severity     = "CRITICAL"

  conditions {
    display_name = "Oldest unacked message on ${google_pubsub_subscription.gcm_incidents[0].name}"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.gcm_incidents[0].name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_thresholds.oldest_unacked_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    notification_prompts = ["OPENED", "CLOSED"]
  }

  notification_channels = local.notification_channels

  documentation {
    content   = "Cloud Monitoring incidents are not becoming Asana tasks: the worker is not acknowledging ${google_pubsub_subscription.gcm_incidents[0].name}. Check the worker's logs and the Asana credentials. ${local.alert_documentation}"
    mime_type = "text/markdown"
  }
}
