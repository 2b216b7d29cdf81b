#!/usr/bin/env bash
# Rebuild and restart on every change: `make watch` (cargo leptos watch).
#
# cargo-leptos reads the same build settings as scripts/build.sh ([package.metadata.leptos]
# in Cargo.toml) and gets the same RUSTFLAGS and LEPTOS_OUTPUT_NAME, so it reuses the
# artifacts of make run; scripts/check-build-parity.sh checks that both sites hydrate.
# The first call installs cargo-leptos (about 12 minutes on 2 cores).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

ensure_rust_components
ensure_wasm_target
ensure_wasm_bindgen
ensure_cargo_leptos
ensure_database
say "database: $(redact_url "$DATABASE_URL")"
say "open http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
exec cargo leptos watch
