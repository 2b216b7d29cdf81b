//! The `openai` runtime: one chat completion per execution, from any OpenAI-compatible
//! server (OpenAI, a local Ollama or vLLM, ...). The messages are the agent's system prompt
//! and the payload as pretty JSON after a line naming the agent and the delivery. The
//! result keeps the assistant's message, `finish_reason`, the token usage and the model.
//! 429 and 5xx are retried (honouring `Retry-After`), as are timeouts and connection
//! errors; any other error fails at once, with the server's own message.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use serde_json::{json, Value};

use super::{
    no_answer,
    outbound::{Answer, Outbound, Request},
    unsuccessful, Attempt,
};
use crate::{
    crypto::secrets::{Credential, MASKED},
    domain::OpenAiRuntime,
    jobs::runner::{RunError, RunInput},
};

/// Largest completion answer read; a longer one fails the attempt.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a server's error message kept in the execution's error.
const ERROR_MESSAGE_CHARS: usize = 1_000;

pub(super) async fn run(
    outbound: &Outbound,
    settings: &OpenAiRuntime,
    api_key: Option<&Credential>,
    input: &RunInput,
) -> Attempt {
    let endpoint = format!(
        "{}/chat/completions",
        settings.base_url.trim_end_matches('/')
    );
    let url = match outbound.parse_target(&endpoint) {
        Ok(url) => url,
        Err(err) => return (Err(RunError::fail(format!("base_url: {err}"))), "refused"),
    };
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(key) = api_key {
        let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) else {
            return (
                Err(RunError::fail("the API key cannot be sent in a header")),
                "client_error",
            );
        };
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    let sent = outbound
        .post(Request {
            url,
            headers,
            body: serde_json::to_vec(&request_body(settings, input))
                .expect("JSON values serialize"),
            timeout: Duration::from_secs(u64::from(settings.timeout_seconds())),
            max_answer_bytes: MAX_ANSWER_BYTES,
            signing: None,
        })
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => return no_answer("the model server", err),
    };
    if !answer.status.is_success() {
        let message = format!(
            "the model server answered {}: {}",
            answer.status,
            error_message(&answer, api_key)
        );
        return unsuccessful(&answer, message, false);
    }
    if answer.truncated {
        return (
            Err(RunError::fail(format!(
                "the model server's answer is larger than {} MiB",
                MAX_ANSWER_BYTES / 1024 / 1024
            ))),
            "invalid_answer",
        );
    }
    match completion(&answer.body) {
        Ok(result) => (Ok(result), "success"),
        Err(problem) => (
            Err(RunError::fail(format!(
                "the model server's answer is not a chat completion: {problem}"
            ))),
            "invalid_answer",
        ),
    }
}

/// The chat completions request.
fn request_body(settings: &OpenAiRuntime, input: &RunInput) -> Value {
    let delivery = match &input.delivery_id {
        Some(id) => format!("delivery {id}, execution {}", input.execution_id),
        None => format!("execution {}", input.execution_id),
    };
    let payload = serde_json::to_string_pretty(&input.payload).expect("JSON values serialize");
    let mut body = json!({
        "model": settings.model,
        "messages": [
            {"role": "system", "content": input.system_prompt},
            {
                "role": "user",
                "content": format!(
                    "Webhook for agent \"{}\" ({delivery}):\n\n{payload}",
                    input.agent_name
                ),
            },
        ],
        "stream": false,
    });
    if let Some(temperature) = settings.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(max_tokens) = settings.max_tokens {
        body["max_tokens"] = json!(max_tokens);
    }
    body
}

/// The result of a completion: the first choice's message and `finish_reason`, the usage
/// and the model that answered.
fn completion(body: &[u8]) -> Result<Value, String> {
    let answer: Value = serde_json::from_slice(body).map_err(|err| format!("not JSON ({err})"))?;
    let choice = answer
        .get("choices")
        .and_then(|choices| choices.get(0))
        .ok_or("no choices")?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or("the first choice has no message")?;
    Ok(json!({
        "message": message,
        "finish_reason": choice.get("finish_reason").cloned().unwrap_or(Value::Null),
        "usage": answer.get("usage").cloned().unwrap_or(Value::Null),
        "model": answer.get("model").cloned().unwrap_or(Value::Null),
    }))
}

