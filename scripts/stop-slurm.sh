#!/usr/bin/env bash
# Stop the daemons scripts/start-slurm.sh started, by the PIDs in their pid files, after
# cancelling every job left. Idempotent: a daemon that is not running is skipped.
set -uo pipefail

alive() {
    local pid=${1:-} state
    [ -n "$pid" ] || return 1
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [[ "$state" != Z* ]]
}

stop() { # name pidfile
    local name=$1 file=$2 pid
    [ -s "$file" ] || { echo "[stop-slurm] $name: no pid file"; return 0; }
    pid=$(cat "$file")
    if ! alive "$pid"; then echo "[stop-slurm] $name: not running"; rm -f "$file"; return 0; fi
    kill -TERM "$pid"
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid"; sleep 0.5; fi
    rm -f "$file"
    echo "[stop-slurm] $name ($pid) stopped"
}

if command -v squeue >/dev/null && alive "$(cat /run/slurm/slurmctld.pid 2>/dev/null)"; then
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
fi
stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
stop munged /run/munge/munged.pid
exit 0
