#!/usr/bin/env bash
# Stops the single-node SLURM cluster that .ci/slurm-up.sh started: exactly the daemons whose
# pid files it wrote ($REPRO_SLURM_DIR/run/*.pid; munged only if slurm-up started it).
# Jobs still queued or running are cancelled first. Idempotent: nothing running, nothing done.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$(realpath -m "${REPRO_SLURM_DIR:-build/slurm}")"
export SLURM_CONF="$DIR/slurm.conf"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive "$DIR/run/slurmctld.pid"; then
  scancel --full --quiet --user "$(id -un)" 2>/dev/null || true
  for _ in $(seq 60); do   # let slurmd's step daemons end the tasks before slurmd goes
    [ -z "$(squeue -h -t RUNNING,COMPLETING,CONFIGURING 2>/dev/null)" ] && break
    sleep 0.5
  done
fi
for name in slurmd slurmctld munged; do
  pidfile="$DIR/run/$name.pid"
  if alive "$pidfile"; then
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm-down: $name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
    echo "slurm-down: stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
