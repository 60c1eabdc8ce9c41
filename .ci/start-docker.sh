#!/usr/bin/env bash
# CI: a Docker engine and the sandbox image, so that the Docker sandbox backend's tests
# (tests/test_sandbox_docker.py, tests/test_sandbox_hostile.py) really run.
# Measured on a fresh 2-core Debian 12 machine (docs/SANDBOX.md): about one minute, most
# of it the debootstrap of the local base image. On failure it says which step failed and
# exits non-zero; .ci/run prints that and goes on, and the Docker tests skip saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
began=$SECONDS
step() {  # step COMMAND TIMEOUT
  local started=$SECONDS
  if ! timeout "$2" bash docker/engine.sh "$1"; then
    echo "start-docker: step 'bash docker/engine.sh $1' failed after $((SECONDS - started)) s" >&2
    return 1
  fi
  echo "start-docker: '$1' took $((SECONDS - started)) s" >&2
}
step start 300
step sandbox-image 900
echo "start-docker: Docker engine and sandbox image ready in $((SECONDS - began)) s" >&2
