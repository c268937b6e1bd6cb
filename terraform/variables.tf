variable "project_id" {
  description = "Google Cloud project that hosts alert-bridge."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lower-case letters, digits, dashes)."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and the Pub/Sub message storage."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Location of the Firestore (default) database: a region (europe-west1) or multi-region (eur3, nam5)."
  type        = string
  default     = "eur3"
}

variable "environment" {
  description = "Deployment environment, passed to the code as ENVIRONMENT and used in labels."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "name" {
  description = "Prefix of every resource name; change it to run two copies in one project."
  type        = string
  default     = "alert-bridge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,17}$", var.name))
    error_message = "name must be 3-18 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "secret_prefix" {
  description = "Prefix of the Secret Manager secret ids (SECRET_PREFIX); the code appends e.g. asana-pat."
  type        = string
  default     = "alert-bridge-"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.secret_prefix))
    error_message = "secret_prefix may hold only letters, digits, dashes and underscores."
  }
}

variable "ingest_scaling" {
  description = "Ingest function scaling: min_instances = 1 keeps a warm instance so Sentry's 1 s webhook timeout is met (about $10 a month idle); 0 saves that where cold starts are acceptable, e.g. dev."
  type = object({
    min_instances = number
    max_instances = number
    concurrency   = number
  })
  default = {
    min_instances = 1
    max_instances = 10
    concurrency   = 80
  }

  validation {
    condition     = var.ingest_scaling.min_instances >= 0 && var.ingest_scaling.max_instances >= 1 && var.ingest_scaling.max_instances >= var.ingest_scaling.min_instances && var.ingest_scaling.max_instances <= 100
    error_message = "ingest_scaling needs 0 <= min_instances <= max_instances <= 100 and max_instances >= 1 (with 0, a cold start may miss Sentry's 1 s timeout)."
  }

  validation {
    condition     = var.ingest_scaling.concurrency > 1 && var.ingest_scaling.concurrency <= 1000
    error_message = "ingest_scaling.concurrency must be between 2 and 1000."
  }
}

variable "worker_scaling" {
  description = "Worker function scaling; max_instances * concurrency is the most Asana writes in flight at once."
  type = object({
    max_instances = number
    concurrency   = number
  })
  default = {
    max_instances = 3
    concurrency   = 5
  }

  validation {
    # Asana allows 15 concurrent write requests per token; more gets 429s and retries.
    condition     = var.worker_scaling.max_instances >= 1 && var.worker_scaling.concurrency >= 1 && var.worker_scaling.max_instances * var.worker_scaling.concurrency <= 15
    error_message = "worker_scaling: max_instances * concurrency must be between 1 and 15 (Asana's concurrent write limit per token)."
  }
}

variable "worker_timeout_seconds" {
  description = "Worker request timeout; also the push subscription's ack deadline."
  type        = number
  default     = 60

  validation {
    # A delivery may wait up to 25 s in-process for another one's lease (shared/flows/worker.py
    # WAIT_SECONDS) and then still do its work before the ack deadline.
    condition     = var.worker_timeout_seconds >= 40 && var.worker_timeout_seconds <= 600
    error_message = "worker_timeout_seconds must be between 40 (a delivery may wait 25 s for another's lease, then work) and 600 (the Pub/Sub ack deadline limit)."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message to the worker before it is dead-lettered."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "retry_backoff" {
  description = "Exponential backoff between redeliveries of a failed message, as durations like \"10s\"."
  type = object({
    minimum = string
    maximum = string
  })
  default = {
    minimum = "10s"
    maximum = "600s"
  }

  validation {
    condition     = can(regex("^[0-9]+s$", var.retry_backoff.minimum)) && can(regex("^[0-9]+s$", var.retry_backoff.maximum))
    error_message = "retry_backoff values must be whole seconds such as \"10s\"."
  }

  validation {
    condition     = tonumber(trimsuffix(var.retry_backoff.minimum, "s")) <= tonumber(trimsuffix(var.retry_backoff.maximum, "s")) && tonumber(trimsuffix(var.retry_backoff.maximum, "s")) <= 600
    error_message = "retry_backoff needs minimum <= maximum <= 600s."
  }
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages stay available for replay on the dead-letter subscription."
  type        = string
  default     = "2678400s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.dead_letter_retention)) && tonumber(trimsuffix(var.dead_letter_retention, "s")) >= 600 && tonumber(trimsuffix(var.dead_letter_retention, "s")) <= 2678400
    error_message = "dead_letter_retention must be between \"600s\" and \"2678400s\" (31 days)."
  }
}

