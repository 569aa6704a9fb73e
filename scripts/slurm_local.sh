#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the SLURM profile end to end (Debian/Ubuntu).
#   bash scripts/slurm_local.sh install          # once: apt-get install slurm-wlm munge (Debian bookworm:
#                                                # SLURM 22.05), skipped when the daemons are there
#   bash scripts/slurm_local.sh start            # writes $RLVR_SLURM_DIR/slurm.conf, starts munged,
#                                                # slurmctld, slurmd; prints `export SLURM_CONF=...`
#   bash scripts/slurm_local.sh stop             # stops the three daemons it started (by pid file)
# Everything lives in $RLVR_SLURM_DIR (default /tmp/rlvr-slurm); /etc/slurm/slurm.conf becomes a link to
# its slurm.conf unless a real one exists there (SLURM's own default location). The node
# offers this machine's CPUs and memory in a partition named `gpu` (the profile's default partition;
# no GPUs needed for the CPU experiments). Needs root (slurmd runs jobs as their submitting user).
set -euo pipefail
DIR=${RLVR_SLURM_DIR:-/tmp/rlvr-slurm}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
  if [ -s "$CONF" ] && SLURM_CONF=$CONF sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix|alloc"; then
    echo "export SLURM_CONF=$CONF"  # already up (a rerun)
    return 0
  fi
  mkdir -p "$DIR"/{state,spool,log,munge}
  for bin in slurmctld slurmd munged sbatch squeue; do
    command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y slurm-wlm munge" >&2; exit 1; }
  done
  read -r CPUS MEM < <(slurmd -C | awk '/NodeName/ {for (i=1;i<=NF;i++) {split($i,a,"="); v[a[1]]=a[2]}; print v["CPUs"], v["RealMemory"]}')
  cat >"$CONF" <<EOF
ClusterName=rlvrlocal
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=10
SlurmctldTimeout=60
SlurmdTimeout=60
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=gpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  [ -s /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key -f; }
  munged --force --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munge/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
  # srun inside a job must find the config at the default path: the Snakemake jobstep plugin (0.6.1)
  # drops SLURM_CONF (every SLURM_* variable but the job id) from the environment of its srun.
  if [ ! -e /etc/slurm/slurm.conf ] || [ -L /etc/slurm/slurm.conf ]; then
    mkdir -p /etc/slurm && ln -sfn "$CONF" /etc/slurm/slurm.conf
  fi
  SLURM_CONF=$CONF slurmctld -f "$CONF"
  SLURM_CONF=$CONF slurmd -f "$CONF"
  for _ in $(seq 30); do
    SLURM_CONF=$CONF sinfo -h -o %T 2>/dev/null | grep -qE "idle|mix" && break
    sleep 1
  done
  SLURM_CONF=$CONF sinfo
  echo "export SLURM_CONF=$CONF"
}

stop() {
  for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
