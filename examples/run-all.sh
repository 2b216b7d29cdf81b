#!/usr/bin/env bash
# Runs every client example in examples/ against a running agent-webhooks server, as
# scripts/test.sh does after the Playwright tests. See examples/README.md.
#
#   BASE_URL=http://127.0.0.1:3000 DATABASE_URL=postgres://… MASTER_KEY_FILE=… \
#     AGENT_WEBHOOKS_BIN=target/debug/agent-webhooks examples/run-all.sh
#
# DATABASE_URL, MASTER_KEY_FILE and AGENT_WEBHOOKS_BIN must be the server's: two API tokens
# for tenant "examples" are made with `agent-webhooks create-token` (the presets use the
# second: each token may reveal 10 secrets a minute). Then it creates one
# agent without a rate limit (POST /api/agents), reveals its secret, installs what the
# examples need when missing (a venv in target/examples-venv, examples/node/node_modules),
# runs every example with WEBHOOK_URL and WEBHOOK_SECRET, and checks that the three
# standard-library examples fail against a wrong secret. Then the sender presets: for each
# verification scheme (stripe, slack, shopify, zendesk, pagerduty, gitlab_token,
# header_token, and default with a whsec_ secret as GitLab's signing token) an agent
# (POST /api/agents with "verification"), a random secret shaped like the product's set with
# PUT /api/agents/{id}/webhook-secret and read back, and the example that signs as that
# product: it must pass (its repeated delivery must get the first execution back) and must
# fail with a 401 against another secret; a GitHub-style signature made with the stripe
# agent's own secret must get 401, and the Jira-style example runs against the first
# agent. Last, the runtime receiver of the integration guide (python/runtime_receiver.py)
# serves a second agent's http runtime on a free loopback port, so the server must allow 127.0.0.1 as a runtime target
# (RUNTIMES_ALLOWED_PRIVATE_HOSTS=127.0.0.1, as scripts/test.sh starts it). One line per check, then
# "examples: N passed, M failed"; the exit status is 1 when anything failed.
#
# Needs: curl, openssl, python3 (with venv), Node.js 20+ with npm; PyPI and npm reachable
# on the first run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENV=${EXAMPLES_VENV:-$ROOT/target/examples-venv}
EXAMPLE_TIMEOUT=${EXAMPLE_TIMEOUT:-60}

