#!/usr/bin/env bash
# Every check the project has, in CI's order: `make test`.
#
#   1. cargo fmt --check
#   2. clippy on the server build (ssr, all targets) and the browser build
#      (hydrate, wasm32), warnings are errors
#   3. unit and integration tests (cargo nextest, or cargo test without it)
#   4. scripts/build.sh (debug): the server and the site
#   5. Playwright end-to-end tests against that build, served on a free
#      loopback port (3100 and up) with a freshly created database
#      agent_webhooks_e2e on the same server as DATABASE_URL; Playwright gets
#      BASE_URL, DATABASE_URL, MASTER_KEY_FILE and AGENT_WEBHOOKS_BIN, so that
#      specs can create administrators with the CLI; the output goes to
#      target/e2e-playwright.log too, and the failed tests (or, when it passed, the flaky
#      ones: with CI set a failed spec runs once more) are repeated at the very end, where
#      CI's tail shows them
#   6. the client examples (examples/run-all.sh) against the same server,
#      with the same environment
#   7. the cluster test suite on the same debug build: scripts/cluster.sh --test --no-build
#      starts two `serve --workers 0` and two `worker` processes behind HAProxy (installed
#      with apt-get when missing) on a freshly created database agent_webhooks_cluster,
#      runs scripts/cluster_check.py against it (the per-agent rate limit holds across
#      processes, a regenerated secret and a suspension reach the other process within
#      200 ms, a web process SIGKILLed under load loses nothing, two worker processes
#      complete every execution exactly once) and stops it; about 25 s
#   8. the release package: scripts/release.sh (make release), then
#      scripts/package-smoke.sh unpacks it into an empty directory, runs it there with
#      environment settings only and passes end2end/tests/smoke.spec.ts against it
#   9. when cargo-leptos is installed (make watch installs it): make parity, the check
#      that cargo-leptos builds the same site as scripts/build.sh and that it hydrates.
#      Without it the step says so and is skipped: its install alone takes 12 minutes.
#
# Usage: scripts/test.sh [--skip-e2e | --only-e2e | --only-release]
#   --skip-e2e      steps 1-3 only (no Node or Chromium needed)
#   --only-e2e      steps 4-7 only (the build is incremental, so it stays fresh)
#   --only-release  steps 8 and 9 only
#
# Environment:
#   DATABASE_URL   a server where the user may create databases: the
#                  integration tests create one database per test, and steps
#                  5, 7 and 8 recreate agent_webhooks_e2e, agent_webhooks_cluster
#                  and agent_webhooks_smoke.
#                  Default: see lib.sh.
#   CHROMIUM_PATH  browser for Playwright (default /usr/bin/chromium)
#   E2E_PORT       port for the e2e server (default: first free from 3100)
#   CI             when set, Playwright refuses test.only and runs a failed test once more
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

E2E_DB=agent_webhooks_e2e
SERVER_LOG=target/e2e-server.log
PLAYWRIGHT_LOG=$AW_ROOT/target/e2e-playwright.log
# Absolute: the specs (run from end2end/) create administrators with the same binary,
# database and master key as the server.
E2E_BIN=$AW_TARGET/debug/agent-webhooks
E2E_MASTER_KEY_FILE=$AW_ROOT/target/e2e/master.key

checks=1 e2e=1 release=1
case ${1:-} in
  "") ;;
  --skip-e2e) e2e=0 release=0 ;;
  --only-e2e) checks=0 release=0 ;;
  --only-release) checks=0 e2e=0 ;;
  *) die "unknown argument '$1' (use --skip-e2e, --only-e2e or --only-release)" ;;
esac

server_pid=
e2e_base='' e2e_url='' # the running e2e server, for the client examples step
playwright_outcome=''  # passed or failed, once Playwright has run
on_exit() {
  local rc=$?
  stop_server
  show_playwright_problems
  say "total wall time: $((SECONDS / 60))m $((SECONDS % 60))s (exit $rc)"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Run one named step, with its duration.
step() {
  local name=$1 t=$SECONDS
  shift
  say "── $name"
  "$@"
  say "── $name: ok ($((SECONDS - t))s)"
}

unit_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    with_build_env debug cargo nextest run --features ssr
  else
    say "cargo-nextest not installed, using cargo test"
    with_build_env debug cargo test --features ssr
  fi
}

# Drop and create the e2e database, connected to the maintenance database.
recreate_e2e_database() {
  local admin_url psql
  admin_url=$(database_url_with_name "$DATABASE_URL" postgres)
  psql=$(psql_bin)
  PGOPTIONS='-c client_min_messages=warning' "$psql" -X -q -v ON_ERROR_STOP=1 -d "$admin_url" \
    -c "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" -c "CREATE DATABASE $E2E_DB"
}

# Every spec signs in from 127.0.0.1: the sign-in throttle (tested by the Rust tests) is
# raised so that a fast suite is not mistaken for password guessing. The specs' runtime and
# notification receivers listen on 127.0.0.1 too, so the outbound rules allow that address.
start_server() {
  local port=$1 url=$2
  mkdir -p target
  env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
    DATABASE_URL="$url" PUBLIC_BASE_URL="http://127.0.0.1:$port" RUST_LOG=info \
    MASTER_KEY_FILE="$E2E_MASTER_KEY_FILE" \
    LOGIN_ATTEMPTS_PER_MINUTE_PER_IP=100000 LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT=1000 \
    RUNTIMES_ALLOWED_PRIVATE_HOSTS=127.0.0.1 \
    "$E2E_BIN" serve >"$SERVER_LOG" 2>&1 &
  server_pid=$!
  say "e2e server pid $server_pid on 127.0.0.1:$port, log $SERVER_LOG"
}

