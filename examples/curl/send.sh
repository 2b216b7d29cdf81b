#!/usr/bin/env bash
# Sends signed webhooks to one agent with nothing but bash, curl and openssl, and checks
# every answer. See docs/webhook-integration.md.
#
#   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' examples/curl/send.sh
#
# WEBHOOK_SECRET is the secret exactly as revealed (`hmac_secret`; a `whsec_…` value is
# accepted too). It sends:
#   1. a GitHub-style delivery (X-Hub-Signature-256)           -> expects 202 + execution id
#   2. the same delivery again (same X-GitHub-Delivery)         -> expects 202, same execution id
#   3. a Standard Webhooks delivery (webhook-id/-timestamp/-signature) -> expects 202
#   4. the body of (1) changed by one value, with (1)'s signature -> expects 401
# and exits non-zero as soon as an answer differs. The secret and the signatures are never
# printed.
#
# Note: `openssl dgst -hmac KEY` takes the key on its command line, where other users of a
# shared machine could see it in the process list for a moment. On such machines use the
# Python or Node.js example, which keep the key in memory.
set -euo pipefail

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl not found"
command -v openssl >/dev/null || fail "openssl not found"

url=${WEBHOOK_URL:-}
secret=${WEBHOOK_SECRET:-}
[[ -n $url ]] || fail "set WEBHOOK_URL to the agent's webhook URL"
[[ -n $secret ]] || fail "set WEBHOOK_SECRET to the agent's secret (44 characters of base64)"
secret=${secret#whsec_}
[[ $secret =~ ^[A-Za-z0-9+/]{43}=$ ]] ||
  fail "WEBHOOK_SECRET must be the 44-character base64 secret as revealed (or whsec_ + it)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# GitHub style: lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the UTF-8
# bytes of the secret *text* (not its base64-decoded bytes).
hub_signature() {
  printf '%s' "$1" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //'
}

# Standard Webhooks: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed with the 32
# bytes the secret decodes to.
key_hex=$(printf '%s' "$secret" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
[[ ${#key_hex} -eq 64 ]] || fail "WEBHOOK_SECRET does not decode to 32 bytes"
standard_signature() {
  printf '%s.%s.%s' "$1" "$2" "$3" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A
}

# POST a body with extra headers; sets $status and $answer (the response body).
post() {
  local body=$1
  shift
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

run=$(openssl rand -hex 6)
now=$(date +%s)
# Raw UTF-8 on purpose: the signature covers bytes, not characters.
body="{\"ticket_id\":42,\"title\":\"VPN down in Zürich\",\"sent_by\":\"examples/curl/send.sh\",\"sent_at\":$now}"
delivery="example-curl-$run"
echo "POST $url"

# 1. GitHub style, with a delivery id for idempotency.
post "$body" -H "X-Hub-Signature-256: sha256=$(hub_signature "$body")" -H "X-GitHub-Delivery: $delivery"
first=$(expect_202 "X-Hub-Signature-256")
echo "  1. X-Hub-Signature-256, X-GitHub-Delivery $delivery -> $status, execution $first"

# 2. The same delivery again: answered with the first execution, nothing new is queued.
post "$body" -H "X-Hub-Signature-256: sha256=$(hub_signature "$body")" -H "X-GitHub-Delivery: $delivery"
again=$(expect_202 "repeated delivery")
[[ $again == "$first" ]] || fail "repeated delivery: expected execution $first again, got $again"
echo "  2. same delivery again -> $status, same execution $again (idempotent)"

# 3. Standard Webhooks: the message id doubles as the delivery id.
msg_id="msg_example_curl_$run"
timestamp=$(date +%s)
post "$body" -H "webhook-id: $msg_id" -H "webhook-timestamp: $timestamp" \
  -H "webhook-signature: v1,$(standard_signature "$msg_id" "$timestamp" "$body")"
third=$(expect_202 "Standard Webhooks")
echo "  3. Standard Webhooks, webhook-id $msg_id -> $status, execution $third"

# 4. One value changed after signing: the signature no longer matches.
tampered=${body/\"ticket_id\":42/\"ticket_id\":43}
[[ $tampered != "$body" ]] || fail "could not tamper with the body"
post "$tampered" -H "X-Hub-Signature-256: sha256=$(hub_signature "$body")" \
  -H "X-GitHub-Delivery: $delivery-tampered"
[[ $status == 401 ]] || fail "tampered body: expected 401, got $status $answer"
echo "  4. tampered body with the original signature -> $status $answer (refused, as it must be)"

echo "ok: 4 answers as expected"
