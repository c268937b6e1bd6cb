# Production. No secrets here: credentials go into Secret Manager with gcloud (docs/deploy.md, step 5).
project_id         = "my-alert-bridge-prod"
environment        = "prod"
region             = "europe-west1"
firestore_location = "eur3"
log_level          = "INFO"

# One warm instance answers within Sentry's 1 s webhook timeout (about $10 a month idle).
ingest_scaling = {
  min_instances = 1
  max_instances = 10
  concurrency   = 80
}

# 3 instances x 5 requests = 15 concurrent Asana writes, Asana's per-token limit.
worker_scaling = {
  max_instances = 3
  concurrency   = 5
}

max_delivery_attempts = 10

alert_emails = ["oncall@example.com"]
# PagerDuty or Slack channels created in Cloud Monitoring, by id:
extra_notification_channels = []