variable "ledger_collection" {
  description = "Firestore collection of the de-duplication ledger (LEDGER_COLLECTION); gets a TTL policy on expires_at."
  type        = string
  default     = "alert_ledger"
}

variable "asana_webhook_collection" {
  description = "Firestore collection of the two-way sync's Asana webhooks and their handshake secrets, one document per project (ASANA_WEBHOOK_COLLECTION)."
  type        = string
  default     = "asana_webhooks"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,99}$", var.asana_webhook_collection))
    error_message = "asana_webhook_collection must be a Firestore collection id: a letter, then letters, digits, _ or -."
  }
}

variable "asana_hooks_database" {
  description = "Firestore database (not the ledger's (default)) holding the two-way sync's Asana webhooks: token hashes and handshake secrets (ASANA_HOOKS_DATABASE). Ingest may use only this database."
  type        = string
  default     = "alert-bridge-hooks"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.asana_hooks_database)) && !can(regex("^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", var.asana_hooks_database))
    error_message = "asana_hooks_database must be a named Firestore database id: 4-63 of a-z, 0-9 and -, starting with a letter, not ending with -, not UUID-like."
  }
}

variable "sentry_org" {
  description = "Sentry organization slug whose issues the two-way sync resolves and unresolves (SENTRY_ORG); empty leaves Sentry issues alone."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9_-]*)?$", var.sentry_org))
    error_message = "sentry_org must be a Sentry organization slug (lower-case letters, digits, - and _) or empty."
  }
}

variable "log_level" {
  description = "Log level of the three functions (LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "api_urls" {
  description = "Base URLs of the SaaS APIs; change only for a Datadog site other than US1 (e.g. https://api.datadoghq.eu)."
  type = object({
    asana   = optional(string, "https://app.asana.com/api/1.0")
    sentry  = optional(string, "https://sentry.io/api/0")
    datadog = optional(string, "https://api.datadoghq.com")
  })
  default = {}

  validation {
    condition     = alltrue([for url in values(var.api_urls) : startswith(url, "https://")])
    error_message = "api_urls must all start with https://."
  }
}

variable "max_body_bytes" {
  description = "Largest webhook body the ingest function accepts (MAX_BODY_BYTES)."
  type        = number
  default     = 1048576

  validation {
    condition     = var.max_body_bytes >= 1024 && var.max_body_bytes <= 10485760
    error_message = "max_body_bytes must be between 1 KiB and 10 MiB."
  }
}

variable "secret_cache_ttl_seconds" {
  description = "How long a function caches a secret value before reading Secret Manager again (SECRET_CACHE_TTL_SECONDS)."
  type        = number
  default     = 300

  validation {
    condition     = var.secret_cache_ttl_seconds >= 1 && floor(var.secret_cache_ttl_seconds) == var.secret_cache_ttl_seconds
    error_message = "secret_cache_ttl_seconds must be a positive whole number."
  }
}

variable "asana_max_attempts" {
  description = "Attempts of one Asana call (429/5xx) inside a single delivery before the message is retried by Pub/Sub (ASANA_MAX_ATTEMPTS)."
  type        = number
  default     = 5

  validation {
    condition     = var.asana_max_attempts >= 1 && var.asana_max_attempts <= 10 && floor(var.asana_max_attempts) == var.asana_max_attempts
    error_message = "asana_max_attempts must be a whole number between 1 and 10."
  }
}

