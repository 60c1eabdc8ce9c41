#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for `repro submit --executor slurm` and its tests.
#
# Installs Debian's slurmctld, slurmd, munge and slurm-client when missing, writes slurm.conf
# into a private directory (state, spool, logs, pid files: $REPRO_SLURM_DIR, default
# build/slurm), creates the munge key if absent, starts munged (unless one already answers),
# slurmctld and slurmd, and waits until the node is idle. The host's /etc/slurm is never
# written: commands find the private configuration through SLURM_CONF (printed at the end).
# Idempotent: daemons already running from this directory are left alone.
# Stop with .ci/slurm-down.sh (it stops exactly the daemons started here, by pid file).
# `--install-only`: install the packages and stop there (CI does it while pip installs).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$(realpath -m "${REPRO_SLURM_DIR:-build/slurm}")"
CTLD_PORT="${REPRO_SLURMCTLD_PORT:-6917}"   # not SLURM's default 6817: never clash with a host's own cluster
SLURMD_PORT="${REPRO_SLURMD_PORT:-6918}"
export SLURM_CONF="$DIR/slurm.conf"
export DEBIAN_FRONTEND=noninteractive

need=()
for pair in slurmctld:slurmctld slurmd:slurmd munged:munge sbatch:slurm-client; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-up: need root to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "${1:-}" = "--install-only" ]; then
  echo "slurm-up: packages installed (--install-only: no daemon started)"; exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-up: the single-node cluster runs its daemons as root; run as root" >&2; exit 1
fi
if [ -e /etc/slurm/slurm.conf ]; then
  echo "slurm-up: this host has its own /etc/slurm/slurm.conf; it is left untouched (this cluster uses $SLURM_CONF)"
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
mkdir -p "$DIR"/{state,spool,log,run}

# munge: the key once (1024 random bytes, owner munge, mode 400), then the daemon unless one answers.
if [ ! -s /etc/munge/munge.key ]; then
  echo "slurm-up: creating /etc/munge/munge.key"
  install -d -o munge -g munge -m 700 /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
  cp /run/munge/munged.pid "$DIR/run/munged.pid"   # started here: slurm-down stops it
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

node="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
conf="$(cat <<EOF
# Written by .ci/slurm-up.sh: a single-node cluster for tests (private to $DIR).
ClusterName=repro
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Finished jobs stay visible to squeue/scontrol for an hour (no accounting database here).
MinJobAge=3600
KillWait=5
SchedulerParameters=sched_interval=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)"
if [ ! -f "$SLURM_CONF" ] || [ "$(cat "$SLURM_CONF")" != "$conf" ]; then
  if alive "$DIR/run/slurmctld.pid" || alive "$DIR/run/slurmd.pid"; then
    echo "slurm-up: $SLURM_CONF changed while the daemons run; run .ci/slurm-down.sh first" >&2; exit 1
  fi
  printf '%s\n' "$conf" > "$SLURM_CONF"
fi

alive "$DIR/run/slurmctld.pid" || /usr/sbin/slurmctld -f "$SLURM_CONF"
alive "$DIR/run/slurmd.pid" || /usr/sbin/slurmd -f "$SLURM_CONF"

for _ in $(seq 60); do
  state="$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)"
  case "$state" in idle|mixed|allocated) break ;; esac
  sleep 0.5
done
case "$state" in
  idle|mixed|allocated) ;;
  *) echo "slurm-up: node not ready (state '${state:-no answer}'); logs in $DIR/log" >&2; exit 1 ;;
esac
sinfo
echo "slurm-up: cluster ready; use it with: export SLURM_CONF=$SLURM_CONF"
