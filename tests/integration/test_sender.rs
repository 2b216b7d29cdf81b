//! "Send Test Webhook" signs the way the agent accepts deliveries, passes the same edge
//! checks as an external request, and is audited.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestOptions};

async fn send_test(client: &reqwest::Client, base: &str, agent_id: &str) -> Value {
    let response = client
        .post(format!("{base}/api/fn/send_test_webhook"))
        .json(&json!({"id": agent_id, "payload": "{\"ticket_id\": 7}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_agent_that_requires_a_timestamp_gets_a_standard_webhooks_test_delivery() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "strict", "require_timestamp": true}))
        .await;
    let result = send_test(&admin.client, &app.address, &agent.id).await;
    assert_eq!(result["status"], 202, "{result}");
    let curl = result["curl"].as_str().unwrap();
    for header in [
        "webhook-id: test_",
        "webhook-timestamp: ",
        "webhook-signature: v1,",
    ] {
        assert!(curl.contains(header), "{curl}");
    }
    assert!(!curl.contains("X-Hub-Signature-256"), "{curl}");

    let token = app.api_token("acme").await;
    let audit: Value = app
        .client
        .get(app.url(&format!("/api/agents/{}/audit", agent.id)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = &audit["items"][0];
    assert_eq!(entry["action"], "webhook.test_sent", "{audit}");
    assert_eq!(entry["details"]["scheme"], "standard_webhooks");
    assert_eq!(entry["details"]["execution_id"], result["execution_id"]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_test_delivery_is_judged_by_require_https_like_the_admins_own_request() {
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.server.require_https = true;
            settings.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }),
        ..Default::default()
    })
    .await;
    // The admin arrives through the trusted proxy over TLS.
    let email = "tls-admin@acme.example";
    let password = "correct horse battery staple";
    agent_webhooks::services::auth::create_admin(
        &app.pool,
        &app.state.keyring,
        "acme",
        email,
        password,
    )
    .await
    .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", app.address.parse().unwrap());
    headers.insert("x-forwarded-proto", "https".parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap();
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let created: Value = client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "behind a proxy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = send_test(&client, &app.address, created["id"].as_str().unwrap()).await;
    assert_eq!(result["status"], 202, "{result}");
    app.stop().await.unwrap();
}