variable "sentry_reporting" {
  description = "Report alert-bridge's own errors to Sentry: all three functions get SENTRY_DSN from the secret <secret_prefix>sentry-dsn (add its version first)."
  type        = bool
  default     = false
}

variable "sentry_environment" {
  description = "Sentry environment of the service's own events (SENTRY_ENVIRONMENT); empty means the deployment's environment."
  type        = string
  default     = ""

  validation {
    condition     = length(var.sentry_environment) <= 64 && !can(regex("[\\s/\\\\]", var.sentry_environment)) && var.sentry_environment != "None"
    error_message = "sentry_environment must be at most 64 characters without spaces or slashes, and not \"None\"."
  }
}

variable "sentry_traces_sample_rate" {
  description = "Share of webhooks and pushed messages traced as Sentry transactions (SENTRY_TRACES_SAMPLE_RATE), 0 to 1."
  type        = number
  default     = 0.1

  validation {
    condition     = var.sentry_traces_sample_rate >= 0 && var.sentry_traces_sample_rate <= 1
    error_message = "sentry_traces_sample_rate must be between 0 and 1."
  }
}

variable "sentry_profiles_sample_rate" {
  description = "Share of traced transactions that are also profiled (SENTRY_PROFILES_SAMPLE_RATE), 0 to 1."
  type        = number
  default     = 0.1

  validation {
    condition     = var.sentry_profiles_sample_rate >= 0 && var.sentry_profiles_sample_rate <= 1
    error_message = "sentry_profiles_sample_rate must be between 0 and 1."
  }
}

variable "alert_emails" {
  description = "Email addresses notified by every alert policy; this or extra_notification_channels must name at least one channel."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+$", email))])
    error_message = "alert_emails must be email addresses."
  }

  # An alert policy without a channel opens incidents nobody hears of.
  validation {
    condition     = length(var.alert_emails) + length(var.extra_notification_channels) > 0
    error_message = "Name at least one notification channel in alert_emails or extra_notification_channels: without one, every alert policy fires into the void."
  }
}

variable "extra_notification_channels" {
  description = "Ids of existing notification channels (PagerDuty, Slack, ...) added to every alert policy."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.extra_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", id))])
    error_message = "extra_notification_channels must be ids like projects/PROJECT/notificationChannels/ID."
  }
}

variable "alert_thresholds" {
  description = "Thresholds of the alert policies; defaults suit a team that wants to hear of every lost alert."
  type = object({
    oldest_unacked_seconds = optional(number, 600)
    ingest_5xx_ratio       = optional(number, 0.05)
    ingest_latency_ms      = optional(number, 800)
    worker_errors          = optional(number, 5)
    rejected_webhooks      = optional(number, 5)
  })
  default = {}

  validation {
    condition     = var.alert_thresholds.rejected_webhooks >= 0 && var.alert_thresholds.worker_errors >= 0
    error_message = "alert_thresholds.rejected_webhooks and worker_errors are counts in a window: 0 or more."
  }

  validation {
    condition     = var.alert_thresholds.ingest_5xx_ratio > 0 && var.alert_thresholds.ingest_5xx_ratio < 1
    error_message = "alert_thresholds.ingest_5xx_ratio must be between 0 and 1."
  }

  validation {
    condition     = var.alert_thresholds.ingest_latency_ms > 0 && var.alert_thresholds.ingest_latency_ms < 1000
    error_message = "alert_thresholds.ingest_latency_ms must be below 1000: Sentry gives up after 1 s."
  }
}

variable "ingest_public_access" {
  description = "How Sentry and Datadog reach ingest without Google credentials: \"all_users\" grants run.invoker to allUsers; \"invoker_iam_check_disabled\" turns off Cloud Run's invoker IAM check instead (for organisations that enforce Domain Restricted Sharing; apply then needs gcloud)."
  type        = string
  default     = "all_users"

  validation {
    condition     = contains(["all_users", "invoker_iam_check_disabled"], var.ingest_public_access)
    error_message = "ingest_public_access must be \"all_users\" or \"invoker_iam_check_disabled\"."
  }
}

