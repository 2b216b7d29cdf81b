#!/usr/bin/env node
// Sends Stripe-signed events to an agent whose verification scheme is `stripe`, signing with
// the official `stripe` package, and checks every answer. See docs/webhook-integration.md
// ("Sender presets", Stripe).
//
//   cd examples/node && npm ci
//   WEBHOOK_URL=https://…/agents/<id>/webhook WEBHOOK_SECRET='whsec_…' node stripe_send.mjs
//
// WEBHOOK_SECRET is the endpoint's signing secret as Stripe shows it, `whsec_` prefix and
// all (the one set with PUT /api/agents/{id}/webhook-secret). Stripe keys its HMAC with the
// whole text. `generateTestHeaderString({payload, secret})` is the Stripe library's helper
// for exactly this: it makes the `Stripe-Signature: t=<unix>,v1=<hex>` header Stripe sends.
// It sends:
//   1. an event signed now                                  -> expects 202 + execution id
//   2. the same event again, signed anew (a Stripe retry)    -> expects 202, same execution
//      (the delivery id is the event's `id`)
//   3. a changed body with the header of (1)                -> expects 401
//   4. an event signed 10 minutes ago                       -> expects 401 "Request expired"
// and exits non-zero as soon as an answer differs. The secret and signatures are never printed.
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

async function post(url, body, headers) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
      body,
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    fail(`could not reach ${url}: ${err.cause?.message || err.message}`);
  }
  return { status: response.status, answer: await response.text() };
}

function expect202(what, result) {
  let executionId;
  try {
    executionId = result.status === 202 ? JSON.parse(result.answer).execution_id : undefined;
  } catch {
    executionId = undefined;
  }
  if (!executionId) fail(`${what}: expected 202 with an execution id, got ${result.status} ${result.answer}`);
  return executionId;
}

const url = (process.env.WEBHOOK_URL || '').trim();
const secret = (process.env.WEBHOOK_SECRET || '').trim();
if (!url || !secret) fail("set WEBHOOK_URL and WEBHOOK_SECRET (the endpoint's signing secret, whsec_…)");

// The signing helpers need no API key: `Stripe.webhooks` is the object every client has as
// `stripe.webhooks` (new Stripe('sk_…').webhooks is the same one).
const { webhooks } = Stripe;

// An event as Stripe posts it: serialize once, sign and send these very bytes.
const eventId = `evt_example_${randomBytes(8).toString('hex')}`;
const payload = JSON.stringify({
  id: eventId,
  object: 'event',
  type: 'payment_intent.succeeded',
  created: Math.floor(Date.now() / 1000),
  livemode: false,
  data: { object: { id: 'pi_example', object: 'payment_intent', amount: 4200, currency: 'chf', description: 'Zürich office' } },
});
const signed = (timestamp) => ({ 'Stripe-Signature': webhooks.generateTestHeaderString({ payload, secret, timestamp }) });
const header = signed();
// The library's own verifier accepts what it signed (throws otherwise).
webhooks.constructEvent(payload, header['Stripe-Signature'], secret);
console.log(`POST ${url}`);

// 1. The event, signed now.
let result = await post(url, payload, header);
const first = expect202('Stripe-signed event', result);
console.log(`  1. Stripe-Signature from stripe.webhooks.generateTestHeaderString, event ${eventId} -> ${result.status}, execution ${first}`);

// 2. Stripe retries an event with the same id and a fresh signature: same execution.
result = await post(url, payload, signed(Math.floor(Date.now() / 1000)));
const again = expect202('the same event again', result);
if (again !== first) fail(`the same event again: expected execution ${first}, got ${again}`);
console.log(`  2. same event id again, signed anew -> ${result.status}, same execution ${again} (idempotent)`);

// 3. One value changed after signing.
result = await post(url, payload.replace('"amount":4200', '"amount":4300'), header);
if (result.status !== 401) fail(`changed body: expected 401, got ${result.status} ${result.answer}`);
console.log(`  3. changed body, same Stripe-Signature -> ${result.status} ${result.answer} (refused, as it must be)`);

// 4. Stripe's tolerance is 5 minutes; so is the server's.
result = await post(url, payload, signed(Math.floor(Date.now() / 1000) - 600));
if (result.status !== 401 || !result.answer.includes('Request expired')) {
  fail(`signed 10 minutes ago: expected 401 Request expired, got ${result.status} ${result.answer}`);
}
console.log(`  4. signed 10 minutes ago -> ${result.status} ${result.answer} (refused, as it must be)`);
console.log('ok: the stripe (npm) signature is accepted');
