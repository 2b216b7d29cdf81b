#!/usr/bin/env node
// Sends signed webhooks to one agent with Node.js 20 built-ins only (node:crypto and the
// global fetch), and checks every answer. See docs/webhook-integration.md.
//
//   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='<44-char base64>' node examples/node/send.mjs
//
// WEBHOOK_SECRET is the secret exactly as revealed (`hmac_secret`; a `whsec_…` value is
// accepted too). It sends:
//   1. a GitHub-style delivery (X-Hub-Signature-256)            -> expects 202 + execution id
//   2. the same delivery again (same X-GitHub-Delivery)          -> expects 202, same execution id
//   3. a Standard Webhooks delivery (webhook-id/-timestamp/-signature) -> expects 202
//   4. the body of (1) changed by one value, with (1)'s signature -> expects 401
// and exits non-zero as soon as an answer differs. The secret and the signatures are never
// printed.
import { createHmac, randomBytes } from 'node:crypto';

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

function readSecret() {
  let text = (process.env.WEBHOOK_SECRET || '').trim();
  if (!text) fail("set WEBHOOK_SECRET to the agent's secret (44 characters of base64)");
  if (text.startsWith('whsec_')) text = text.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text) || Buffer.from(text, 'base64').length !== 32) {
    fail('WEBHOOK_SECRET must be the 44-character base64 secret as revealed (or whsec_ + it)');
  }
  return text;
}

/** GitHub style: `sha256=` + lowercase hex HMAC-SHA256 of the exact body bytes, keyed with
 *  the UTF-8 bytes of the secret *text* (not its base64-decoded bytes). */
function hubSignature(secret, body) {
  return 'sha256=' + createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 of "{id}.{timestamp}.{body}", keyed with
 *  the 32 bytes the secret decodes to. */
function standardSignature(secret, msgId, timestamp, body) {
  const key = Buffer.from(secret, 'base64');
  const mac = createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(body);
  return 'v1,' + mac.digest('base64');
}

/** POSTs the exact bytes that were signed; returns { status, answer }. */
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

function expect202(what, { status, answer }) {
  let executionId;
  try {
    executionId = status === 202 ? JSON.parse(answer).execution_id : undefined;
  } catch {
    executionId = undefined;
  }
  if (!executionId) fail(`${what}: expected 202 with an execution id, got ${status} ${answer}`);
  return executionId;
}

const url = (process.env.WEBHOOK_URL || '').trim();
if (!url) fail("set WEBHOOK_URL to the agent's webhook URL");
const secret = readSecret();

const run = randomBytes(6).toString('hex');
// Serialize once, to UTF-8 bytes, and sign and send these very bytes. The title is
// non-ASCII on purpose: the signature covers bytes, not characters.
const body = Buffer.from(
  JSON.stringify({
    ticket_id: 42,
    title: 'VPN down in Zürich',
    sent_by: 'examples/node/send.mjs',
    sent_at: Math.floor(Date.now() / 1000),
  }),
  'utf8',
);
const delivery = `example-node-${run}`;
console.log(`POST ${url}`);

// 1. GitHub style, with a delivery id for idempotency.
const hub = { 'X-Hub-Signature-256': hubSignature(secret, body), 'X-GitHub-Delivery': delivery };
let result = await post(url, body, hub);
const first = expect202('X-Hub-Signature-256', result);
console.log(`  1. X-Hub-Signature-256, X-GitHub-Delivery ${delivery} -> ${result.status}, execution ${first}`);

// 2. The same delivery again: answered with the first execution, nothing new is queued.
result = await post(url, body, hub);
const again = expect202('repeated delivery', result);
if (again !== first) fail(`repeated delivery: expected execution ${first} again, got ${again}`);
console.log(`  2. same delivery again -> ${result.status}, same execution ${again} (idempotent)`);

// 3. Standard Webhooks: the message id doubles as the delivery id.
const msgId = `msg_example_node_${run}`;
const timestamp = Math.floor(Date.now() / 1000);
result = await post(url, body, {
  'webhook-id': msgId,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': standardSignature(secret, msgId, timestamp, body),
});
const third = expect202('Standard Webhooks', result);
console.log(`  3. Standard Webhooks, webhook-id ${msgId} -> ${result.status}, execution ${third}`);

// 4. One value changed after signing: the signature no longer matches.
const tampered = Buffer.from(body.toString('utf8').replace('"ticket_id":42', '"ticket_id":43'), 'utf8');
if (tampered.equals(body)) fail('could not tamper with the body');
result = await post(url, tampered, {
  'X-Hub-Signature-256': hubSignature(secret, body),
  'X-GitHub-Delivery': `${delivery}-tampered`,
});
if (result.status !== 401) fail(`tampered body: expected 401, got ${result.status} ${result.answer}`);
console.log(`  4. tampered body with the original signature -> ${result.status} ${result.answer} (refused, as it must be)`);

console.log('ok: 4 answers as expected');
