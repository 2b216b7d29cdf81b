use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn login_sets_a_strict_http_only_session_cookie() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": admin.email, "password": admin.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("aw_session=aws_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "served over plain http here: {cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], admin.email);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_get_the_same_401() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    for body in [
        json!({"email": admin.email, "password": "wrong password!"}),
        json!({"email": "nobody@acme.example", "password": admin.password}),
        json!({"email": "not an email", "password": "x"}),
    ] {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{body}");
        assert!(response.headers().get("set-cookie").is_none());
        let error: Value = response.json().await.unwrap();
        assert_eq!(error, json!({"error": "invalid email or password"}));
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    assert_eq!(
        admin
            .client
            .get(app.url("/api/agents"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let response = admin
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        admin
            .client
            .get(app.url("/api/agents"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_cross_site_login_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": admin.email, "password": admin.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn schemas_can_be_checked_before_saving() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let valid: Value = admin
        .client
        .post(app.url("/api/schemas/validate"))
        .json(&json!({"schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(valid, json!({"valid": true, "errors": []}));
    let invalid: Value = admin
        .client
        .post(app.url("/api/schemas/validate"))
        .json(&json!({"schema": {"type": "object", "properties": {"id": {"type": 12}}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invalid["valid"], false);
    let error = &invalid["errors"][0];
    assert!(
        error["path"].as_str().unwrap().contains("/properties/id"),
        "{invalid}"
    );
    assert!(!error["message"].as_str().unwrap().is_empty());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/agents",
        "/api/agents/{id}",
        "/api/agents/{id}/webhook-secret",
        "/api/agents/{id}/regenerate-webhook-secret",
        "/api/audit",
        "/api/schemas/validate",
        "/api/auth/login",
        "/api/agents/{id}/runtime-secret",
        "/api/agents/{id}/regenerate-runtime-secret",
        "/api/notifications",
        "/api/notifications/settings",
        "/api/notifications/secret",
        "/api/notifications/regenerate-secret",
        "/api/notifications/test",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(doc["components"]["schemas"].get("Agent").is_some());
    // The runtime: a `kind`-tagged choice of the three shapes, on the agent and its changes.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Agent"]["properties"]["runtime"]["$ref"],
        "#/components/schemas/AgentRuntime"
    );
    let runtime = schemas["AgentRuntime"].to_string();
    for needle in [
        r#"["builtin"]"#,
        r#"["http"]"#,
        r#"["openai"]"#,
        "HttpRuntime",
        "OpenAiRuntime",
    ] {
        assert!(runtime.contains(needle), "{needle} in {runtime}");
    }
    assert_eq!(schemas["HttpRuntime"]["required"], json!(["url"]));
    assert_eq!(
        schemas["OpenAiRuntime"]["required"],
        json!(["base_url", "model"])
    );
    assert!(schemas["OpenAiRuntime"]["properties"]
        .get("api_key")
        .is_some());
    for schema in ["CreateAgent", "UpdateAgent"] {
        assert!(
            schemas[schema]["properties"].get("runtime").is_some(),
            "{schema} has runtime"
        );
    }
    // Timestamps are RFC 3339 strings (the domain types name them `Timestamp`, which is
    // chrono's `DateTime<Utc>` on the server).
    let agent = &doc["components"]["schemas"]["Agent"]["properties"];
    assert_eq!(
        agent["created_at"],
        json!({"type": "string", "format": "date-time"})
    );
    let expires = &agent["previous_secret_expires_at"];
    assert_eq!(expires["type"], json!(["string", "null"]));
    assert_eq!(expires["format"], "date-time");
    assert!(doc["components"]["securitySchemes"].get("bearer").is_some());
    app.stop().await.unwrap();
}
