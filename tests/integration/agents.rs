use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn creating_an_agent_creates_its_absolute_webhook_url_and_a_masked_secret() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;

    let response = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "Ticket triage", "description": "Routes tickets"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let agent: Value = response.json().await.unwrap();
    let id = agent["id"].as_str().unwrap();
    assert_eq!(agent["status"], "active");
    assert_eq!(
        agent["webhook_url"],
        format!("{}/agents/{id}/webhook", app.address),
        "absolute, from the public base URL"
    );
    assert_eq!(agent["hmac_secret_masked"], "••••••••");
    assert_eq!(agent["rate_limit_per_minute"], 100);
    assert_eq!(agent["require_timestamp"], false);
    assert_eq!(agent["payload_schema"], Value::Null);
    assert!(agent.get("hmac_secret").is_none());

    let listed: Value = admin
        .client
        .get(app.url("/api/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    let fetched: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, agent);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_secret_is_32_random_bytes_and_the_database_only_holds_ciphertext() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let mut secrets = Vec::new();
    for name in ["one", "two"] {
        let agent: Value = admin
            .client
            .post(app.url("/api/agents"))
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let revealed: Value = admin
            .client
            .get(app.url(&format!(
                "/api/agents/{}/webhook-secret",
                agent["id"].as_str().unwrap()
            )))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = revealed["hmac_secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 44);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&secret)
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(
            revealed["standard_webhooks_secret"],
            format!("whsec_{secret}")
        );
        secrets.push(secret);
    }
    assert_ne!(
        secrets[0], secrets[1],
        "every agent gets its own random secret"
    );

    let stored: Vec<String> = sqlx::query_scalar("select hmac_secret from agent_triggers")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for secret in &secrets {
        let hex = hex::encode(
            base64::engine::general_purpose::STANDARD
                .decode(secret)
                .unwrap(),
        );
        let everywhere: i64 = sqlx::query_scalar(
            "select count(*) from (
                 select hmac_secret as t from agent_triggers
                 union all select coalesce(previous_hmac_secret, '') from agent_triggers
                 union all select details::text from audit_log
                 union all select sealed_key from tenants
             ) texts where t like '%' || $1 || '%' or t like '%' || $2 || '%'",
        )
        .bind(secret)
        .bind(&hex)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(everywhere, 0, "the clear secret is stored nowhere");
    }
    for token in &stored {
        assert!(token.starts_with("gAAAAA"), "a Fernet token: {token}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_draft_has_no_trigger_until_it_first_becomes_active() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let schema = json!({"type": "object", "required": ["ticket_id"]});
    let draft: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "Draft", "status": "draft", "payload_schema": schema}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["webhook_url"], Value::Null);
    assert_eq!(draft["hmac_secret_masked"], Value::Null);
    assert_eq!(draft["payload_schema"], schema);
    let triggers: i64 = sqlx::query_scalar("select count(*) from agent_triggers")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(triggers, 0);
    let reveal = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .send()
        .await
        .unwrap();
    assert_eq!(reveal.status(), StatusCode::CONFLICT);

    let active: Value = admin
        .client
        .patch(app.url(&format!("/api/agents/{id}")))
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(active["status"], "active");
    assert_eq!(
        active["webhook_url"],
        format!("{}/agents/{id}/webhook", app.address)
    );
    assert_eq!(
        active["payload_schema"], schema,
        "the draft's schema moves to the trigger"
    );
    let trigger_schema: Option<Value> =
        sqlx::query_scalar("select payload_schema from agent_triggers")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(trigger_schema, Some(schema));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn patch_changes_only_what_it_names_and_null_clears_the_schema() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(
            &json!({"name": "A", "system_prompt": "Be brief", "rate_limit_per_minute": null,
                      "payload_schema": {"type": "object"}, "require_timestamp": true}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        agent["rate_limit_per_minute"],
        Value::Null,
        "null means no limit"
    );
    assert_eq!(agent["require_timestamp"], true);
    let url = app.url(&format!("/api/agents/{}", agent["id"].as_str().unwrap()));

    let renamed: Value = admin
        .client
        .patch(&url)
        .json(&json!({"name": "B", "rate_limit_per_minute": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "B");
    assert_eq!(renamed["rate_limit_per_minute"], 5);
    assert_eq!(renamed["system_prompt"], "Be brief");
    assert_eq!(renamed["payload_schema"], json!({"type": "object"}));
    assert_eq!(renamed["webhook_url"], agent["webhook_url"]);

    let cleared: Value = admin
        .client
        .patch(&url)
        .json(&json!({"payload_schema": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["payload_schema"], Value::Null);
    assert_eq!(cleared["name"], "B");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_with_400_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let cases = [
        json!({"name": "x", "tenant_id": "00000000-0000-0000-0000-000000000000"}),
        json!({"name": "x", "hmac_secret": "mine"}),
        json!({"name": "x", "id": "00000000-0000-0000-0000-000000000000"}),
        json!({"name": "  "}),
        json!({"name": "x", "status": "deleted"}),
        json!({"name": "x", "rate_limit_per_minute": 0}),
        json!({"name": "x", "rate_limit_per_minute": 1000001}),
        json!({"name": "x", "payload_schema": {"type": "objekt"}}),
    ];
    for body in cases {
        let response = admin
            .client
            .post(app.url("/api/agents"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{error}"
        );
    }
    let invalid_schema: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "x", "payload_schema": {"type": "objekt"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invalid_schema["error"], "invalid payload schema");
    assert!(!invalid_schema["details"].as_array().unwrap().is_empty());

    let count: i64 = sqlx::query_scalar("select count(*) from agents")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let agent: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "ok"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = app.url(&format!("/api/agents/{}", agent["id"].as_str().unwrap()));
    for body in [
        json!({"tenant_id": "x"}),
        json!({"payload_schema": {"minimum": "ten"}}),
        json!({"webhook_url": "x"}),
    ] {
        let response = admin.client.patch(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let unchanged: Value = admin
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, agent);

    let not_json = admin
        .client
        .post(app.url("/api/agents"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_agent_endpoint_requires_authentication() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    let requests = [
        app.client.get(app.url("/api/agents")),
        app.client
            .post(app.url("/api/agents"))
            .json(&json!({"name": "x"})),
        app.client.get(app.url(&format!("/api/agents/{id}"))),
        app.client
            .patch(app.url(&format!("/api/agents/{id}")))
            .json(&json!({})),
        app.client
            .get(app.url(&format!("/api/agents/{id}/webhook-secret"))),
        app.client
            .post(app.url(&format!("/api/agents/{id}/regenerate-webhook-secret"))),
        app.client.get(app.url(&format!("/api/agents/{id}/audit"))),
        app.client.get(app.url("/api/audit")),
        app.client
            .post(app.url("/api/schemas/validate"))
            .json(&json!({"schema": {}})),
        app.client
            .get(app.url("/api/agents"))
            .bearer_auth("awt_not-a-real-token"),
        app.client
            .get(app.url("/api/agents"))
            .header("cookie", "aw_session=forged"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            response.url()
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "authentication required");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn another_tenants_agent_answers_404_on_every_endpoint() {
    let app = spawn_app().await;
    let owner = app.admin("acme").await;
    let stranger = app.admin("globex").await;
    let agent: Value = owner
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "private"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = agent["id"].as_str().unwrap();
    let missing = uuid::Uuid::new_v4();
    for agent_id in [id.to_owned(), missing.to_string(), "not-a-uuid".to_owned()] {
        let requests = [
            stranger
                .client
                .get(app.url(&format!("/api/agents/{agent_id}"))),
            stranger
                .client
                .patch(app.url(&format!("/api/agents/{agent_id}")))
                .json(&json!({"name": "mine"})),
            stranger
                .client
                .get(app.url(&format!("/api/agents/{agent_id}/webhook-secret"))),
            stranger
                .client
                .post(app.url(&format!("/api/agents/{agent_id}/regenerate-webhook-secret"))),
            stranger
                .client
                .get(app.url(&format!("/api/agents/{agent_id}/audit"))),
        ];
        for request in requests {
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{}",
                response.url()
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body,
                json!({"error": "not found"}),
                "indistinguishable from a missing agent"
            );
        }
    }
    let theirs: Value = stranger
        .client
        .get(app.url("/api/agents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
    let still: Value = owner
        .client
        .get(app.url(&format!("/api/agents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still, agent, "nothing changed");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_methods_answer_405() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        (reqwest::Method::PUT, format!("/api/agents/{id}")),
        (reqwest::Method::PUT, "/api/agents".to_owned()),
        (reqwest::Method::PATCH, "/api/tokens".to_owned()),
        (
            reqwest::Method::POST,
            format!("/api/agents/{id}/webhook-secret"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/agents/{id}/regenerate-webhook-secret"),
        ),
        (reqwest::Method::GET, "/api/auth/login".to_owned()),
    ] {
        let response = admin
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn api_tokens_authenticate_scripts() {
    let app = spawn_app().await;
    let token = app.api_token("acme").await;
    assert!(token.starts_with("awt_"));
    let response = app
        .client
        .post(app.url("/api/agents"))
        .bearer_auth(&token)
        .json(&json!({"name": "from CI"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: i64 = sqlx::query_scalar("select count(*) from api_tokens where token_hash = $1")
        .bind(&token)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "only a hash of the token is stored");
    app.stop().await.unwrap();
}
