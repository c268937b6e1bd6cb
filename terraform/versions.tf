terraform {
  # 1.9: a variable's validation may refer to another variable (at least one notification
  # channel across alert_emails and extra_notification_channels, variables.tf).
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    # time_sleep: the waits that let the first apply succeed without a retry (waits.tf).
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }

  # Bucket and prefix come from environments/<env>.backend.hcl so one module serves every
  # environment: terraform init -backend-config=environments/dev.backend.hcl
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app         = var.name
    environment = var.environment
    managed-by  = "terraform"
  }
}