say() { printf '[examples] %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for name in BASE_URL DATABASE_URL MASTER_KEY_FILE AGENT_WEBHOOKS_BIN; do
  [[ -n ${!name:-} ]] || die "$name is not set (see the comment at the top of $0)"
done
for tool in curl openssl python3 node npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: the examples need it"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js 20 or newer is needed (found $(node --version))"
base=${BASE_URL%/}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# One field of a JSON object on stdin.
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# --- an API token, an agent and its secret ------------------------------------------------

# new_token NAME: an API token for tenant "examples", made with the CLI, written as an
# Authorization header to $work/NAME.header (through a file, so that the token never shows
# in the process list). Each token has its own secret-reveal budget (10 a minute by
# default), so the presets, which read back eight secrets, get a token of their own.
new_token() {
  local token
  if ! token=$(env DATABASE_URL="$DATABASE_URL" MASTER_KEY_FILE="$MASTER_KEY_FILE" \
    AGENT_WEBHOOKS_CONFIG=/nonexistent RUST_LOG=warn \
    "$AGENT_WEBHOOKS_BIN" create-token --tenant examples --name "$1" 2>"$work/create-token.err"); then
    cat "$work/create-token.err" >&2
    die "$AGENT_WEBHOOKS_BIN create-token failed"
  fi
  [[ -n $token ]] || die "create-token printed no token"
  printf 'Authorization: Bearer %s\n' "$token" >"$work/$1.header"
}
new_token examples
new_token examples-presets
auth_header=$work/examples.header

# api METHOD PATH [JSON]: the answer's body in $work/answer, its status on stdout.
api() {
  local args=(-sS --max-time 15 -o "$work/answer" -w '%{http_code}' -X "$1" -H "@$auth_header")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  curl "${args[@]}" "$base$2"
}

status=$(api POST /api/agents '{"name":"examples","rate_limit_per_minute":null}') ||
  die "cannot reach $base"
[[ $status == 201 ]] || die "POST /api/agents: expected 201, got $status $(cat "$work/answer")"
agent_id=$(json_field id <"$work/answer")
webhook_url=$(json_field webhook_url <"$work/answer")

status=$(api GET "/api/agents/$agent_id/webhook-secret") || die "cannot reach $base"
[[ $status == 200 ]] || die "GET /api/agents/$agent_id/webhook-secret: expected 200, got $status $(cat "$work/answer")"
secret=$(json_field hmac_secret <"$work/answer")
rm -f "$work/answer"
say "agent $agent_id, webhook $webhook_url"

# --- dependencies (installed once, again only when their lists change) ---------------------

python_deps() {
  local requirements=$HERE/python/requirements.txt stamp=$VENV/.installed-requirements.txt
  if [[ -x $VENV/bin/python ]] && cmp -s "$requirements" "$stamp"; then
    say "python: $VENV up to date"
    return 0
  fi
  say "python: installing examples/python/requirements.txt into $VENV"
  { [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"; } &&
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements" &&
    cp "$requirements" "$stamp"
}

# npm ci writes node_modules/.package-lock.json: when it is newer than package-lock.json,
# the installed modules match the lock.
node_deps() {
  local dir=$HERE/node
  if [[ -f $dir/node_modules/.package-lock.json &&
        ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    say "node: examples/node/node_modules up to date"
    return 0
  fi
  say "node: npm ci in examples/node"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

python_ok=1 node_ok=1
python_deps || { python_ok=0; say "python: installing the dependencies failed"; }
node_deps || { node_ok=0; say "node: installing the dependencies failed"; }

# --- the examples ---------------------------------------------------------------------------

passed=0 failed=0

record() {
  local verdict=$1 name=$2 detail=$3
  if [[ $verdict == pass ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  printf '%-4s %-48s %s\n' "${verdict^^}" "$name" "$detail"
}

# The agent the examples are sent to (the sender presets below switch it).
example_url=$webhook_url

# example NAME EXPECT SECRET CMD...: runs CMD with WEBHOOK_URL=$example_url and
# WEBHOOK_SECRET=SECRET.
# EXPECT is "ok" (must exit 0) or "refused" (must exit non-zero after a 401, as with a
# wrong secret). A failure shows the example's output.
example() {
  local name=$1 expect=$2 key=$3 log rc=0
  shift 3
  log="$work/$(tr -c 'A-Za-z0-9' _ <<<"$name").log"
  (cd "$HERE" && WEBHOOK_URL=$example_url WEBHOOK_SECRET=$key \
    timeout "$EXAMPLE_TIMEOUT" "$@") >"$log" 2>&1 || rc=$?
  if [[ $expect == ok && $rc -eq 0 ]]; then
    record pass "$name" "$(tail -n 1 "$log")"
  elif [[ $expect == refused && $rc -ne 0 ]] && grep -q ' 401 ' "$log"; then
    record pass "$name" "exits $rc after a 401, as it must"
  elif [[ $rc -eq 124 ]]; then
    record fail "$name" "timed out after ${EXAMPLE_TIMEOUT}s; its output:"
    sed 's/^/    | /' "$log"
  else
    record fail "$name" "exit status $rc; its output:"
    sed 's/^/    | /' "$log"
  fi
}

# skipped NAME WHY: an example that could not run counts as failed.
skipped() {
  record fail "$1" "not run: $2"
}

# A valid secret that is not the agent's.
wrong_secret=$(openssl rand -base64 32)

example "curl/send.sh" ok "$secret" bash curl/send.sh
example "python/send.py" ok "$secret" python3 python/send.py
example "node/send.mjs" ok "$secret" node node/send.mjs
example "curl/send.sh (wrong secret: must fail)" refused "$wrong_secret" bash curl/send.sh
example "python/send.py (wrong secret: must fail)" refused "$wrong_secret" python3 python/send.py
example "node/send.mjs (wrong secret: must fail)" refused "$wrong_secret" node node/send.mjs
if (( python_ok )); then
  example "python/standardwebhooks_send.py" ok "$secret" "$VENV/bin/python" python/standardwebhooks_send.py
else
  skipped "python/standardwebhooks_send.py" "its dependencies could not be installed"
fi
if (( node_ok )); then
  example "node/octokit_send.mjs" ok "$secret" node node/octokit_send.mjs
  example "node/standardwebhooks_send.mjs" ok "$secret" node node/standardwebhooks_send.mjs
else
  skipped "node/octokit_send.mjs" "its dependencies could not be installed"
  skipped "node/standardwebhooks_send.mjs" "its dependencies could not be installed"
fi

# --- sender presets -------------------------------------------------------------------------
# One agent per verification scheme (POST /api/agents with "verification"), given a secret
# shaped like the product's own (PUT /api/agents/{id}/webhook-secret), then the example that
# signs as that product does: it must get its 202s (each example also resends one delivery
# and must get the first execution back), and fail with a 401 against another secret.

# Random letters and digits, N of them.
alnum() {
  local text
  text=$(openssl rand -base64 $(($1 * 2)) | tr -dc 'A-Za-z0-9')
  printf '%s' "${text:0:$1}"
}

# A secret shaped like the one the product shows (all visible ASCII, 16..512 characters).
provider_secret() {
  case $1 in
    stripe) printf 'whsec_%s' "$(alnum 32)" ;;        # Stripe's signing secret
    slack) openssl rand -hex 16 ;;                     # Slack's signing secret: 32 hex digits
    shopify) openssl rand -hex 32 ;;                   # Shopify's webhook signing key
    zendesk) openssl rand -base64 32 ;;                # Zendesk's signing secret
    pagerduty) openssl rand -base64 48 ;;              # PagerDuty's subscription secret
    gitlab_token) alnum 40 ;;                          # GitLab: whatever the admin types
    header_token) alnum 32 ;;                          # any fixed token
    gitlab_signing) printf 'whsec_%s' "$(openssl rand -base64 32)" ;;  # Standard Webhooks
  esac
}

