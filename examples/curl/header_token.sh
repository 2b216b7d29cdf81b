#!/usr/bin/env bash
# Sends webhooks the way a tool that can only add a fixed request header does (ManageEngine
# ServiceDesk Plus custom webhooks, a cron job, a script), to an agent whose verification
# scheme is `header_token`, with bash and curl, and checks every answer. See
# docs/webhook-integration.md ("Sender presets", ServiceDesk Plus / any fixed header).
#
#   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<the token>' \
#   WEBHOOK_HEADER=X-SDP-Token examples/curl/header_token.sh
#
# WEBHOOK_HEADER is the agent's `header_name` (default X-SDP-Token), WEBHOOK_SECRET the
# agent's secret text: one set with PUT /api/agents/{id}/webhook-secret, or the generated
# one as revealed. Nothing is signed: the header carries the secret itself, and the server
# compares it in constant time. It sends:
#   1. the token in WEBHOOK_HEADER, with an Idempotency-Key   -> expects 202 + execution id
#   2. the same Idempotency-Key again                          -> expects 202, same execution
#   3. the token as Authorization: Bearer instead             -> expects 202
#   4. no token                                                -> expects 401
# and exits non-zero as soon as an answer differs. The token is never printed, and never put
# on a command line: curl reads it from header files (-H @file), so it is not in the process
# list either.
set -euo pipefail

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl not found"

url=${WEBHOOK_URL:-}
secret=${WEBHOOK_SECRET:-}
header=${WEBHOOK_HEADER:-X-SDP-Token}
[[ -n $url ]] || fail "set WEBHOOK_URL to the agent's webhook URL"
[[ -n $secret ]] || fail "set WEBHOOK_SECRET to the agent's secret (the token)"
# A header value cannot hold a line break; the server takes 16 to 512 visible ASCII characters.
[[ $secret =~ ^[[:graph:]]+$ ]] || fail "WEBHOOK_SECRET must be visible ASCII without spaces"
[[ $header =~ ^[A-Za-z0-9_-]+$ ]] || fail "WEBHOOK_HEADER must be a header name such as X-SDP-Token"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"

# printf is a bash builtin: the token goes to the files without appearing in the process list.
printf '%s: %s\n' "$header" "$secret" >"$tmp/token-header"
printf 'Authorization: Bearer %s\n' "$secret" >"$tmp/bearer-header"

# POST the body with extra curl arguments; sets $status and $answer.
post() {
  status=$(curl -sS --max-time 15 -o "$tmp/answer" -w '%{http_code}' -X POST "$url" \
    -H 'Content-Type: application/json' "$@" --data-binary "$body") ||
    fail "could not reach $url"
  answer=$(cat "$tmp/answer")
}

execution_id() {
  sed -n 's/.*"execution_id":"\([0-9a-f-]\{36\}\)".*/\1/p' <<<"$answer"
}

expect_202() {
  local what=$1 id
  id=$(execution_id)
  [[ $status == 202 && -n $id ]] || fail "$what: expected 202 with an execution id, got $status $answer"
  printf '%s\n' "$id"
}

run=$(openssl rand -hex 6 2>/dev/null || printf '%012x' "$RANDOM$RANDOM")
# The delivery id is Idempotency-Key: in ServiceDesk Plus, a second custom header whose value
# is unique per event, e.g. built from the request id and its last-update time.
delivery="sdp-request-4711-$run"
body='{"request":{"id":"4711","subject":"VPN down in Zürich","status":"Open","priority":"High","requester":"jon@example.com"}}'
echo "POST $url"

# 1. The token in the agent's header, with a delivery id.
post -H "@$tmp/token-header" -H "Idempotency-Key: $delivery"
first=$(expect_202 "$header")
echo "  1. $header, Idempotency-Key $delivery -> $status, execution $first"

# 2. The same delivery again: the same execution answers.
post -H "@$tmp/token-header" -H "Idempotency-Key: $delivery"
again=$(expect_202 "repeated delivery")
[[ $again == "$first" ]] || fail "repeated delivery: expected execution $first again, got $again"
echo "  2. same Idempotency-Key again -> $status, same execution $again (idempotent)"

# 3. Without the named header the server takes Authorization: Bearer <token>.
post -H "@$tmp/bearer-header" -H "Idempotency-Key: $delivery-bearer"
third=$(expect_202 "Authorization: Bearer")
echo "  3. Authorization: Bearer -> $status, execution $third"

# 4. No token at all.
post -H "Idempotency-Key: $delivery-none"
[[ $status == 401 ]] || fail "no token: expected 401, got $status $answer"
echo "  4. no token -> $status $answer (refused, as it must be)"

echo "ok: 4 answers as expected"
