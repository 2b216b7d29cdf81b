#!/usr/bin/env node
// Interoperability: signs a delivery with @octokit/webhooks-methods, the signer GitHub's
// own JavaScript SDK (Octokit) uses for X-Hub-Signature-256, and sends it with fetch.
// See docs/webhook-integration.md.
//
//   cd examples/node && npm ci
//   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' node octokit_send.mjs
//
// `sign(secret, payload)` keys its HMAC with the secret *string*, exactly as GitHub does
// with the secret pasted into a webhook form: pass the 44-character text as it is. It
// returns "sha256=<hex>", the whole X-Hub-Signature-256 value. It sends:
//   1. a delivery signed by sign(secret, payload)  -> expects 202 + execution id
//   2. a changed body with the same signature       -> expects 401
// and exits non-zero otherwise.
import { randomUUID } from 'node:crypto';
import { sign, verify } from '@octokit/webhooks-methods';

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
let secret = (process.env.WEBHOOK_SECRET || '').trim();
if (!url || !secret) fail('set WEBHOOK_URL and WEBHOOK_SECRET (the 44-character base64 secret)');
// GitHub-style keys are the plain secret text, without the Standard Webhooks prefix.
if (secret.startsWith('whsec_')) secret = secret.slice('whsec_'.length);

// sign() takes the payload as a string and signs its UTF-8 encoding; fetch sends a string
// body as UTF-8 too, so the bytes match.
const payload = JSON.stringify({
  ticket_id: 42,
  title: 'VPN down in Zürich',
  sent_by: '@octokit/webhooks-methods',
});
const signature = await sign(secret, payload);
if (!(await verify(secret, payload, signature))) fail('@octokit/webhooks-methods cannot verify its own signature');
const delivery = randomUUID(); // GitHub's X-GitHub-Delivery is a GUID as well
console.log(`POST ${url}`);

let result = await post(url, payload, {
  'X-Hub-Signature-256': signature,
  'X-GitHub-Event': 'ping',
  'X-GitHub-Delivery': delivery,
});
let executionId;
try {
  executionId = result.status === 202 ? JSON.parse(result.answer).execution_id : undefined;
} catch {
  executionId = undefined;
}
if (!executionId) {
  fail(`octokit-signed delivery: expected 202 with an execution id, got ${result.status} ${result.answer}`);
}
console.log(`  1. signed by @octokit/webhooks-methods sign(), X-GitHub-Delivery ${delivery} -> ${result.status}, execution ${executionId}`);

result = await post(url, payload.replace('"ticket_id":42', '"ticket_id":43'), {
  'X-Hub-Signature-256': signature,
  'X-GitHub-Event': 'ping',
  'X-GitHub-Delivery': delivery,
});
if (result.status !== 401) fail(`tampered body: expected 401, got ${result.status} ${result.answer}`);
console.log(`  2. changed body, same signature -> ${result.status} ${result.answer} (refused, as it must be)`);
console.log('ok: the @octokit/webhooks-methods signature is accepted');
