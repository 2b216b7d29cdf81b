use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, spawn_app, TestApp};

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of the sample `name` (with its labels, e.g. `x{status="202"}`); 0 when absent.
fn value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(sample)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_move_as_webhooks_arrive_and_executions_finish() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "workers_running"), 1.0);
    assert_eq!(
        value(&before, "webhook_requests_total{status=\"202\"}"),
        0.0
    );

    for _ in 0..2 {
        assert_eq!(
            app.post_signed(&agent.url, &agent.secret, b"{}")
                .await
                .status(),
            202
        );
    }
    assert_eq!(
        app.post_signed(&agent.url, "wrong", b"{}").await.status(),
        401
    );

    let after = eventually(
        Duration::from_secs(10),
        "both executions to complete",
        || async {
            let text = scrape(&app).await;
            (value(&text, "executions_total{status=\"completed\"}") == 2.0).then_some(text)
        },
    )
    .await;
    assert_eq!(value(&after, "webhook_requests_total{status=\"202\"}"), 2.0);
    assert_eq!(value(&after, "webhook_requests_total{status=\"401\"}"), 1.0);
    assert_eq!(value(&after, "webhook_signature_failures_total"), 1.0);
    assert_eq!(value(&after, "executions_total{status=\"queued\"}"), 2.0);
    assert_eq!(value(&after, "webhook_request_duration_seconds_count"), 3.0);
    assert_eq!(value(&after, "execution_queue_depth"), 0.0);
    assert_eq!(value(&after, "execution_oldest_queued_seconds"), 0.0);
    assert!(
        !after.contains(&agent.id) && !after.contains(&admin.tenant_id.to_string()),
        "no agent or tenant ids in labels"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_queue_depth_and_age_come_from_the_database() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    for _ in 0..3 {
        app.post_signed(&agent.url, &agent.secret, b"{}").await;
    }
    sqlx::query("update agent_executions set created_at = now() - interval '90 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    let text = scrape(&app).await;
    assert_eq!(value(&text, "execution_queue_depth"), 3.0);
    let oldest = value(&text, "execution_oldest_queued_seconds");
    assert!((89.0..120.0).contains(&oldest), "{oldest}");
    assert_eq!(value(&text, "workers_running"), 0.0);
    app.stop().await.unwrap();
}

#[test]
fn values_are_read_from_exposition_lines() {
    let text = "# HELP x\nx{status=\"202\"} 3\nx_total 4\n";
    assert_eq!(value(text, "x{status=\"202\"}"), 3.0);
    assert_eq!(value(text, "x_total"), 4.0);
    assert_eq!(value(text, "x{status=\"500\"}"), 0.0);
}
