#!/usr/bin/env bash
# Several processes behind a load balancer, on this machine: `make cluster`
# (scripts/cluster.sh). docs/operations.md, "Running several processes", explains it.
#
# Starts, all on 127.0.0.1 and against ONE database, agent_webhooks_cluster (dropped and
# created fresh at every start on the server of DATABASE_URL, see ensure_database in lib.sh):
#
#   web1, web2   agent-webhooks serve --workers 0 (HTTP only), each on its own port
#   worker1..N   agent-webhooks worker (executions only, no HTTP)
#   haproxy      Debian's HAProxy (apt-get installs it when missing) on the cluster's
#                port: round-robin over web1 and web2, health-checked with GET /readyz
#                every 500 ms, a request retried on another server only when its
#                connection failed, X-Served-By: web1|web2 on every answer, and its stats
#                page on another port (;csv appended gives CSV)
#
# Every process gets the same MASTER_KEY_FILE (a key generated into target/cluster/master.key),
# DATABASE_URL, PUBLIC_BASE_URL = the balancer's URL (webhook URLs point at it),
# RUST_LOG=info and LOG_FORMAT=json; the web processes LEPTOS_SITE_ROOT (the site built by
# scripts/build.sh) and TRUSTED_PROXIES=127.0.0.1 (they believe HAProxy's X-Forwarded-For).
# Any other setting of the README's table exported in the environment (WORKERS,
# BUILTIN_RUNNER_DELAY_MS, WORKER_LEASE_SECONDS, ...) reaches every process; MASTER_KEYS is
# ignored (it would win over the cluster's key file).
#
# It builds first (scripts/build.sh, a no-op when up to date), waits until every process is
# ready, prints the URLs, writes target/cluster/cluster.env (sourceable: CLUSTER_URL,
# WEB1_URL, WEB2_URL, STATS_URL, WEB1_PID, WEB2_PID, WORKER_PIDS, HAPROXY_PID, CLUSTER_PID,
# DATABASE_URL, MASTER_KEY_FILE, BIN, CLUSTER_DIR, WORKER_LOGS) and stays in the foreground
# until Ctrl-C or SIGTERM; then it stops HAProxy, then the other processes (SIGTERM, a
# graceful shutdown; SIGKILL after CLUSTER_STOP_GRACE seconds; at once on a second Ctrl-C or
# SIGTERM). Each process is appended to target/cluster/pids ("PID START-TIME NAME", this
# script's own line included) the moment it is started, so that --stop and every start stop
# whatever an earlier run left, even one killed during its start-up.
#
# Usage: scripts/cluster.sh [--release] [--no-build] [--worker-processes N] [--detach | --test]
#        scripts/cluster.sh --stop
#   --release             a release build (scripts/build.sh --release), target/release/agent-webhooks
#   --no-build            use the existing binary and site as they are
#   --worker-processes N  worker processes to start (default CLUSTER_WORKER_PROCESSES, 1)
#   --detach              start, print, write cluster.env and exit, leaving the processes running
#   --stop                stop every process target/cluster/pids lists (a detached cluster, one in
#                         the foreground, or what a script killed during its start-up left)
#   --test                the cluster test suite (make test runs it): a detached cluster with two
#                         worker processes, scripts/cluster_check.py against it (at most
#                         CLUSTER_CHECK_DEADLINE seconds), then stop; exit 1 when a check failed,
#                         with the tails of the logs
#
# Environment (all optional):
#   DATABASE_URL                 server to create agent_webhooks_cluster on (default: see lib.sh)
#   CLUSTER_PORT                 the balancer's port (default: first free from 3300); web1, web2
#                                and the stats page take the next free ports
#   CLUSTER_WORKER_PROCESSES=1   worker processes (--worker-processes wins)
#   CLUSTER_STOP_GRACE=25        seconds between SIGTERM and SIGKILL when stopping (15 in --test
#                                mode, so that stopping fits in the 30 s make test's timeout allows)
#   CLUSTER_CHECK_DEADLINE=150   --test mode: the suite's deadline in seconds (its --deadline): past
#                                it nothing more is sent and the unfinished checks fail
#   CLUSTER_CHECK_ARGS           extra options for scripts/cluster_check.py in --test mode
#   In --test mode, unless set: WORKERS=2 (claim loops per worker process),
#   BUILTIN_RUNNER_DELAY_MS=20 (runs take 20 ms, so the two workers' runs overlap),
#   WORKER_LEASE_SECONDS=10, REAPER_INTERVAL_SECONDS=2, SHUTDOWN_GRACE_SECONDS=5.
#
# Files: target/cluster/ (under CARGO_TARGET_DIR when set), wiped at every start (after
# stopping what its pids lists): pids, haproxy.cfg, master.key, cluster.env, web1.log,
# web2.log, worker1.log, ..., haproxy.log, migrate.log and, in --test mode, check.txt (the
# suite's output) and attempts.jsonl (every request of its check 4, the one that kills web1).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

