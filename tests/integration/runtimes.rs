//! Agent runtimes against servers the tests start on 127.0.0.1: the http runtime (exact
//! body, signature, retries, failures, timeouts), the openai runtime against a fake
//! OpenAI-compatible server, and the SSRF rules at save time and at run time.

use std::time::Duration;

use agent_webhooks::crypto::secrets::WebhookSecret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{spawn_app_with, Admin, TestAgent, TestApp, TestOptions},
    receiver::{Receiver, Reply},
};

/// An app whose runtimes may reach the test's own servers on 127.0.0.1.
async fn app_reaching_loopback() -> TestApp {
    spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.runtimes.allowed_private_hosts = vec!["127.0.0.1".into()];
        }),
        ..TestOptions::default()
    })
    .await
}

async fn agent_with_runtime(app: &TestApp, admin: &Admin, runtime: Value) -> TestAgent {
    app.agent(
        admin,
        json!({"name": "runtime", "rate_limit_per_minute": null, "system_prompt": "You triage tickets.", "runtime": runtime}),
    )
    .await
}

/// Posts `body` signed to the agent; the execution id.
async fn deliver(app: &TestApp, agent: &TestAgent, body: &[u8]) -> String {
    let response = app.post_signed(&agent.url, &agent.secret, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    accepted["execution_id"].as_str().unwrap().to_owned()
}

async fn finished(app: &TestApp, execution_id: &str) -> Value {
    app.execution_when(execution_id, "the execution to finish", |row| {
        row["status"] == "completed" || row["status"] == "failed"
    })
    .await
}

async fn patch(admin: &Admin, app: &TestApp, agent_id: &str, body: Value) -> reqwest::Response {
    admin
        .client
        .patch(app.url(&format!("/api/agents/{agent_id}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn runtime_secret(admin: &Admin, app: &TestApp, agent_id: &str) -> String {
    let response = admin
        .client
        .get(app.url(&format!("/api/agents/{agent_id}/runtime-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let revealed: Value = response.json().await.unwrap();
    revealed["standard_webhooks_secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_http_runtime_receives_the_exact_body_signed_with_the_agent_s_runtime_secret() {
    let app = app_reaching_loopback().await;
    let receiver = Receiver::start(vec![Reply::status(201)
        .body(r#"{"ticket": "triaged"}"#)
        .header("x-runtime", "yes")])
    .await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "http", "url": format!("{}/hooks/triage", receiver.url)}),
    )
    .await;
    // Odd spacing and key order: the runtime must get these bytes, not a re-serialization.
    let body = br#"{"title":  "Printer on fire", "ticket_id": 7 ,"tags": ["a"]}"#;
    let execution_id = deliver(&app, &agent, body).await;

    let received = receiver.wait_for(1).await.remove(0);
    assert_eq!(received.path, "/hooks/triage");
    assert_eq!(&received.body[..], body);
    assert_eq!(received.header("content-type"), "application/json");
    assert_eq!(received.header("webhook-id"), execution_id);
    assert_eq!(received.header("x-agent-id"), agent.id);
    assert_eq!(received.header("x-execution-attempt"), "1");
    let secret =
        WebhookSecret::from_standard_webhooks(&runtime_secret(&admin, &app, &agent.id).await)
            .unwrap();
    let timestamp = received.header("webhook-timestamp");
    secret
        .verify_standard(
            &execution_id,
            timestamp,
            received.header("webhook-signature"),
            &received.body,
            timestamp.parse().unwrap(),
        )
        .expect("signed with the agent's runtime secret");
    // Not with the webhook secret.
    let webhook_key = WebhookSecret::from_base64(&agent.secret).unwrap();
    assert!(webhook_key
        .verify_standard(
            &execution_id,
            timestamp,
            received.header("webhook-signature"),
            &received.body,
            timestamp.parse().unwrap()
        )
        .is_err());

    let execution = finished(&app, &execution_id).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    assert_eq!(execution["result"]["status"], 201);
    assert_eq!(execution["result"]["body"], json!({"ticket": "triaged"}));
    assert_eq!(execution["result"]["headers"]["x-runtime"], "yes");
    assert_eq!(execution["result"]["body_truncated"], false);

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"runtime_requests_total{kind="http",outcome="success"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"runtime_request_duration_seconds_count{kind="http"} 1"#));
}

#[tokio::test]
async fn a_runtime_answering_503_twice_then_200_completes_on_attempt_3() {
    let app = app_reaching_loopback().await;
    let receiver = Receiver::start(vec![
        Reply::status(503).header("retry-after", "1"),
        Reply::status(503),
    ])
    .await;
    let admin = app.admin("acme").await;
    let agent =
        agent_with_runtime(&app, &admin, json!({"kind": "http", "url": receiver.url})).await;
    let execution_id = deliver(&app, &agent, br#"{"n": 1}"#).await;

    let execution = finished(&app, &execution_id).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    assert_eq!(execution["attempts"], 3);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let attempts: Vec<&str> = received
        .iter()
        .map(|r| r.header("x-execution-attempt"))
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    // One webhook-id on every attempt, so the receiver can tell retries from new work.
    assert!(received
        .iter()
        .all(|r| r.header("webhook-id") == execution_id));
}

#[tokio::test]
async fn a_400_fails_at_once_a_timeout_is_retried_and_retry_after_is_honoured() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;

    let refusing = Receiver::start(vec![Reply::status(400).body("ticket 7 is closed")]).await;
    let agent =
        agent_with_runtime(&app, &admin, json!({"kind": "http", "url": refusing.url})).await;
    let failed = deliver(&app, &agent, b"{}").await;

    let slow = Receiver::start(vec![Reply::status(200).after(Duration::from_secs(4))]).await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "http", "url": slow.url, "timeout_seconds": 1}),
    )
    .await;
    let timed_out = deliver(&app, &agent, b"{}").await;

    let busy = Receiver::start(vec![Reply::status(429).header("retry-after", "30")]).await;
    let agent = agent_with_runtime(&app, &admin, json!({"kind": "http", "url": busy.url})).await;
    let throttled = deliver(&app, &agent, b"{}").await;

    let execution = finished(&app, &failed).await;
    assert_eq!(execution["status"], "failed");
    assert_eq!(execution["attempts"], 1, "a 4xx is not retried");
    let error = execution["error"].as_str().unwrap();
    assert!(
        error.contains("400 Bad Request") && error.contains("ticket 7 is closed"),
        "{error}"
    );
    assert_eq!(refusing.received().len(), 1);

    let execution = finished(&app, &timed_out).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    assert_eq!(execution["attempts"], 2);
    assert_eq!(slow.received().len(), 2);

    busy.wait_for(1).await;
    let execution = app
        .execution_when(&throttled, "the 429 to be recorded", |row| {
            row["status"] == "queued" && row["attempts"] == 1
        })
        .await;
    assert!(
        execution["error"].as_str().unwrap().contains("429"),
        "{execution}"
    );
    let wait: f64 = sqlx::query_scalar(
        "select extract(epoch from scheduled_at - now())::float8 from fang_tasks where execution_id = $1",
    )
    .bind(throttled.parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        (20.0..=31.0).contains(&wait),
        "next attempt in {wait} s, not after Retry-After: 30"
    );
}

#[tokio::test]
async fn an_openai_runtime_sends_the_prompt_and_payload_and_keeps_the_completion() {
    let app = app_reaching_loopback().await;
    let completion = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "triage-model-2026",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Priority: high. Assign to facilities."}}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51}
    });
    let server = Receiver::start(vec![
        Reply::status(200).body(completion.to_string()),
        Reply::status(200).body(completion.to_string()),
    ])
    .await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{}/v1", server.url), "model": "triage-model",
               "api_key": "sk-test-123", "temperature": 0.2, "max_tokens": 256}),
    )
    .await;
    let shown: Value = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(shown["runtime"]["api_key"], "••••••••");
    assert_eq!(shown["runtime"]["model"], "triage-model");
    assert!(!shown.to_string().contains("sk-test-123"));
    let stored: String = sqlx::query_scalar("select runtime_api_key from agents where id = $1")
        .bind(agent.id.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains("sk-test-123"), "the key is sealed");

    let execution_id = app
        .delivery(
            &agent.url,
            br#"{"ticket_id": 7, "title": "Printer on fire"}"#,
        )
        .hub(&agent.secret)
        .delivery_id("delivery-77")
        .send()
        .await
        .json::<Value>()
        .await
        .unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = server.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), "Bearer sk-test-123");
    let sent = request.json();
    assert_eq!(sent["model"], "triage-model");
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(sent["max_tokens"], 256);
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You triage tickets."})
    );
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert_eq!(sent["messages"][1]["role"], "user");
    let (first_line, payload) = user.split_once("\n\n").unwrap();
    assert!(
        first_line.contains("\"runtime\"") && first_line.contains("delivery-77"),
        "the first line names the agent and the delivery: {first_line}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(payload).unwrap(),
        json!({"ticket_id": 7, "title": "Printer on fire"})
    );
    assert!(payload.contains("\n  \""), "pretty JSON: {payload}");

    let execution = finished(&app, &execution_id).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    let result = &execution["result"];
    assert_eq!(
        result["message"]["content"],
        "Priority: high. Assign to facilities."
    );
    assert_eq!(result["finish_reason"], "stop");
    assert_eq!(result["usage"]["total_tokens"], 51);
    assert_eq!(result["model"], "triage-model-2026");

    // A change that leaves the key out keeps it.
    let response = patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "openai", "base_url": format!("{}/v1", server.url), "model": "other"}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    deliver(&app, &agent, b"{}").await;
    let request = server.wait_for(2).await.remove(1);
    assert_eq!(request.header("authorization"), "Bearer sk-test-123");
    assert_eq!(request.json()["model"], "other");
}

