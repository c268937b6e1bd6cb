# Development: one project per environment is recommended. No secrets here: credentials go
# into Secret Manager with gcloud (docs/deploy.md, step 5).
project_id         = "my-alert-bridge-dev"
environment        = "dev"
region             = "europe-west1"
firestore_location = "eur3"
log_level          = "DEBUG"

# No warm instance in dev: saves about $10 a month; the first webhook after an idle spell
# may be a cold start slower than Sentry's 1 s timeout (Sentry then drops it; reconciliation,
# if configured, publishes it later), and the latency alert may fire on cold starts.
ingest_scaling = {
  min_instances = 0
  max_instances = 3
  concurrency   = 80
}

worker_scaling = {
  max_instances = 1
  concurrency   = 5
}

alert_emails        = ["alerts-dev@example.com"]
deletion_protection = false
