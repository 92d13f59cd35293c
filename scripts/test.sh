#!/usr/bin/env bash
# The test suite. pytest's exit code 5 (nothing collected) is a failure here: a suite that
# runs nothing proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests || exit 1
.venv/bin/ruff format --check src tests || exit 1
.venv/bin/mypy || exit 1
.venv/bin/pytest "$@"
status=$?
if (( status == 5 )); then
  echo "test: no tests were collected" >&2
  exit 1
fi
exit $status
