#!/usr/bin/env bash
# Fault drill: `scripts/fault-drill.sh [--release] [--no-build]`. Not part of `make test`.
#
# Drives signed load at the webhook route while it breaks things, then checks
# that every accepted webhook (every 202) was executed exactly once:
#
#   baseline           load only
#   kill-server        SIGKILL the web process, start it again on the same port 2 s later
#   restart-postgres   stop the drill's own cluster (pg_ctl stop -m fast), keep it down
#                      for 5 s, start it again (DRILL_PG_DOWN_SECONDS=0: pg_ctl restart)
#   crash-postgres     crash the drill's cluster (pg_ctl stop -m immediate: no shutdown
#                      checkpoint, recovery from the WAL at start), start it again at once;
#                      commits made with synchronous_commit=off may be lost here, and must
#                      cost nothing but a repeated run
#   kill-worker        SIGKILL the worker process in the middle of executions (it is
#                      paused for 2 s first so that a backlog builds up, resumed, and
#                      killed as soon as an execution is running), start a new one 2 s later
#   cooldown           load only
#
# Then the senders stop (requests in hand are retried for up to 30 s more), the
# queue is drained (all executions completed), and scripts/fault_drill_load.py
# prints the report: accepted, recorded, completed exactly once, lost (must be
# 0), duplicated (must be 0), executions completed twice (must be 0) apart from
# executions run more than once (allowed: a run a fault interrupted runs again),
# and what the senders saw in each phase (5xx, connection errors, timeouts). Exit status 1 when lost or duplicated is not 0.
#
# Processes: one `serve --workers 0` (HTTP only) and one separate
# `worker --workers 2`, so that each can be killed on its own. Senders are
# Python threads (scripts/fault_drill_load.py load) that retry a request with the
# same Idempotency-Key and the same body until they get a 202.
#
# Isolation: the drill never touches the PostgreSQL on 127.0.0.1:5432. It
# initdb's a private cluster in target/drill-pg/ (Unix socket only, as the
# `postgres` user when run as root), wiped at every start and stopped at the end;
# its data directory and log (target/drill-pg/log) are left in place for
# inspection. Everything else is in target/drill/: the JSON logs of the web and
# worker processes (web.log, worker.log), attempts.jsonl (every request),
# events.jsonl (the faults), CSV dumps of the tables, and report.txt (the
# report). docs/operations.md explains the report and keeps its latest output.
#
# Options and environment (all optional):
#   --release                 use a release build (built if needed) instead of debug
#   --no-build                use the existing binary as it is (default: scripts/build.sh, a
#                             no-op when it is up to date)
#   DRILL_PHASE_SECONDS=12    length of each phase
#   DRILL_THREADS=8           sender threads
#   DRILL_RATE=200            new requests per second in all (0: as fast as possible)
#   DRILL_LEASE_SECONDS=5     WORKER_LEASE_SECONDS of the worker
#   DRILL_RUN_MS=50           BUILTIN_RUNNER_DELAY_MS: each run takes this long, like a runtime
#                             waiting on the network, so that faults find runs in flight
#   DRILL_PG_DOWN_SECONDS=5   how long Postgres stays down (0: pg_ctl restart -m fast)
#   DRILL_DRAIN_TIMEOUT=120   seconds to wait for all executions to complete
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

PROFILE=debug
BUILD=1
for arg in "$@"; do
  case $arg in
    --release) PROFILE=release ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

PHASE_SECONDS=${DRILL_PHASE_SECONDS:-12}
THREADS=${DRILL_THREADS:-8}
RATE=${DRILL_RATE:-200}
LEASE=${DRILL_LEASE_SECONDS:-5}
RUN_MS=${DRILL_RUN_MS:-50}
PG_DOWN=${DRILL_PG_DOWN_SECONDS:-5}
DRAIN_TIMEOUT=${DRILL_DRAIN_TIMEOUT:-120}

TARGET_DIR=$AW_TARGET
DRILL=$TARGET_DIR/drill
BIN=$TARGET_DIR/$PROFILE/agent-webhooks
LOAD=$AW_ROOT/scripts/fault_drill_load.py
# lib.sh's private-cluster functions work on AW_PG_DIR: point them at our own.
AW_PG_DIR=$TARGET_DIR/drill-pg

# ---------------------------------------------------------------- helpers

now() { echo "$EPOCHREALTIME"; }

