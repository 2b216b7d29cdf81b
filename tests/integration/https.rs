//! `require_https`: plain HTTP is refused (or redirected for browsers) unless a trusted proxy
//! says the request arrived over TLS.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, TestOptions};

async fn agent_over_https(app: &TestApp) -> (String, String, String) {
    let token = app.api_token("acme").await;
    let agent: Value = app
        .client
        .post(app.url("/api/agents"))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "https")
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = agent["id"].as_str().unwrap().to_owned();
    let secret: Value = app
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        id,
        agent["webhook_url"].as_str().unwrap().to_owned(),
        secret["hmac_secret"].as_str().unwrap().to_owned(),
    )
}

fn behind_local_proxy() -> TestOptions {
    TestOptions {
        tweak: Some(|settings| {
            settings.server.require_https = true;
            settings.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn webhooks_over_tls_from_a_trusted_proxy_pass_and_plain_ones_are_refused() {
    let app = spawn_app_with(behind_local_proxy()).await;
    let (id, url, secret) = agent_over_https(&app).await;
    let body = b"{}";
    let send = |proto: Option<&'static str>| {
        let mut delivery = app
            .delivery(&url, body)
            .hub(&secret)
            .header("x-forwarded-for", "203.0.113.7");
        if let Some(proto) = proto {
            delivery = delivery.header("x-forwarded-proto", proto);
        }
        delivery.send()
    };
    assert_eq!(send(Some("https")).await.status(), StatusCode::ACCEPTED);
    for proto in [None, Some("http")] {
        let refused = send(proto).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{proto:?}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "HTTPS required: send this request over https"})
        );
    }
    // Probes inside the deployment stay on plain HTTP.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The audit log records the client behind the proxy, not the proxy.
    let wrong = app
        .delivery(&url, body)
        .hub("wrong")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ip: Option<String> = sqlx::query_scalar(
        "select source_ip from audit_log where action = 'webhook.signature_failed' and agent_id = $1::uuid")
        .bind(&id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn browsers_on_plain_http_are_redirected_to_https() {
    let app = spawn_app_with(behind_local_proxy()).await;
    let response = app
        .client
        .get(app.url("/agents?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    let host = app.address.trim_start_matches("http://");
    assert_eq!(
        response.headers()["location"],
        format!("https://{host}/agents?x=1")
    );
    let api = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "a@b.c", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| settings.server.require_https = true),
        ..Default::default()
    })
    .await;
    let response = app
        .delivery(
            &app.url(&format!("/agents/{}/webhook", uuid::Uuid::new_v4())),
            b"{}",
        )
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a spoofed X-Forwarded-Proto does not count"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn without_require_https_plain_http_is_served() {
    let app = spawn_app_with(TestOptions::default()).await;
    let token = app.api_token("acme").await;
    let response = app
        .client
        .get(app.url("/api/agents"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await.unwrap();
}
