//! The `http` runtime: forwards the execution to the agent's URL. The request is what a
//! Standard Webhooks sender would send: the original body bytes, `webhook-id` = the
//! execution id (the same on every attempt, so the receiver can deduplicate), a fresh
//! `webhook-timestamp`, and `webhook-signature` keyed with the agent's runtime secret; plus
//! `X-Agent-Id` and `X-Execution-Attempt`.
//!
//! A 2xx completes the execution; its result keeps the status, the headers and up to 64 KiB
//! of the body (as JSON when it parses). 408, 429 and 5xx are retried (honouring
//! `Retry-After`), as are timeouts and connection errors; any other answer fails at once.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

use super::{
    no_answer,
    outbound::{Answer, Outbound, Request},
    unsuccessful, Attempt,
};
use crate::{
    crypto::secrets::WebhookSecret,
    db,
    domain::HttpRuntime,
    jobs::runner::{RunError, RunInput},
};

/// Bytes of an answer's body kept in the result.
pub const MAX_STORED_BODY_BYTES: usize = 64 * 1024;
/// Characters of an answer's body quoted in an error.
const ERROR_EXCERPT_CHARS: usize = 1_000;

pub(super) async fn run(
    outbound: &Outbound,
    settings: &HttpRuntime,
    secret: &WebhookSecret,
    input: &RunInput,
) -> Attempt {
    let url = match outbound.parse_target(&settings.url) {
        Ok(url) => url,
        Err(err) => {
            return (
                Err(RunError::fail(format!("runtime URL: {err}"))),
                "refused",
            )
        }
    };
    // Executions recorded before raw bodies were kept have only the parsed payload.
    let body = if input.raw_body.is_empty() {
        serde_json::to_vec(&input.payload).unwrap_or_default()
    } else {
        input.raw_body.clone()
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("x-agent-id"),
        HeaderValue::from_str(&input.agent_id.to_string()).expect("a uuid is a header value"),
    );
    headers.insert(
        HeaderName::from_static("x-execution-attempt"),
        HeaderValue::from(input.attempt),
    );
    let execution_id = input.execution_id.to_string();
    let timeout = Duration::from_secs(u64::from(settings.timeout_seconds()));
    let sent = outbound
        .post(Request {
            url,
            headers,
            body,
            timeout,
            max_answer_bytes: MAX_STORED_BODY_BYTES,
            signing: Some((secret, &execution_id)),
        })
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => return no_answer("the runtime", err),
    };
    if answer.status.is_success() {
        return (Ok(result(&answer)), "success");
    }
    let mut message = format!(
        "the runtime answered {}: {}",
        answer.status,
        answer.body_excerpt(ERROR_EXCERPT_CHARS)
    );
    if answer.status.is_redirection() {
        message
            .push_str(" (a redirect is followed once, and only a 307 or 308 to the same origin)");
    }
    unsuccessful(&answer, message, true)
}

/// What a successful answer leaves in the execution's result.
fn result(answer: &Answer) -> Value {
    let mut headers = Map::new();
    for (name, value) in &answer.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    json!({
        "status": answer.status.as_u16(),
        "headers": headers,
        "body": body_value(answer),
        "body_truncated": answer.truncated,
    })
}

/// The body as JSON when all of it arrived and parses (and `jsonb` can hold it), else as
/// text; null when empty.
fn body_value(answer: &Answer) -> Value {
    if answer.body.is_empty() {
        return Value::Null;
    }
    if !answer.truncated && db::jsonb::can_store(&answer.body) {
        if let Ok(json) = serde_json::from_slice::<Value>(&answer.body) {
            return json;
        }
    }
    // Text cannot hold NUL in PostgreSQL.
    Value::String(String::from_utf8_lossy(&answer.body).replace('\0', "\u{fffd}"))
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use super::*;

    fn answer(body: &[u8], truncated: bool) -> Answer {
        let mut headers = HeaderMap::new();
        headers.append("x-one", HeaderValue::from_static("a"));
        headers.append("x-one", HeaderValue::from_static("b"));
        Answer {
            status: StatusCode::CREATED,
            headers,
            body: body.to_vec(),
            truncated,
        }
    }

    #[test]
    fn a_result_keeps_status_headers_and_the_body_as_json_or_text() {
        let json = result(&answer(br#"{"ok": true}"#, false));
        assert_eq!(json["status"], 201);
        assert_eq!(json["headers"]["x-one"], "a, b");
        assert_eq!(json["body"], json!({"ok": true}));
        assert_eq!(json["body_truncated"], false);
        assert_eq!(
            result(&answer(b"plain\0text", false))["body"],
            "plain\u{fffd}text"
        );
        // A cut JSON body is kept as the text that arrived.
        assert_eq!(
            result(&answer(br#"{"ok": tr"#, true))["body"],
            r#"{"ok": tr"#
        );
        assert_eq!(
            result(&answer(br#"{"a": "\u0000"}"#, false))["body"],
            r#"{"a": "\u0000"}"#
        );
        assert_eq!(result(&answer(b"", false))["body"], Value::Null);
    }
}
