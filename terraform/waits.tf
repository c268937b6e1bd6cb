# What the first apply waits for. Google applies some changes asynchronously and the provider
# does not retry the calls that fail meanwhile, so on an empty project the first apply would
# stop halfway and need a second run. Each wait runs when it is created (the first apply) or
# when its triggers change; an apply that changes neither skips it. docs/deploy.md, "What the first apply waits for".

# IAM grants take effect "usually within 2 minutes, sometimes 7 or more"
# (https://cloud.google.com/iam/docs/access-change-propagation). The function builds start
# right after the builder's roles are created; without this wait the first build fails
# reading its source archive (storage.objects.get denied to the builder account).
resource "time_sleep" "builder_iam" {
  create_duration = "120s"

  # The functions' own read of the SENTRY_DSN secret is checked when their revision is
  # created, so those grants wait here too.
  triggers = {
    builder        = google_service_account.builder.member
    roles          = join(",", sort([for grant in google_project_iam_member.builder : grant.role]))
    secret_readers = join(",", sort([for grant in google_secret_manager_secret_iam_member.sentry_dsn_reader : grant.member]))
  }
}

# Enabling the Pub/Sub API creates its service agent (service-NUMBER@gcp-sa-pubsub) in the
# background; a grant to the agent before it exists fails with "Service account ... does not
# exist". The agent's grants (dead-lettering, push tokens) wait for it.
resource "time_sleep" "pubsub_agent" {
  create_duration = "60s"

  triggers = {
    api = google_project_service.api["pubsub.googleapis.com"].id
  }
}

# Cloud Monitoring refuses an alert condition on a log-based metric for up to 10 minutes after
# the metric was created ("Cannot find metric(s) that match type = logging.googleapis.com/user/…
# If a metric was created recently, it could take up to 10 minutes to become available"), and
# the provider does not retry (hashicorp/terraform-provider-google#11102). Only one policy
# still alerts on a log-based metric (reconcile_failures: a count over an hour, which a log-match
# condition cannot express); it waits here. The wait starts when the metric is created, early in
# the apply, and overlaps the function builds the policy waits for anyway.
resource "time_sleep" "log_metrics" {
  create_duration = "600s"

  triggers = {
    reconcile_failures = google_logging_metric.event["reconcile_failures"].id
  }
}