# SIGTERM for a graceful shutdown (the server allows jobs 20 s); SIGKILL after 25 s.
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

show_server_log() {
  say "last lines of $SERVER_LOG:"
  tail -n 60 "$SERVER_LOG" >&2 || true
}

# Printed last of all, where CI's short tail of the output shows it. When Playwright failed:
# the list reporter's failure sections without their attachments and code frames, then its
# summary (or, when it printed none, as when a spec does not compile, its last 40 lines).
# When it passed: the names of the tests that passed only on their retry (CI retries once).
# The whole output is in $PLAYWRIGHT_LOG.
show_playwright_problems() {
  local output
  [[ -n $playwright_outcome && -f $PLAYWRIGHT_LOG ]] || return 0
  output=$(sed 's/\x1b\[[0-9;]*m//g' "$PLAYWRIGHT_LOG")
  if [[ $playwright_outcome == passed ]]; then
    grep -qE '^  [0-9]+ flaky$' <<<"$output" || return 0
    say "Playwright tests that passed only on their retry (their errors are in $PLAYWRIGHT_LOG):"
    sed -n '/^  [0-9][0-9]* flaky$/,/^  [0-9][0-9]* passed/p' <<<"$output" >&2
    return 0
  fi
  say "Playwright failed (everything in $PLAYWRIGHT_LOG, traces in end2end/test-results):"
  if grep -qE '^  [0-9]+\) \[' <<<"$output"; then
    sed -n '/^  [0-9][0-9]*) \[/,$p' <<<"$output" |
      grep -vE 'attachment #|Usage:|show-trace|test-results/|Error Context:|^ *(─)+$|^ *$|^ +[0-9]+ \||^ +\| ' |
      tail -n 120 >&2 || true
  else
    tail -n 40 <<<"$output" >&2
  fi
}

wait_ready() {
  local base=$1
  for _ in $(seq 60); do
    if curl -fsS --max-time 2 -o /dev/null "$base/readyz" 2>/dev/null; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      show_server_log
      die "the e2e server exited before becoming ready"
    fi
    sleep 1
  done
  show_server_log
  die "the e2e server was not ready after 60 s ($base/readyz)"
}

end_to_end() {
  local url port base
  have curl || die "curl not found: install it (e.g. 'apt-get install curl')"
  url=$(database_url_with_name "$DATABASE_URL" "$E2E_DB")
  recreate_e2e_database
  port=${E2E_PORT:-$(free_port 3100)}
  base="http://127.0.0.1:$port"
  start_server "$port" "$url"
  wait_ready "$base"
  # --no-install: never let npx fetch a different Playwright. Its output is kept for
  # show_playwright_problems, which repeats the failures last (CI shows only the tail).
  if ! (cd end2end && BASE_URL=$base DATABASE_URL=$url MASTER_KEY_FILE=$E2E_MASTER_KEY_FILE \
    AGENT_WEBHOOKS_BIN=$E2E_BIN npx --no-install playwright test 2>&1 | tee "$PLAYWRIGHT_LOG"); then
    playwright_outcome=failed
    show_server_log
    die "Playwright tests failed (traces and screenshots in end2end/test-results)"
  fi
  playwright_outcome=passed
  # The server keeps running for client_examples.
  e2e_base=$base e2e_url=$url
}

# Every client example in examples/ against the e2e server, then stop it.
client_examples() {
  if ! BASE_URL=$e2e_base DATABASE_URL=$e2e_url MASTER_KEY_FILE=$E2E_MASTER_KEY_FILE \
    AGENT_WEBHOOKS_BIN=$E2E_BIN examples/run-all.sh; then
    show_server_log
    die "client examples failed (examples/run-all.sh)"
  fi
  stop_server
}

# Install everything first, so a missing tool fails in seconds, not after
# ten minutes of compiling.
ensure_rust_components
ensure_wasm_target
if (( e2e || release )); then
  ensure_wasm_bindgen
  ensure_node_modules
  ensure_chromium
fi
if (( e2e )); then ensure_haproxy; fi
if (( release )); then ensure_wasm_opt; fi
ensure_database
say "database: $(redact_url "$DATABASE_URL")"

if (( checks )); then
  step "cargo fmt --check" cargo fmt --check
  step "clippy (ssr)" with_build_env debug cargo clippy --features ssr --all-targets -- -D warnings
  step "clippy (hydrate, wasm32)" with_build_env debug cargo clippy --lib --features hydrate \
    --target wasm32-unknown-unknown -- -D warnings
  step "unit and integration tests" unit_tests
fi
if (( e2e )); then
  step "build (debug)" scripts/build.sh
  step "end-to-end tests (Playwright)" end_to_end
  step "client examples (examples/run-all.sh)" client_examples
  step "cluster test suite (scripts/cluster.sh --test, at most 5 minutes)" timeout --foreground --signal=TERM --kill-after=30 300 scripts/cluster.sh --test --no-build
fi
if (( release )); then
  step "release package (make release)" scripts/release.sh
  step "package smoke (scripts/package-smoke.sh)" scripts/package-smoke.sh
  if [[ $(version_of cargo leptos --version) == "$AW_CARGO_LEPTOS_VERSION" ]]; then
    step "build parity with cargo-leptos (make parity)" scripts/check-build-parity.sh
  else
    say "── build parity with cargo-leptos: skipped, cargo-leptos is not installed (make parity installs it)"
  fi
fi
