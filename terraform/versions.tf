terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
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
