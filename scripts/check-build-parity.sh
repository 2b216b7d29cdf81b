#!/usr/bin/env bash
# The two ways this project builds its site must not drift: `scripts/check-build-parity.sh`.
#
# scripts/build.sh (make run, make test, make release) and cargo-leptos (make watch) both
# read [package.metadata.leptos] from Cargo.toml. This script builds the debug site both
# ways and checks that
#   1. both contain the same files, and the same WASM and JS bytes (one cargo artifact,
#      one wasm-bindgen), so a page rendered by either server loads either site;
#   2. the site cargo-leptos made hydrates: the debug server serves it and
#      end2end/tests/smoke.spec.ts passes against it in Chromium (the site of
#      scripts/build.sh passes the whole suite in make test).
# Stylesheets may differ in bytes (cargo-leptos runs them through lightningcss).
#
# Installs cargo-leptos on first use (about 12 minutes on 2 cores).
# Environment: DATABASE_URL (see ensure_database in lib.sh), CHROMIUM_PATH.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

PARITY_DB=agent_webhooks_parity
ours=target/parity/build-sh
theirs=target/parity/cargo-leptos
bin=$AW_TARGET/debug/agent-webhooks
master_key_file=$AW_ROOT/target/parity/master.key

ensure_cargo_leptos
ensure_node_modules
ensure_chromium
ensure_database
have curl || die "curl not found: install it (e.g. 'apt-get install curl')"

scripts/build.sh --site-root "$ours"
say "parity: cargo leptos build (site in $theirs)"
# cargo-leptos adds --cfg erase_components and LEPTOS_OUTPUT_NAME itself (with_build_env would
# add the flag twice, and a different RUSTFLAGS rebuilds everything).
LEPTOS_SITE_ROOT=$theirs cargo leptos build

files() { (cd "$1" && find . -type f | sort); }
if ! diff <(files "$ours") <(files "$theirs"); then
  die "the two builds produce different files (< scripts/build.sh, > cargo-leptos)"
fi
pkg=$(leptos_setting site-pkg-dir)/$(leptos_setting output-name)
for file in "$pkg.wasm" "$pkg.js"; do
  cmp "$ours/$file" "$theirs/$file" || die "$file differs between the two builds"
done
say "parity: same files; same WASM and JS"

url=$(database_url_with_name "$DATABASE_URL" "$PARITY_DB")
PGOPTIONS='-c client_min_messages=warning' "$(psql_bin)" -X -q -v ON_ERROR_STOP=1 \
  -d "$(database_url_with_name "$DATABASE_URL" postgres)" -c "DROP DATABASE IF EXISTS $PARITY_DB WITH (FORCE)"
port=$(free_port 3300)
base=http://127.0.0.1:$port
log=target/parity/server.log
env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$theirs" DATABASE_URL="$url" \
  PUBLIC_BASE_URL="$base" MASTER_KEY_FILE="$master_key_file" AGENT_WEBHOOKS_CONFIG=/nonexistent \
  "$bin" serve >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -fsS --max-time 2 -o /dev/null "$base/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { tail -n 40 "$log" >&2; die "the server exited"; }
  sleep 1
done
if ! (cd end2end && BASE_URL=$base DATABASE_URL=$url MASTER_KEY_FILE=$master_key_file \
  AGENT_WEBHOOKS_BIN=$bin npx --no-install playwright test smoke.spec.ts); then
  tail -n 60 "$log" >&2
  die "the site built by cargo-leptos does not pass the smoke spec"
fi
say "parity: the site of cargo-leptos hydrates and passes the smoke spec"
