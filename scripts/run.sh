#!/usr/bin/env bash
# Build (debug) and serve the app locally: `make run`.
#
# Installs what is missing (the wasm32 target, wasm-bindgen-cli), finds or starts a
# Postgres (see ensure_database in lib.sh), builds with scripts/build.sh and runs
# target/debug/agent-webhooks serve. cargo-leptos is not needed: `make watch` uses it to
# rebuild on every change.
#
# Environment: DATABASE_URL (default: see lib.sh), LEPTOS_SITE_ADDR
# (default 127.0.0.1:3000); the server reads the rest of its settings from the
# environment and Leptos.toml itself.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

# On the local default (no DATABASE_URL given), the first start creates an
# administrator and keeps its password in .agent-webhooks/ (mode 0600) so that
# every start can print it.
ensure_local_admin() {
  local file=.agent-webhooks/local-admin password out
  if [[ ! -f $file ]]; then
    password=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 24)
    out=$(printf '%s\n' "$password" | "$AW_TARGET/debug/agent-webhooks" create-admin \
      --tenant local --email admin@localhost --if-missing 2>&1) || die "create-admin failed: $out"
    if grep -q "created administrator" <<<"$out"; then
      (umask 077 && mkdir -p .agent-webhooks && printf 'admin@localhost %s\n' "$password" >"$file")
    fi
  fi
  if [[ -f $file ]]; then
    read -r email password <"$file"
    say "sign in as $email with password $password"
  fi
}

user_database_url=${DATABASE_URL:-}
ensure_database
say "database: $(redact_url "$DATABASE_URL")"
scripts/build.sh
[[ -n $user_database_url ]] || ensure_local_admin
say "open http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
exec "$AW_TARGET/debug/agent-webhooks" serve
