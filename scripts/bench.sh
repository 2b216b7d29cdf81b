#!/usr/bin/env bash
# Webhook load benchmark: `scripts/bench.sh`.
#
# Builds the release server, starts it against a fresh database
# `agent_webhooks_bench` (on the server of DATABASE_URL, see ensure_database in
# lib.sh), creates an agent with a rate limit it never reaches (BENCH_RATE_LIMIT:
# every request pays the shared limit's token, as agents do by default) and loads its webhook route
# with wrk (a real HTTP load generator, scripted in Lua), then prints one
# summary block with each figure next to its target:
#
#   accepted webhooks/s   202s only (counted by wrk per status). Every request is a
#                         distinct delivery (its own body and X-GitHub-Delivery id,
#                         signed beforehand by scripts/bench-bodies.mjs), and every
#                         202's execution id is reconciled after the drain: it must
#                         exist and have completed, and the workers' completion
#                         counter must match the completed rows (nothing completed
#                         twice), or the bench fails
#   p50 / p99 latency     of those signed requests, as wrk measured them
#   rejected/s            401s per second for the same body with a wrong signature
#   202 -> completed p50  completed_at - created_at of executions, measured
#                         three times: for a trickle of requests on the idle
#                         server, under a steady load the workers keep up with
#                         (BENCH_STEADY_RATE), and for the flood once the
#                         workers have drained its backlog (that one measures
#                         the queue: backlog / drain rate, so it has no target)
#   queue drain           executions/s one `worker` process (2 claim loops, the
#                         built-in runner) drains from a backlog, the server
#                         web-only (the in-process workers' rate during the
#                         flood is shown too)
#   fairness              202 -> completed of a second tenant's single webhook sent
#                         1 s into that drain, behind the first tenant's backlog
#   sustained             a fixed arrival rate (BENCH_SUSTAINED_RATE) for 60 s with
#                         accepted and completed counted per second; says whether
#                         the backlog stayed bounded
#   concurrency           a worker process whose runner waits 200 ms per execution
#                         (BUILTIN_RUNNER_DELAY_MS), at WORKER_CONCURRENCY 16 and 64:
#                         the drain rate must scale with the runs in flight
#   shared rate limit     accepted/s of one web-only process with the agent limited
#                         (a token taken per group commit) and unlimited, alternating
#                         within the run; the limit may cost at most 10%
#   scale-out             accepted/s through HAProxy (Debian's, round-robin) over one
#                         and over two web-only `serve` processes, and the drain/s of
#                         one and two `worker` processes, each with the CPU time per
#                         webhook of every process (web, HAProxy, Postgres, worker):
#                         the figures of the capacity model in docs/operations.md
#   peak RSS              VmHWM of the server process at the end
#   CPU                   who used the cores during each measured run, and the
#                         CPU time per request of the server, Postgres and wrk
#
# Order: idle probe, steady run, signed warm-up + measured run, fairness probe,
# drain, reconciliation, sustained run, bad-signature warm-up + measured run, then
# the server restarted web-only for the concurrency runs (separate worker processes),
# then a second web process and two balancers for the scale-out runs.
# The database's durability settings (fsync, synchronous_commit, full_page_writes)
# are printed; BENCH_STRICT=1 requires them on. Everything runs on this machine: wrk, Postgres and
# the server share its cores, which is the setting the targets are defined for.
#
# Environment (all optional):
#   DATABASE_URL                    Postgres server to use (lib.sh finds one otherwise)
#   BENCH_CONNECTIONS=32            wrk connections    BENCH_THREADS=2  wrk threads
#   BENCH_WARMUP_SECONDS=5          not counted        BENCH_DURATION_SECONDS=30 measured
#   BENCH_WORKERS=2                 WORKERS of the server (the default of `serve`)
#   BENCH_RATE_LIMIT=1000000        the agent's rate_limit_per_minute (none: no limit, so
#                                   no token is taken)
#   BENCH_LIMIT_ROUNDS=2            rounds of the limit's cost: BENCH_LIMIT_SECONDS=8 of
#                                   load limited, then as long unlimited, alternating
#   BENCH_DATABASE_MAX_CONNECTIONS=40  the server's pool (see below)
#   BENCH_IDLE_REQUESTS=50          requests of the idle latency probe, 100 ms apart
#   BENCH_STEADY_RATE=400           signed requests/s of the steady run (paced by wrk)
#   BENCH_STEADY_SECONDS=20         ... and its length
#   BENCH_SUSTAINED_RATE=2500       arrivals/s of the sustained run
#   BENCH_SUSTAINED_SECONDS=60      ... and its length
#   BENCH_SLOW_RUN_MS=200           the concurrency runs' runner delay
#   BENCH_SLOW_BACKLOG=2000         executions each concurrency run drains
#   BENCH_DRAIN_TIMEOUT_SECONDS=900  how long to wait for the queue to drain
#   BENCH_SETUP_SQL='create index ...'  SQL run on the bench database before the load
#   BENCH_SKIP_BUILD=1              reuse target/release/agent-webhooks as it is
#   BENCH_KEEP_DB=1                 keep the database afterwards (for inspection)
#   BENCH_STRICT=1                  exit 1 when a target is missed
#
# Files: target/bench/ (under CARGO_TARGET_DIR when set) keeps the server log,
# the wrk scripts and reports, summary.txt and the bench database's throw-away
# master key.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP_SECONDS:-5}
DURATION=${BENCH_DURATION_SECONDS:-30}
WORKER_COUNT=${BENCH_WORKERS:-2}
RATE_LIMIT=${BENCH_RATE_LIMIT:-1000000}
case $RATE_LIMIT in
  none) RATE_LIMIT_JSON=null ;;
  *[!0-9]* | '') die "BENCH_RATE_LIMIT must be a number of webhooks per minute or 'none'" ;;
  *) RATE_LIMIT_JSON=$RATE_LIMIT ;;
esac
# The 32 request handlers each hold a connection for their transaction, the
# workers need one each and the reaper an occasional one: 40 lets every wrk
# connection get a database connection without waiting, while staying well
# under Postgres' default max_connections of 100. (8, 16 and 64 measured the
# same within the noise of a shared 2-core machine.)
POOL_SIZE=${BENCH_DATABASE_MAX_CONNECTIONS:-40}
IDLE_REQUESTS=${BENCH_IDLE_REQUESTS:-50}
STEADY_RATE=${BENCH_STEADY_RATE:-400}
STEADY_SECONDS=${BENCH_STEADY_SECONDS:-20}
STEADY_CONNECTIONS=8
SUSTAINED_RATE=${BENCH_SUSTAINED_RATE:-2500}
SUSTAINED_SECONDS=${BENCH_SUSTAINED_SECONDS:-60}
SLOW_RUN_MS=${BENCH_SLOW_RUN_MS:-200}
SLOW_BACKLOG=${BENCH_SLOW_BACKLOG:-2000}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT_SECONDS:-900}

BENCH_DB=agent_webhooks_bench
TARGET_DIR=$AW_TARGET
BENCH_DIR=$TARGET_DIR/bench
BIN=$TARGET_DIR/release/agent-webhooks
CORES=$(nproc)

# Targets of the issue, on a 2-core machine with 32 connections.
TARGET_ACCEPTED=2500  # webhooks/s, at least
TARGET_P99_MS=50      # ms, below
TARGET_REJECTED=10000 # bad-signature rejections/s, at least
TARGET_DONE_MS=1000   # 202 -> completed p50, ms, below
TARGET_RSS_MB=200     # peak RSS, MB (10^6 bytes), below
# Targets of the queue issue.
TARGET_IDLE_DONE_MS=20     # idle 202 -> completed p50, ms, below
TARGET_DRAIN=3000          # executions/s drained by 2 workers with the built-in runner
TARGET_SUSTAINED=2500      # accepted = completed per second for 60 s, queue bounded
TARGET_FAIR_MS=1000        # a second tenant's webhook behind a flood's backlog, ms
TARGET_SLOW_DRAIN=250      # executions/s with a 200 ms runner and 64 in flight

# ---------------------------------------------------------------- tools

# A tool from its Debian package when it is missing (only as root with apt).
ensure_tool() {
  local tool=$1 package=$2
  if have "$tool"; then return 0; fi
  if is_root && have apt-get; then
    say "$tool: installing the Debian package $package"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; } ||
      die "could not install $package"
  fi
  have "$tool" || die "$tool not found: install it (Debian package $package)"
}

# ---------------------------------------------------------------- helpers

# The value of a string field in a flat JSON object (enough for our own API's answers).
json_string() { sed -nE "s/.*\"$1\":\"([^\"]*)\".*/\1/p" <<<"$2" | head -n 1; }

