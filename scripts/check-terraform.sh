#!/usr/bin/env bash
# Offline Terraform checks: fmt, the module against the provider schema and its own
# declarations (scripts/tfcheck), structural and mutation tests, checkov.
# Needs .venv (python-hcl2, pytest); installs checkov into .venv-checkov and caches the
# provider schema under .cache/terraform, so a second run needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

export CHECKPOINT_DISABLE=1
# fmt needs no CLI config; a TF_CLI_CONFIG_FILE naming a missing file only adds a warning.
[[ -f "${TF_CLI_CONFIG_FILE:-/nonexistent}" ]] || export TF_CLI_CONFIG_FILE=/dev/null
source scripts/tools.sh
CHECKOV_VERSION=3.3.30

step "terraform fmt -check -recursive terraform"
if ! command -v terraform >/dev/null; then
  echo "terraform not found on PATH (need >= 1.5 for fmt; no provider is downloaded)" >&2
  exit 1
fi
terraform fmt -check -recursive -diff terraform

step "module against provider schema 6.50 and its declarations (scripts/tfcheck)"
.venv/bin/python scripts/provider_schema.py check terraform

step "schema, reference, mutation and structural tests (tests/terraform)"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/terraform

step "checkov $CHECKOV_VERSION (offline)"
tool_venv .venv-checkov checkov "$CHECKOV_VERSION"
# Every skipped check carries its reason inline (#checkov:skip=ID:reason); the tests
# reject a skip without one.
.venv-checkov/bin/checkov --directory terraform --framework terraform --skip-download \
  --quiet --compact

step "terraform checks passed"