#[tokio::test]
async fn openai_errors_other_than_429_and_5xx_fail_with_the_server_s_message() {
    let app = app_reaching_loopback().await;
    let server = Receiver::start(vec![Reply::status(401).body(
        r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}"#,
    )])
    .await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": server.url, "model": "m"}),
    )
    .await;
    let execution = finished(&app, &deliver(&app, &agent, b"{}").await).await;
    assert_eq!(execution["status"], "failed");
    assert_eq!(execution["attempts"], 1);
    assert_eq!(
        execution["error"],
        "the model server answered 401 Unauthorized: Incorrect API key provided"
    );
    assert!(
        server.received()[0].headers.get("authorization").is_none(),
        "no key, no header"
    );
}

/// Every refused address class, at save time, with no exceptions configured.
#[tokio::test]
async fn refused_targets_are_a_400_naming_the_rule_at_save_time() {
    let app = spawn_app_with(TestOptions::default()).await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    for (url, class) in [
        ("https://127.0.0.1/run", "loopback"),
        ("https://[::1]/run", "loopback"),
        ("https://localhost:8443/run", "loopback"),
        ("https://10.0.0.8/run", "private"),
        ("https://172.16.5.4/run", "private"),
        ("https://192.168.1.20/run", "private"),
        ("https://[fd00::5]/run", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/run", "link-local"),
        ("https://100.64.1.1/run", "CGNAT"),
        ("https://224.0.0.251/run", "multicast"),
        ("https://[ff02::1]/run", "multicast"),
        ("https://0.0.0.0/run", "unspecified"),
        ("https://[::]/run", "unspecified"),
        ("https://[::ffff:10.0.0.1]/run", "private"),
    ] {
        for runtime in [
            json!({"kind": "http", "url": url}),
            json!({"kind": "openai", "base_url": url, "model": "m"}),
        ] {
            let response = patch(&admin, &app, &agent.id, json!({"runtime": runtime})).await;
            assert_eq!(response.status(), 400, "{url}");
            let body: Value = response.json().await.unwrap();
            let message = body["error"].as_str().unwrap();
            assert!(
                message.contains(&format!("a {class} address")) && message.contains("refused"),
                "{url}: {message}"
            );
            let field = if runtime["kind"] == "http" {
                "/runtime/url"
            } else {
                "/runtime/base_url"
            };
            assert_eq!(body["details"][0]["path"], field);
        }
    }
    // Creating is checked the same way.
    let response = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "b", "runtime": {"kind": "http", "url": "https://169.254.169.254/"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Plain http, other schemes and credentials in the URL are refused too; a public
    // address over https is saved (nothing is sent at save time).
    for (url, needle) in [
        ("http://93.184.215.14/run", "https://"),
        ("ftp://93.184.215.14/run", "https://"),
        ("https://user:pw@93.184.215.14/run", "credentials"),
        ("not a url", "not a valid URL"),
    ] {
        let response = patch(
            &admin,
            &app,
            &agent.id,
            json!({"runtime": {"kind": "http", "url": url}}),
        )
        .await;
        assert_eq!(response.status(), 400, "{url}");
        let message = response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(needle), "{url}: {message}");
    }
    let response = patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "http", "url": "https://93.184.215.14/run", "timeout_seconds": 5}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let saved: Value = response.json().await.unwrap();
    assert_eq!(
        saved["runtime"],
        json!({"kind": "http", "url": "https://93.184.215.14/run", "timeout_seconds": 5})
    );
    for bad in [
        json!({"kind": "http", "url": "https://93.184.215.14/", "timeout_seconds": 0}),
        json!({"kind": "openai", "base_url": "https://93.184.215.14/v1", "model": ""}),
        json!({"kind": "openai", "base_url": "https://93.184.215.14/v1", "model": "m", "temperature": 3}),
        json!({"kind": "http", "url": "https://93.184.215.14/", "secret": "x"}),
    ] {
        let response = patch(&admin, &app, &agent.id, json!({"runtime": bad})).await;
        assert!(
            response.status() == 400 || response.status() == 422,
            "{bad}: {}",
            response.status()
        );
    }
}