variable "images_kept" {
  description = "Most recent images of each function kept in Artifact Registry; older ones are deleted once a day old."
  type        = number
  default     = 5

  validation {
    condition     = var.images_kept >= 2 && var.images_kept <= 100 && floor(var.images_kept) == var.images_kept
    error_message = "images_kept must be a whole number between 2 (the running image and the one before) and 100."
  }
}

variable "deletion_protection" {
  description = "Protect the Firestore database from terraform destroy; turn off only for throw-away environments."
  type        = bool
  default     = true
}

variable "default_team" {
  description = "Team that receives alerts no matcher claims when teams.yaml names none (DEFAULT_TEAM); empty keeps the file's own rule (settings.default_team, else a team named \"Observability and Performance\" or \"Default\")."
  type        = string
  default     = ""

  validation {
    condition     = var.default_team == trimspace(var.default_team)
    error_message = "default_team must not start or end with spaces: it names a team of teams.yaml."
  }
}

variable "reconcile" {
  description = "Reconciliation of lost webhooks: schedule, window, and what to check (Sentry org, project:rule_id pairs and projects; the Datadog webhook name monitors mention, and monitor tags to narrow the list). Nothing named, nothing checked."
  type = object({
    interval_minutes     = optional(number, 10)
    lookback_minutes     = optional(number, 60)
    grace_minutes        = optional(number, 5)
    sentry_org           = optional(string, "")
    sentry_rules         = optional(list(string), [])
    sentry_projects      = optional(list(string), [])
    datadog_webhook      = optional(string, "")
    datadog_monitor_tags = optional(list(string), [])
  })
  default = {}

  validation {
    # Divisors of 60 keep "*/N" evenly spaced across the hour.
    condition     = contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30], var.reconcile.interval_minutes)
    error_message = "reconcile.interval_minutes must divide 60 evenly (1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30)."
  }

  validation {
    condition     = var.reconcile.grace_minutes >= 1 && var.reconcile.lookback_minutes >= var.reconcile.interval_minutes + var.reconcile.grace_minutes && var.reconcile.lookback_minutes <= 10080
    error_message = "reconcile needs grace_minutes >= 1 and interval_minutes + grace_minutes <= lookback_minutes <= 10080 (a week), or alerts fall between two runs."
  }

  validation {
    condition     = alltrue([for rule in var.reconcile.sentry_rules : can(regex("^[a-z0-9][a-z0-9_-]*:[0-9]+$", rule))])
    error_message = "reconcile.sentry_rules entries must look like \"project-slug:rule_id\"."
  }

  validation {
    condition     = alltrue([for slug in var.reconcile.sentry_projects : can(regex("^[a-z0-9][a-z0-9_-]*$", slug))])
    error_message = "reconcile.sentry_projects must be Sentry project slugs."
  }

  validation {
    condition     = var.reconcile.sentry_org != "" || length(concat(var.reconcile.sentry_rules, var.reconcile.sentry_projects)) == 0
    error_message = "reconcile.sentry_org is required when sentry_rules or sentry_projects is set."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]*$", var.reconcile.datadog_webhook))
    error_message = "reconcile.datadog_webhook is the webhook's name as in @webhook-<name>, without the @webhook- prefix."
  }
}

