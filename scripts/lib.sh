# shellcheck shell=bash
# Shared helpers for scripts/run.sh and scripts/test.sh. Source it; don't run it.
#
# Every ensure_* function is idempotent: it checks first, installs or starts
# only what is missing, and prints one line saying what it did. A fresh
# machine keeps nothing installed by hand, so these functions are the only
# place where the project's tools get installed.
#
# Environment read here:
#   DATABASE_URL        used unchanged when set (see ensure_database)
#   CHROMIUM_PATH       browser for Playwright (default /usr/bin/chromium)
#   AW_PG_PROBE_HOST    where to look for a running Postgres (default 127.0.0.1)
#   AW_PG_PROBE_PORT    ... and on which port (default 5432)
#   CARGO_HOME          where `cargo install` puts binaries (default ~/.cargo)

AW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Cargo's output (CARGO_TARGET_DIR when set, as cargo itself does).
AW_TARGET=${CARGO_TARGET_DIR:-$AW_ROOT/target}
AW_CARGO_LEPTOS_VERSION=0.3.10 # 0.3.11 does not build on rustc 1.95
AW_PG_DIR=$AW_ROOT/target/pg   # private Postgres cluster, used only as a last resort
                               # (scripts/fault-drill.sh points it at target/drill-pg)

# `cargo install` puts binaries here; a non-login shell (CI) may lack it in PATH.
case ":$PATH:" in
  *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;;
  *) PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH ;;
esac
export PATH

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# First X.Y.Z found in a command's output, or nothing when the command fails.
version_of() { "$@" 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true; }