# One value from the bench database, unaligned.
sql() { psql "$BENCH_URL" -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# Sets TICKS to the CPU time (user + system, clock ticks) of process $1, or of
# its waited-for children when $2 is "children" (that is how wrk's share is
# measured: this shell waits for it). Builtins only: this runs for every
# Postgres process and must not load the machine it measures.
ticks_of() {
  local line fields
  TICKS=0
  read -r line 2>/dev/null <"/proc/$1/stat" || return 0
  # The fields after the ")" that closes the command name, from "state" on:
  # utime and stime are the 12th and 13th, cutime and cstime the 14th and 15th.
  read -r -a fields <<<"${line##*) }"
  if [[ ${2:-} == children ]]; then
    TICKS=$((fields[13] + fields[14]))
  else
    TICKS=$((fields[11] + fields[12]))
  fi
}

# "pid ticks" lines for every Postgres process on the machine.
postgres_ticks() {
  local pid
  for pid in $(pgrep -x postgres || true); do
    ticks_of "$pid"
    echo "$pid $TICKS"
  done
}

# Postgres CPU of this benchmark between two postgres_ticks listings: the
# backends connected to the bench database plus the shared background
# processes (WAL writer, checkpointer ...), not other databases' backends.
bench_postgres_ticks() {
  local pids
  pids=$(sql "select pid from pg_stat_activity where datname = '$BENCH_DB' or backend_type <> 'client backend'")
  awk -v pids="$pids" '
    BEGIN { n = split(pids, list, "\n"); for (i = 1; i <= n; i++) ours[list[i]] = 1 }
    FNR == NR { before[$1] = $2; next }
    ($1 in ours) { total += $2 - before[$1] }
    END { print total + 0 }' <(echo "$1") <(echo "$2")
}

# "busy idle" clock ticks of all CPUs (/proc/stat's first line; iowait counts as idle).
system_ticks() {
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}

# Counters the CPU split needs, as "server wrk busy idle" (Postgres apart, see above).
cpu_snapshot() {
  local server
  ticks_of "$SERVER_PID"
  server=$TICKS
  ticks_of $$ children
  echo "$server $TICKS $(system_ticks)"
}

# cpu_split SNAPSHOT1 SNAPSHOT2 POSTGRES_TICKS REQUESTS [CHILDREN] prints two
# lines (CHILDREN names this script's children: wrk, or psql while draining):
#   "server X%, postgres Y%, wrk Z%, other W%, idle V% (of 200%)": percent of
#     one core, so 2 cores = 200%; "other" is everything else on the machine
#     (another build or test run shows up there);
#   "server A us + postgres B us + wrk C us = D us per request": CPU time per
#     request, which stays meaningful when the machine is not quiet, and the
#     ceiling it implies when the cores do nothing else.
cpu_split() {
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  awk -v s=$((b[0] - a[0])) -v p="$3" -v w=$((b[1] - a[1])) -v n="$4" -v child="${5:-wrk}" \
      -v busy=$((b[2] - a[2])) -v idle=$((b[3] - a[3])) -v cores="$CORES" -v hz="$(getconf CLK_TCK)" '
    BEGIN {
      total = busy + idle; if (total <= 0) total = 1
      k = 100 * cores / total
      other = busy - s - p - w; if (other < 0) other = 0
      printf "server %.0f%%, postgres %.0f%%, %s %.0f%%, other %.0f%%, idle %.0f%% (of %d%%)\n",
        s * k, p * k, child, w * k, other * k, idle * k, 100 * cores
      if (n > 0) {
        us = 1e6 / hz / n
        printf "server %.0f us + postgres %.0f us + %s %.0f us = %.0f us of CPU per request (at most %.0f/s on %d idle cores)\n",
          s * us, p * us, child, w * us, (s + p + w) * us, cores * 1e6 / ((s + p + w) * us), cores
      }
    }'
}

# ---------------------------------------------------------------- clean-up

SERVER_PID=
DB_CREATED=0
cleanup() {
  local rc=$?
  trap - EXIT
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    say "stopping the server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  # The scale-out run's processes, when it stopped half way.
  local pid
  for pid in ${WEB2_PID:-} ${LB1_PID:-} ${LB2_PID:-} ${SCALE_WORKER_PIDS:-}; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $DB_CREATED == 1 ]]; then
    if [[ -n ${BENCH_KEEP_DB:-} ]]; then
      say "keeping database $BENCH_DB (BENCH_KEEP_DB is set)"
    else
      say "dropping database $BENCH_DB"
      psql "$ADMIN_URL" -X -qAt -c "drop database if exists $BENCH_DB with (force)" >/dev/null 2>&1 || true
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
# Say which command failed instead of stopping silently (set -e).
set -E
trap 'say "error: line $LINENO: $BASH_COMMAND failed"' ERR
# Ctrl-C and kill still go through the EXIT trap above.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. tools

ensure_tool wrk wrk
ensure_tool haproxy haproxy
ensure_tool psql postgresql-client
ensure_tool openssl openssl
ensure_tool curl curl
ensure_tool node nodejs
ensure_database
ADMIN_URL=$(database_url_with_name "$DATABASE_URL" postgres)
BENCH_URL=$(database_url_with_name "$DATABASE_URL" "$BENCH_DB")
mkdir -p "$BENCH_DIR"

# ---------------------------------------------------------------- 2. build

if [[ -n ${BENCH_SKIP_BUILD:-} && -x $BIN ]]; then
  say "build: reusing $BIN (BENCH_SKIP_BUILD is set)"
else
  # Server only: the webhook route needs no WASM bundle. The first release
  # build takes about 10 minutes on 2 cores; make release shares it.
  scripts/build.sh --release --server-only
fi

# ---------------------------------------------------------------- 3. database and server

say "database: fresh $BENCH_DB on $(redact_url "$ADMIN_URL")"
psql "$ADMIN_URL" -X -qAt -v ON_ERROR_STOP=1 -c "drop database if exists $BENCH_DB with (force)" >/dev/null
psql "$ADMIN_URL" -X -qAt -v ON_ERROR_STOP=1 -c "create database $BENCH_DB" >/dev/null
DB_CREATED=1

# A master key of its own, so the bench never touches .agent-webhooks/.
KEY_FILE=$BENCH_DIR/master.key
rm -f "$KEY_FILE"
(umask 077 && "$BIN" generate-master-key >"$KEY_FILE")

PORT=$(free_port) || die "no free loopback port found"
BASE=http://127.0.0.1:$PORT
unset MASTER_KEYS # it would win over MASTER_KEY_FILE
export DATABASE_URL=$BENCH_URL MASTER_KEY_FILE=$KEY_FILE \
  LEPTOS_SITE_ADDR=127.0.0.1:$PORT PUBLIC_BASE_URL=$BASE \
  WORKERS=$WORKER_COUNT DATABASE_MAX_CONNECTIONS=$POOL_SIZE \
  LOG_FORMAT=json RUST_LOG=warn SHUTDOWN_GRACE_SECONDS=5

SERVER_LOG=$BENCH_DIR/server.log
# start_server [VAR=VALUE...]: `serve` with these settings besides the ones
# exported above (SERVER_PID), once /readyz answers.
start_server() {
  env "$@" "$BIN" serve >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$SERVER_LOG" >&2; die "the server stopped during start-up"; }
    sleep 0.2
  done
  curl -fsS -o /dev/null "$BASE/readyz" || die "the server is not ready after 60 s, see $SERVER_LOG"
}
say "server: $BIN serve on $BASE (WORKERS=$WORKER_COUNT, DATABASE_MAX_CONNECTIONS=$POOL_SIZE, log $SERVER_LOG)"
: >"$SERVER_LOG"
start_server

# To try an index or a setting before changing a migration (the server has
# applied the migrations by now).
if [[ -n ${BENCH_SETUP_SQL:-} ]]; then
  say "database: running BENCH_SETUP_SQL"
  sql "$BENCH_SETUP_SQL" >/dev/null
fi

# ---------------------------------------------------------------- 4. agent, body, signatures

# create-token logs to stdout too (warnings only, with RUST_LOG=warn): keep the token line.
TOKEN=$("$BIN" create-token --tenant bench --name bench | grep -E '^awt_' | tail -n 1) ||
  die "create-token printed no token"
AUTH="Authorization: Bearer $TOKEN"
AGENT_JSON=$(curl -fsS -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"name\":\"bench\",\"rate_limit_per_minute\":$RATE_LIMIT_JSON}" "$BASE/api/agents") || die "cannot create the agent"
AGENT_ID=$(json_string id "$AGENT_JSON")
WEBHOOK_URL=$(json_string webhook_url "$AGENT_JSON")
[[ -n $AGENT_ID && $WEBHOOK_URL == "$BASE/agents/$AGENT_ID/webhook" ]] ||
  die "unexpected answer from POST /api/agents: $AGENT_JSON"
