#!/usr/bin/env bash
# Proves a release package as an operator would use it: `scripts/package-smoke.sh [TARBALL]`
# (make test runs it after `make release`; see scripts/test.sh).
#
#   1. unpacks the tarball (default: the newest dist/*.tar.gz) into an empty directory
#   2. creates a fresh database agent_webhooks_smoke on the server of DATABASE_URL
#   3. from the unpacked directory, with no settings file and only the environment
#      DATABASE_URL, MASTER_KEYS, PUBLIC_BASE_URL, LEPTOS_SITE_ADDR and LEPTOS_SITE_ROOT:
#      `agent-webhooks migrate`, then `agent-webhooks serve`, until /readyz answers 200
#   4. runs end2end/tests/smoke.spec.ts in Chromium against it: sign in, create an agent,
#      copy its URL, show its secret, send a test webhook, see the execution complete
#      (which needs the optimized WASM to hydrate)
#   5. stops the server with SIGTERM and expects a clean exit
#
# Environment: DATABASE_URL (see ensure_database in lib.sh), CHROMIUM_PATH.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

tarball=${1:-$(ls -t dist/agent-webhooks-*-linux.tar.gz 2>/dev/null | head -n 1)}
[[ -f $tarball ]] || die "no package found: run 'make release' first (or pass the tarball)"
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
SMOKE_DB=agent_webhooks_smoke

ensure_node_modules
ensure_chromium
ensure_database
have curl || die "curl not found: install it (e.g. 'apt-get install curl')"

dir=$(mktemp -d "${TMPDIR:-/tmp}/agent-webhooks-smoke.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill -9 "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

say "smoke: unpacking $(basename "$tarball") into the empty $dir"
tar -xzf "$tarball" -C "$dir"
root=$(echo "$dir"/agent-webhooks-*-linux)
[[ -x $root/agent-webhooks && -d $root/site ]] || die "the package lacks agent-webhooks or site/"

url=$(database_url_with_name "$DATABASE_URL" "$SMOKE_DB")
admin_url=$(database_url_with_name "$DATABASE_URL" postgres)
PGOPTIONS='-c client_min_messages=warning' "$(psql_bin)" -X -q -v ON_ERROR_STOP=1 -d "$admin_url" \
  -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)"

port=$(free_port 3200)
base=http://127.0.0.1:$port
master_keys=$(cd "$root" && ./agent-webhooks generate-master-key)
# Only these settings (and a PATH): no Leptos.toml in the directory, nothing else inherited.
settings=(DATABASE_URL="$url" MASTER_KEYS="$master_keys" PUBLIC_BASE_URL="$base"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=site)
run_packaged() { (cd "$root" && env -i PATH=/usr/bin:/bin "${settings[@]}" ./agent-webhooks "$@"); }

say "smoke: agent-webhooks migrate"
run_packaged migrate
log=$dir/server.log
(cd "$root" && exec env -i PATH=/usr/bin:/bin "${settings[@]}" ./agent-webhooks serve) >"$log" 2>&1 &
server_pid=$!
say "smoke: agent-webhooks serve (pid $server_pid) on $base"
for _ in $(seq 60); do
  curl -fsS --max-time 2 -o /dev/null "$base/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { tail -n 40 "$log" >&2; die "the packaged server exited"; }
  sleep 1
done
curl -fsS --max-time 2 -o /dev/null "$base/readyz" || { tail -n 40 "$log" >&2; die "not ready after 60 s"; }

say "smoke: Playwright smoke.spec.ts"
if ! (cd end2end && BASE_URL=$base DATABASE_URL=$url MASTER_KEYS=$master_keys \
  AGENT_WEBHOOKS_BIN=$root/agent-webhooks npx --no-install playwright test smoke.spec.ts); then
  tail -n 60 "$log" >&2
  die "the package smoke failed (traces in end2end/test-results)"
fi

kill -TERM "$server_pid"
if ! wait "$server_pid"; then
  tail -n 40 "$log" >&2
  die "the packaged server did not exit cleanly on SIGTERM"
fi
server_pid=
say "smoke: the package works (unpacked, migrated, served, hydrated, executed, stopped)"