PROFILE=debug BUILD=1 MODE=foreground
WORKER_PROCESSES=${CLUSTER_WORKER_PROCESSES:-1}
while (($#)); do
  case $1 in
    --release) PROFILE=release ;;
    --no-build) BUILD=0 ;;
    --worker-processes) WORKER_PROCESSES=${2:?--worker-processes needs a number}; shift ;;
    --worker-processes=*) WORKER_PROCESSES=${1#*=} ;;
    --detach) MODE=detach ;;
    --stop) MODE=stop ;;
    --test) MODE='test' ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ $WORKER_PROCESSES =~ ^[0-9]+$ ]] || die "--worker-processes needs a number, not '$WORKER_PROCESSES'"

RUN_DIR=$AW_TARGET/cluster
ENV_FILE=$RUN_DIR/cluster.env
PIDS_FILE=$RUN_DIR/pids
CLUSTER_DB=agent_webhooks_cluster
BIN=$AW_TARGET/$PROFILE/agent-webhooks
SITE_ROOT=$AW_ROOT/$(leptos_setting site-root)
if [[ $MODE == test ]]; then STOP_GRACE=${CLUSTER_STOP_GRACE:-15}; else STOP_GRACE=${CLUSTER_STOP_GRACE:-25}; fi
[[ $STOP_GRACE =~ ^[0-9]+$ ]] || die "CLUSTER_STOP_GRACE must be a number of seconds, not '$STOP_GRACE'"
CHECK_DEADLINE=${CLUSTER_CHECK_DEADLINE:-150}
[[ $CHECK_DEADLINE =~ ^[0-9]+$ ]] || die "CLUSTER_CHECK_DEADLINE must be a number of seconds, not '$CHECK_DEADLINE'"
rel() { echo "${1#"$AW_ROOT"/}"; }

# ---------------------------------------------------------------- processes

