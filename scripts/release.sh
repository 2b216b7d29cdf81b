#!/usr/bin/env bash
# The release package: `make release`.
#
# Builds the optimized server and site (scripts/build.sh --release: no downloads besides
# crates and the npm package binaryen) and packs
#
#   dist/agent-webhooks-<version>-<arch>-linux.tar.gz   (and a .sha256 next to it)
#     agent-webhooks-<version>-<arch>-linux/
#       agent-webhooks          the server and CLI (migrations are compiled in)
#       site/                   the WASM bundle, JS, CSS and public assets (LEPTOS_SITE_ROOT)
#       Leptos.toml.example     every setting with its default and environment variable
#       agent-webhooks.service  a systemd unit
#       INSTALL.md              from the tarball to a running service
#
# <version> is Cargo.toml's; <arch> is this machine's (uname -m). The binary links the
# build machine's glibc dynamically, so build on the oldest system you deploy to.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AW_ROOT"

version=$(awk '/^\[/ { in_package = ($0 == "[package]"); next }
  in_package && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
[[ -n $version ]] || die "no version in Cargo.toml's [package]"
name=agent-webhooks-$version-$(uname -m)-linux
site=$AW_TARGET/release/site
stage=$AW_TARGET/dist/$name

scripts/build.sh --release --site-root "$site"

say "package: $name"
rm -rf "$stage"
mkdir -p "$stage" dist
cp "$AW_TARGET/release/agent-webhooks" "$stage/"
cp -R "$site" "$stage/site"
# The development settings file, pointed at the packaged site.
sed -e 's|^site_root = "target/site"$|site_root = "site" # the package'"'"'s; the built-in default is the source tree'"'"'s "target/site"|' \
  Leptos.toml >"$stage/Leptos.toml.example"
grep -q '^site_root = "site" ' "$stage/Leptos.toml.example" ||
  die "Leptos.toml no longer says site_root = \"target/site\": update scripts/release.sh"
cp scripts/package/agent-webhooks.service scripts/package/INSTALL.md "$stage/"
# The packaged settings file must load as it is.
"$stage/agent-webhooks" --config "$stage/Leptos.toml.example" generate-master-key >/dev/null

# Same bytes for the same inputs: fixed owner, order and times.
tar -C "$AW_TARGET/dist" --owner=0 --group=0 --numeric-owner --sort=name \
  --mtime="@$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
  -czf "dist/$name.tar.gz" "$name"
(cd dist && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
say "package: dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1))"
wasm=$stage/site/$(leptos_setting site-pkg-dir)/$(leptos_setting output-name).wasm
say "package: WASM $(wc -c <"$wasm") bytes, $(gzip -9c "$wasm" | wc -c) bytes gzip -9"