# preset_agent NAME VERIFICATION SECRET: creates an agent with that verification, sets its
# secret and checks it reads back (secret_source "provided", the reveal is the secret); sets
# $example_url to its webhook URL and $preset_key to the secret. On failure it records one
# and returns 1.
preset_agent() {
  local name=$1 verification=$2 key=$3 status agent_id url revealed source
  status=$(api POST /api/agents "{\"name\":\"examples $name\",\"rate_limit_per_minute\":null,\"verification\":$verification}") || status=none
  if [[ $status != 201 ]]; then
    record fail "$name agent" "POST /api/agents: expected 201, got $status $(cat "$work/answer" 2>/dev/null)"
    return 1
  fi
  agent_id=$(json_field id <"$work/answer")
  url=$(json_field webhook_url <"$work/answer")
  # Through a file, so the secret never shows in the process list.
  printf '{"secret":"%s","grace_period_seconds":0}' "$key" >"$work/secret.json"
  status=$(api PUT "/api/agents/$agent_id/webhook-secret" "@$work/secret.json") || status=none
  rm -f "$work/secret.json"
  if [[ $status != 200 ]]; then
    record fail "$name agent" "PUT webhook-secret: expected 200, got $status $(cat "$work/answer" 2>/dev/null)"
    return 1
  fi
  api GET "/api/agents/$agent_id" >/dev/null || true
  source=$(json_field secret_source <"$work/answer" 2>/dev/null) || source=none
  api GET "/api/agents/$agent_id/webhook-secret" >/dev/null || true
  revealed=$(json_field hmac_secret <"$work/answer" 2>/dev/null) || revealed=""
  rm -f "$work/answer"
  if [[ $source != provided || $revealed != "$key" ]]; then
    record fail "$name agent" "after PUT webhook-secret: secret_source $source (want provided), the reveal $([[ $revealed == "$key" ]] && echo is || echo 'is not') the secret set"
    return 1
  fi
  say "$name: agent $agent_id"
  example_url=$url preset_key=$key
}

