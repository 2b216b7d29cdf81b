#!/usr/bin/env bash
# Sends webhooks the way GitLab does with a *secret token*, to an agent whose verification
# scheme is `gitlab_token`, with bash and curl, and checks every answer. See
# docs/webhook-integration.md ("Sender presets", GitLab).
#
#   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<the secret token>' examples/curl/gitlab_token.sh
#
# WEBHOOK_SECRET is the text in the GitLab webhook's "Secret token" field, the one set with
# PUT /api/agents/{id}/webhook-secret. GitLab signs nothing: it sends the token itself in
# X-Gitlab-Token, and the server compares it in constant time. It sends:
#   1. a Push Hook with the token and an Idempotency-Key   -> expects 202 + execution id
#   2. the same delivery again (GitLab's retry)            -> expects 202, same execution
#   3. the token with its last character changed           -> expects 401
#   4. no token                                            -> expects 401
# and exits non-zero as soon as an answer differs. The token is never printed, and never put
# on a command line: curl reads it from a header file (-H @file), so it is not in the
# process list either.
set -euo pipefail

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl not found"

url=${WEBHOOK_URL:-}
secret=${WEBHOOK_SECRET:-}
[[ -n $url ]] || fail "set WEBHOOK_URL to the agent's webhook URL"
[[ -n $secret ]] || fail "set WEBHOOK_SECRET to the GitLab webhook's secret token"
# A header value cannot hold a line break; the server takes 16 to 512 visible ASCII characters.
[[ $secret =~ ^[[:graph:]]+$ ]] || fail "WEBHOOK_SECRET must be visible ASCII without spaces"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"

# printf is a bash builtin: the token goes to the file without appearing in the process list.
printf 'X-Gitlab-Token: %s\n' "$secret" >"$tmp/token-header"
# The same token with its last character changed, for step 3.
last=${secret: -1}
[[ $last == x ]] && other=y || other=x
printf 'X-Gitlab-Token: %s\n' "${secret%?}$other" >"$tmp/wrong-token-header"

# POST the body with extra curl arguments; sets $status and $answer.
post() {
  status=$(curl -sS --max-time 15 -o "$tmp/answer" -w '%{http_code}' -X POST "$url" \
    -H 'Content-Type: application/json' -H 'User-Agent: GitLab/18.6.0' \
    -H 'X-Gitlab-Event: Push Hook' -H "X-Gitlab-Event-UUID: $event_uuid" \
    "$@" --data-binary "$body") || fail "could not reach $url"
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
event_uuid="d1c5e6a2-7b3f-4c1e-9a0d-$run"
# GitLab 17.4+ sends Idempotency-Key, the same on retries; older versions only
# X-Gitlab-Event-UUID, which the server uses when there is no Idempotency-Key.
idempotency_key="5f9f3c1e-2d4b-4e8a-b6c7-$run"
body="{\"object_kind\":\"push\",\"event_name\":\"push\",\"ref\":\"refs/heads/main\",\"checkout_sha\":\"da1560886d4f094c3e6c9ef40349f7d38b5d27d7\",\"project\":{\"path_with_namespace\":\"ops/vpn\"},\"commits\":[{\"message\":\"Fix VPN in Zürich\"}],\"total_commits_count\":1}"
echo "POST $url"

# 1. The token in X-Gitlab-Token, with GitLab's delivery id.
post -H "@$tmp/token-header" -H "Idempotency-Key: $idempotency_key"
first=$(expect_202 "X-Gitlab-Token")
echo "  1. X-Gitlab-Token, Idempotency-Key $idempotency_key -> $status, execution $first"

# 2. GitLab retries a failed delivery with the same Idempotency-Key: same execution.
post -H "@$tmp/token-header" -H "Idempotency-Key: $idempotency_key"
again=$(expect_202 "repeated delivery")
[[ $again == "$first" ]] || fail "repeated delivery: expected execution $first again, got $again"
echo "  2. same Idempotency-Key again -> $status, same execution $again (idempotent)"

# 3. A token that differs in one character.
post -H "@$tmp/wrong-token-header" -H "Idempotency-Key: $idempotency_key-wrong"
[[ $status == 401 ]] || fail "wrong token: expected 401, got $status $answer"
echo "  3. wrong token -> $status $answer (refused, as it must be)"

# 4. No token at all.
post -H "Idempotency-Key: $idempotency_key-none"
[[ $status == 401 ]] || fail "no token: expected 401, got $status $answer"
echo "  4. no token -> $status $answer (refused, as it must be)"

echo "ok: 4 answers as expected"
