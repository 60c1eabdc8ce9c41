#!/usr/bin/env bash
# A Docker engine and local images on a machine that reaches only Debian's mirrors.
#
#   bash docker/engine.sh start          an engine answers `docker info` (starts one if not)
#   bash docker/engine.sh base-image     peft-code-repro/debian-minbase:bookworm (debootstrap)
#   bash docker/engine.sh sandbox-image  peft-code-repro/sandbox:latest (docker/sandbox/Dockerfile)
#   bash docker/engine.sh stop           stops the engine this script started (its pid file)
#
# `start` installs Debian's docker.io when dockerd is missing, then runs
# `dockerd --iptables=false --bridge=none` in the background (overlay2, else vfs) and waits
# until it answers. Everything is idempotent. Overrides (for a private second engine):
# DOCKER_HOST=unix:///path.sock, REPRO_DOCKER_DATA_ROOT, REPRO_DOCKER_EXEC_ROOT,
# REPRO_DOCKER_LOG, REPRO_DOCKER_WAIT (seconds), BASE_IMAGE_TAG, SANDBOX_IMAGE_TAG.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

DATA_ROOT="${REPRO_DOCKER_DATA_ROOT:-/var/lib/repro-docker}"
EXEC_ROOT="${REPRO_DOCKER_EXEC_ROOT:-/var/run/repro-docker}"
LOG="${REPRO_DOCKER_LOG:-/var/log/repro-dockerd.log}"
WAIT="${REPRO_DOCKER_WAIT:-60}"
BASE_TAG="${BASE_IMAGE_TAG:-peft-code-repro/debian-minbase:bookworm}"
SANDBOX_TAG="${SANDBOX_IMAGE_TAG:-peft-code-repro/sandbox:latest}"
PINNED_BASE="$(sed -n 's/^ARG BASE_IMAGE=//p' docker/sandbox/Dockerfile)"

say() { echo "engine.sh: $*" >&2; }
die() { say "$*"; exit 1; }
answers() { timeout 20 docker info >/dev/null 2>&1; }

apt_install() {  # apt_install PACKAGE...: only what is missing, as root
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install $*"
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

start_dockerd() {  # start_dockerd DRIVER: background dockerd, 0 once `docker info` answers
  local driver="$1" host_flags=() pid
  case "${DOCKER_HOST:-}" in
    "") ;;
    unix://*) host_flags=(-H "$DOCKER_HOST") ;;
    *) die "DOCKER_HOST=$DOCKER_HOST is not a local unix socket; start that engine yourself" ;;
  esac
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOG")"
  say "starting dockerd (storage driver $driver, data root $DATA_ROOT, log $LOG)"
  setsid nohup dockerd --iptables=false --bridge=none --storage-driver="$driver" \
    --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" -p "$EXEC_ROOT/dockerd.pid" \
    "${host_flags[@]}" >>"$LOG" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$DATA_ROOT/.started-by-engine-sh"
  for _ in $(seq 1 "$WAIT"); do
    answers && return 0
    kill -0 "$pid" 2>/dev/null || { say "dockerd ($driver) exited: $(tail -n 3 "$LOG" | tr '\n' ' ')"; return 1; }
    sleep 1
  done
  say "dockerd ($driver) did not answer within ${WAIT}s; stopping it"
  kill "$pid" 2>/dev/null || true
  return 1
}

cmd_start() {
  if answers; then say "an engine answers ($(docker version --format '{{.Server.Version}}'))"; return 0; fi
  command -v docker >/dev/null && command -v dockerd >/dev/null || apt_install docker.io
  [ "$(id -u)" -eq 0 ] || die "no engine answers and starting dockerd needs root"
  start_dockerd overlay2 || start_dockerd vfs || die "no Docker engine could be started (see $LOG)"
  say "engine $(docker version --format '{{.Server.Version}}') answers"
}

cmd_stop() {
  local marker="$DATA_ROOT/.started-by-engine-sh"
  [ -f "$marker" ] || { say "no engine started by this script (no $marker)"; return 0; }
  local pid; pid="$(cat "$marker")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$marker"
  say "stopped dockerd $pid"
}

debian_mirror() {  # the first bookworm mirror of /etc/apt/sources*, else deb.debian.org
  local uri
  uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
         | awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}')"
  if [ -z "$uri" ]; then
    uri="$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |$|\n)/ && !/security/ {
             if (match($0, /URIs: *[^ \n]+/)) { split(substr($0, RSTART, RLENGTH), a, / +/); print a[2]; exit } }' \
           /etc/apt/sources.list.d/*.sources 2>/dev/null)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

cmd_base_image() {
  answers || die "no Docker engine answers (run: bash docker/engine.sh start)"
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then say "$BASE_TAG exists (cached)"; return 0; fi
  command -v debootstrap >/dev/null || apt_install debootstrap
  local mirror
  ROOTFS_DIR="$(mktemp -d /var/tmp/repro-minbase.XXXXXX)"
  trap 'rm -rf "$ROOTFS_DIR" "$ROOTFS_DIR.log"' EXIT
  local dir="$ROOTFS_DIR"
  mirror="$(debian_mirror)"
  say "debootstrap --variant=minbase --include=python3,python3-numpy bookworm from $mirror"
  debootstrap --variant=minbase --include=python3,python3-numpy bookworm "$dir" "$mirror" \
    > "$dir.log" 2>&1 || die "debootstrap failed: $(tail -n 5 "$dir.log" | tr '\n' ' ')"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir.log"
  tar -C "$dir" -c . | docker import --message "debootstrap minbase bookworm from $mirror" - "$BASE_TAG" >/dev/null \
    || die "docker import failed"
  say "imported $BASE_TAG"
}

cmd_sandbox_image() {
  answers || die "no Docker engine answers (run: bash docker/engine.sh start)"
  local base="$PINNED_BASE"
  if docker image inspect "$base" >/dev/null 2>&1 || timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
    say "building $SANDBOX_TAG from the pinned base $base"
  else
    say "cannot pull the pinned base $base (no registry reachable);" \
        "building $SANDBOX_TAG from the local Debian base $BASE_TAG instead"
    cmd_base_image
    base="$BASE_TAG"
  fi
  # Host network for the build only: apt-get runs when the base lacks python3-numpy.
  local log; log="$(mktemp)"
  if ! docker build -q --network host --build-arg BASE_IMAGE="$base" -t "$SANDBOX_TAG" \
       docker/sandbox >"$log" 2>&1; then
    grep -v -e DEPRECATED -e 'legacy builder' -e buildx "$log" >&2 || true
    rm -f "$log"
    die "docker build of $SANDBOX_TAG failed"
  fi
  rm -f "$log"
  say "built $SANDBOX_TAG ($(docker image inspect --format '{{.Id}}' "$SANDBOX_TAG"))"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  base-image) cmd_base_image ;;
  sandbox-image) cmd_sandbox_image ;;
  *) echo "usage: bash docker/engine.sh start|stop|base-image|sandbox-image" >&2; exit 2 ;;
esac
