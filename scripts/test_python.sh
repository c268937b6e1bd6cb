#!/usr/bin/env bash
# make test-python: the randomized histories (minutes, mostly waiting for the system to settle)
# run beside the rest of the Python suite, each with its own emulators, so the whole suite takes
# the time of the longer one. Both outputs are shown; the exit status fails if either failed.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p .run
histories_log=.run/histories.log
"$PY" -m pytest tests/reliability/test_histories.py >"$histories_log" 2>&1 &
histories=$!
trap 'kill "$histories" 2>/dev/null' INT TERM
"$PY" -m pytest --ignore=tests/terraform --ignore=tests/ci \
    --ignore=tests/reliability/test_histories.py
rest=$?
wait "$histories"
histories_status=$?
echo
echo "== randomized histories (tests/reliability/test_histories.py, run alongside)"
cat "$histories_log"
if [ "$rest" -ne 0 ] || [ "$histories_status" -ne 0 ]; then
    exit 1
fi
