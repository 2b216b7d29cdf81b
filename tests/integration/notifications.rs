//! Failure notifications against a receiver the test starts on 127.0.0.1: events for an
//! exhausted execution and for a burst of invalid signatures, signed and verifiable,
//! retried like executions; the test button; the URL checked like a runtime's.

use agent_webhooks::crypto::secrets::WebhookSecret;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    helpers::{spawn_app_with, Admin, TestApp, TestOptions},
    receiver::{Received, Receiver, Reply},
};

async fn app_reaching_loopback() -> TestApp {
    spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.runtimes.allowed_private_hosts = vec!["127.0.0.1".into()];
            settings.alerts.signature_failures_threshold = 3;
        }),
        ..TestOptions::default()
    })
    .await
}

/// Points the tenant's notifications at `url`; their signing secret.
async fn notify_at(app: &TestApp, admin: &Admin, url: &str) -> WebhookSecret {
    let response = admin
        .client
        .put(app.url("/api/notifications/settings"))
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let settings: Value = response.json().await.unwrap();
    assert_eq!(settings["secret_masked"], "••••••••");
    let revealed: Value = app.get_json(admin, "/api/notifications/secret").await;
    WebhookSecret::from_standard_webhooks(revealed["standard_webhooks_secret"].as_str().unwrap())
        .unwrap()
}

/// Checks the event's Standard Webhooks signature; its JSON.
fn verified(event: &Received, secret: &WebhookSecret) -> Value {
    let timestamp = event.header("webhook-timestamp");
    secret
        .verify_standard(
            event.header("webhook-id"),
            timestamp,
            event.header("webhook-signature"),
            &event.body,
            timestamp.parse().unwrap(),
        )
        .expect("signed with the tenant's notification secret");
    event.json()
}

#[tokio::test]
async fn an_exhausted_execution_sends_a_signed_execution_failed_event() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    // The first delivery of the event fails; it is retried.
    let notifications = Receiver::start(vec![Reply::status(503)]).await;
    let secret = notify_at(&app, &admin, &notifications.url).await;
    let runtime = Receiver::start((0..5).map(|_| Reply::status(500)).collect()).await;
    let agent = app
        .agent(
            &admin,
            json!({"name": "Ticket triage", "runtime": {"kind": "http", "url": runtime.url}}),
        )
        .await;
    let response = app
        .delivery(&agent.url, br#"{"ticket": 1}"#)
        .hub(&agent.secret)
        .delivery_id("ticket-1-created")
        .send()
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let execution_id = response.json::<Value>().await.unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let events = notifications.wait_for(2).await;
    assert_eq!(
        runtime.received().len(),
        5,
        "the execution used its 5 attempts"
    );
    assert_eq!(
        events[0].header("webhook-id"),
        events[1].header("webhook-id")
    );
    let event = verified(&events[1], &secret);
    assert_eq!(event["type"], "execution.failed");
    let data = &event["data"];
    assert_eq!(data["execution_id"], execution_id);
    assert_eq!(data["agent_id"], agent.id);
    assert_eq!(data["agent_name"], "Ticket triage");
    assert_eq!(data["delivery_id"], "ticket-1-created");
    assert_eq!(data["attempts"], 5);
    assert!(data["error"].as_str().unwrap().contains("500"), "{data}");

    let listed = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the event to be recorded as delivered",
        || async {
            let listed: Value = app.get_json(&admin, "/api/notifications").await;
            (listed[0]["status"] == "delivered").then_some(listed)
        },
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["event"], "execution.failed");
    assert_eq!(listed[0]["attempts"], 2);
    assert_eq!(listed[0]["response_status"], 200);
    assert_eq!(listed[0]["id"], events[1].header("webhook-id"));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"notifications_total{event="execution.failed",outcome="delivered"} 1"#,
        r#"notifications_total{event="execution.failed",outcome="retrying"} 1"#,
        r#"runtime_requests_total{kind="http",outcome="server_error"} 5"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