/// The server's own explanation (`{"error": {"message": …}}` in OpenAI's format), else
/// the start of the body; at most [`ERROR_MESSAGE_CHARS`], and never the API key (a proxy
/// may echo the request's headers), since the error is stored and sent in notifications.
fn error_message(answer: &Answer, api_key: Option<&Credential>) -> String {
    let explained = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|body| {
            let error = body.get("error")?;
            error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .map(str::to_owned)
        });
    let mut message = match explained {
        Some(text) if text.chars().count() > ERROR_MESSAGE_CHARS => {
            let mut cut: String = text.chars().take(ERROR_MESSAGE_CHARS).collect();
            cut.push('…');
            cut
        }
        Some(text) => text,
        None => answer.body_excerpt(ERROR_MESSAGE_CHARS),
    };
    if let Some(key) = api_key.filter(|key| !key.expose().is_empty()) {
        message = message.replace(key.expose(), MASKED);
    }
    message
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_request_carries_the_system_prompt_and_the_payload_after_a_line_naming_agent_and_delivery(
    ) {
        let input = RunInput {
            execution_id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            agent_id: Uuid::nil(),
            agent_name: "Triage".into(),
            system_prompt: "You triage tickets.".into(),
            payload: json!({"ticket": 7}),
            raw_body: Vec::new(),
            delivery_id: Some("evt_1".into()),
            attempt: 1,
            runtime: None,
            credentials: Default::default(),
        };
        let settings = OpenAiRuntime {
            base_url: "https://llm.example/v1".into(),
            model: "m".into(),
            api_key: None,
            temperature: Some(0.2),
            max_tokens: None,
            timeout_seconds: None,
        };
        let body = request_body(&settings, &input);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "You triage tickets."})
        );
        assert_eq!(
            body["messages"][1]["content"],
            format!(
                "Webhook for agent \"Triage\" (delivery evt_1, execution {}):\n\n{{\n  \"ticket\": 7\n}}",
                Uuid::nil()
            )
        );
        assert_eq!(body["temperature"], 0.2);
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn completions_are_read_and_anything_else_is_named() {
        let result = completion(
            br#"{"model": "m-1", "choices": [{"message": {"role": "assistant", "content": "hi"},
                 "finish_reason": "stop"}], "usage": {"total_tokens": 3}}"#,
        )
        .unwrap();
        assert_eq!(result["message"]["content"], "hi");
        assert_eq!(result["finish_reason"], "stop");
        assert_eq!(result["usage"]["total_tokens"], 3);
        assert_eq!(result["model"], "m-1");
        assert_eq!(completion(b"[]").unwrap_err(), "no choices");
        assert!(completion(b"<html>").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn error_messages_are_bounded_and_never_carry_the_key() {
        let answer = |body: String| Answer {
            status: reqwest::StatusCode::UNAUTHORIZED,
            headers: Default::default(),
            body: body.into_bytes(),
            truncated: false,
        };
        let key = Credential::new("sk-secret-1");
        let echoed = answer(
            r#"{"error": {"message": "bad header Authorization: Bearer sk-secret-1"}}"#.into(),
        );
        assert_eq!(
            error_message(&echoed, Some(&key)),
            "bad header Authorization: Bearer ••••••••"
        );
        let long = answer(format!(
            r#"{{"error": {{"message": "{}"}}}}"#,
            "x".repeat(5_000)
        ));
        assert_eq!(
            error_message(&long, None).chars().count(),
            ERROR_MESSAGE_CHARS + 1
        );
        assert_eq!(
            error_message(&answer("plain text".into()), None),
            "plain text"
        );
    }
}
