#!/usr/bin/env bash
# Build (debug) and serve the app locally: `make run`.
#
# Installs what is missing (wasm target, cargo-leptos, wasm-bindgen-cli),
# finds or starts a Postgres (see ensure_database in lib.sh), then hands over
# to `cargo leptos serve`, which builds the WASM bundle and the server and
# runs target/debug/agent-webhooks (its default command is `serve`).
#
# Environment: DATABASE_URL (default: see lib.sh), LEPTOS_SITE_ADDR
# (default 127.0.0.1:3000 from Cargo.toml); the server reads the rest of its
# settings from the environment and Leptos.toml itself.
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
    out=$(printf '%s\n' "$password" | target/debug/agent-webhooks create-admin \
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
ensure_rust_components
ensure_wasm_target
ensure_cargo_leptos
ensure_wasm_bindgen
ensure_database

say "database: $(redact_url "$DATABASE_URL")"
cargo leptos build
[[ -n $user_database_url ]] || ensure_local_admin
say "open http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
exec cargo leptos serve
