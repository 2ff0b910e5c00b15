#!/usr/bin/env bash
# A real Slurm cluster on this one Debian machine, for aisc's Slurm engine tests
# and benchmarks: munge, MariaDB (the one already running on 127.0.0.1:3306, or
# one started here), slurmdbd, slurmctld, four slurmd nodes (gpu01..gpu04) with
# 8 fake H100s each (character devices, not real GPUs), and slurmrestd with JWT
# auth on 127.0.0.1:6820.
#
#   scripts/slurm-dev-cluster.sh up       # install (first time), configure, start; idempotent
#   scripts/slurm-dev-cluster.sh down     # stop every daemon it started
#   scripts/slurm-dev-cluster.sh status   # what answers
#
# Needs root (daemons, /etc/slurm, test users). It creates Unix users
# aiscdev1..aiscdev3 for jobs to run as, and writes to $STATE (default
# /var/lib/aisc-slurm-dev): the JWT key (jwt.key), logs, fake GPU devices.
# Environment for clients: AISC_SLURM_URL=http://127.0.0.1:6820,
# AISC_SLURM_JWT_KEY=$STATE/jwt.key (printed by `up`).
set -euo pipefail

STATE=${STATE:-/var/lib/aisc-slurm-dev}
CLUSTER=aisc-dev
HOST=$(hostname -s)
REST_PORT=${REST_PORT:-6820}
NODES=4
GPUS_PER_NODE=8
DB_PASS=aisc-dev-slurm

die() { echo "slurm-dev-cluster: $*" >&2; exit 1; }
wait_for() { # what, tries (0.1 s each), command...
    local what=$1 tries=$2; shift 2
    for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "$what did not come up; see $STATE/log"
}

install_packages() {
    local pkgs="slurmctld slurmd slurmdbd slurmrestd slurm-client slurm-wlm-jwt-plugin munge"
    command -v mariadb >/dev/null 2>&1 || pkgs="$pkgs mariadb-server"
    local missing=""
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
}

configure() {
    mkdir -p "$STATE/log" "$STATE/dev" /etc/slurm /var/spool/slurm/ctld /run/slurm /run/munge
    chown slurm:slurm /var/spool/slurm /var/spool/slurm/ctld /run/slurm "$STATE/log"
    chown munge:munge /run/munge
    for i in $(seq 0 $((GPUS_PER_NODE - 1))); do
        [ -c "$STATE/dev/nvidia$i" ] || { rm -f "$STATE/dev/nvidia$i"; mknod -m 0666 "$STATE/dev/nvidia$i" c 195 "$i"; }
    done
    getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >>/etc/hosts
    id slurmrest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin slurmrest
    for u in aiscdev1 aiscdev2 aiscdev3; do
        id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
    done
    if [ ! -s "$STATE/jwt.key" ]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/jwt.key"
    fi
    install -o slurm -g slurm -m 0600 "$STATE/jwt.key" /var/spool/slurm/jwt.key
    chmod 0600 "$STATE/jwt.key"
    local last=$(printf '%02d' "$NODES")
    cat >/etc/slurm/slurm.conf <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=/var/spool/slurm/jwt.key
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d/%n
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd-%n.log
SlurmctldPort=6817
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SlurmdParameters=config_overrides
ReturnToService=2
MaxJobCount=200000
MinJobAge=60
KillWait=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
GresTypes=gpu
PriorityType=priority/multifactor
PriorityCalcPeriod=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageEnforce=associations,limits,qos,safe
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
NodeName=gpu[01-$last] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[17001-$((17000 + NODES))] CPUs=64 RealMemory=512000 Gres=gpu:h100:$GPUS_PER_NODE Features=ib,nvlink State=UNKNOWN
PartitionName=h100 Nodes=gpu[01-$last] Default=YES MaxTime=INFINITE State=UP
EOF
    cat >/etc/slurm/gres.conf <<EOF
AutoDetect=off
NodeName=gpu[01-$last] Name=gpu Type=h100 File=$STATE/dev/nvidia[0-$((GPUS_PER_NODE - 1))]
EOF
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=/var/spool/slurm/jwt.key
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
LogFile=$STATE/log/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
EOF
    chown slurm:slurm /etc/slurm/slurmdbd.conf
    chmod 0600 /etc/slurm/slurmdbd.conf
}