/// A target refused at run time (saved before the rules changed, or a name that now
/// resolves elsewhere) fails the execution at once with the reason.
#[tokio::test]
async fn a_target_refused_at_run_time_fails_the_execution_with_the_reason() {
    // An exception that is not the one these targets reach.
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.runtimes.allowed_private_hosts = vec!["127.0.0.2".into()];
        }),
        ..TestOptions::default()
    })
    .await;
    let admin = app.admin("acme").await;
    for (url, reason) in [
        (
            "https://localhost:9/run",
            "localhost resolves to a loopback address",
        ),
        ("https://127.0.0.3:9/run", "127.0.0.3 is a loopback address"),
        ("https://[::1]:9/run", "[::1] is a loopback address"),
    ] {
        let agent = app
            .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
            .await;
        sqlx::query("update agents set runtime = $2 where id = $1")
            .bind(agent.id.parse::<Uuid>().unwrap())
            .bind(json!({"kind": "http", "url": url}))
            .execute(&app.pool)
            .await
            .unwrap();
        let execution = finished(&app, &deliver(&app, &agent, b"{}").await).await;
        assert_eq!(execution["status"], "failed", "{url}");
        assert_eq!(execution["attempts"], 1, "{url}: {execution}");
        let error = execution["error"].as_str().unwrap();
        assert!(
            error.contains(reason) && error.contains("refused"),
            "{url}: {error}"
        );
    }
}