variable "azure_monitor" {
  description = "Azure Monitor alerts from action groups (docs/azure-monitor.md): enabled turns the source on; url_token creates the secret <secret_prefix>azure-webhook-token for the Webhook action's ?token=; tenant_id (the Entra tenant) and audiences (your Entra application's client id, and its Application ID URI if tokens name it) turn on Secure Webhook."
  type = object({
    enabled   = optional(bool, false)
    url_token = optional(bool, true)
    tenant_id = optional(string, "")
    audiences = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = can(regex("^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$", var.azure_monitor.tenant_id))
    error_message = "azure_monitor.tenant_id must be the Entra tenant id, a lower-case GUID (or empty: no Secure Webhook)."
  }

  validation {
    condition     = var.azure_monitor.tenant_id == "" || length(var.azure_monitor.audiences) > 0
    error_message = "azure_monitor.audiences is required with tenant_id: the Entra application's client id (and Application ID URI)."
  }

  validation {
    condition     = !var.azure_monitor.enabled || var.azure_monitor.url_token || var.azure_monitor.tenant_id != ""
    error_message = "azure_monitor is enabled with no way in: set url_token = true, or tenant_id and audiences for Secure Webhook."
  }
}

variable "alertmanager" {
  description = "Prometheus Alertmanager's webhook receiver (docs/alertmanager.md): enabled creates the ALERTMANAGER_TOKEN secret ingest checks the receiver's bearer token or basic-auth password against; the alertmanager_webhook_url output is the receiver's url."
  type = object({
    enabled = optional(bool, false)
  })
  default = {}
}

variable "grafana" {
  description = "Grafana Alerting's webhook contact point (docs/grafana.md): enabled creates the GRAFANA_WEBHOOK_SECRET secret (the contact point's HMAC secret); signature_header and timestamp_header are the contact point's HMAC header names (an empty timestamp_header: only the body is signed), replay_window_seconds how far a signed timestamp may be from ingest's clock. The grafana_webhook_url output is the contact point's URL."
  type = object({
    enabled               = optional(bool, false)
    signature_header      = optional(string, "X-Grafana-Alerting-Signature")
    timestamp_header      = optional(string, "X-Grafana-Alerting-Timestamp")
    replay_window_seconds = optional(number, 300)
  })
  default = {}

  validation {
    condition     = can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", var.grafana.signature_header)) && can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]*$", var.grafana.timestamp_header))
    error_message = "grafana.signature_header and grafana.timestamp_header must be HTTP header names (timestamp_header may be empty)."
  }

  validation {
    condition     = var.grafana.replay_window_seconds >= 30 && var.grafana.replay_window_seconds <= 3600
    error_message = "grafana.replay_window_seconds must be between 30 and 3600."
  }
}

variable "cloud_monitoring_channel" {
  description = "Google Cloud Monitoring as an alert source: \"pubsub\" (preferred: a pubsub notification channel, its topic and a push subscription to the worker; nothing public), \"webhook\" (the webhook_tokenauth / webhook_basicauth channels post to ingest; creates the GCM_WEBHOOK_TOKEN secret), \"both\", or \"off\". Alert policies that use the channel need notification_prompts = [\"OPENED\", \"CLOSED\"] (docs/cloud-monitoring.md)."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "pubsub", "webhook", "both"], var.cloud_monitoring_channel)
    error_message = "cloud_monitoring_channel must be off, pubsub, webhook or both."
  }
}

variable "cloudwatch" {
  description = "AWS CloudWatch alarms through an SNS HTTPS subscription: on, and the SNS topic ARNs whose alarms are taken and whose subscriptions ingest confirms (every other topic is refused), and how old a message may be (at most 3600 s, SNS's retry limit). No secret: each message carries an RSA signature verified against AWS's certificate."
  type = object({
    enabled         = optional(bool, false)
    sns_topic_arns  = optional(list(string), [])
    max_age_seconds = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = alltrue([for arn in var.cloudwatch.sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", arn))])
    error_message = "cloudwatch.sns_topic_arns must be SNS topic ARNs: arn:aws:sns:<region>:<account>:<topic>."
  }

  validation {
    condition     = !var.cloudwatch.enabled || length(var.cloudwatch.sns_topic_arns) > 0
    error_message = "cloudwatch.enabled needs at least one topic in cloudwatch.sns_topic_arns: ingest refuses every other topic."
  }

  validation {
    condition     = var.cloudwatch.max_age_seconds >= 60 && var.cloudwatch.max_age_seconds <= 3600
    error_message = "cloudwatch.max_age_seconds must be 60 to 3600 (SNS stops retrying a delivery after 3600 s)."
  }
}