# proc_start PID: sets PROC_START to the process's start time (field 22 of /proc/PID/stat,
# clock ticks since boot); fails when there is no such process or it is a zombie. A PID and
# its start time name one process: a later process given the same PID has another start time.
proc_start() {
  local line fields
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  line=${line##*) }
  read -ra fields <<<"$line"
  [[ ${fields[0]} != Z ]] || return 1
  PROC_START=${fields[19]}
}

# alive PID: the process exists and is not a zombie.
alive() { proc_start "$1"; }

# same PID START: PID still names the process recorded with START and it has not exited.
# START '-' (a PID read from a cluster.env written before the pid file existed): the
# process's command line names one of the cluster's programs instead.
same() {
  proc_start "$1" || return 1
  if [[ $2 == - ]]; then
    grep -qaE 'agent-webhooks|haproxy|cluster\.sh|cluster_check\.py' "/proc/$1/cmdline" 2>/dev/null
  else
    [[ $PROC_START == "$2" ]]
  fi
}

# record PID NAME: appends "PID START NAME" to the pid file, as soon as the process exists,
# so that the next start (or --stop) finds it even when this script is killed right after.
record() {
  local start=gone # exited already: matches no process
  if proc_start "$1"; then start=$PROC_START; fi
  echo "$1 $start $2" >>"$PIDS_FILE"
}

# stop_pids GRACE ID...: SIGTERM to each ID (PID:START:NAME) still running, SIGKILL to those
# still running GRACE seconds later (at once after a second Ctrl-C or SIGTERM: HURRY).
HURRY=0
# any_running PID:START:NAME...: whether one of them still runs (same, against PID reuse).
any_running() {
  local id pid start name
  for id in "$@"; do
    IFS=: read -r pid start name <<<"$id"
    if same "$pid" "$start"; then return 0; fi
  done
  return 1
}
stop_pids() {
  local grace=$1 id pid start name i
  shift
  for id in "$@"; do
    IFS=: read -r pid start name <<<"$id"
    # SIGCONT too: a process stopped (SIGSTOP, Ctrl-Z) handles its SIGTERM only once continued.
    if same "$pid" "$start"; then kill -TERM "$pid" 2>/dev/null || true; kill -CONT "$pid" 2>/dev/null || true; fi
  done
  for ((i = 0; i < grace * 10 && HURRY == 0; i++)); do
    any_running "$@" || break
    sleep 0.1
  done
  for id in "$@"; do
    IFS=: read -r pid start name <<<"$id"
    if same "$pid" "$start"; then
      if ((HURRY)); then say "stop: $name (pid $pid) still running, SIGKILL (second signal)"
      else say "stop: $name (pid $pid) still running after ${grace} s, SIGKILL"
      fi
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < 20; i++)); do
    any_running "$@" || break
    sleep 0.1
  done
}

