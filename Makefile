# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export CLOUDSDK_CORE_CHECK_GCE_METADATA := false
export CLOUDSDK_CORE_DISABLE_PROMPTS := 1
export CHECKPOINT_DISABLE := 1

.PHONY: help run test test-python lint check-teams explain-route check-terraform send-sample bench \
        replay-dead-letters bench venv clean asana-discover sentry-ownership sentry-integration reconcile \
        asana-webhooks java demo \
        check-workflows

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

venv: $(STAMP)  ## Create .venv with the runtime and development dependencies

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Only the targets that start the emulators need Java.
java:
	@command -v java >/dev/null || { echo "java not found: install Java 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }

run: venv java  ## Run ingest and worker locally on the Pub/Sub and Firestore emulators, dry-run without ASANA_PAT (Ctrl-C stops it)
	@$(PY) -m scripts.localstack

demo: venv java  ## Start the local stack with a fake Asana, send the sample stories, show what became of each, stop
	@$(PY) -m scripts.demo

send-sample: venv  ## Send a signed sample alert to `make run`: SAMPLE=sentry (default), sentry-again, sentry-resolved, sentry-regressed, sentry-rule, sentry-rule-metric, datadog, datadog-recovered, azure, azure-resolved, alertmanager, alertmanager-resolved, grafana, grafana-resolved, gcm, gcm-closed, gcm-pubsub, gcm-pubsub-closed, cloudwatch, cloudwatch-insufficient-data or cloudwatch-ok
	$(PY) -m scripts.send_sample $(SAMPLE)

test: venv java check-terraform check-workflows test-python  ## The whole suite, as CI runs it: check-terraform, check-workflows, then test-python

test-reliability: venv java  ## The fault-injection suite alone (crashes, outages, replays, fuzz), with its summary table
	$(PY) -m pytest tests/reliability

test-python: venv java  ## Python unit, integration and reliability tests (starts and stops its own emulators; needs Java); the randomized histories run alongside the rest
	PY=$(PY) bash scripts/test_python.sh

lint: venv  ## ruff, mypy on shared/ and functions/, and the architecture's import contracts (.importlinter)
	$(VENV)/bin/ruff check shared functions scripts tests
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy shared functions/ingest/main.py scripts
	$(VENV)/bin/mypy functions/worker/main.py
	$(VENV)/bin/mypy functions/reconcile/main.py

check-teams: venv  ## Validate teams.yaml (or TEAMS_FILE) and say which team is the default and why
	$(PY) -m shared.cli.route check

asana-discover: venv  ## Print a teams.yaml with the workspace's Asana gids (ASANA_PAT); ARGS="--check teams.yaml" verifies one
	$(PY) -m shared.sources.asana.discover_cli $(ARGS)

sentry-ownership: venv  ## Print teams.yaml matchers as Sentry ownership rules per project; ARGS="--org ORG --apply" writes them
	$(PY) -m shared.sources.sentry.ownership_cli $(ARGS)

sentry-integration: venv  ## Print the Sentry integration's alert-rule action schema; ARGS="--app SLUG --apply" writes it (SENTRY_AUTH_TOKEN, org:write)
	$(PY) -m shared.sources.sentry.integration_cli $(ARGS)

explain-route: venv  ## Show team, board and priority for ARGS="key=value ..." or ARGS="--payload FILE"
	$(PY) -m shared.cli.route explain $(ARGS)

check-terraform: venv  ## Offline Terraform checks: fmt, provider schema, structure, checkov
	bash scripts/check-terraform.sh

check-workflows: venv  ## GitHub Actions audit: zizmor (offline), pinned actions, plan-then-apply, apply roles
	bash scripts/check-workflows.sh

clean:  ## Remove virtualenvs, caches and local run files
	rm -rf $(VENV) .venv-* .cache .run .pytest_cache .mypy_cache .ruff_cache

bench: venv java  ## Print figures on the emulators: ingest vs a publish-only baseline, ingest memory, alert → task, reconciling 10,000 open alerts
	$(PY) -m scripts.bench_ingest
	$(PY) -m scripts.bench_ingest_memory
	$(PY) -m scripts.bench_pipeline
	$(PY) -m scripts.bench_reconcile

asana-webhooks: venv  ## Asana webhooks of the two-way sync and their health: ARGS="list", ARGS="register [--renew] [--project GID]", ARGS="delete GID"
	$(PY) -m shared.sources.asana.webhooks_cli $(ARGS)

replay-dead-letters: venv  ## List or replay dead letters: ARGS="list" or ARGS="replay --reason asana_http_400"
	$(PY) -m shared.cli.replay $(ARGS)

reconcile: venv  ## Reconcile once from this machine: publish alerts whose webhook never arrived (ARGS="--dry-run" only shows them)
	$(PY) -m shared.cli.reconcile $(ARGS)
