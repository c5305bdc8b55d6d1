#!/usr/bin/env bash
# Start a single-node Slurm (Debian's slurmctld, slurmd and munge, no systemd) for the Slurm
# executor's tests, as root. Idempotent: installs the packages if missing, rewrites the config only
# when it changed, starts only the daemons that are not running, then waits until the node takes
# jobs. `.ci/run` calls it before the tests; `scripts/stop-slurm.sh` stops what it started.
# Env: PGP_SLURM_WAIT_S (default 60): how long to wait for the node to become ready.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "start-slurm.sh: must run as root (it installs and starts daemons)" >&2; exit 1; }

PKGS=(slurmctld slurmd slurm-client munge)
RUN_SLURM=/run/slurm
RUN_MUNGE=/run/munge
log() { echo "[start-slurm] $*"; }

# A zombie counts as dead: a container's init may reap lazily.
alive() {
    local pid=${1:-} state
    [ -n "$pid" ] || return 1
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ "$state" != Z* ]]
}
pid_in() { [ -s "$1" ] && cat "$1" || true; }

missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
fi

# munge: Slurm's authentication between its own daemons and commands.
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o munge -g munge -m 0755 "$RUN_MUNGE"
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 0600 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || { echo "munged did not start; see /var/log/munge/munged.log" >&2; exit 1; }
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/{print int($2/1024)}' /proc/meminfo)
REAL_MEM=$(( MEM_MB > 2048 ? MEM_MB - 1024 : MEM_MB * 9 / 10 ))
install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld /var/log/slurm "$RUN_SLURM"
install -d -o root -g root -m 0755 /var/spool/slurmd /etc/slurm

# One node, one partition. DefMemPerCPU: without it a job that gives no --mem takes the whole
# node's memory and jobs could not run side by side. batch_sched_delay=0 starts jobs at once.
cat > /etc/slurm/slurm.conf.new <<EOF
# written by pgp's scripts/start-slurm.sh
ClusterName=pgp-ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MinJobAge=300
KillWait=5
MailProg=/bin/true
SlurmctldPidFile=${RUN_SLURM}/slurmctld.pid
SlurmdPidFile=${RUN_SLURM}/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${REAL_MEM} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf 2>/dev/null; then
    rm -f /etc/slurm/slurm.conf.new
else
    mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
    changed=1
fi
chmod 0644 /etc/slurm/slurm.conf

if alive "$(pid_in "$RUN_SLURM/slurmctld.pid")"; then
    [ "$changed" = 0 ] || { log "config changed: scontrol reconfigure"; scontrol reconfigure || true; }
else
    log "starting slurmctld"
    slurmctld -c
fi
if ! alive "$(pid_in "$RUN_SLURM/slurmd.pid")"; then
    log "starting slurmd"
    slurmd
fi

deadline=$(( $(date +%s) + ${PGP_SLURM_WAIT_S:-60} ))
while :; do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -1 || true)
    case "$state" in
        idle|mix|alloc|comp) break ;;
        down*|drain*|drng*|fail*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "start-slurm.sh: node not ready (state '$state'); logs in /var/log/slurm" >&2
        exit 1
    fi
    sleep 0.2
done
log "ready: $(sinfo -h -o '%P %a %D %t %N')"