# event NAME [key=value ...]: one JSON line in events.jsonl (values are strings
# or numbers; no quoting needed for what the drill writes).
event() {
  local name=$1 line pair value
  shift
  line="{\"t\":$(now),\"event\":\"$name\""
  for pair in "$@"; do
    value=${pair#*=}
    if [[ $value =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
      line+=",\"${pair%%=*}\":$value"
    else
      line+=",\"${pair%%=*}\":\"$value\""
    fi
  done
  echo "$line}" >>"$DRILL/events.jsonl"
}

# The senders read the current phase from this file.
set_phase() {
  printf '%s\n' "$1" >"$DRILL/phase.tmp"
  mv "$DRILL/phase.tmp" "$DRILL/phase"
  event phase name="$1"
  say "phase: $1"
}

sql() { psql "$DATABASE_URL" -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# The value of a string field in a flat JSON object (enough for our own API's answers).
json_string() { sed -nE "s/.*\"$1\":\"([^\"]*)\".*/\1/p" <<<"$2" | head -n 1; }

# Seconds (1 decimal) since an $EPOCHREALTIME value.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Sleep until the current phase has lasted PHASE_SECONDS.
finish_phase() {
  local left
  left=$(awk -v a="$PHASE_START" -v b="$(now)" -v d="$PHASE_SECONDS" 'BEGIN { l = d - (b - a); printf "%.2f", (l > 0 ? l : 0) }')
  sleep "$left"
}
begin_phase() { set_phase "$1"; PHASE_START=$(now); }

WEB_PID=
WORKER_PID=
LOAD_PID=
start_web() {
  printf '\n=== drill: serve --workers 0 started at %s\n' "$(date -u +%FT%T.%3NZ)" >>"$DRILL/web.log"
  "$BIN" serve --workers 0 >>"$DRILL/web.log" 2>&1 &
  WEB_PID=$!
  echo "$WEB_PID" >>"$DRILL/pids"
}
start_worker() {
  printf '\n=== drill: worker --workers 2 started at %s\n' "$(date -u +%FT%T.%3NZ)" >>"$DRILL/worker.log"
  "$BIN" worker --workers 2 >>"$DRILL/worker.log" 2>&1 &
  WORKER_PID=$!
  echo "$WORKER_PID" >>"$DRILL/pids"
}

# Waits until /readyz answers 200; prints the seconds it took.
wait_ready() {
  local since_t _
  since_t=$(now)
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null --max-time 1 "$BASE/readyz" 2>/dev/null; then
      since "$since_t"
      return 0
    fi
    kill -0 "$WEB_PID" 2>/dev/null || { tail -n 20 "$DRILL/web.log" >&2; die "the web process stopped, see $DRILL/web.log"; }
    sleep 0.1
  done
  die "the web process is not ready after 60 s, see $DRILL/web.log"
}

# The worker writes "execution workers started" once it polls the queue.
wait_worker() {
  local _
  for _ in $(seq 600); do
    if [[ $(grep -c '"execution workers started"' "$DRILL/worker.log") -ge $1 ]]; then return 0; fi
    kill -0 "$WORKER_PID" 2>/dev/null || { tail -n 20 "$DRILL/worker.log" >&2; die "the worker stopped, see $DRILL/worker.log"; }
    sleep 0.1
  done
  die "the worker did not start within 60 s, see $DRILL/worker.log"
}

stop_process() {
  local pid=$1 _
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- clean-up

PG_BIN=
cleanup() {
  local rc=$?
  trap - EXIT
  if [[ -n $LOAD_PID ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
    printf 'stop\n' >"$DRILL/phase"
    stop_process "$LOAD_PID"
  fi
  stop_process "$WEB_PID"
  stop_process "$WORKER_PID"
  if [[ -n $PG_BIN ]] && as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" status >/dev/null 2>&1; then
    say "database: stopping the drill's cluster (data left in ${AW_PG_DIR#"$AW_ROOT"/}/data)"
    as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -m fast -w stop >/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. tools, build, database

have python3 || die "python3 not found: install Python 3 (the load generator uses its standard library only)"
have psql || die "psql not found: install the PostgreSQL client (Debian package postgresql-client)"
have curl || die "curl not found: install curl"
PG_BIN=$(pg_server_bindir) || die "the drill needs the PostgreSQL server binaries (initdb, pg_ctl): install them (Debian package postgresql)"

if [[ $BUILD == 0 ]]; then
  say "build: using $BIN as it is (--no-build)"
elif [[ $PROFILE == release ]]; then
  scripts/build.sh --release --server-only
else
  scripts/build.sh --server-only
fi
[[ -x $BIN ]] || die "$BIN not found (run without --no-build)"

# Processes left by a drill that was killed without its clean-up (kill -9):
# target/drill/pids lists them; only ours are killed (checked by command line).
if [[ -f $DRILL/pids ]]; then
  while read -r pid; do
    if grep -qaE 'agent-webhooks|fault_drill_load' "/proc/$pid/cmdline" 2>/dev/null; then
      say "stopping pid $pid left by an earlier drill"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$DRILL/pids"
fi
# A fresh cluster and drill directory every time.
if [[ -s $AW_PG_DIR/data/PG_VERSION ]] && as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" status >/dev/null 2>&1; then
  as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -m immediate -w stop >/dev/null
fi
rm -rf "$AW_PG_DIR" "$DRILL"
mkdir -p "$DRILL"
unset DATABASE_URL MASTER_KEYS # start_private_cluster sets the first; the second would win over MASTER_KEY_FILE
start_private_cluster "$PG_BIN"
say "database: $DATABASE_URL"

# ---------------------------------------------------------------- 2. processes, agent

(umask 077 && "$BIN" generate-master-key >"$DRILL/master.key")
PORT=$(free_port) || die "no free loopback port found"
BASE=http://127.0.0.1:$PORT
export MASTER_KEY_FILE=$DRILL/master.key LEPTOS_SITE_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=$BASE \
  WORKER_LEASE_SECONDS=$LEASE REAPER_INTERVAL_SECONDS=1 LOG_FORMAT=json RUST_LOG=info \
  SHUTDOWN_GRACE_SECONDS=5 BUILTIN_RUNNER_DELAY_MS=$RUN_MS

start_web
ready=$(wait_ready)
say "web: $BIN serve --workers 0 on $BASE (pid $WEB_PID), ready after $ready s"
start_worker
wait_worker 1
say "worker: $BIN worker --workers 2 (pid $WORKER_PID)"

TOKEN=$("$BIN" create-token --tenant drill --name drill 2>>"$DRILL/cli.log" | grep -E '^awt_' | tail -n 1) ||
  die "create-token printed no token, see $DRILL/cli.log"
AUTH="Authorization: Bearer $TOKEN"
AGENT_JSON=$(curl -fsS -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"name":"fault drill","rate_limit_per_minute":null}' "$BASE/api/agents") || die "cannot create the agent"
AGENT_ID=$(json_string id "$AGENT_JSON")
WEBHOOK_URL=$(json_string webhook_url "$AGENT_JSON")
[[ -n $AGENT_ID && $WEBHOOK_URL == "$BASE/agents/$AGENT_ID/webhook" ]] ||
  die "unexpected answer from POST /api/agents: $AGENT_JSON"
SECRET=$(json_string hmac_secret "$(curl -fsS -H "$AUTH" "$BASE/api/agents/$AGENT_ID/webhook-secret")")
[[ ${#SECRET} -eq 44 ]] || die "could not reveal the webhook secret"
(umask 077 && printf '%s\n' "$SECRET" >"$DRILL/secret")
say "agent: $AGENT_ID, no rate limit"

# ---------------------------------------------------------------- 3. load and faults

set_phase baseline
event drill.start host="$(hostname)" cpus="$(nproc)" build="$PROFILE" threads="$THREADS" rate="$RATE" lease="$LEASE" \
  phase_seconds="$PHASE_SECONDS"
python3 "$LOAD" load --url "$WEBHOOK_URL" --secret-file "$DRILL/secret" --phase-file "$DRILL/phase" \
  --out "$DRILL/attempts.jsonl" --threads "$THREADS" --rate "$RATE" 2>>"$DRILL/load.log" &
LOAD_PID=$!
echo "$LOAD_PID" >>"$DRILL/pids"
say "load: $THREADS sender threads, $RATE requests/s (pid $LOAD_PID)"
PHASE_START=$(now)
finish_phase

begin_phase kill-server
sleep 1
old=$WEB_PID
kill -KILL "$WEB_PID"
wait "$WEB_PID" 2>/dev/null || true
event web.killed signal=SIGKILL pid="$old"
sleep 2
start_web
event web.started pid="$WEB_PID"
ready=$(wait_ready)
event web.ready after_seconds="$ready"
say "web: SIGKILL pid $old, restarted as pid $WEB_PID, ready after $ready s"
finish_phase

begin_phase restart-postgres
sleep 1
t=$(now)
if [[ $PG_DOWN == 0 ]]; then
  event postgres.restart
  as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -l "$AW_PG_DIR/log" -m fast -w -t 60 restart >/dev/null ||
    die "Postgres did not restart, see $AW_PG_DIR/log"
  how="pg_ctl restart -m fast"
else
  # Stop, stay down for a while (longer than the 3 s the server waits for a
  # connection, so that senders see 503s), start with lib.sh's options again.
  event postgres.stop mode=fast
  as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -m fast -w -t 60 stop >/dev/null || die "Postgres did not stop"
  event postgres.stopped
  sleep "$PG_DOWN"
  as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -l "$AW_PG_DIR/log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$AW_PG_DIR/sock'" start >/dev/null ||
    die "Postgres did not start again, see $AW_PG_DIR/log"
  how="pg_ctl stop -m fast, ${PG_DOWN} s down, pg_ctl start"
fi
took=$(since "$t")
event postgres.started after_seconds="$took"
say "database: $how: back after $took s"
finish_phase

begin_phase crash-postgres
sleep 1
t=$(now)
event postgres.crash mode=immediate
as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -m immediate -w -t 60 stop >/dev/null || die "Postgres did not stop"
as_pg_user "$PG_BIN/pg_ctl" -D "$AW_PG_DIR/data" -l "$AW_PG_DIR/log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$AW_PG_DIR/sock'" start >/dev/null ||
  die "Postgres did not recover from the crash, see $AW_PG_DIR/log"
took=$(since "$t")
event postgres.recovered after_seconds="$took"
say "database: crashed (pg_ctl stop -m immediate) and recovered after $took s"
finish_phase

begin_phase kill-worker
sleep 1
# Pause the worker so that a backlog builds up, resume it, and kill it while it works through it.
kill -STOP "$WORKER_PID"
sleep 2
backlog=$(sql "select count(*) from agent_executions where status = 'queued'")
kill -CONT "$WORKER_PID"
# Kill it as soon as an execution is seen running (at most 3 s after resuming it).
for _ in $(seq 100); do
  (($(sql "select count(*) from agent_executions where status = 'running'") > 0)) && break
  awk -v a="$PHASE_START" -v b="$(now)" 'BEGIN { exit !(b - a > 6) }' && break
done
old=$WORKER_PID
kill -KILL "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null || true
running=$(sql "select count(*) from agent_executions where status = 'running'")
in_progress=$(sql "select count(*) from fang_tasks where state = 'in_progress'")
event worker.killed signal=SIGKILL pid="$old" backlog_before="$backlog" executions_running="$running" \
  tasks_in_progress="$in_progress"
say "worker: SIGKILL pid $old with $running executions running and $in_progress tasks in progress (backlog was $backlog)"
sleep 2
start_worker
wait_worker 2
event worker.started pid="$WORKER_PID"
say "worker: restarted as pid $WORKER_PID"
finish_phase

begin_phase cooldown
finish_phase

# ---------------------------------------------------------------- 4. stop, drain, report

set_phase stop
stopped=$(now)
wait "$LOAD_PID" || die "the load generator failed, see $DRILL/load.log"
LOAD_PID=
event load.stopped after_seconds="$(since "$stopped")"
tail -n 1 "$DRILL/load.log" >&2

pending() { sql "select count(*) from agent_executions where status in ('queued', 'running')"; }
say "drain: $(pending) executions queued or running"
start=$(now)
while (($(pending) > 0)); do
  if awk -v a="$start" -v b="$(now)" -v d="$DRAIN_TIMEOUT" 'BEGIN { exit !(b - a > d) }'; then
    say "drain: gave up after $DRAIN_TIMEOUT s with $(pending) executions not finished"
    break
  fi
  sleep 0.5
done
event queue.drained after_seconds="$(since "$start")" pending="$(pending)"

sql "copy (select id, coalesce(delivery_id, ''), status, attempts, extract(epoch from created_at),
       coalesce(completed_at::text, '') from agent_executions) to stdout with csv" >"$DRILL/executions.csv"
sql "copy (select delivery_id, execution_id from webhook_deliveries) to stdout with csv" >"$DRILL/deliveries.csv"
sql "copy (select state, count(*) from fang_tasks group by state order by state) to stdout with csv" >"$DRILL/tasks.csv"

set +e
python3 "$LOAD" analyze --attempts "$DRILL/attempts.jsonl" --events "$DRILL/events.jsonl" \
  --executions "$DRILL/executions.csv" --deliveries "$DRILL/deliveries.csv" --tasks "$DRILL/tasks.csv" \
  --worker-log "$DRILL/worker.log" >"$DRILL/report.txt"
status=$?
set -e
echo
cat "$DRILL/report.txt"
echo
say "files: ${DRILL#"$AW_ROOT"/}/ (report.txt, attempts.jsonl, events.jsonl, *.log, *.csv)"
# Exit 1 (through set -e and the EXIT trap) when the analysis failed.
((status == 0))
