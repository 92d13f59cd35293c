#!/usr/bin/env bash
# The test suite: the linters, mypy, then pytest with the arguments given (make test ARGS='...').
# Three markers select by what a test needs beyond Python:
#   -m "not e2e"           leaves out tests/e2e, which run the embedded model (slow on a small machine)
#   -m "not node"          leaves out the Node SDK's tests (tests/integration/test_genai_node.py)
#   -m "not browser"       leaves out tests/browser, the playground in headless Chromium
#   -m "not ray"           leaves out tests/cluster, which start a multi-node Ray cluster on this machine
#   -m "not e2e and not node"  both
# pytest's exit code 5 (nothing collected) is a failure here: a suite that runs nothing proves nothing.
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
