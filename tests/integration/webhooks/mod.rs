//! The webhook route: every status code with its exact body, and what happens to accepted
//! deliveries. Requests are built with [`TestApp::delivery`](crate::helpers::TestApp::delivery).
//!
//! - `accepted`: accepted deliveries, their executions, a separate worker process;
//! - `signatures`: 401s, Standard Webhooks, secret regeneration;
//! - `refusals`: every other refusal, in the documented order of checks;
//! - `delivery_ids`: idempotency, delivery ids bound to their body, jsonb-safe payloads;
//! - `presets`: the sender schemes (Stripe, Slack, Shopify, Zendesk, PagerDuty, tokens).

mod accepted;
mod delivery_ids;
mod presets;
mod refusals;
mod signatures;

use reqwest::StatusCode;
use serde_json::{json, Value};

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn invalid_signature() -> Value {
    json!({"error": "Invalid HMAC signature"})
}

/// A JSON string literal of exactly `len` bytes.
fn json_of_size(len: usize) -> Vec<u8> {
    let mut body = vec![b'"'];
    body.extend(std::iter::repeat_n(b'a', len - 2));
    body.push(b'"');
    body
}