start_munge() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    [ -s /etc/munge/munge.key ] || { mungekey -c -k /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    su -s /bin/sh munge -c 'munged --force' 2>>"$STATE/log/munge.log" || true
    wait_for munge 50 sh -c 'munge -n | unmunge'
}

start_mariadb() {
    if ! mariadb-admin ping >/dev/null 2>&1; then
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        (mariadbd --user=mysql >>"$STATE/log/mariadb.log" 2>&1 &)
        echo mariadb >"$STATE/started-mariadb"
        wait_for MariaDB 200 mariadb-admin ping
    fi
    mariadb -uroot <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

up_slurmdbd() {
    if ! sacctmgr -n list cluster >/dev/null 2>&1; then
        slurmdbd
        wait_for slurmdbd 300 sacctmgr -n list cluster
    fi
    sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
}

up_slurmctld() {
    if ! scontrol ping 2>/dev/null | grep -q 'is UP'; then
        slurmctld
        wait_for slurmctld 300 sh -c 'scontrol ping | grep -q "is UP"'
    fi
}

up_slurmd() {
    for i in $(seq 1 "$NODES"); do
        local n=gpu$(printf '%02d' "$i")
        pgrep -f "slurmd -N $n\$" >/dev/null && continue
        mkdir -p "/var/spool/slurm/d/$n"
        slurmd -N "$n"
    done
    wait_for "the slurmd nodes" 300 sh -c "[ \$(sinfo -h -N -t idle,mix,alloc -o %N | sort -u | wc -l) -ge $NODES ]"
}

up_slurmrestd() {
    if [ -s "$STATE/slurmrestd.pid" ] && kill -0 "$(cat "$STATE/slurmrestd.pid")" 2>/dev/null; then return 0; fi
    SLURM_JWT=daemon MALLOC_ARENA_MAX=2 setsid slurmrestd -a rest_auth/jwt -s openapi/v0.0.38,openapi/dbv0.0.38 \
        -u slurmrest -g slurmrest "127.0.0.1:$REST_PORT" >>"$STATE/log/slurmrestd.log" 2>&1 </dev/null &
    echo $! >"$STATE/slurmrestd.pid"
    wait_for slurmrestd 100 sh -c "curl -s -o /dev/null http://127.0.0.1:$REST_PORT/openapi"
}

up() {
    [ "$(id -u)" = 0 ] || die "run as root (it starts daemons and writes /etc/slurm)"
    # Daemons keep the directory they start in: not the clone's, which may be removed
    # (slurmrestd then fails every submission with "getcwd failed").
    cd /
    local t0=$(date +%s.%N)
    install_packages
    configure
    start_munge
    start_mariadb
    up_slurmdbd
    up_slurmctld
    up_slurmd
    up_slurmrestd
    # Nodes left DOWN by an earlier unclean stop come back.
    scontrol update nodename="gpu[01-$(printf '%02d' "$NODES")]" state=resume >/dev/null 2>&1 || true
    printf 'slurm dev cluster up in %.1f s: %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$(sinfo -h -o '%P %D nodes %G %t' | tr '\n' ' ')"
    echo "export AISC_SLURM_URL=http://127.0.0.1:$REST_PORT AISC_SLURM_JWT_KEY=$STATE/jwt.key"
}

stop_pid() { # name, pid
    local pid=$2
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

down() {
    [ -s "$STATE/slurmrestd.pid" ] && stop_pid slurmrestd "$(cat "$STATE/slurmrestd.pid")" && rm -f "$STATE/slurmrestd.pid"
    for p in $(pgrep -x slurmd); do stop_pid slurmd "$p"; done
    stop_pid slurmctld "$(cat /run/slurm/slurmctld.pid 2>/dev/null)"
    stop_pid slurmdbd "$(cat /run/slurm/slurmdbd.pid 2>/dev/null)"
    if [ -f "$STATE/started-mariadb" ]; then
        mariadb-admin shutdown >/dev/null 2>&1 || true
        rm -f "$STATE/started-mariadb"
    fi
    echo "slurm dev cluster down"
}

status() {
    scontrol ping 2>&1 | head -1 || true
    sinfo 2>&1 || true
    curl -s -o /dev/null -w 'slurmrestd: HTTP %{http_code}\n' "http://127.0.0.1:$REST_PORT/openapi" || echo "slurmrestd: not answering"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
