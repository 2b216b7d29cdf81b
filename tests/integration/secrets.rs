use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Admin, TestApp};

async fn create_agent(app: &TestApp, admin: &Admin) -> String {
    let agent: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "agent"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    agent["id"].as_str().unwrap().to_owned()
}

async fn reveal(app: &TestApp, admin: &Admin, id: &str) -> String {
    let response = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["hmac_secret"].as_str().unwrap().to_owned()
}

async fn audit_actions(app: &TestApp, admin: &Admin, id: &str) -> Vec<Value> {
    let page: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/audit")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn revealing_is_not_cached_and_is_audited_with_who_and_where() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let response = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let first: Value = response.json().await.unwrap();
    assert_eq!(
        reveal(&app, &admin, &id).await,
        first["hmac_secret"].as_str().unwrap(),
        "stable until regenerated"
    );

    let items = audit_actions(&app, &admin, &id).await;
    let revealed: Vec<&Value> = items
        .iter()
        .filter(|e| e["action"] == "secret.revealed")
        .collect();
    assert_eq!(revealed.len(), 2);
    assert!(revealed[0]["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(revealed[0]["source_ip"], "127.0.0.1");
    assert_eq!(revealed[0]["outcome"], "success");
    let text = serde_json::to_string(&items).unwrap();
    assert!(
        !text.contains(first["hmac_secret"].as_str().unwrap()),
        "no secret in the audit log"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_eleventh_reveal_in_a_minute_is_refused_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let other = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    for _ in 0..10 {
        reveal(&app, &admin, &id).await;
    }
    let refused = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=6).contains(&retry_after),
        "one reveal refills every 6 s: {retry_after}"
    );
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("retry in"),
        "{body}"
    );
    assert!(body.get("hmac_secret").is_none());

    // The limit is per principal: another administrator may still reveal.
    reveal(&app, &other, &id).await;

    let denied: Vec<Value> = audit_actions(&app, &admin, &id)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.reveal_denied")
        .collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["outcome"], "denied");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regenerating_without_grace_replaces_the_secret_at_once() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let old = reveal(&app, &admin, &id).await;
    let response = admin
        .client
        .post(app.url(&format!("/api/agents/{id}/regenerate-webhook-secret")))
        .json(&json!({"grace_period_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "HMAC secret regenerated");
    assert_eq!(body["new_secret_masked"], "••••••••");
    assert_eq!(body["previous_secret_expires_at"], Value::Null);
    let new = reveal(&app, &admin, &id).await;
    assert_ne!(new, old);
    assert_eq!(new.len(), 44);
    let previous: (Option<String>, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "select previous_hmac_secret, previous_secret_expires_at from agent_triggers",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(previous, (None, None), "the old secret is gone");
    assert!(audit_actions(&app, &admin, &id)
        .await
        .iter()
        .any(|e| e["action"] == "secret.regenerated"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regenerating_with_a_grace_period_keeps_the_old_secret_until_it_ends() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let old = reveal(&app, &admin, &id).await;
    let body: Value = admin
        .client
        .post(app.url(&format!("/api/agents/{id}/regenerate-webhook-secret")))
        .json(&json!({"grace_period_seconds": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expires: chrono::DateTime<chrono::Utc> = body["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = chrono::Utc::now() + chrono::Duration::seconds(3600);
    assert!((expires - expected).num_seconds().abs() < 30, "{expires}");
    let agent: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown: chrono::DateTime<chrono::Utc> = agent["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (shown - expires).num_milliseconds().abs() < 1,
        "{shown} vs {expires}"
    );

    // The previous secret is still held (encrypted) and opens to the old value.
    let sealed = agent_webhooks::db::triggers::sealed_secrets(&app.pool, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let tenant_key =
        agent_webhooks::services::keys::tenant_key(&app.pool, &app.state.keyring, admin.tenant_id)
            .await
            .unwrap();
    let previous = tenant_key
        .decrypt_secret(sealed.previous_hmac_secret.as_deref().unwrap())
        .unwrap();
    assert_eq!(previous.to_base64(), old);
    assert_ne!(reveal(&app, &admin, &id).await, old);

    // Once the grace period is over, the previous secret is no longer offered.
    sqlx::query(
        "update agent_triggers set previous_secret_expires_at = now() - interval '1 second'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let sealed = agent_webhooks::db::triggers::sealed_secrets(&app.pool, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sealed.previous_hmac_secret, None);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn grace_periods_over_a_day_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let old = reveal(&app, &admin, &id).await;
    for body in [
        json!({"grace_period_seconds": 86401}),
        json!({"grace_period_seconds": -1}),
        json!({"grace": 1}),
    ] {
        let response = admin
            .client
            .post(app.url(&format!("/api/agents/{id}/regenerate-webhook-secret")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(reveal(&app, &admin, &id).await, old);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_regenerations_leave_one_consistent_secret() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let url = app.url(&format!("/api/agents/{id}/regenerate-webhook-secret"));
    let calls = (0..8).map(|_| {
        admin
            .client
            .post(&url)
            .json(&json!({"grace_period_seconds": 60}))
            .send()
    });
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    let current = reveal(&app, &admin, &id).await;
    assert_eq!(current.len(), 44);
    let regenerations = audit_actions(&app, &admin, &id)
        .await
        .into_iter()
        .filter(|e| e["action"] == "secret.regenerated")
        .count();
    assert_eq!(regenerations, 8);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_cross_site_cookie_request_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = create_agent(&app, &admin).await;
    let before = reveal(&app, &admin, &id).await;
    let url = app.url(&format!("/api/agents/{id}/regenerate-webhook-secret"));
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = admin
            .client
            .post(&url)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "cross-site request refused");
    }
    let patch = admin
        .client
        .patch(app.url(&format!("/api/agents/{id}")))
        .header("origin", "https://evil.example")
        .json(&json!({"status": "suspended"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        reveal(&app, &admin, &id).await,
        before,
        "the secret is unchanged"
    );
    let agent: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(agent["status"], "active");
    app.stop().await.unwrap();
}
