# terraform init -backend-config=environments/dev.backend.hcl
bucket = "my-alert-bridge-dev-tfstate"
prefix = "alert-bridge/dev"
