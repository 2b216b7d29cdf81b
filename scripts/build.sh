#!/usr/bin/env bash
# Build the server and the site: the project's one build, used by make run, make test,
# make release, scripts/bench.sh and scripts/fault-drill.sh.
#
#   server  cargo build --bin agent-webhooks --features <bin-features>
#           -> target/{debug,release}/agent-webhooks (target/: CARGO_TARGET_DIR when set)
#   site    cargo build --lib --target wasm32-unknown-unknown --features <lib-features>
#           (in target/front, release with the profile <lib-profile-release>), wasm-bindgen
#           --target web, wasm-opt -Oz in release; the stylesheet <style-file> as
#           pkg/<output-name>.css and the files of <assets-dir>
#           -> <site-root>/pkg/<output-name>.{js,wasm,css}, <site-root>/favicon.svg, ...
#
# The <settings> are those of [package.metadata.leptos] in Cargo.toml, which cargo-leptos
# reads too: `make watch` (cargo leptos watch) lays out the same site from the same
# settings, and scripts/check-build-parity.sh proves that both sites hydrate. Building
# without cargo-leptos saves its 12-minute install on a fresh machine (docs/decisions.md,
# "Building without cargo-leptos"). The server and the WASM build run side by side (their
# target directories differ), while wasm-bindgen-cli installs if it is missing.
#
# Usage: scripts/build.sh [--release] [--server-only | --site-only] [--site-root DIR]
#   --site-root DIR  where to put the site (default: site-root of Cargo.toml, target/site)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

profile=debug server=1 site=1 site_root=
while (( $# )); do
  case $1 in
    --release) profile=release ;;
    --server-only) site=0 ;;
    --site-only) server=0 ;;
    --site-root) site_root=${2:?--site-root needs a directory}; shift ;;
    *) die "unknown argument '$1' (see the header of scripts/build.sh)" ;;
  esac
  shift
done
(( server || site )) || die "--server-only and --site-only exclude each other"

name=$(leptos_setting output-name)
site_root=${site_root:-$(leptos_setting site-root)}
pkg_dir=$(leptos_setting site-pkg-dir)
release_flag=()
if [[ $profile == release ]]; then release_flag=(--release); fi

build_server() {
  say "build: server ($profile)"
  with_build_env "$profile" cargo build "${release_flag[@]}" --bin agent-webhooks --no-default-features \
    --features "$(leptos_setting bin-features)"
}

# The WASM file cargo leaves for the lib: its crate name has underscores.
wasm_profile_dir=debug wasm_profile=()
if [[ $profile == release ]]; then
  wasm_profile_dir=$(leptos_setting lib-profile-release)
  wasm_profile=(--profile "$wasm_profile_dir")
fi
front_target=$AW_TARGET/front
wasm_input=$front_target/wasm32-unknown-unknown/$wasm_profile_dir/${name//-/_}.wasm

build_wasm() {
  say "build: WASM ($profile)"
  with_build_env "$profile" cargo build --lib --target wasm32-unknown-unknown --target-dir "$front_target" \
    "${wasm_profile[@]}" --no-default-features --features "$(leptos_setting lib-features)"
}

# The site is put together next to its final place and swapped in at the end, so an
# interrupted build never leaves half a site.
assemble_site() {
  local stage=$site_root.building pkg
  pkg=$stage/$pkg_dir
  rm -rf "$stage"
  mkdir -p "$pkg"
  cp -R "$(leptos_setting assets-dir)/." "$stage/"
  cp "$(leptos_setting style-file)" "$pkg/$name.css"
  # cargo-leptos's wasm-bindgen arguments, so both write the same files (TypeScript
  # declarations included, which make parity compares too).
  wasm-bindgen --target web --out-name "$name" --out-dir "$pkg" "$wasm_input"
  # As cargo-leptos names it; leptos's <HydrationScripts> links <output-name>.wasm.
  mv "$pkg/${name}_bg.wasm" "$pkg/$name.wasm"
  if [[ $profile == release ]]; then
    # cargo-leptos's wasm-opt arguments, with binaryen 132 from npm.
    say "build: wasm-opt -Oz"
    "$AW_WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      "$pkg/$name.wasm" -o "$pkg/$name.wasm"
  fi
  rm -rf "$site_root"
  mv "$stage" "$site_root"
  local wasm=$site_root/$pkg_dir/$name.wasm size
  size="$(wc -c <"$wasm") bytes of WASM"
  # The release figure the README tracks (budget: 400 KB gzip -9).
  if [[ $profile == release ]]; then size+=", $(gzip -9c "$wasm" | wc -c) bytes gzip -9"; fi
  say "build: site in ${site_root#"$AW_ROOT"/} ($size)"
}

ensure_rust_components_for_build() {
  have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs)"
  (( site )) || return 0
  ensure_wasm_target
  [[ $profile == release ]] && ensure_wasm_opt
  return 0
}

ensure_rust_components_for_build
pids=()
if (( site )); then
  # wasm-bindgen-cli is needed only after the WASM build: install it meanwhile.
  ensure_wasm_bindgen & pids+=($!)
  build_wasm & pids+=($!)
fi
if (( server )); then
  build_server & pids+=($!)
fi
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
(( failed == 0 )) || die "build failed (see the output above)"
if (( site )); then assemble_site; fi
say "build: done ($profile)"