#[tokio::test]
async fn a_burst_of_invalid_signatures_sends_one_event_per_window() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let notifications = Receiver::start(Vec::new()).await;
    let secret = notify_at(&app, &admin, &notifications.url).await;
    let agent = app.agent(&admin, json!({"name": "Exposed"})).await;
    let quiet = app.agent(&admin, json!({"name": "Quiet"})).await;
    let wrong = WebhookSecret::generate().to_base64();
    for _ in 0..8 {
        let response = app.post_signed(&agent.url, &wrong, b"{}").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Below the threshold (3) for another agent: no event.
    for _ in 0..2 {
        app.post_signed(&quiet.url, &wrong, b"{}").await;
    }
    let event = verified(&notifications.wait_for(1).await[0], &secret);
    assert_eq!(event["type"], "webhook.signature_failures");
    assert_eq!(event["data"]["agent_id"], agent.id);
    assert_eq!(event["data"]["agent_name"], "Exposed");
    assert_eq!(event["data"]["failures"], 3);
    assert_eq!(event["data"]["window_seconds"], 300);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        notifications.received().len(),
        1,
        "one event per agent and window"
    );
}

#[tokio::test]
async fn the_test_button_sends_a_signed_event_and_reports_the_answer() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let response = admin
        .client
        .post(app.url("/api/notifications/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT, "no URL yet");

    let notifications =
        Receiver::start(vec![Reply::status(200), Reply::status(410).body("gone")]).await;
    let secret = notify_at(&app, &admin, &notifications.url).await;
    let result: Value = admin
        .client
        .post(app.url("/api/notifications/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["delivered"], true, "{result}");
    assert_eq!(result["status"], 200);
    let event = verified(&notifications.wait_for(1).await[0], &secret);
    assert_eq!(event["type"], "notification.test");

    let result: Value = admin
        .client
        .post(app.url("/api/notifications/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(result["delivered"], false);
    assert_eq!(result["status"], 410);
    assert!(result["error"].as_str().unwrap().contains("gone"));

    // A regenerated secret signs the next event; the old one no longer verifies.
    let response = admin
        .client
        .post(app.url("/api/notifications/regenerate-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    admin
        .client
        .post(app.url("/api/notifications/test"))
        .send()
        .await
        .unwrap();
    let third = &notifications.wait_for(3).await[2];
    let timestamp = third.header("webhook-timestamp");
    assert!(secret
        .verify_standard(
            third.header("webhook-id"),
            timestamp,
            third.header("webhook-signature"),
            &third.body,
            timestamp.parse().unwrap()
        )
        .is_err());

    let audit: Value = app.get_json(&admin, "/api/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "notifications.updated",
        "notification_secret.revealed",
        "notification_secret.regenerated",
        "notification.test_sent",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
    let updated = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "notifications.updated")
        .unwrap();
    assert_eq!(
        updated["details"],
        json!({"enabled": true, "host": "127.0.0.1"})
    );

    // Turned off.
    let response = admin
        .client
        .put(app.url("/api/notifications/settings"))
        .json(&json!({ "url": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["url"], Value::Null);
}

#[tokio::test]
async fn a_notification_url_is_checked_like_a_runtime_target() {
    let app = spawn_app_with(TestOptions::default()).await;
    let admin = app.admin("acme").await;
    for (url, needle) in [
        ("https://169.254.169.254/hook", "a link-local address"),
        ("https://127.0.0.1/hook", "a loopback address"),
        ("https://[fc00::1]/hook", "a private address"),
        ("http://93.184.215.14/hook", "https://"),
    ] {
        let response = admin
            .client
            .put(app.url("/api/notifications/settings"))
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{url}: {body}"
        );
        assert_eq!(body["details"][0]["path"], "/url");
    }
    let response = admin
        .client
        .get(app.url("/api/notifications/secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409, "no secret before a URL");
}

/// Processes count invalid signatures apart; the database keeps their events to one per
/// agent and window.
#[tokio::test]
async fn two_processes_reaching_the_threshold_record_one_event() {
    let app = app_reaching_loopback().await;
    let admin = app.admin("acme").await;
    let notifications = Receiver::start(Vec::new()).await;
    notify_at(&app, &admin, &notifications.url).await;
    let agent = app.agent(&admin, json!({"name": "Exposed"})).await;
    let agent_id = agent.id.parse().unwrap();
    let (first, second) = tokio::join!(
        agent_webhooks::services::notifications::signature_failures(&app.state, agent_id, 3),
        agent_webhooks::services::notifications::signature_failures(&app.state, agent_id, 3),
    );
    first.unwrap();
    second.unwrap();
    let events: i64 = sqlx::query_scalar("select count(*) from notifications where agent_id = $1")
        .bind(agent_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
    notifications.wait_for(1).await;
}
