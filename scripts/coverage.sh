#!/usr/bin/env bash
# Line coverage of the server code from the Rust tests: `make coverage`.
#
# Runs the unit and integration tests (cargo nextest, as make test does) under
# cargo-llvm-cov, then prints line coverage per module of src/ and for the groups that
# have targets, each next to its target (scripts/coverage-summary.mjs). The browser UI
# (src/app) is compiled into the server to render pages, but its event handlers run only
# in the browser, where Playwright tests them: it is listed and left out of the server total.
#
# Files: target/coverage/summary.json (cargo llvm-cov's JSON summary), target/coverage/html
# (per-line report, with --html).
#
# Usage: scripts/coverage.sh [--html]
# Environment: DATABASE_URL (see ensure_database in lib.sh), COVERAGE_STRICT=1 exits 1
#   when a target is missed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

html=0
case ${1:-} in
  "") ;;
  --html) html=1 ;;
  *) die "unknown argument '$1' (use --html)" ;;
esac

ensure_rust_components
ensure_cargo_llvm_cov
have node || die "node not found: install Node.js 20 or newer (it prints the summary)"
ensure_database
say "database: $(redact_url "$DATABASE_URL")"

out=target/coverage
mkdir -p "$out"
runner=nextest
cargo nextest --version >/dev/null 2>&1 || runner=test
with_build_env debug cargo llvm-cov "$runner" --features ssr --no-report
with_build_env debug cargo llvm-cov report --json --summary-only --output-path "$out/summary.json"
if (( html )); then
  with_build_env debug cargo llvm-cov report --html --output-dir "$out"
  say "coverage: per-line report in $out/html/index.html"
fi
node scripts/coverage-summary.mjs "$out/summary.json" "$AW_ROOT/src/"