# One setting of [package.metadata.leptos] in Cargo.toml, the build settings that both
# scripts/build.sh and cargo-leptos (make watch) read: a string, or an array of plain
# words printed comma-separated (bin-features = ["ssr"] prints ssr).
leptos_setting() {
  local value
  value=$(awk -v key="$1" '
    /^\[/ { in_section = ($0 == "[package.metadata.leptos]"); next }
    in_section && $1 == key { sub(/^[^=]*=[ \t]*/, ""); gsub(/[][" \t]/, ""); print; exit }
  ' "$AW_ROOT/Cargo.toml")
  [[ -n $value ]] || die "Cargo.toml has no $1 in [package.metadata.leptos]"
  echo "$value"
}

# The environment of every cargo command that compiles this crate, so that the tests,
# clippy, scripts/build.sh and cargo-leptos share one build cache instead of rebuilding
# each other's artifacts. LEPTOS_OUTPUT_NAME is read when leptos itself compiles (it names
# the WASM file in the page's <link rel="modulepreload">), as cargo-leptos sets it.
# Usage: with_build_env debug|release COMMAND [ARGS...]
# Debug builds erase component types (fast to compile, what cargo-leptos does in debug);
# release builds too, for the size and speed measured in docs/decisions.md ("Release builds").
with_build_env() {
  local profile=$1 flags=${RUSTFLAGS:-}
  shift
  case $profile in
    debug | release) flags="${flags:+$flags }--cfg erase_components" ;;
    *) die "with_build_env: unknown profile '$profile'" ;;
  esac
  RUSTFLAGS=$flags LEPTOS_OUTPUT_NAME=$(leptos_setting output-name) "$@"
}

ensure_rust_components() {
  have cargo || die "cargo not found: install Rust with rustup (https://rustup.rs)"
  if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
    say "rust: rustfmt and clippy present"
  else
    say "rust: adding rustfmt and clippy components"
    rustup component add rustfmt clippy
  fi
}

ensure_wasm_target() {
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "rust: wasm32-unknown-unknown target present"
  else
    say "rust: adding wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  local want=$AW_CARGO_LEPTOS_VERSION got
  got=$(version_of cargo leptos --version)
  if [[ $got == "$want" ]]; then
    say "cargo-leptos $got present"
  else
    # --locked: the newest dependency versions no longer build on our rustc.
    say "cargo-leptos: installing $want (found '${got:-none}'; takes ~15 min)"
    cargo install cargo-leptos --version "$want" --locked
  fi
}

# make coverage: cargo-llvm-cov and the llvm-tools it drives.
AW_CARGO_LLVM_COV_VERSION=0.9.1
ensure_cargo_llvm_cov() {
  local want=$AW_CARGO_LLVM_COV_VERSION got
  if rustup component list --installed | grep -q '^llvm-tools'; then
    say "rust: llvm-tools present"
  else
    say "rust: adding the llvm-tools component"
    rustup component add llvm-tools
  fi
  got=$(version_of cargo llvm-cov --version)
  if [[ $got == "$want" ]]; then
    say "cargo-llvm-cov $got present"
  else
    say "cargo-llvm-cov: installing $want (found '${got:-none}'; takes ~4 min)"
    cargo install cargo-llvm-cov --version "$want" --locked
  fi
}

# The version of the wasm-bindgen crate that Cargo.lock resolved.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { found = 1; next }
       found && /^version = / { gsub(/"/, "", $3); print $3; exit }' "$AW_ROOT/Cargo.lock"
}

# The CLI must match the crate exactly, or the generated JS glue won't load.
ensure_wasm_bindgen() {
  local want got
  want=$(locked_wasm_bindgen_version)
  [[ -n $want ]] || die "no wasm-bindgen entry in Cargo.lock (run 'cargo generate-lockfile')"
  got=$(version_of wasm-bindgen --version)
  if [[ $got == "$want" ]]; then
    say "wasm-bindgen-cli $got present"
  else
    # Only the wasm-bindgen binary, without the TLS stack (rustls, ring) that only its test
    # runner's downloads use: less to compile on a fresh machine.
    say "wasm-bindgen-cli: installing $want (found '${got:-none}')"
    cargo install wasm-bindgen-cli --version "$want" --no-default-features --bin wasm-bindgen
  fi
}

# wasm-opt for release builds, from the npm package binaryen pinned in scripts/tools (no
# download at build time; Debian's binaryen 108 breaks hydration, see docs/decisions.md).
AW_WASM_OPT=$AW_ROOT/scripts/tools/node_modules/.bin/wasm-opt
ensure_wasm_opt() {
  local dir=$AW_ROOT/scripts/tools
  have npm || die "npm not found: release builds need Node.js 20 or newer (with npm) for wasm-opt"
  if [[ -x $AW_WASM_OPT && -f $dir/node_modules/.package-lock.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    say "wasm-opt (npm binaryen) present"
  else
    say "wasm-opt: npm ci in scripts/tools (binaryen)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# npm ci writes node_modules/.package-lock.json, so its age tells whether
# package-lock.json changed since the last install.
ensure_node_modules() {
  local dir=$AW_ROOT/end2end
  have npm || die "npm not found: install Node.js 20 or newer (with npm)"
  if [[ -f $dir/node_modules/.package-lock.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    say "end2end: node_modules up to date"
  else
    say "end2end: npm ci (Playwright's own browser download skipped)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# Playwright can't download its browser here, so it drives the system Chromium.
ensure_chromium() {
  local path=${CHROMIUM_PATH:-/usr/bin/chromium}
  if [[ -x $path ]]; then
    say "chromium: $path"
  elif [[ -z ${CHROMIUM_PATH:-} ]] && is_root && have apt-get; then
    say "chromium: installing the Debian package"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      die "could not install Chromium: install it and set CHROMIUM_PATH to its executable"
    fi
  fi
  [[ -x $path ]] || die "Chromium not found at $path: install Chromium and set CHROMIUM_PATH to its executable"
  export CHROMIUM_PATH=$path
}

# make cluster (scripts/cluster.sh) balances its web processes with Debian's HAProxy.
ensure_haproxy() {
  if have haproxy; then
    say "haproxy: $(command -v haproxy) ($(version_of haproxy -v))"
    return 0
  fi
  if is_root && have apt-get; then
    say "haproxy: installing the Debian package"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }; then
      die "could not install HAProxy: install it (Debian package haproxy)"
    fi
  fi
  have haproxy || die "haproxy not found: install HAProxy 2.2 or newer (Debian package haproxy)"
}

# Does something accept connections on host:port?
pg_accepting() {
  if have pg_isready; then
    pg_isready -q -h "$1" -p "$2" -t 3
  else
    # shellcheck disable=SC2016 # $1 and $2 expand in the child bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
  fi
}

# A directory holding initdb, pg_ctl and postgres (PATH first, then Debian's
# versioned dirs, newest first). Fails when the server is not installed.
pg_server_bindir() {
  local dir dirs=()
  if have initdb; then dirs+=("$(dirname "$(readlink -f "$(command -v initdb)")")"); fi
  while IFS= read -r dir; do dirs+=("$dir"); done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  for dir in "${dirs[@]}"; do
    if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# initdb and postgres refuse to run as root: as root, use the account the
# Debian package made for Postgres, or nobody.
pg_run_user() {
  if ! is_root; then id -un
  elif id -u postgres >/dev/null 2>&1; then echo postgres
  else echo nobody
  fi
}

# Run a command as pg_run_user, from inside target/pg (it may not be able to
# read the caller's working directory).
as_pg_user() {
  local user
  user=$(pg_run_user)
  (
    cd "$AW_PG_DIR" || exit 1
    if ! is_root; then "$@"
    elif have runuser; then runuser -u "$user" -- "$@"
    else setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
    fi
  )
}

# A cluster under target/pg that listens only on a Unix socket in target/pg/sock,
# so it never clashes with another Postgres on the machine.
start_private_cluster() {
  local bin=$1 data=$AW_PG_DIR/data sock=$AW_PG_DIR/sock log=$AW_PG_DIR/log user
  local rel=${AW_PG_DIR#"$AW_ROOT"/}
  # A socket path (sock/.s.PGSQL.5432) longer than 107 bytes can't be bound.
  (( ${#sock} <= 88 )) || die "repo path too long for a Postgres socket ($sock): set DATABASE_URL instead"
  mkdir -p "$data" "$sock"
  user=$(pg_run_user)
  if is_root && [[ $(stat -c %U "$AW_PG_DIR") != "$user" ]]; then
    chown -R "$user:" "$AW_PG_DIR"
  fi
  as_pg_user test -w "$AW_PG_DIR" ||
    die "user $user cannot write $AW_PG_DIR (a parent directory is not searchable): set DATABASE_URL instead"
  chmod 700 "$data"
  if [[ ! -s $data/PG_VERSION ]]; then
    say "database: initdb of a private cluster in $rel (as $user)"
    as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$log.initdb" 2>&1 ||
      die "initdb failed, see $log.initdb"
  fi
  if as_pg_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "database: private cluster in $rel already running"
  else
    say "database: starting private cluster in $rel (socket only, log $rel/log)"
    as_pg_user "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$sock'" start >/dev/null ||
      die "Postgres did not start, see $log"
  fi
  # sqlx and libpq both read a socket directory from the `host` parameter.
  export DATABASE_URL="postgres://postgres@localhost/agent_webhooks?host=$sock"
}

# For developers and tests: stop the private cluster if it runs.
stop_private_cluster() {
  local bin
  [[ -s $AW_PG_DIR/data/PG_VERSION ]] || return 0
  bin=$(pg_server_bindir) || return 0
  if as_pg_user "$bin/pg_ctl" -D "$AW_PG_DIR/data" status >/dev/null 2>&1; then
    say "database: stopping private cluster in ${AW_PG_DIR#"$AW_ROOT"/}"
    as_pg_user "$bin/pg_ctl" -D "$AW_PG_DIR/data" -m fast -w stop >/dev/null
  fi
}

# Policy: an explicit DATABASE_URL wins; else a server on 127.0.0.1:5432;
# else a private cluster from locally installed Postgres binaries; else stop
# and say what to install. The app creates the database itself when missing.
ensure_database() {
  local host=${AW_PG_PROBE_HOST:-127.0.0.1} port=${AW_PG_PROBE_PORT:-5432} bin
  if [[ -n ${DATABASE_URL:-} ]]; then
    say "database: DATABASE_URL from the environment"
  elif pg_accepting "$host" "$port"; then
    say "database: PostgreSQL on $host:$port"
    export DATABASE_URL="postgres://postgres@$host:$port/agent_webhooks"
  elif bin=$(pg_server_bindir); then
    start_private_cluster "$bin"
  else
    die "no PostgreSQL found. Either install the PostgreSQL server (e.g. 'apt-get install postgresql')," \
      "or set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/agent_webhooks for a server where USER may create databases."
  fi
}

# psql, from PATH or next to the server binaries.
psql_bin() {
  local bin
  if have psql; then command -v psql
  elif bin=$(pg_server_bindir) && [[ -x $bin/psql ]]; then echo "$bin/psql"
  else die "psql not found: install the PostgreSQL client (e.g. 'apt-get install postgresql-client')"
  fi
}

# A loopback port nobody listens on (the server binds it right after): the first free one
# from $1 on when given (so a developer finds it again), else a random one.
free_port() {
  local port candidates
  if [[ -n ${1:-} ]]; then candidates=$(seq "$1" $(($1 + 99)))
  else candidates=$(for _ in $(seq 100); do echo $((20000 + RANDOM % 40000)); done)
  fi
  for port in $candidates; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  die "no free loopback port found"
}

# DATABASE_URL with any password replaced by ***, for printing.
redact_url() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# The same URL naming another database on the same server; keeps the query
# string (e.g. ?host=/path/to/socket).
database_url_with_name() {
  local url=$1 name=$2 base query='' rest
  base=${url%%\?*}
  [[ $url == *\?* ]] && query="?${url#*\?}"
  rest=${base#*://}
  echo "${base%%://*}://${rest%%/*}/$name$query"
}