#[tokio::test]
async fn the_runtime_secret_is_revealed_and_regenerated_with_an_audit_trail() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "http", "url": "http://127.0.0.1:9/"}),
    )
    .await;
    let first = runtime_secret(&admin, &app, &agent.id).await;
    assert!(first.starts_with("whsec_"));
    let response = admin
        .client
        .post(app.url(&format!(
            "/api/agents/{}/regenerate-runtime-secret",
            agent.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let second = runtime_secret(&admin, &app, &agent.id).await;
    assert_ne!(first, second);
    let agent_json: Value = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert!(!agent_json.to_string().contains(&second[6..]));

    let audit: Value = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "runtime_secret.revealed")
            .count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"runtime_secret.regenerated"));
    let created = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "agent.created")
        .unwrap();
    assert_eq!(created["details"]["runtime"], "http");

    let response = patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "builtin"}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let audit: Value = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let updated = &audit["items"][0];
    assert_eq!(updated["action"], "agent.updated");
    assert_eq!(updated["details"]["runtime"], "builtin");
    assert_eq!(updated["details"]["changed"], json!(["runtime"]));

    // Another tenant's agent answers like a missing one.
    let stranger = app.admin("other").await;
    let response = stranger
        .client
        .get(app.url(&format!("/api/agents/{}/runtime-secret", agent.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_redirect_is_followed_once_with_its_body_and_only_to_the_same_origin() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let elsewhere = Receiver::start(Vec::new()).await;
    let cases = [
        // 307 keeps the method and the body: followed, and the work is done.
        (
            Reply::status(307).header("location", "/moved"),
            Some("completed"),
        ),
        // 301/302/303 would turn the POST into a GET without the payload: not followed.
        (
            Reply::status(301).header("location", "/moved"),
            Some("failed"),
        ),
        // Another origin (here another port): not followed.
        (
            Reply::status(308).header("location", format!("{}/x", elsewhere.url)),
            Some("failed"),
        ),
    ];
    for (reply, expected) in cases {
        let runtime = Receiver::start(vec![reply.clone()]).await;
        let agent = agent_with_runtime(
            &app,
            &admin,
            json!({"kind": "http", "url": format!("{}/run", runtime.url)}),
        )
        .await;
        let execution = finished(&app, &deliver(&app, &agent, br#"{"a": 1}"#).await).await;
        assert_eq!(
            execution["status"].as_str(),
            expected,
            "{reply:?}: {execution}"
        );
        let received = runtime.received();
        if expected == Some("completed") {
            assert_eq!(received.len(), 2);
            assert_eq!(
                (received[1].method.as_str(), received[1].path.as_str()),
                ("POST", "/moved")
            );
            assert_eq!(&received[1].body[..], br#"{"a": 1}"#);
        } else {
            assert_eq!(received.len(), 1, "{reply:?}");
            assert_eq!(execution["attempts"], 1);
            assert!(
                execution["error"].as_str().unwrap().contains("redirect"),
                "{execution}"
            );
        }
    }
    assert!(elsewhere.received().is_empty());
}

#[tokio::test]
async fn an_openai_429_is_retried_after_retry_after() {
    let app = app_reaching_loopback().await;
    let completion = json!({"model": "m", "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]});
    let server = Receiver::start(vec![
        Reply::status(429)
            .header("retry-after", "1")
            .body(r#"{"error": {"message": "Rate limit reached"}}"#),
        Reply::status(200).body(completion.to_string()),
    ])
    .await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": server.url, "model": "m"}),
    )
    .await;
    let execution = finished(&app, &deliver(&app, &agent, b"{}").await).await;
    assert_eq!(execution["status"], "completed", "{execution}");
    assert_eq!(execution["attempts"], 2);
    assert_eq!(execution["result"]["message"]["content"], "ok");
}

/// Whoever may edit an agent must not be able to send its saved key somewhere else.
#[tokio::test]
async fn a_saved_api_key_goes_only_to_the_origin_it_was_saved_for() {
    let app = app_reaching_loopback().await;
    let completion = json!({"model": "m", "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}).to_string();
    let saved_for = Receiver::start(vec![Reply::status(200).body(completion.clone())]).await;
    let other = Receiver::start(vec![
        Reply::status(200).body(completion.clone()),
        Reply::status(200).body(completion),
    ])
    .await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "openai", "base_url": format!("{}/v1", saved_for.url), "model": "m", "api_key": "sk-only-for-a"}),
    )
    .await;
    // Another origin without the key: refused, nothing changes.
    let response = patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "openai", "base_url": other.url, "model": "m"}}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["details"][0]["path"], "/runtime/api_key", "{body}");
    let shown: Value = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(
        shown["runtime"]["base_url"],
        format!("{}/v1", saved_for.url)
    );
    // The same origin, another path: kept.
    let response = patch(&admin, &app, &agent.id, json!({"runtime": {"kind": "openai", "base_url": format!("{}/v2", saved_for.url), "model": "m"}})).await;
    assert_eq!(response.status(), 200);
    deliver(&app, &agent, b"{}").await;
    assert_eq!(
        saved_for.wait_for(1).await[0].header("authorization"),
        "Bearer sk-only-for-a"
    );
    // Another origin, the key removed explicitly: allowed, and no key is sent.
    let response = patch(&admin, &app, &agent.id, json!({"runtime": {"kind": "openai", "base_url": other.url, "model": "m", "api_key": null}})).await;
    assert_eq!(response.status(), 200);
    deliver(&app, &agent, b"{}").await;
    assert!(other.wait_for(1).await[0]
        .headers
        .get("authorization")
        .is_none());
    let audit: Value = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let last = &audit["items"][0];
    assert_eq!(last["details"]["api_key"], "removed", "{last}");
    assert_eq!(last["details"]["host"], "127.0.0.1");
    // Switching to another kind drops the key; coming back needs it again.
    patch(&admin, &app, &agent.id, json!({"runtime": {"kind": "openai", "base_url": other.url, "model": "m", "api_key": "sk-b"}})).await;
    patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "builtin"}}),
    )
    .await;
    let response = patch(
        &admin,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "openai", "base_url": other.url, "model": "m"}}),
    )
    .await;
    let shown: Value = response.json().await.unwrap();
    assert!(shown["runtime"].get("api_key").is_none(), "{shown}");
    deliver(&app, &agent, b"{}").await;
    assert!(other.wait_for(2).await[1]
        .headers
        .get("authorization")
        .is_none());
}

#[tokio::test]
async fn another_tenant_cannot_change_or_regenerate_a_runtime() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let agent = agent_with_runtime(
        &app,
        &admin,
        json!({"kind": "http", "url": "http://127.0.0.1:9/"}),
    )
    .await;
    let stranger = app.admin("other").await;
    let response = patch(
        &stranger,
        &app,
        &agent.id,
        json!({"runtime": {"kind": "builtin"}}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = stranger
        .client
        .post(app.url(&format!(
            "/api/agents/{}/regenerate-runtime-secret",
            agent.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let shown: Value = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(shown["runtime"]["kind"], "http");
}