SECRET=$(json_string hmac_secret "$(curl -fsS -H "$AUTH" "$BASE/api/agents/$AGENT_ID/webhook-secret")")
[[ ${#SECRET} -eq 44 ]] || die "could not reveal the webhook secret"

# A second tenant's agent, for the fairness probe behind the flood.
TOKEN2=$("$BIN" create-token --tenant bench-quiet --name bench | grep -E '^awt_' | tail -n 1) ||
  die "create-token printed no token"
AGENT2_JSON=$(curl -fsS -H "Authorization: Bearer $TOKEN2" -H 'Content-Type: application/json' \
  -d '{"name":"quiet","rate_limit_per_minute":null}' "$BASE/api/agents") || die "cannot create the second agent"
AGENT2_ID=$(json_string id "$AGENT2_JSON")
WEBHOOK2_URL=$(json_string webhook_url "$AGENT2_JSON")
SECRET2=$(json_string hmac_secret "$(curl -fsS -H "Authorization: Bearer $TOKEN2" "$BASE/api/agents/$AGENT2_ID/webhook-secret")")

# A realistic ticket event (~300 bytes), written without a trailing newline:
# wrk sends exactly these bytes and openssl signs exactly these bytes. The
# loads send distinct copies of it (see signed_bodies).
BODY_TEMPLATE='{"event":"ticket.created","delivery_id":"@ID@","ticket":{"id":48213,"title":"Checkout returns 502 for EU customers since 14:00","priority":"high","status":"open","requester":{"name":"Dana Whitfield","email":"dana.whitfield@example.com"},"tags":["checkout","eu","incident"],"created_at":"2026-11-28T14:03:11Z"},"source":"helpdesk"}'
printf '%s' "$BODY_TEMPLATE" >"$BENCH_DIR/body-template.json"
BODY_FILE=$BENCH_DIR/body.json
printf '%s' "${BODY_TEMPLATE/@ID@/5f0c2b8e-4a1d-4c6e-9b7a-2d3e4f5a6b7c}" >"$BODY_FILE"

# X-Hub-Signature-256 is the lowercase hex HMAC-SHA256 of the raw body, keyed
# with the secret's base64 text. `-r` makes openssl print "<hex> *<file>".
# (The key is on openssl's command line: fine for a throw-away bench agent.)
hmac_hex() { openssl dgst -sha256 -hmac "$1" -r "$BODY_FILE" | cut -d ' ' -f 1; }
GOOD_SIG=$(hmac_hex "$SECRET")
BAD_SIG=$(hmac_hex "not-the-secret-of-this-agent")
[[ $GOOD_SIG =~ ^[0-9a-f]{64}$ ]] || die "unexpected openssl output: $GOOD_SIG"

# signed_bodies NAME COUNT: COUNT distinct signed deliveries for the load run
# NAME, split over one file per wrk thread (target/bench/NAME-<thread>.txt).
# Signed beforehand, so wrk spends no CPU on HMACs during the run.
signed_bodies() {
  node scripts/bench-bodies.mjs "$SECRET" "$BENCH_DIR/body-template.json" "$2" "$THREADS" "$BENCH_DIR/$1"
}

# wrk scripts. Signed loads send a different prepared delivery per request
# (built once per thread, so Lua costs nothing per request besides picking it
# and the response() hook) and note the execution id of every 202; done()
# sums the statuses per thread, writes those ids to SCRIPT.accepted and prints
# machine-readable lines for this script. With a signature argument, the
# script sends one fixed body with that (wrong) signature instead.
write_wrk_script() {
  local script=$1 bodies=$2 pace=${3:-} signature=${4:-}
  cat >"$script" <<EOF
-- Generated by scripts/bench.sh.
local threads = {}
local started = 0
${pace:+function delay() return $pace end}
function setup(thread)
  started = started + 1
  thread:set("thread_number", started)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
  accepted = {}
  wrapped = 0
  prepared = {}
  position = 0
  if "$signature" ~= "" then
    local file = assert(io.open("$BODY_FILE", "rb"))
    wrk.method = "POST"
    wrk.body = file:read("*a")
    file:close()
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-Hub-Signature-256"] = "sha256=$signature"
    return
  end
  local file = assert(io.open("$BENCH_DIR/$bodies-" .. thread_number .. ".txt", "rb"))
  for line in file:lines() do
    local hmac, id, body = line:match("^(%x+)\t([^\t]+)\t(.*)$")
    prepared[#prepared + 1] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = "sha256=" .. hmac,
      ["X-GitHub-Delivery"] = id,
    }, body)
  end
  file:close()
end
if "$signature" == "" then
  function request()
    position = position + 1
    if position > #prepared then
      -- More requests than prepared deliveries: they repeat (and are reported).
      position = 1
      wrapped = wrapped + 1
    end
    return prepared[position]
  end
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 202 then
    accepted[#accepted + 1] = body:match('"execution_id":"([%x-]+)"') or "?"
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "bench requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d/%d/%d/%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout))
  local counts = {}
  local wraps = 0
  local out = assert(io.open("$script.accepted", "w"))
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
    for _, id in ipairs(thread:get("accepted")) do out:write(id, "\n") end
    wraps = wraps + thread:get("wrapped")
  end
  out:close()
  for status, n in pairs(counts) do io.write(string.format("bench status=%d count=%d\n", status, n)) end
  io.write(string.format("bench wrapped=%d\n", wraps))
end
EOF
}
# The deliveries each run needs, with room to spare: the loads are timed, not counted.
say "bodies: signing distinct deliveries for every load run (node scripts/bench-bodies.mjs)"
signed_bodies steady $((STEADY_RATE * STEADY_SECONDS * 2))
signed_bodies signed-warmup $((12000 * WARMUP))
signed_bodies signed $((12000 * DURATION))
signed_bodies sustained $((SUSTAINED_RATE * SUSTAINED_SECONDS * 2))
signed_bodies drain $((12000 * 10))
write_wrk_script "$BENCH_DIR/signed-warmup.lua" signed-warmup
write_wrk_script "$BENCH_DIR/signed.lua" signed
write_wrk_script "$BENCH_DIR/bad-signature.lua" none "" "$BAD_SIG"
# Each steady connection waits this many ms before each request (wrk's delay()).
write_wrk_script "$BENCH_DIR/steady.lua" steady $((1000 * STEADY_CONNECTIONS / STEADY_RATE))
# The sustained run: each connection sends a request every 200 ms plus its
# answer time (wrk waits after each answer, a closed loop; answers took 15-35 ms
# under this load), so the connections are counted for 240 ms; the run reports
# the arrival rate it achieved.
SUSTAINED_CONNECTIONS=$(((SUSTAINED_RATE * 240 + 999) / 1000))
write_wrk_script "$BENCH_DIR/sustained.lua" sustained 200
write_wrk_script "$BENCH_DIR/drain.lua" drain

# One request of each kind first, so a broken set-up fails here and not as a
# flood of errors.
# post_once SIGNATURE [URL]: the fixed body to the agent's webhook (or URL).
post_once() {
  curl -sS -o "$BENCH_DIR/last-response.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "X-Hub-Signature-256: sha256=$1" \
    --data-binary "@$BODY_FILE" "${2:-$WEBHOOK_URL}"
}
[[ $(post_once "$GOOD_SIG") == 202 ]] || die "a signed request was not accepted: $(cat "$BENCH_DIR/last-response.json")"
[[ $(post_once "$BAD_SIG") == 401 ]] || die "a wrongly signed request was not refused with 401"

# ---------------------------------------------------------------- load runs: helpers

# run_wrk NAME SCRIPT SECONDS: runs wrk, shows its report, keeps it in
# target/bench/NAME.txt and sets REQUESTS DURATION_US P50_US P99_US ERRORS and
# STATUS (an associative array: HTTP status -> count); the execution ids of its
# 202s go to ACCEPTED_IDS.
declare -A STATUS
run_wrk() {
  local name=$1 script=$2 seconds=$3 connections=${4:-$CONNECTIONS} out=$BENCH_DIR/$1.txt line
  say "wrk $name: $THREADS threads, $connections connections, ${seconds}s"
  wrk -t "$THREADS" -c "$connections" -d "${seconds}s" --latency -s "$script" "$WEBHOOK_URL" >"$out"
  grep -v '^bench ' "$out" >&2
  STATUS=()
  while read -r line; do
    case $line in
      "bench requests="*)
        read -r REQUESTS DURATION_US P50_US _ P99_US _ ERRORS < <(
          sed -E 's/bench requests=([0-9]+) duration_us=([0-9]+) p50_us=([0-9]+) p90_us=([0-9]+) p99_us=([0-9]+) max_us=([0-9]+) errors=(.*)/\1 \2 \3 \4 \5 \6 \7/' <<<"$line")
        ;;
      "bench status="*)
        [[ $line =~ status=([0-9]+)\ count=([0-9]+) ]] && STATUS[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
        ;;
      "bench wrapped="*)
        WRAPPED=${line#bench wrapped=}
        ((WRAPPED == 0)) || say "WARNING: wrk $name sent more requests than prepared deliveries; some repeated"
        ;;
    esac
  done <"$out"
  [[ -n ${REQUESTS:-} ]] || die "no results from wrk, see $out"
  # The execution ids its 202s named, for reconcile.
  cat "$script.accepted" >>"$ACCEPTED_IDS"
}

# Execution ids of every 202 of the load runs (their scripts' .accepted files).
ACCEPTED_IDS=$BENCH_DIR/accepted-ids.txt
: >"$ACCEPTED_IDS"

# reconcile: every 202 of the load runs named an execution that exists and has
# completed, each only once. Sets RECONCILED ("N of N 202s ...") and RECONCILE_FAILURES.
reconcile() {
  local malformed missing unfinished repeated total
  malformed=$(grep -cvE '^[0-9a-f-]{36}$' "$ACCEPTED_IDS" || true)
  sql "drop table if exists bench_accepted; create table bench_accepted (id uuid)"
  grep -E '^[0-9a-f-]{36}$' "$ACCEPTED_IDS" |
    psql "$BENCH_URL" -X -qAt -v ON_ERROR_STOP=1 -c "\\copy bench_accepted from stdin" >/dev/null
  total=$(sql "select count(*) from bench_accepted")
  repeated=$(sql "select count(*) - count(distinct id) from bench_accepted")
  missing=$(sql "select count(*) from bench_accepted a
                 where not exists (select 1 from agent_executions e where e.id = a.id)")
  unfinished=$(sql "select count(*) from bench_accepted a join agent_executions e using (id)
                    where e.status <> 'completed'")
  RECONCILE_FAILURES=$((malformed + repeated + missing + unfinished))
  RECONCILED="$total 202s: $missing without an execution, $unfinished not completed, $repeated named an execution twice, $malformed without an id"
}

# The server's counter of completions recorded by its workers.
completions_counted() {
  curl -fsS "$BASE/metrics" | awk '/^executions_total\{status="completed"\}/ { print $2; found = 1 } END { if (!found) print 0 }'
}

# Per-second rate with one decimal, and microseconds as milliseconds.
per_second() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n * 1e6 / us }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# "Other statuses" of a run, e.g. "503 x12", or "none".
other_statuses() {
  local want=$1 code list=()
  for code in "${!STATUS[@]}"; do
    [[ $code == "$want" ]] || list+=("$code x${STATUS[$code]}")
  done
  if ((${#list[@]})); then echo "${list[*]}"; else echo none; fi
}

# Server sessions idle in a transaction that began more than 10 s ago. The
# server's transactions last milliseconds, so these were leaked: when a client
# hangs up mid-request (wrk does, with requests in flight, when it stops), a
# pooled connection can be returned inside an open transaction. Terminates
# them (rolling back only work that was never acknowledged: a 202 is sent only
# after its COMMIT) so the queue can drain, and counts them in LEAKED.
LEAKED=0
terminate_leaked() {
  local count
  count=$(sql "select count(pg_terminate_backend(pid)) from pg_stat_activity
               where datname = '$BENCH_DB' and state = 'idle in transaction'
                 and xact_start < now() - interval '10 seconds'")
  ((count > 0)) || return 1
  LEAKED=$((LEAKED + count))
  say "WARNING: terminated $count server connection(s) left idle in a transaction (leaked; the workers were blocked behind them)"
}

commits() { sql "select xact_commit from pg_stat_database where datname = '$BENCH_DB'"; }
pending() { sql "select count(*) from agent_executions where status in ('queued', 'running')"; }
# wait_drained SECONDS: until no execution is queued or running, at most SECONDS.
wait_drained() {
  for _ in $(seq $(($1 * 10))); do (($(pending) == 0)) && return 0; sleep 0.1; done
}

# ---------------------------------------------------------------- 5. 202 -> completed on an idle server

# completed_at - created_at: created_at is set in the enqueue transaction, which
# commits just before the 202 is written, so this is 202 -> completed within a
# millisecond. An execution still pending counts as "until now", which makes
# the figure a lower bound when the queue did not drain in time.
done_p50_ms() {
  sql "select coalesce(round(extract(epoch from percentile_cont(0.5) within group
         (order by coalesce(completed_at, clock_timestamp()) - created_at)) * 1000)::bigint, -1)
       from agent_executions where created_at >= '$1' and created_at < '$2'"
}
# First on an idle server (before the flood, whose backlog can take a long
# time to drain): a trickle of requests 100 ms apart, each picked up by a
# waiting worker (whose idle poll interval is 200 ms).
# The set-up's requests finish first; from here on every completion is counted.
wait_drained 10
COMPLETIONS_BEFORE=$(completions_counted)
COMPLETED_BEFORE=$(sql "select count(*) from agent_executions where status = 'completed'")
say "idle probe: $IDLE_REQUESTS signed requests, 100 ms apart"
T2=$(sql "select clock_timestamp()")
IDLE_ACCEPTED=0
for _ in $(seq "$IDLE_REQUESTS"); do
  [[ $(post_once "$GOOD_SIG") == 202 ]] && IDLE_ACCEPTED=$((IDLE_ACCEPTED + 1))
  sleep 0.1
done
T3=$(sql "select clock_timestamp()")
wait_drained 30
IDLE_DONE_P50=$(done_p50_ms "$T2" "$T3")
say "idle probe: $IDLE_ACCEPTED accepted; 202 -> completed p50 $IDLE_DONE_P50 ms"

# Then under a steady load below what the workers drain: the latency a sender
# sees when the system keeps up (the flood below measures the queue instead).
T4=$(sql "select clock_timestamp()")
run_wrk steady "$BENCH_DIR/steady.lua" "$STEADY_SECONDS" "$STEADY_CONNECTIONS"
T5=$(sql "select clock_timestamp()")
STEADY_ACCEPTED=${STATUS[202]:-0}
STEADY_ACCEPTED_RATE=$(per_second "$STEADY_ACCEPTED" "$DURATION_US")
wait_drained 60
STEADY_DONE_P50=$(done_p50_ms "$T4" "$T5")
STEADY_DONE_P99=$(sql "select coalesce(round(extract(epoch from percentile_cont(0.99) within group
         (order by coalesce(completed_at, clock_timestamp()) - created_at)) * 1000)::bigint, -1)
       from agent_executions where created_at >= '$T4' and created_at < '$T5'")
say "steady: $STEADY_ACCEPTED_RATE accepted/s; 202 -> completed p50 $STEADY_DONE_P50 ms, p99 $STEADY_DONE_P99 ms"

# ---------------------------------------------------------------- 6. signed flood

# Warm-up: connections, the pool, caches and Postgres' buffers; not counted.
run_wrk signed-warmup "$BENCH_DIR/signed-warmup.lua" "$WARMUP"

T0=$(sql "select clock_timestamp()")
C0=$(commits)
PG0=$(postgres_ticks)
CPU0=$(cpu_snapshot)
run_wrk signed "$BENCH_DIR/signed.lua" "$DURATION"
CPU1=$(cpu_snapshot)
PG1=$(postgres_ticks)
C1=$(commits)
T1=$(sql "select clock_timestamp()")
PENDING_AT_END=$(pending)


ACCEPTED=${STATUS[202]:-0}
SIGNED_REQUESTS=$REQUESTS
ACCEPTED_RATE=$(per_second "$ACCEPTED" "$DURATION_US")
SIGNED_P50_US=$P50_US
SIGNED_P99_US=$P99_US
SIGNED_OTHER=$(other_statuses 202)
SIGNED_ERRORS=$ERRORS
SIGNED_CPU='' SIGNED_PER_REQUEST=''
{ read -r SIGNED_CPU; read -r SIGNED_PER_REQUEST; } < <(cpu_split "$CPU0" "$CPU1" "$(bench_postgres_ticks "$PG0" "$PG1")" "$SIGNED_REQUESTS") || true
# Executions whose transaction started in the window: every 202 wrk counted,
# plus the few whose answer was still in flight when wrk stopped.
ROWS=$(sql "select count(*) from agent_executions where created_at >= '$T0' and created_at < '$T1'")
DONE_DURING=$(sql "select count(*) from agent_executions where completed_at >= '$T0' and completed_at < '$T1'")
WORKER_RATE=$(per_second "$DONE_DURING" "$DURATION_US")
COMMITS_PER_S=$(per_second $((C1 - C0)) "$DURATION_US")
say "signed: $ACCEPTED_RATE accepted/s, p50 $(ms "$SIGNED_P50_US") ms, p99 $(ms "$SIGNED_P99_US") ms" \
  "($ACCEPTED x 202 of $SIGNED_REQUESTS; $ROWS rows committed; other statuses: $SIGNED_OTHER)"
say "signed: workers completed $WORKER_RATE/s meanwhile; $COMMITS_PER_S commits/s; CPU $SIGNED_CPU"
say "signed: $SIGNED_PER_REQUEST"

# ---------------------------------------------------------------- 7. drain, then 202 -> completed of the flood

say "draining the queue: $PENDING_AT_END executions pending at the end of the load"
DRAIN_START=$SECONDS
PG4=$(postgres_ticks)
CPU4=$(cpu_snapshot)
LEFT=$PENDING_AT_END
NEXT_REPORT=30
LAST_PROGRESS=$SECONDS
NEXT_LEAK_CHECK=10
STALL_NOTE=
while ((LEFT > 0 && SECONDS - DRAIN_START < DRAIN_TIMEOUT)); do
  sleep 1
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server stopped while draining, see $SERVER_LOG"
  BEFORE=$LEFT
  LEFT=$(pending)
  ((LEFT == BEFORE)) || LAST_PROGRESS=$SECONDS
  if ((SECONDS - DRAIN_START >= NEXT_REPORT)); then
    say "  $LEFT still pending ($(((PENDING_AT_END - LEFT) / (SECONDS - DRAIN_START)))/s so far)"
    NEXT_REPORT=$((NEXT_REPORT + 30))
  fi
  # A pooled connection idle inside a transaction that began long ago was
  # leaked by the server (see terminate_leaked); whoever uses it next, often a
  # worker, never commits, and the other workers wait on its row locks forever.
  if ((SECONDS - DRAIN_START >= NEXT_LEAK_CHECK)); then
    terminate_leaked && LAST_PROGRESS=$SECONDS
    NEXT_LEAK_CHECK=$((NEXT_LEAK_CHECK + 10))
  fi
  # No progress for a minute for another reason: say so instead of waiting.
  if ((SECONDS - LAST_PROGRESS >= 60)); then
    STALL_NOTE="queue stalled: no progress for 60 s"
    say "$STALL_NOTE"
    break
  fi
done
DRAIN_SECONDS=$((SECONDS - DRAIN_START))
STILL_PENDING=$LEFT
# The workers' cost per execution, with no HTTP load besides.
CPU5=$(cpu_snapshot)
PG5=$(postgres_ticks)
DRAINED=$((PENDING_AT_END - STILL_PENDING))
DRAIN_RATE=$(per_second "$DRAINED" $((DRAIN_SECONDS * 1000000 + 1)))
DRAIN_CPU='' DRAIN_PER_EXECUTION=''
{ read -r DRAIN_CPU; read -r DRAIN_PER_EXECUTION; } < <(cpu_split "$CPU4" "$CPU5" "$(bench_postgres_ticks "$PG4" "$PG5")" "$DRAINED" psql) || true
DRAIN_PER_EXECUTION=${DRAIN_PER_EXECUTION/per request/per execution}
say "drain: $DRAIN_RATE executions/s; CPU $DRAIN_CPU"
[[ -z $DRAIN_PER_EXECUTION ]] || say "drain: $DRAIN_PER_EXECUTION"
FAILED=$(sql "select count(*) from agent_executions where status = 'failed'")
# Every 202 must still be there after the drain (and any terminated session).
ROWS_AFTER_DRAIN=$(sql "select count(*) from agent_executions where created_at >= '$T0' and created_at < '$T1'")
((ROWS_AFTER_DRAIN >= ACCEPTED)) ||
  say "WARNING: only $ROWS_AFTER_DRAIN executions of the measured run are left for $ACCEPTED 202s"

FLOOD_DONE_P50=$(done_p50_ms "$T0" "$T1")

# Every 202 so far (steady, warm-up, flood) against the executions, and the
# workers' completion counter against the completed rows.
reconcile
COMPLETED_ROWS=$(($(sql "select count(*) from agent_executions where status = 'completed'") - COMPLETED_BEFORE))
COMPLETIONS_COUNTED=$(($(completions_counted) - COMPLETIONS_BEFORE))
say "reconciled: $RECONCILED; $COMPLETIONS_COUNTED completions counted for $COMPLETED_ROWS completed executions"
((COMPLETIONS_COUNTED == COMPLETED_ROWS)) || RECONCILE_FAILURES=$((RECONCILE_FAILURES + 1))

# ---------------------------------------------------------------- 7b. sustained arrival rate

# SUSTAINED_RATE arrivals/s for SUSTAINED_SECONDS while the workers run: the
# figure is the rate at which accepted = completed with the backlog bounded.
# Per second, from the rows: accepted (created_at) and completed (completed_at);
# the backlog is their running difference.
say "sustained: $SUSTAINED_RATE/s for ${SUSTAINED_SECONDS}s ($SUSTAINED_CONNECTIONS connections, 200 ms apart)"
T6=$(sql "select clock_timestamp()")
run_wrk sustained "$BENCH_DIR/sustained.lua" "$SUSTAINED_SECONDS" "$SUSTAINED_CONNECTIONS"
T7=$(sql "select clock_timestamp()")
SUSTAINED_ACCEPTED=${STATUS[202]:-0}
REQUESTS_SUSTAINED=$REQUESTS
SUSTAINED_ACCEPTED_RATE=$(per_second "$SUSTAINED_ACCEPTED" "$DURATION_US")
SUSTAINED_OTHER=$(other_statuses 202)
sql "with accepted as (
       select floor(extract(epoch from created_at - '$T6'))::int as s, count(*) as n
       from agent_executions where created_at >= '$T6' and created_at < '$T7' group by 1
     ), completed as (
       select floor(extract(epoch from completed_at - '$T6'))::int as s, count(*) as n
       from agent_executions
       where created_at >= '$T6' and completed_at >= '$T6' and completed_at < '$T7' group by 1
     )
     select g.s, coalesce(a.n, 0), coalesce(c.n, 0),
            sum(coalesce(a.n, 0) - coalesce(c.n, 0)) over (order by g.s)
     from generate_series(0, ceil(extract(epoch from '$T7'::timestamptz - '$T6'))::int - 1) as g(s)
     left join accepted a using (s) left join completed c using (s)
     order by g.s" | tr '|' ' ' >"$BENCH_DIR/sustained-per-second.txt"
# Bounded: the backlog at the end is under one second of arrivals, and the
# largest backlog of the second half is no larger than that of the first half
# plus one second of arrivals (it does not grow).
read -r MAX_BACKLOG END_BACKLOG SUSTAINED_BOUNDED < <(awk -v rate="$SUSTAINED_RATE" '
  { backlog[NR] = $4; if ($4 > max) max = $4 }
  END {
    half = int(NR / 2)
    for (i = 1; i <= NR; i++) if (i <= half) { if (backlog[i] > first) first = backlog[i] } else if (backlog[i] > second) second = backlog[i]
    bounded = (backlog[NR] < rate && second <= first + rate) ? "yes" : "no"
    print max + 0, backlog[NR] + 0, bounded
  }' "$BENCH_DIR/sustained-per-second.txt")
SUSTAINED_COMPLETED=$(sql "select count(*) from agent_executions where created_at >= '$T6' and created_at < '$T7'
                             and completed_at < '$T7'")
SUSTAINED_COMPLETED_RATE=$(per_second "$SUSTAINED_COMPLETED" "$DURATION_US")
wait_drained 60
SUSTAINED_DONE_P50=$(done_p50_ms "$T6" "$T7")
say "sustained: $SUSTAINED_ACCEPTED_RATE accepted/s, $SUSTAINED_COMPLETED_RATE completed/s within the run;" \
  "backlog at most $MAX_BACKLOG, $END_BACKLOG at the end: bounded $SUSTAINED_BOUNDED; 202 -> completed p50 $SUSTAINED_DONE_P50 ms"
say "sustained: per second (s accepted completed backlog) in $BENCH_DIR/sustained-per-second.txt"
reconcile
say "reconciled after the sustained run: $RECONCILED"

if ((STILL_PENDING == 0)); then
  say "drained in ${DRAIN_SECONDS}s; 202 -> completed p50 of the flood: $FLOOD_DONE_P50 ms"
  FLOOD_DONE_TEXT="$FLOOD_DONE_P50 ms"
else
  say "gave up after ${DRAIN_SECONDS}s: $STILL_PENDING executions still pending"
  FLOOD_DONE_TEXT=">= $FLOOD_DONE_P50 ms"
fi

# ---------------------------------------------------------------- 8. bad signatures

# Same body, wrong signature: the agent is looked up and the secret decrypted,
# then the request is refused with 401 (failures are audited only a few per minute).
run_wrk bad-signature-warmup "$BENCH_DIR/bad-signature.lua" "$WARMUP"
ROWS_BEFORE_BAD=$(sql "select count(*) from agent_executions")
PG2=$(postgres_ticks)
CPU2=$(cpu_snapshot)
run_wrk bad-signature "$BENCH_DIR/bad-signature.lua" "$DURATION"
CPU3=$(cpu_snapshot)
PG3=$(postgres_ticks)
ROWS_AFTER_BAD=$(sql "select count(*) from agent_executions")
REJECTED=${STATUS[401]:-0}
BAD_REQUESTS=$REQUESTS
REJECTED_RATE=$(per_second "$REJECTED" "$DURATION_US")
BAD_P50_US=$P50_US
BAD_P99_US=$P99_US
BAD_OTHER=$(other_statuses 401)
BAD_ERRORS=$ERRORS
BAD_CPU='' BAD_PER_REQUEST=''
{ read -r BAD_CPU; read -r BAD_PER_REQUEST; } < <(cpu_split "$CPU2" "$CPU3" "$(bench_postgres_ticks "$PG2" "$PG3")" "$BAD_REQUESTS") || true
say "bad signature: $REJECTED_RATE rejected/s ($REJECTED x 401 of $BAD_REQUESTS; other statuses: $BAD_OTHER); CPU $BAD_CPU"
say "bad signature: $BAD_PER_REQUEST"

# ---------------------------------------------------------------- 9. peak RSS

# VmHWM: the high-water mark of the resident set over the process' whole life.
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
RSS_MB=$(awk -v kb="$HWM_KB" 'BEGIN { printf "%.1f", kb * 1024 / 1e6 }')

# ---------------------------------------------------------------- 9b. the queue alone

# The queue measured apart from the front door, on the server restarted
# web-only (WORKERS=0), so that only separate `agent-webhooks worker` processes
# work the queue:
# - drain: a 10 s flood leaves a backlog, then a worker process with the
#   defaults (2 claim loops, built-in runner) drains it;
# - fairness: 1 s into that drain, a second tenant's single webhook; its 202 ->
#   completed shows whether it waited for the first tenant's backlog;
# - concurrency: runs that wait on the network (a runtime calling an HTTP service
#   or an LLM) must not hold the drain down: a runner that waits SLOW_RUN_MS per
#   execution drains a backlog of SLOW_BACKLOG with 16 and with 64 runs in flight.
say "queue: restarting the server web-only (WORKERS=0)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
start_server WORKERS=0

# start_worker NAME [VAR=VALUE...]: an `agent-webhooks worker` process (WORKER_PID).
start_worker() {
  local name=$1
  shift
  env "$@" "$BIN" worker >"$BENCH_DIR/worker-$name.log" 2>&1 &
  WORKER_PID=$!
}
stop_worker() { kill -TERM "$WORKER_PID"; wait "$WORKER_PID" || true; }
# rate_since T: executions/s of those created since T, from the first start to the last completion.
rate_since() {
  sql "select coalesce(round(count(*) / nullif(extract(epoch from max(completed_at) - min(started_at)), 0))::bigint, -1)
       from agent_executions where created_at >= '$1' and status = 'completed'"
}

# The worker polls an empty queue first and is paused during the flood: its
# statements were planned (and any plan cached) while the queue was empty, as
# in a process that has been idle for a while when a burst arrives.
start_worker drain WORKERS=2 WORKER_POLL_INTERVAL_MS=50
sleep 3
kill -STOP "$WORKER_PID"
T10=$(sql "select clock_timestamp()")
run_wrk drain-backlog "$BENCH_DIR/drain.lua" 10
DRAIN_BACKLOG=$(pending)
kill -CONT "$WORKER_PID"
sleep 1
FAIR_BEHIND=$(pending)
FAIR_CODE=$(post_once "$(hmac_hex "$SECRET2")" "$WEBHOOK2_URL")
FAIR_ID=$(json_string execution_id "$(cat "$BENCH_DIR/last-response.json")")
[[ $FAIR_CODE == 202 && -n $FAIR_ID ]] || die "the second tenant's webhook was not accepted ($FAIR_CODE)"
wait_drained 180
stop_worker
QUEUE_DRAIN_RATE=$(rate_since "$T10")
FAIR_MS=$(sql "select coalesce(round(extract(epoch from completed_at - created_at) * 1000)::bigint, -1)
               from agent_executions where id = '$FAIR_ID'")
say "queue: a backlog of $DRAIN_BACKLOG drained at $QUEUE_DRAIN_RATE/s by one worker process (2 claim loops)"
say "queue: a second tenant's webhook sent behind $FAIR_BEHIND pending: 202 -> completed in $FAIR_MS ms"

declare -A SLOW_RATE
for LEVEL in 16 64; do
  signed_bodies "slow-$LEVEL" $((SLOW_BACKLOG * 2))
  write_wrk_script "$BENCH_DIR/slow-$LEVEL.lua" "slow-$LEVEL" 10
  T8=$(sql "select clock_timestamp()")
  # The backlog, paced at 1,000/s (10 connections, 10 ms apart).
  run_wrk "slow-$LEVEL-backlog" "$BENCH_DIR/slow-$LEVEL.lua" $(((SLOW_BACKLOG + 999) / 1000)) 10
  BACKLOG=$(pending)
  start_worker "slow-$LEVEL" WORKERS=1 WORKER_CONCURRENCY=$LEVEL BUILTIN_RUNNER_DELAY_MS=$SLOW_RUN_MS
  wait_drained 120
  stop_worker
  SLOW_RATE[$LEVEL]=$(rate_since "$T8")
  say "concurrency $LEVEL: $BACKLOG executions of ${SLOW_RUN_MS} ms each drained at ${SLOW_RATE[$LEVEL]}/s (at most $((LEVEL * 1000 / SLOW_RUN_MS))/s)"
done

# ---------------------------------------------------------------- 9c. scale-out

# One and two processes of each tier, on these cores and this database. The web-only server
# is web1; web2 is a second `serve --workers 0` with the same settings. Loads go through
# HAProxy (Debian's, round-robin, as in `make cluster`) both times, so its cost is in both
# figures: LB1 balances over web1 alone, LB2 over web1 and web2.
# - front door: SCALE_SECONDS of signed load through LB1, then through LB2, no worker
#   running (each leaves a backlog);
# - drain: LB1's backlog by one worker process, LB2's by two.
# The CPU time per webhook of each process (web, HAProxy, Postgres, worker) is what the
# capacity model in docs/operations.md is built from.
WEB2_PORT=$(free_port) || die "no free loopback port found"
LB1_PORT=$(free_port) || die "no free loopback port found"
LB2_PORT=$(free_port) || die "no free loopback port found"
# Smaller pools than web1's 40 (each process would open up to that many): two web processes
# and two workers stay under Postgres' default max_connections of 100. 20 is more than the
# 16 requests each web process has in flight, and than a worker's claim loops use.
SCALE_POOL=20
env WORKERS=0 DATABASE_MAX_CONNECTIONS=$SCALE_POOL LEPTOS_SITE_ADDR=127.0.0.1:$WEB2_PORT "$BIN" serve >"$BENCH_DIR/web2.log" 2>&1 &
WEB2_PID=$!
# write_haproxy_config FILE PORT SERVER_PORT...: round-robin over loopback ports.
write_haproxy_config() {
  local file=$1 port=$2 n=0 server
  shift 2
  {
    printf 'global\n  maxconn 4096\n'
    printf 'defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n'
    printf 'frontend webhooks\n  bind 127.0.0.1:%s\n  default_backend web\n' "$port"
    printf 'backend web\n  balance roundrobin\n'
    for server in "$@"; do
      n=$((n + 1))
      printf '  server web%s 127.0.0.1:%s\n' "$n" "$server"
    done
  } >"$file"
}
write_haproxy_config "$BENCH_DIR/haproxy-1.cfg" "$LB1_PORT" "$PORT"
write_haproxy_config "$BENCH_DIR/haproxy-2.cfg" "$LB2_PORT" "$PORT" "$WEB2_PORT"
haproxy -f "$BENCH_DIR/haproxy-1.cfg" -db >"$BENCH_DIR/haproxy-1.log" 2>&1 &
LB1_PID=$!
haproxy -f "$BENCH_DIR/haproxy-2.cfg" -db >"$BENCH_DIR/haproxy-2.log" 2>&1 &
LB2_PID=$!
for _ in $(seq 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$WEB2_PORT/readyz" 2>/dev/null &&
    curl -fsS -o /dev/null "http://127.0.0.1:$LB2_PORT/readyz" 2>/dev/null && break
  kill -0 "$WEB2_PID" 2>/dev/null || { tail -n 20 "$BENCH_DIR/web2.log" >&2; die "web2 stopped during start-up"; }
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$WEB2_PORT/readyz" || die "web2 is not ready after 60 s, see $BENCH_DIR/web2.log"
curl -fsS -o /dev/null "http://127.0.0.1:$LB1_PORT/readyz" || die "HAProxy does not answer, see $BENCH_DIR/haproxy-1.log"
SCALE_SECONDS=$DURATION
LB_URL() { echo "http://127.0.0.1:$1/agents/$AGENT_ID/webhook"; }
signed_bodies scale-warmup $((12000 * 3))
signed_bodies scale-1 $((12000 * SCALE_SECONDS))
signed_bodies scale-2 $((12000 * SCALE_SECONDS))
write_wrk_script "$BENCH_DIR/scale-warmup.lua" scale-warmup
write_wrk_script "$BENCH_DIR/scale-1.lua" scale-1
write_wrk_script "$BENCH_DIR/scale-2.lua" scale-2

# sum_ticks PID...: their CPU time in clock ticks.
sum_ticks() {
  local pid total=0
  for pid in "$@"; do ticks_of "$pid"; total=$((total + TICKS)); done
  echo "$total"
}
# per_item_us TICKS COUNT: CPU microseconds per item.
per_item_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : -1) }'; }

# scale_front NAME LB_PORT PIDS...: a signed load through that balancer; sets SCALE_RATE and
# SCALE_COST ("web A us + haproxy B us + postgres C us + wrk D us per webhook").
scale_front() {
  local name=$1 lb_port=$2 lb_pid=$3 w0 h0 p0 k0 w1 h1 p1 k1
  shift 3
  w0=$(sum_ticks "$@"); h0=$(sum_ticks "$lb_pid"); p0=$(postgres_ticks); ticks_of $$ children; k0=$TICKS
  WEBHOOK_URL=$(LB_URL "$lb_port") run_wrk "$name" "$BENCH_DIR/$name.lua" "$SCALE_SECONDS"
  w1=$(sum_ticks "$@"); h1=$(sum_ticks "$lb_pid"); p1=$(postgres_ticks); ticks_of $$ children; k1=$TICKS
  local n=${STATUS[202]:-0}
  SCALE_RATE=$(per_second "$n" "$DURATION_US")
  SCALE_COST="web $(per_item_us $((w1 - w0)) "$n") us + haproxy $(per_item_us $((h1 - h0)) "$n") us + postgres $(per_item_us "$(bench_postgres_ticks "$p0" "$p1")" "$n") us + wrk $(per_item_us $((k1 - k0)) "$n") us per webhook (other statuses: $(other_statuses 202))"
}
# scale_drain COUNT: COUNT worker processes (2 claim loops each) drain the backlog; sets
# DRAIN_N_RATE and DRAIN_N_COST ("worker A us + postgres B us per execution").
scale_drain() {
  local count=$1 pids=() t p0 p1 pg w=0 n backlog left
  t=$(sql "select clock_timestamp()")
  backlog=$(pending)
  p0=$(postgres_ticks)
  for _ in $(seq "$count"); do
    env WORKERS=2 DATABASE_MAX_CONNECTIONS=$SCALE_POOL "$BIN" worker >>"$BENCH_DIR/worker-scale-$count.log" 2>&1 &
    pids+=($!)
  done
  SCALE_WORKER_PIDS=${pids[*]}
  wait_drained 180
  left=$(pending)
  ((left == 0)) || say "WARNING: $left executions still pending after 180 s: the drain rate below is partial"
  # Before the workers stop: their backends are counted only while they are connected.
  p1=$(postgres_ticks)
  pg=$(bench_postgres_ticks "$p0" "$p1")
  w=$(sum_ticks "${pids[@]}")
  kill -0 "${pids[@]}" 2>/dev/null || say "WARNING: a worker process exited during the drain, see $BENCH_DIR/worker-scale-$count.log"
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  SCALE_WORKER_PIDS=''
  n=$(sql "select count(*) from agent_executions where completed_at >= '$t'")
  DRAIN_N_RATE=$(sql "select coalesce(round(count(*) / nullif(extract(epoch from max(completed_at) - min(started_at)), 0))::bigint, -1)
       from agent_executions where completed_at >= '$t'")
  DRAIN_N_COST="worker $(per_item_us "$w" "$n") us + postgres $(per_item_us "$pg" "$n") us per execution (a backlog of $backlog)"
}

say "scale-out: web2 on 127.0.0.1:$WEB2_PORT; HAProxy over web1 on $LB1_PORT, over web1 and web2 on $LB2_PORT"
WEBHOOK_URL=$(LB_URL "$LB2_PORT") run_wrk scale-warmup "$BENCH_DIR/scale-warmup.lua" 3

# The shared rate limit's cost, measured within this run so that the machine's drift
# between runs does not hide it: the front door of one web process (through LB1, nothing
# draining) with the agent limited (RATE_LIMIT, or 1,000,000/min: a token taken per
# batch, never refused) and without a limit (no token), alternating, LIMIT_ROUNDS each.
LIMIT_ROUNDS=${BENCH_LIMIT_ROUNDS:-2}
LIMIT_SECONDS=${BENCH_LIMIT_SECONDS:-8}
LIMITED_JSON=$RATE_LIMIT_JSON
[[ $LIMITED_JSON != null ]] || LIMITED_JSON=1000000
set_agent_limit() {
  curl -fsS -o /dev/null -X PATCH -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"rate_limit_per_minute\":$1}" "$BASE/api/agents/$AGENT_ID" || die "cannot set the agent's rate limit"
  sleep 0.5 # the cached agent is dropped on the NOTIFY
}
declare -A LIMIT_ACCEPTED=([limited]=0 [unlimited]=0) LIMIT_US=([limited]=0 [unlimited]=0)
for ROUND in $(seq "$LIMIT_ROUNDS"); do
  for MODE in limited unlimited; do
    if [[ $MODE == limited ]]; then set_agent_limit "$LIMITED_JSON"; else set_agent_limit null; fi
    signed_bodies "limit-$MODE-$ROUND" $((12000 * LIMIT_SECONDS))
    write_wrk_script "$BENCH_DIR/limit-$MODE-$ROUND.lua" "limit-$MODE-$ROUND"
    WEBHOOK_URL=$(LB_URL "$LB1_PORT") run_wrk "limit-$MODE-$ROUND" "$BENCH_DIR/limit-$MODE-$ROUND.lua" "$LIMIT_SECONDS"
    LIMIT_ACCEPTED[$MODE]=$((LIMIT_ACCEPTED[$MODE] + ${STATUS[202]:-0}))
    LIMIT_US[$MODE]=$((LIMIT_US[$MODE] + DURATION_US))
    say "limit cost, round $ROUND, $MODE: $(per_second "${STATUS[202]:-0}" "$DURATION_US") accepted/s"
  done
done
set_agent_limit "$RATE_LIMIT_JSON"
LIMITED_RATE=$(per_second "${LIMIT_ACCEPTED[limited]}" "${LIMIT_US[limited]}")
UNLIMITED_RATE=$(per_second "${LIMIT_ACCEPTED[unlimited]}" "${LIMIT_US[unlimited]}")
LIMIT_CHANGE=$(awk -v a="$LIMITED_RATE" -v b="$UNLIMITED_RATE" 'BEGIN { printf "%+.1f%%", (b > 0 ? (a - b) * 100 / b : 0) }')
say "limit cost: $LIMITED_RATE accepted/s limited ($LIMITED_JSON/min) against $UNLIMITED_RATE unlimited: $LIMIT_CHANGE"
scale_drain 2
scale_front scale-1 "$LB1_PORT" "$LB1_PID" "$SERVER_PID"
SCALE1_RATE=$SCALE_RATE SCALE1_COST=$SCALE_COST
say "scale-out: one web process: $SCALE1_RATE accepted/s; $SCALE1_COST"
scale_drain 1
DRAIN1_RATE=$DRAIN_N_RATE DRAIN1_COST=$DRAIN_N_COST
say "scale-out: one worker process: $DRAIN1_RATE executions/s; $DRAIN1_COST"
scale_front scale-2 "$LB2_PORT" "$LB2_PID" "$SERVER_PID" "$WEB2_PID"
SCALE2_RATE=$SCALE_RATE SCALE2_COST=$SCALE_COST
say "scale-out: two web processes: $SCALE2_RATE accepted/s; $SCALE2_COST"
scale_drain 2
DRAIN2_RATE=$DRAIN_N_RATE DRAIN2_COST=$DRAIN_N_COST
say "scale-out: two worker processes: $DRAIN2_RATE executions/s; $DRAIN2_COST"
kill -TERM "$WEB2_PID" "$LB1_PID" "$LB2_PID" 2>/dev/null || true
wait "$WEB2_PID" "$LB1_PID" "$LB2_PID" 2>/dev/null || true
WEB2_PID='' LB1_PID='' LB2_PID=''
reconcile
say "reconciled at the end: $RECONCILED"

# PostgreSQL's durability settings: figures measured without them mean little.
DURABILITY=$(sql "select 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')
                  || ', full_page_writes=' || current_setting('full_page_writes')")
DURABLE=yes
[[ $DURABILITY == "fsync=on, synchronous_commit=on, full_page_writes=on" ]] || DURABLE=no

# ---------------------------------------------------------------- 10. summary

# verdict VALUE OP TARGET: PASS or MISS. A negative value (nothing measured) misses.
verdict() {
  if awk -v v="$1" -v op="$2" -v t="$3" \
      'BEGIN { exit !((op == ">=" && v >= t) || (op == "<" && v >= 0 && v < t)) }'; then
    echo PASS
  else
    echo MISS
  fi
}
V_ACCEPTED=$(verdict "$ACCEPTED_RATE" '>=' "$TARGET_ACCEPTED")
V_P99=$(verdict "$(ms "$SIGNED_P99_US")" '<' "$TARGET_P99_MS")
V_REJECTED=$(verdict "$REJECTED_RATE" '>=' "$TARGET_REJECTED")
V_IDLE=$(verdict "$IDLE_DONE_P50" '<' "$TARGET_IDLE_DONE_MS")
V_STEADY=$(verdict "$STEADY_DONE_P50" '<' "$TARGET_DONE_MS")
V_RSS=$(verdict "$RSS_MB" '<' "$TARGET_RSS_MB")
V_DRAIN=$(verdict "$QUEUE_DRAIN_RATE" '>=' "$TARGET_DRAIN")
V_FAIR=$(verdict "$FAIR_MS" '<' "$TARGET_FAIR_MS")
V_SLOW=$(verdict "${SLOW_RATE[64]}" '>=' "$TARGET_SLOW_DRAIN")
V_SUSTAINED=MISS
if [[ $SUSTAINED_BOUNDED == yes ]] && ((SUSTAINED_COMPLETED_RATE >= TARGET_SUSTAINED)); then V_SUSTAINED=PASS; fi
V_DURABLE=PASS; [[ $DURABLE == yes ]] || V_DURABLE=MISS
V_LIMIT=$(verdict "${LIMIT_CHANGE%\%}" '>=' -10)
V_RECONCILED=PASS; ((RECONCILE_FAILURES == 0)) || V_RECONCILED=MISS
MISSED=$(printf '%s\n' "$V_ACCEPTED" "$V_P99" "$V_REJECTED" "$V_IDLE" "$V_STEADY" "$V_RSS" "$V_DRAIN" \
  "$V_FAIR" "$V_SLOW" "$V_SUSTAINED" "$V_DURABLE" "$V_LIMIT" | grep -c MISS || true)
row() { printf '  %-44s %16s   %-12s %s\n' "$@"; }

CPU_MODEL=$(lscpu 2>/dev/null | sed -nE 's/^Model name:[[:space:]]+//p' | head -n 1)
MEM=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
PG=$(sql "select 'PostgreSQL ' || current_setting('server_version') || ', synchronous_commit='
            || current_setting('synchronous_commit') || ', autovacuum=' || current_setting('autovacuum')")
# sqlx asks for TLS when the server offers it (sslmode=prefer), even on loopback.
TLS=$(sql "select count(*) filter (where s.ssl) || ' of ' || count(*) from pg_stat_ssl s
             join pg_stat_activity a using (pid) where a.datname = '$BENCH_DB' and a.pid <> pg_backend_pid()")
{
  echo
  echo "== webhook benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "   $CORES cores (${CPU_MODEL:-unknown CPU}), $MEM RAM; $PG"
  echo "   wrk $THREADS threads / $CONNECTIONS connections, ${WARMUP}s warm-up + ${DURATION}s measured per run;"
  echo "   server WORKERS=$WORKER_COUNT DATABASE_MAX_CONNECTIONS=$POOL_SIZE; its database connections using TLS: $TLS"
  echo "   the loaded agent's rate_limit_per_minute: $RATE_LIMIT_JSON"
  echo "   database $(redact_url "$BENCH_URL"); $DURABILITY"
  echo
  row "figure" "measured" "target" "verdict"
  row "accepted webhooks/s (202)" "$ACCEPTED_RATE" ">= $TARGET_ACCEPTED" "$V_ACCEPTED"
  row "p50 latency, signed requests" "$(ms "$SIGNED_P50_US") ms" "" ""
  row "p99 latency, signed requests" "$(ms "$SIGNED_P99_US") ms" "< $TARGET_P99_MS ms" "$V_P99"
  row "bad-signature rejections/s (401)" "$REJECTED_RATE" ">= $TARGET_REJECTED" "$V_REJECTED"
  row "  p50 / p99 latency of rejections" "$(ms "$BAD_P50_US") / $(ms "$BAD_P99_US") ms" "" ""
  row "202 -> completed p50, idle server" "$IDLE_DONE_P50 ms" "< $TARGET_IDLE_DONE_MS ms" "$V_IDLE"
  row "202 -> completed p50, steady $STEADY_ACCEPTED_RATE/s" "$STEADY_DONE_P50 ms" "< $TARGET_DONE_MS ms" "$V_STEADY"
  row "  p99 of the steady run" "$STEADY_DONE_P99 ms" "" ""
  row "workers' completions during the flood" "$WORKER_RATE/s" "" ""
  row "queue drain, 2 claim loops, built-in runner" "$QUEUE_DRAIN_RATE/s" ">= $TARGET_DRAIN/s" "$V_DRAIN"
  row "  backlog drained" "$DRAIN_BACKLOG" "" ""
  row "second tenant's webhook behind the backlog" "$FAIR_MS ms" "< $TARGET_FAIR_MS ms" "$V_FAIR"
  row "sustained ${SUSTAINED_SECONDS}s: accepted/s" "$SUSTAINED_ACCEPTED_RATE" "" ""
  row "  completed/s, backlog bounded" "$SUSTAINED_COMPLETED_RATE, $SUSTAINED_BOUNDED" ">= $TARGET_SUSTAINED, yes" "$V_SUSTAINED"
  row "  backlog max / at the end" "$MAX_BACKLOG / $END_BACKLOG" "" ""
  row "drain, ${SLOW_RUN_MS} ms runner, 16 in flight" "${SLOW_RATE[16]}/s" "" ""
  row "drain, ${SLOW_RUN_MS} ms runner, 64 in flight" "${SLOW_RATE[64]}/s" ">= $TARGET_SLOW_DRAIN/s" "$V_SLOW"
  row "shared rate limit: accepted/s limited" "$LIMITED_RATE/s" "" ""
  row "  unlimited, same run (change)" "$UNLIMITED_RATE/s ($LIMIT_CHANGE)" ">= -10%" "$V_LIMIT"
  row "scale-out, via HAProxy: 1 web process" "$SCALE1_RATE/s" "" ""
  row "  2 web processes" "$SCALE2_RATE/s" "" ""
  row "  drain, 1 worker process" "$DRAIN1_RATE/s" "" ""
  row "  drain, 2 worker processes" "$DRAIN2_RATE/s" "" ""
  row "every 202 reconciled, completed once" "$RECONCILE_FAILURES failures" "0" "$V_RECONCILED"
  row "durability (fsync, sync commit, FPW)" "$DURABLE" "yes" "$V_DURABLE"
  row "  202 -> completed p50 of the flood" "$FLOOD_DONE_TEXT" "(queueing)" ""
  row "peak RSS of the server (VmHWM)" "$RSS_MB MB" "< $TARGET_RSS_MB MB" "$V_RSS"
  echo
  echo "   signed run:  $ACCEPTED accepted of $SIGNED_REQUESTS requests; other statuses: $SIGNED_OTHER;"
  echo "                socket errors connect/read/write/timeout: $SIGNED_ERRORS;"
  echo "                $ROWS execution rows committed in the window (cross-check of the 202s);"
  echo "                $COMMITS_PER_S Postgres commits/s in the bench database"
  echo "   queue:       workers completed $WORKER_RATE executions/s during the flood;"
  echo "                $PENDING_AT_END pending at its end, $STILL_PENDING after ${DRAIN_SECONDS}s of draining; $FAILED failed;${STALL_NOTE:+ $STALL_NOTE;}"
  echo "                $ROWS_AFTER_DRAIN execution rows of the measured run after draining"
  echo "   CPU, drain after the flood:  $DRAIN_CPU ($DRAIN_RATE executions/s)"
  [[ -z $DRAIN_PER_EXECUTION ]] || echo "                $DRAIN_PER_EXECUTION"
  if ((LEAKED > 0)); then
    echo "   LEAK:        $LEAKED server connection(s) were left idle in a transaction after clients hung up"
    echo "                mid-request; the bench terminated them so that the queue could drain"
  fi
  echo "   CPU, signed: $SIGNED_CPU"
  echo "                $SIGNED_PER_REQUEST"
  echo "   bad run:     $REJECTED rejected of $BAD_REQUESTS requests; other statuses: $BAD_OTHER;"
  echo "                socket errors: $BAD_ERRORS; executions created: $((ROWS_AFTER_BAD - ROWS_BEFORE_BAD))"
  echo "   CPU, bad:    $BAD_CPU"
  echo "                $BAD_PER_REQUEST"
  echo "   idle probe:  $IDLE_ACCEPTED of $IDLE_REQUESTS accepted (before the flood)"
  echo "   reconciled:  $RECONCILED;"
  echo "                $COMPLETIONS_COUNTED completions counted for $COMPLETED_ROWS completed executions (before the concurrency runs)"
  echo "   sustained:   $SUSTAINED_ACCEPTED accepted of $REQUESTS_SUSTAINED requests; other statuses: $SUSTAINED_OTHER; p50 202 -> completed $SUSTAINED_DONE_P50 ms"
  echo "   scale-out:   1 web process:  $SCALE1_COST"
  echo "                2 web processes: $SCALE2_COST"
  echo "                1 worker process:  $DRAIN1_COST"
  echo "                2 worker processes: $DRAIN2_COST"
  echo "   files:       $BENCH_DIR (server.log, wrk outputs, summary.txt)"
} | tee "$BENCH_DIR/summary.txt"

# Lost or repeated executions fail the bench whatever the other figures say.
((RECONCILE_FAILURES == 0)) || die "reconciliation failed: $RECONCILED"
if [[ -n ${BENCH_STRICT:-} ]] && ((MISSED > 0)); then
  die "$MISSED target(s) missed"
fi