# preset NAME VERIFICATION SECRET_KIND DEPS_OK CMD...: the agent (not when DEPS_OK is 0: the
# example counts as failed), then CMD with its secret (must pass) and with another secret of
# the same shape (must get a 401). Leaves the agent's secret in $preset_key ("" on failure).
preset() {
  local name=$1 verification=$2 kind=$3 deps_ok=$4 key
  shift 4
  preset_key=""
  if (( ! deps_ok )); then
    skipped "$name" "its dependencies could not be installed"
    return
  fi
  key=$(provider_secret "$kind")
  preset_agent "$kind" "$verification" "$key" || return 0
  example "$name" ok "$key" "$@"
  example "$name (wrong secret: must fail)" refused "$(provider_secret "$kind")" "$@"
}

# The presets read back eight secrets: with their own token, the first keeps its budget.
auth_header=$work/examples-presets.header
preset "node/stripe_send.mjs (stripe)" '{"scheme":"stripe"}' stripe "$node_ok" \
  node node/stripe_send.mjs
# A GitHub-style signature made with the stripe agent's own secret: a preset agent takes
# only its product's signature header.
if [[ -n $preset_key ]]; then
  body='{"id":"evt_github_style","object":"event","type":"ping"}'
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$preset_key" | sed 's/^.* //')
  status=$(curl -sS --max-time 15 -o "$work/answer" -w '%{http_code}' -X POST "$example_url" \
    -H 'Content-Type: application/json' -H "X-Hub-Signature-256: sha256=$sig" \
    --data-binary "$body") || status=none
  if [[ $status == 401 ]]; then
    record pass "stripe agent, X-Hub-Signature-256 (must fail)" "401 $(cat "$work/answer"): only Stripe-Signature counts"
  else
    record fail "stripe agent, X-Hub-Signature-256 (must fail)" "expected 401, got $status $(cat "$work/answer" 2>/dev/null)"
  fi
  rm -f "$work/answer"
fi
preset "python/slack_send.py (slack)" '{"scheme":"slack"}' slack "$python_ok" \
  "$VENV/bin/python" python/slack_send.py
for scheme in shopify zendesk pagerduty; do
  preset "python/provider_send.py --scheme $scheme" "{\"scheme\":\"$scheme\"}" "$scheme" 1 \
    python3 python/provider_send.py --scheme "$scheme"
done
preset "curl/gitlab_token.sh (gitlab_token)" '{"scheme":"gitlab_token"}' gitlab_token 1 \
  bash curl/gitlab_token.sh
preset "curl/header_token.sh (header_token)" \
  '{"scheme":"header_token","header_name":"X-SDP-Token"}' header_token 1 \
  env WEBHOOK_HEADER=X-SDP-Token bash curl/header_token.sh
# GitLab's signing token is Standard Webhooks: the default scheme with the whsec_ token set.
preset "python/standardwebhooks_send.py (GitLab signing token)" '{"scheme":"default"}' \
  gitlab_signing "$python_ok" "$VENV/bin/python" python/standardwebhooks_send.py
auth_header=$work/examples.header
# Jira Cloud signs like GitHub, in X-Hub-Signature: the first, default agent.
example_url=$webhook_url
example "python/provider_send.py --scheme jira (default)" ok "$secret" \
  python3 python/provider_send.py --scheme jira
example "python/provider_send.py --scheme jira (wrong secret: must fail)" refused "$wrong_secret" \
  python3 python/provider_send.py --scheme jira

