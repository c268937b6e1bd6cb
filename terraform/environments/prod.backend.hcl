# terraform init -reconfigure -backend-config=environments/prod.backend.hcl
bucket = "my-alert-bridge-prod-tfstate"
prefix = "alert-bridge/prod"
