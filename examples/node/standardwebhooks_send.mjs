#!/usr/bin/env node
// Interoperability: signs a delivery with the official Standard Webhooks library for
// JavaScript (npm `standardwebhooks`) and sends it with fetch. See
// docs/webhook-integration.md.
//
//   cd examples/node && npm ci
//   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' node standardwebhooks_send.mjs
//
// The library takes the `whsec_…` spelling (the revealed `standard_webhooks_secret`, which
// is "whsec_" + the 44-character text) and keys its HMAC with the decoded bytes, exactly
// like the server. It sends:
//   1. a delivery signed by new Webhook(whsec).sign(msgId, date, payload) -> expects 202
//   2. the same headers with a changed body                              -> expects 401
// and exits non-zero otherwise.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

async function post(url, body, headers) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    fail(`could not reach ${url}: ${err.cause?.message || err.message}`);
  }
  return { status: response.status, answer: await response.text() };
}

const url = (process.env.WEBHOOK_URL || '').trim();
const secret = (process.env.WEBHOOK_SECRET || '').trim();
if (!url || !secret) fail('set WEBHOOK_URL and WEBHOOK_SECRET (the 44-character base64 secret)');
const webhook = new Webhook(secret.startsWith('whsec_') ? secret : `whsec_${secret}`);

const msgId = `msg_example_standardwebhooks_js_${randomBytes(6).toString('hex')}`;
// The library signs whole seconds of this Date; the header must carry the same seconds.
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const payload = JSON.stringify({
  ticket_id: 42,
  title: 'VPN down in Zürich',
  sent_by: 'standardwebhooks (npm)',
});
const headers = {
  'webhook-id': msgId,
  'webhook-timestamp': String(now.getTime() / 1000),
  'webhook-signature': webhook.sign(msgId, now, payload),
};
webhook.verify(payload, headers); // the library accepts what it signed (throws otherwise)
console.log(`POST ${url}`);

let result = await post(url, payload, headers);
let executionId;
try {
  executionId = result.status === 202 ? JSON.parse(result.answer).execution_id : undefined;
} catch {
  executionId = undefined;
}
if (!executionId) {
  fail(`standardwebhooks-signed delivery: expected 202 with an execution id, got ${result.status} ${result.answer}`);
}
console.log(`  1. signed by standardwebhooks Webhook.sign, webhook-id ${msgId} -> ${result.status}, execution ${executionId}`);

// Same headers, same (already used) webhook-id: signatures are checked before delivery ids,
// so a replayed id never lets a changed body through.
result = await post(url, payload.replace('"ticket_id":42', '"ticket_id":43'), headers);
if (result.status !== 401) fail(`tampered body: expected 401, got ${result.status} ${result.answer}`);
console.log(`  2. changed body, same signature -> ${result.status} ${result.answer} (refused, as it must be)`);
console.log('ok: the standardwebhooks (npm) signature is accepted');