# stop_listed [--say]: stops the processes listed on stdin ("PID START NAME" lines, the pid
# file's) that still run, this script excepted: cluster scripts first (each stops its own
# processes; SIGKILL after STOP_GRACE + 10 s), then HAProxy and the test suite (no new
# requests), then the web and worker processes together: the web processes finish their
# requests, the workers their runs (SHUTDOWN_GRACE_SECONDS), and hand unfinished jobs back to
# the queue. --say: print what is being stopped. Sets STOPPED to the number of processes found
# running.
stop_listed() {
  local pid start name scripts=() first=() rest=() names=()
  while read -r pid start name; do
    [[ $pid =~ ^[0-9]+$ && $pid != "$$" && -n $start ]] || continue
    same "$pid" "$start" || continue
    names+=("$name (pid $pid)")
    case $name in
      script) scripts+=("$pid:$start:cluster.sh") ;;
      haproxy | check) first+=("$pid:$start:$name") ;;
      *) rest+=("$pid:$start:$name") ;;
    esac
  done
  STOPPED=${#names[@]}
  ((STOPPED)) || return 0
  if [[ ${1:-} == --say ]]; then
    local list
    printf -v list '%s, ' "${names[@]}"
    say "stop: still running from an earlier start: ${list%, }"
  fi
  ((${#scripts[@]} == 0)) || stop_pids $((STOP_GRACE + 10)) "${scripts[@]}"
  ((${#first[@]} == 0)) || stop_pids 5 "${first[@]}"
  ((${#rest[@]} == 0)) || stop_pids "$STOP_GRACE" "${rest[@]}"
}

# forget_stopped: drops from the pid file what no longer runs (and this script); removes the
# file when nothing is left.
forget_stopped() {
  local pid start name kept=''
  [[ -f $PIDS_FILE ]] || return 0
  while read -r pid start name; do
    if [[ $pid != "$$" ]] && same "$pid" "$start"; then kept+="$pid $start $name"$'\n'; fi
  done <"$PIDS_FILE"
  if [[ -n $kept ]]; then printf '%s' "$kept" >"$PIDS_FILE"; else rm -f "$PIDS_FILE"; fi
}

# pids_from_env: "PID - NAME" lines for the PIDs of a cluster.env written by a version of
# this script without the pid file (checked by command line, see same).
pids_from_env() (
  CLUSTER_PID='' HAPROXY_PID='' WEB1_PID='' WEB2_PID='' WORKER_PIDS=''
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  [[ -z $CLUSTER_PID ]] || echo "$CLUSTER_PID - script"
  [[ -z $HAPROXY_PID ]] || echo "$HAPROXY_PID - haproxy"
  [[ -z $WEB1_PID ]] || echo "$WEB1_PID - web1"
  [[ -z $WEB2_PID ]] || echo "$WEB2_PID - web2"
  for pid in $WORKER_PIDS; do echo "$pid - worker"; done
)

# stop_leftovers: stops what an earlier run left running (a detached cluster, a foreground
# one, the processes of a script killed during its start-up): everything the pid file lists,
# else what an older cluster.env names. Fails when there is neither file.
stop_leftovers() {
  STOPPED=0
  if [[ -f $PIDS_FILE ]]; then
    stop_listed --say <"$PIDS_FILE"
  elif [[ -f $ENV_FILE ]]; then
    stop_listed --say < <(pids_from_env)
  else
    return 1
  fi
  forget_stopped
  rm -f "$ENV_FILE"
}

if [[ $MODE == stop ]]; then
  if ! stop_leftovers; then say "stop: no cluster to stop ($(rel "$PIDS_FILE") not found)"
  elif ((STOPPED)); then say "stop: cluster stopped (logs left in $(rel "$RUN_DIR"))"
  else say "stop: nothing $(rel "$PIDS_FILE") lists was still running"
  fi
  exit 0
fi

# ---------------------------------------------------------------- tools, build, database

have curl || die "curl not found: install it (e.g. 'apt-get install curl')"
if [[ $MODE == test ]]; then
  have python3 || die "python3 not found: the cluster test suite needs Python 3 (standard library only)"
fi
PSQL=$(psql_bin)
ensure_haproxy
# Each process in its own session, so that Ctrl-C reaches this script only (which then stops
# the processes in order) and a detached cluster outlives the terminal it was started from.
SETSID=()
if have setsid; then SETSID=(setsid); fi

if ((BUILD == 0)); then
  say "build: using $(rel "$BIN") and $(rel "$SITE_ROOT") as they are (--no-build)"
elif [[ $PROFILE == release ]]; then
  scripts/build.sh --release
else
  scripts/build.sh
fi
[[ -x $BIN ]] || die "$BIN not found (run without --no-build)"
[[ -d $SITE_ROOT/pkg ]] || say "warning: no site in $(rel "$SITE_ROOT") (run without --no-build): pages will not hydrate"

# Whatever an earlier run left running (detached, in another terminal, or started by a
# script that was killed, even during its start-up) goes first: it would keep using the
# database about to be created afresh.
stop_leftovers || true
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
chmod 700 "$RUN_DIR"
record $$ script

# From here on, every exit (an error, Ctrl-C, SIGTERM) stops what the pid file lists, unless
# a detached cluster has started. A second Ctrl-C or SIGTERM while stopping: SIGKILL at once.
STARTED=0 PROCS_STARTED=0 CHECK_STATUS=0
cleanup() {
  local rc=$?
  trap - EXIT
  trap 'HURRY=1' INT TERM
  if [[ $MODE != detach || $STARTED == 0 ]]; then
    if [[ -f $PIDS_FILE ]]; then stop_listed <"$PIDS_FILE"; fi
    forget_stopped
    rm -f "$ENV_FILE"
    if [[ $MODE != detach ]] && ((PROCS_STARTED)); then say "cluster stopped (logs in $(rel "$RUN_DIR"))"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'say "SIGTERM: stopping the cluster"; exit 143' TERM

ensure_database
CLUSTER_DB_URL=$(database_url_with_name "$DATABASE_URL" "$CLUSTER_DB")
say "database: $(redact_url "$CLUSTER_DB_URL") (created fresh)"
PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 \
  -d "$(database_url_with_name "$DATABASE_URL" postgres)" \
  -c "DROP DATABASE IF EXISTS $CLUSTER_DB WITH (FORCE)" -c "CREATE DATABASE $CLUSTER_DB" ||
  die "cannot create the database $CLUSTER_DB on $(redact_url "$DATABASE_URL")"

if [[ $MODE == test ]]; then
  WORKER_PROCESSES=2
  export WORKERS=${WORKERS:-2} BUILTIN_RUNNER_DELAY_MS=${BUILTIN_RUNNER_DELAY_MS:-20} \
    WORKER_LEASE_SECONDS=${WORKER_LEASE_SECONDS:-10} REAPER_INTERVAL_SECONDS=${REAPER_INTERVAL_SECONDS:-2} \
    SHUTDOWN_GRACE_SECONDS=${SHUTDOWN_GRACE_SECONDS:-5}
fi
# What every process shares. The worker logs' "execution completed" lines are what the test
# suite counts, hence info and JSON whatever the caller's environment says.
unset MASTER_KEYS
export DATABASE_URL=$CLUSTER_DB_URL MASTER_KEY_FILE=$RUN_DIR/master.key RUST_LOG=info LOG_FORMAT=json
(umask 077 && "$BIN" generate-master-key >"$MASTER_KEY_FILE") || die "generate-master-key failed"
"$BIN" migrate >"$RUN_DIR/migrate.log" 2>&1 || { tail -n 20 "$RUN_DIR/migrate.log" >&2; die "migrate failed"; }

# ---------------------------------------------------------------- ports, HAProxy's configuration

TAKEN=" "
# pick_port VAR FROM: the first free loopback port from FROM on that no other process of
# the cluster got.
pick_port() {
  local port=$2
  while :; do
    port=$(free_port "$port")
    if [[ $TAKEN != *" $port "* ]]; then
      TAKEN+="$port "
      printf -v "$1" '%s' "$port"
      return 0
    fi
    port=$((port + 1))
  done
}
if [[ -n ${CLUSTER_PORT:-} ]]; then
  [[ $CLUSTER_PORT =~ ^[0-9]+$ ]] || die "CLUSTER_PORT must be a port number"
  if (exec 3<>"/dev/tcp/127.0.0.1/$CLUSTER_PORT") 2>/dev/null; then die "CLUSTER_PORT $CLUSTER_PORT is in use"; fi
  LB_PORT=$CLUSTER_PORT
  TAKEN+="$LB_PORT "
else
  pick_port LB_PORT 3300
fi
pick_port WEB1_PORT $((LB_PORT + 1))
pick_port WEB2_PORT $((WEB1_PORT + 1))
pick_port STATS_PORT $((WEB2_PORT + 1))
CLUSTER_URL=http://127.0.0.1:$LB_PORT
export PUBLIC_BASE_URL=$CLUSTER_URL # for every process: webhook URLs name the balancer
WEB1_URL=http://127.0.0.1:$WEB1_PORT
WEB2_URL=http://127.0.0.1:$WEB2_PORT
STATS_URL=http://127.0.0.1:$STATS_PORT/

# Why each setting: docs/operations.md, "Running several processes".
cat >"$RUN_DIR/haproxy.cfg" <<EOF
# Generated by scripts/cluster.sh; the choices are explained in docs/operations.md.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s
    timeout check 2s
    # A request is sent again only when it never reached a server (connection refused or
    # failed); a request a server received is never repeated: the sender's own retry, with
    # its delivery id, is what makes a webhook safe to repeat. Each retry goes to another
    # server (redispatch on every retry), so a dead server costs a retry, not an error.
    retries 3
    retry-on conn-failure
    option redispatch 1
    # With no server up the balancer answers like the webhook route does when its database
    # is away: 503 with Retry-After, which senders retry.
    http-error status 503 content-type application/json string "{\"error\":\"Service unavailable\"}" hdr Retry-After 1

frontend public
    bind 127.0.0.1:$LB_PORT
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    default_backend web

backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    http-response set-header X-Served-By %s
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 maxconn 1000
    server web1 127.0.0.1:$WEB1_PORT check
    server web2 127.0.0.1:$WEB2_PORT check

frontend stats
    bind 127.0.0.1:$STATS_PORT
    stats enable
    stats uri /
    stats refresh 2s
EOF
haproxy -c -q -f "$RUN_DIR/haproxy.cfg" || die "HAProxy refused $(rel "$RUN_DIR")/haproxy.cfg"

# ---------------------------------------------------------------- start

HAPROXY_PID='' WEB1_PID='' WEB2_PID=''
WORKER_PID_LIST=()

# start NAME COMMAND...: runs COMMAND in its own session with its output in NAME.log, records
# it in the pid file at once; sets PID. Started from a subshell, the process is not a job of
# this script: it is watched and stopped by PID (see alive, same), and its death (check 4 of
# the test suite kills web1) is not reported by bash.
start() {
  local name=$1
  shift
  PID=$(
    "${SETSID[@]}" "$@" >>"$RUN_DIR/$name.log" 2>&1 </dev/null &
    record $! "$name"
    echo $!
  )
  PROCS_STARTED=1
}

start_web() {
  local port=$2
  start "$1" env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$SITE_ROOT" TRUSTED_PROXIES=127.0.0.1 \
    "$BIN" serve --workers 0
}

show_log() {
  say "last lines of $(rel "$RUN_DIR")/$1.log:"
  tail -n "${2:-20}" "$RUN_DIR/$1.log" >&2 || true
}

# wait_for NAME PID WHAT COMMAND...: until COMMAND succeeds (60 s at most); dies when the
# process exited.
wait_for() {
  local name=$1 pid=$2 what=$3 i
  shift 3
  for ((i = 0; i < 600; i++)); do
    if "$@"; then return 0; fi
    alive "$pid" || { show_log "$name"; die "$name (pid $pid) exited before $what"; }
    sleep 0.1
  done
  show_log "$name"
  die "$name: no $what after 60 s"
}
ready() { curl -fsS -o /dev/null --max-time 2 "$1/readyz" 2>/dev/null; }
workers_started() { grep -q '"execution workers started"' "$RUN_DIR/$1.log" 2>/dev/null; }
# Both servers UP in HAProxy's stats (CSV: field 18 is the status).
both_up() {
  [[ $(curl -fsS --max-time 2 "${STATS_URL};csv" 2>/dev/null |
    awk -F, '$1 == "web" && ($2 == "web1" || $2 == "web2") && $18 == "UP"' | wc -l) == 2 ]]
}

start_web web1 "$WEB1_PORT"
WEB1_PID=$PID
start_web web2 "$WEB2_PORT"
WEB2_PID=$PID
for ((n = 1; n <= WORKER_PROCESSES; n++)); do
  start "worker$n" "$BIN" worker
  WORKER_PID_LIST+=("$PID")
done
start haproxy haproxy -f "$RUN_DIR/haproxy.cfg" -db
HAPROXY_PID=$PID

wait_for web1 "$WEB1_PID" "/readyz answer" ready "$WEB1_URL"
wait_for web2 "$WEB2_PID" "/readyz answer" ready "$WEB2_URL"
for ((n = 1; n <= WORKER_PROCESSES; n++)); do
  wait_for "worker$n" "${WORKER_PID_LIST[n - 1]}" "\"execution workers started\"" workers_started "worker$n"
done
wait_for haproxy "$HAPROXY_PID" "web1 and web2 UP in its stats" both_up
wait_for haproxy "$HAPROXY_PID" "/readyz answer through the balancer" ready "$CLUSTER_URL"

WORKER_LOGS=''
for ((n = 1; n <= WORKER_PROCESSES; n++)); do WORKER_LOGS+="${WORKER_LOGS:+ }$RUN_DIR/worker$n.log"; done
CLUSTER_PID=$$
[[ $MODE == foreground ]] || CLUSTER_PID=''
# Single-quoted values: the file is sourced by shells and read by scripts/cluster_check.py.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
  echo "# Written by scripts/cluster.sh at $(date -u +%FT%TZ); source it (set -a to export)."
  for var in CLUSTER_URL WEB1_URL WEB2_URL STATS_URL CLUSTER_PID HAPROXY_PID WEB1_PID WEB2_PID \
    DATABASE_URL MASTER_KEY_FILE BIN; do
    echo "$var=$(quote "${!var}")"
  done
  echo "WORKER_PIDS=$(quote "${WORKER_PID_LIST[*]}")"
  echo "CLUSTER_DIR=$(quote "$RUN_DIR")"
  echo "WORKER_LOGS=$(quote "$WORKER_LOGS")"
} >"$ENV_FILE"
chmod 600 "$ENV_FILE"
STARTED=1

env_rel=$(rel "$ENV_FILE")
{
  echo
  echo "cluster: $CLUSTER_URL   (HAProxy, round-robin over web1 and web2; webhook URLs point here)"
  echo "  web1     $WEB1_URL   pid $WEB1_PID, log $(rel "$RUN_DIR")/web1.log"
  echo "  web2     $WEB2_URL   pid $WEB2_PID, log $(rel "$RUN_DIR")/web2.log"
  for ((n = 1; n <= WORKER_PROCESSES; n++)); do
    echo "  worker$n  pid ${WORKER_PID_LIST[n - 1]}, log $(rel "$RUN_DIR")/worker$n.log"
  done
  echo "  haproxy  pid $HAPROXY_PID, log $(rel "$RUN_DIR")/haproxy.log, config $(rel "$RUN_DIR")/haproxy.cfg"
  echo "  stats    $STATS_URL   (CSV: ${STATS_URL};csv)"
  echo "  database $(redact_url "$CLUSTER_DB_URL")"
  echo "  env      $env_rel"
  echo
  echo "An administrator (prints a password once) and an API token, with the cluster's settings:"
  echo "  (set -a; . $env_rel; unset MASTER_KEYS; \"\$BIN\" create-admin --tenant local --email admin@localhost)"
  echo "  (set -a; . $env_rel; unset MASTER_KEYS; \"\$BIN\" create-token --tenant local --name cli)"
  echo "Then sign in at $CLUSTER_URL/login."
} >&2

case $MODE in
  detach)
    say "detached: stop it with 'scripts/cluster.sh --stop' (or make cluster ARGS=--stop)"
    ;;
  test)
    say "cluster test suite: scripts/cluster_check.py --env $env_rel --deadline $CHECK_DEADLINE ${CLUSTER_CHECK_ARGS:-}"
    # In the background, recorded, and waited for: a signal to this script stops it at once
    # (wait returns, the trap runs, cleanup stops the suite with the rest).
    # shellcheck disable=SC2086 # options, split on purpose
    python3 scripts/cluster_check.py --env "$ENV_FILE" --output "$RUN_DIR/check.txt" \
      --deadline "$CHECK_DEADLINE" ${CLUSTER_CHECK_ARGS:-} &
    CHECK_PID=$!
    record "$CHECK_PID" check
    wait "$CHECK_PID" || CHECK_STATUS=$?
    if ((CHECK_STATUS != 0)); then
      for name in web1 web2 haproxy; do show_log "$name" 10; done
      for ((n = 1; n <= WORKER_PROCESSES; n++)); do show_log "worker$n" 10; done
      say "cluster test suite failed (exit $CHECK_STATUS); output in $(rel "$RUN_DIR")/check.txt"
      exit 1
    fi
    say "cluster test suite passed; output in $(rel "$RUN_DIR")/check.txt"
    ;;
  foreground)
    say "running; Ctrl-C (or 'scripts/cluster.sh --stop' elsewhere) stops every process"
    declare -A reported=()
    while :; do
      sleep 1 &
      wait $! || true
      running=0
      for entry in "web1:$WEB1_PID" "web2:$WEB2_PID" "haproxy:$HAPROXY_PID" \
        $(for ((n = 1; n <= WORKER_PROCESSES; n++)); do echo "worker$n:${WORKER_PID_LIST[n - 1]}"; done); do
        if alive "${entry#*:}"; then
          running=1
        elif [[ -z ${reported[${entry%%:*}]:-} ]]; then
          reported[${entry%%:*}]=1
          say "warning: ${entry%%:*} (pid ${entry#*:}) has exited, see $(rel "$RUN_DIR")/${entry%%:*}.log"
        fi
      done
      ((running)) || die "every process of the cluster has exited"
    done
    ;;
esac