# --- the runtime receiver -------------------------------------------------------------------
# python/runtime_receiver.py, which docs/webhook-integration.md ("Runtimes") shows in full,
# receives a second agent's executions: it must accept the server's signed requests (its
# JSON answer becomes the execution's result) and refuse an unsigned one. The server must
# allow 127.0.0.1 as a runtime target (RUNTIMES_ALLOWED_PRIVATE_HOSTS=127.0.0.1).

# The receiver as the guide shows it: the Python block after its marker comment.
documented_receiver() {
  python3 - "$ROOT/docs/webhook-integration.md" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r"<!-- examples/python/runtime_receiver.py -->\s*```python\n(.*?)```", text, re.S)
sys.stdout.write(match.group(1) if match else "")
PY
}

runtime_example() {
  local name="python/runtime_receiver.py (the guide's runtime receiver)" port receiver_pid
  if ! diff -q <(documented_receiver) "$HERE/python/runtime_receiver.py" >/dev/null; then
    record fail "$name" "differs from the code in docs/webhook-integration.md (Runtimes)"
    return
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  status=$(api POST /api/agents "{\"name\":\"examples runtime\",\"rate_limit_per_minute\":null,\"runtime\":{\"kind\":\"http\",\"url\":\"http://127.0.0.1:$port/run\"}}")
  if [[ $status != 201 ]]; then
    record fail "$name" "POST /api/agents with an http runtime: $status $(cat "$work/answer") (does the server allow 127.0.0.1 in RUNTIMES_ALLOWED_PRIVATE_HOSTS?)"
    return
  fi
  local runtime_agent runtime_url runtime_secret webhook_secret
  runtime_agent=$(json_field id <"$work/answer")
  runtime_url=$(json_field webhook_url <"$work/answer")
  api GET "/api/agents/$runtime_agent/runtime-secret" >/dev/null
  runtime_secret=$(json_field standard_webhooks_secret <"$work/answer")
  api GET "/api/agents/$runtime_agent/webhook-secret" >/dev/null
  webhook_secret=$(json_field hmac_secret <"$work/answer")
  rm -f "$work/answer"

  (cd "$HERE" && RUNTIME_SECRET=$runtime_secret PORT=$port exec python3 python/runtime_receiver.py) \
    >"$work/receiver.log" 2>&1 &
  receiver_pid=$!
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  local unsigned
  unsigned=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{}' "http://127.0.0.1:$port/run") || unsigned=none
  local body='{"ticket_id": 7, "title": "Printer on fire"}' sig execution_id result=""
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$webhook_secret" | sed 's/^.* //')
  status=$(curl -sS --max-time 15 -o "$work/answer" -w '%{http_code}' -X POST "$runtime_url" \
    -H 'Content-Type: application/json' -H "X-Hub-Signature-256: sha256=$sig" --data-binary "$body") || true
  if [[ $status == 202 ]]; then
    execution_id=$(json_field execution_id <"$work/answer")
    for _ in $(seq 60); do
      api GET "/api/executions/$execution_id" >/dev/null || true
      result=$(python3 -c 'import json, sys; e = json.load(sys.stdin); print(e["status"], (e.get("result") or {}).get("status"), ((e.get("result") or {}).get("body") or {}).get("execution_id"), e.get("error") or "")' <"$work/answer" 2>/dev/null) || result=""
      [[ $result == completed* || $result == failed* ]] && break
      sleep 0.5
    done
  fi
  kill "$receiver_pid" 2>/dev/null || true
  wait "$receiver_pid" 2>/dev/null || true
  if [[ $unsigned == 401 && $result == "completed 200 $execution_id " ]]; then
    record pass "$name" "ok: refused an unsigned request (401), verified the agent's, and its answer is the execution's result"
  else
    record fail "$name" "unsigned request: $unsigned (want 401); webhook: $status; execution: ${result:-none}; receiver log:"
    sed 's/^/    | /' "$work/receiver.log"
  fi
}

runtime_example

echo "examples: $passed passed, $failed failed"
(( failed == 0 ))
