//! The Leptos server functions (`src/api`), called over HTTP: `POST /api/fn/<endpoint>` with
//! form-encoded arguments, as a form posts them before hydration (or a JSON object, as the
//! WASM sends them; the `input = Json` functions take only that), answered with JSON. Each is
//! checked for what it returns, what it changes (database rows, audit entries, the webhook
//! route), and the errors the UI shows: 401 without a session, 404 for another tenant's
//! agent, 400 with details for bad input.

use std::time::Duration;

use reqwest::{header::HeaderMap, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    eventually, hub_signature, spawn_app, spawn_app_with, Admin, TestApp, TestOptions,
};

/// A server function's answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{status}: not JSON ({err}): {text:?}"));
        Self {
            status,
            headers,
            body,
        }
    }

    /// The body of a 200.
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.body
    }

    /// The `ApiError` of a refusal with this status.
    fn refused(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.body["status"],
            status.as_u16(),
            "the error names the status it was sent with: {}",
            self.body
        );
        self.body
    }
}

/// Calls a server function with form-encoded arguments, as a form posts them.
async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    endpoint: &str,
    args: &[(&str, &str)],
) -> Answer {
    let response = client
        .post(app.url(&format!("/api/fn/{endpoint}")))
        .form(args)
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

/// Calls a server function with one JSON object keyed by argument name, as the WASM does.
async fn call_json(app: &TestApp, client: &reqwest::Client, endpoint: &str, args: Value) -> Answer {
    let response = client
        .post(app.url(&format!("/api/fn/{endpoint}")))
        .json(&args)
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

/// An `ApiError` without details or retry hint.
fn api_error(status: u16, message: &str) -> Value {
    json!({"status": status, "message": message, "details": [], "retry_after_seconds": null})
}

/// Creates an agent through `create_agent` (unlike `TestApp::agent`, which also reveals its
/// secret and so spends one of the admin's reveals).
async fn create(app: &TestApp, admin: &Admin, input: Value) -> Value {
    call_json(
        app,
        &admin.client,
        "create_agent",
        json!({ "input": input }),
    )
    .await
    .ok()
}

fn id_of(agent: &Value) -> String {
    agent["id"].as_str().unwrap().to_owned()
}

/// The agent's audit trail through `agent_audit`, newest first: (action, outcome, details).
async fn audit_of(app: &TestApp, admin: &Admin, agent_id: &str) -> Vec<(String, String, Value)> {
    let page = call(app, &admin.client, "agent_audit", &[("id", agent_id)])
        .await
        .ok();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap().to_owned(),
                entry["outcome"].as_str().unwrap().to_owned(),
                entry["details"].clone(),
            )
        })
        .collect()
}

async fn reveal(app: &TestApp, admin: &Admin, agent_id: &str) -> String {
    let revealed = call(app, &admin.client, "reveal_secret", &[("id", agent_id)])
        .await
        .ok();
    revealed["hmac_secret"].as_str().unwrap().to_owned()
}

/// The user id of an administrator, as stored.
async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The session token a `Set-Cookie` header carries.
fn session_token(headers: &HeaderMap) -> String {
    let cookie = headers["set-cookie"].to_str().unwrap();
    let value = cookie
        .strip_prefix("aw_session=")
        .unwrap_or_else(|| panic!("not the session cookie: {cookie}"));
    value.split(';').next().unwrap().to_owned()
}

// Sessions and who may call what.

#[tokio::test]
async fn every_server_function_but_status_and_sign_in_refuses_a_caller_without_a_session() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(&app, &admin, json!({"name": "untouched"})).await;
    let id = id_of(&agent);
    let execution = Uuid::new_v4().to_string();
    let form_calls: [(&str, Vec<(&str, &str)>); 8] = [
        ("list_agents", vec![]),
        ("get_agent", vec![("id", &id)]),
        (
            "set_agent_status",
            vec![("id", &id), ("status", "suspended")],
        ),
        ("reveal_secret", vec![("id", &id)]),
        (
            "regenerate_secret",
            vec![("id", &id), ("grace_period_seconds", "0")],
        ),
        ("agent_audit", vec![("id", &id)]),
        ("list_executions", vec![("agent_id", &id)]),
        ("get_execution", vec![("id", &execution)]),
    ];
    let json_calls = [
        ("create_agent", json!({"input": {"name": "intruder"}})),
        (
            "update_agent",
            json!({"id": id, "patch": {"name": "renamed"}}),
        ),
        ("validate_schema", json!({"schema_text": "{}"})),
        ("save_schema", json!({"id": id, "schema_text": "{}"})),
        ("send_test_webhook", json!({"id": id, "payload": "{}"})),
    ];
    // No cookie at all, and a cookie whose session does not exist: both are strangers.
    let forged = with_session(&app, "aws_forged");
    for client in [&app.client, &forged] {
        for (endpoint, args) in &form_calls {
            let answer = call(&app, client, endpoint, args).await;
            assert_eq!(
                answer.refused(StatusCode::UNAUTHORIZED),
                api_error(401, "authentication required"),
                "{endpoint}"
            );
        }
        for (endpoint, args) in &json_calls {
            let answer = call_json(&app, client, endpoint, args.clone()).await;
            assert_eq!(
                answer.refused(StatusCode::UNAUTHORIZED),
                api_error(401, "authentication required"),
                "{endpoint}"
            );
        }
    }

    // Nothing happened: one agent, as created, and only its creation in the audit log.
    let stored = call(&app, &admin.client, "get_agent", &[("id", &id)])
        .await
        .ok();
    assert_eq!(stored, agent);
    let agents: i64 = sqlx::query_scalar("select count(*) from agents")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(agents, 1);
    let actions: Vec<String> = sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(actions, ["auth.login_succeeded", "agent.created"]);
    assert_eq!(app.execution_count().await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn another_tenants_agent_is_not_found_by_any_server_function_and_stays_unchanged() {
    let app = spawn_app().await;
    let owner = app.admin("acme").await;
    let stranger = app.admin("globex").await;
    let agent = create(&app, &owner, json!({"name": "acme's"})).await;
    let id = id_of(&agent);
    let form_calls: [(&str, Vec<(&str, &str)>); 6] = [
        ("get_agent", vec![("id", &id)]),
        (
            "set_agent_status",
            vec![("id", &id), ("status", "suspended")],
        ),
        ("reveal_secret", vec![("id", &id)]),
        (
            "regenerate_secret",
            vec![("id", &id), ("grace_period_seconds", "60")],
        ),
        ("agent_audit", vec![("id", &id)]),
        ("list_executions", vec![("agent_id", &id)]),
    ];
    for (endpoint, args) in &form_calls {
        let answer = call(&app, &stranger.client, endpoint, args).await;
        assert_eq!(
            answer.refused(StatusCode::NOT_FOUND),
            api_error(404, "not found"),
            "{endpoint}"
        );
    }
    for (endpoint, args) in [
        (
            "update_agent",
            json!({"id": id, "patch": {"name": "taken"}}),
        ),
        (
            "save_schema",
            json!({"id": id, "schema_text": r#"{"type": "array"}"#}),
        ),
        ("send_test_webhook", json!({"id": id, "payload": "{}"})),
    ] {
        let answer = call_json(&app, &stranger.client, endpoint, args).await;
        assert_eq!(
            answer.refused(StatusCode::NOT_FOUND),
            api_error(404, "not found"),
            "{endpoint}"
        );
    }

    // The stranger's tenant has no agents; the owner's agent is as it was, with nothing in
    // its audit trail but its creation (no reveal, no regeneration, no test delivery).
    assert_eq!(
        call(&app, &stranger.client, "list_agents", &[]).await.ok(),
        json!([])
    );
    let stored = call(&app, &owner.client, "get_agent", &[("id", &id)])
        .await
        .ok();
    assert_eq!(stored, agent);
    let trail: Vec<String> = audit_of(&app, &owner, &id)
        .await
        .into_iter()
        .map(|(action, _, _)| action)
        .collect();
    assert_eq!(trail, ["agent.created"]);
    assert_eq!(app.execution_count().await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_cross_site_server_function_call_with_the_admins_cookie_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a"})).await);
    // A hostile page posting to the server function with the admin's cookie.
    let response = admin
        .client
        .post(app.url("/api/fn/set_agent_status"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("id", id.as_str()), ("status", "suspended")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let stored = call(&app, &admin.client, "get_agent", &[("id", &id)])
        .await
        .ok();
    assert_eq!(stored["status"], "active");
    app.stop().await.unwrap();
}

// Sign-in, sign-out, who is signed in.

/// An administrator who has not signed in yet: (email, password).
async fn new_admin(app: &TestApp, tenant: &str) -> (String, String) {
    let (email, password, _) = app.admin_account(tenant).await;
    (email, password)
}

/// A client that sends this session cookie, from the app's own origin.
fn with_session(app: &TestApp, token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("aw_session={token}").parse().unwrap(),
    );
    headers.insert(reqwest::header::ORIGIN, app.address.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn login_with_a_wrong_password_is_401_sets_no_cookie_and_is_audited() {
    let app = spawn_app().await;
    let (email, _) = new_admin(&app, "acme").await;
    let answer = call(
        &app,
        &app.client,
        "login",
        &[
            ("email", &email),
            ("password", "not the password"),
            ("next", "/agents"),
        ],
    )
    .await;
    assert!(answer.headers.get("set-cookie").is_none());
    assert!(answer.headers.get("location").is_none(), "no redirect");
    assert_eq!(
        answer.refused(StatusCode::UNAUTHORIZED),
        api_error(401, "invalid email or password")
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    let failures: Vec<(String, Option<String>)> = sqlx::query_as(
        "select outcome, source_ip from audit_log where action = 'auth.login_failed'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        failures,
        [("failure".to_owned(), Some("127.0.0.1".to_owned()))],
        "the client address reaches the audit log"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn login_sets_the_session_cookie_and_sends_the_browser_only_to_a_local_next() {
    let app = spawn_app().await;
    let (email, password) = new_admin(&app, "acme").await;

    // As the hydrated page calls it: 200, the cookie, and the redirect left to the client.
    let answer = call(
        &app,
        &app.client,
        "login",
        &[
            ("email", &email.to_uppercase()),
            ("password", &password),
            ("next", "/agents/42?tab=audit"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, Value::Null);
    let cookie = answer.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"),
        "12 hours, not readable by scripts, never sent cross-site: {cookie}"
    );
    assert_eq!(answer.headers["location"], "/agents/42?tab=audit");
    assert!(answer.headers.contains_key("serverfnredirect"));
    let token = session_token(&answer.headers);
    assert!(token.starts_with("aws_"), "{token}");

    // The session works, for this user.
    let session = with_session(&app, &token);
    let user = call(&app, &session, "current_user", &[]).await.ok();
    assert_eq!(user["email"], email);
    assert_eq!(
        call(&app, &session, "list_agents", &[]).await.ok(),
        json!([])
    );
    let succeeded: Vec<(String, Option<String>)> = sqlx::query_as(
        "select actor, source_ip from audit_log where action = 'auth.login_succeeded'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        succeeded,
        [(
            format!("user:{}", user_id(&app, &email).await),
            Some("127.0.0.1".to_owned())
        )]
    );

    // A crafted `next` cannot send the fresh session elsewhere: as a plain form post (302)
    // it lands on /agents.
    let response = app
        .client
        .post(app.url("/api/fn/login"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .form(&[
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("next", "//evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/agents");
    let second = session_token(response.headers());
    assert_ne!(second, token, "every sign-in gets its own session");
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    let (email, password) = new_admin(&app, "acme").await;
    let signed_in = call(
        &app,
        &app.client,
        "login",
        &[("email", &email), ("password", &password)],
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(
        signed_in.headers["location"], "/agents",
        "no next: the agents list"
    );
    let token = session_token(&signed_in.headers);
    let session = with_session(&app, &token);
    assert_eq!(
        call(&app, &session, "list_agents", &[]).await.ok(),
        json!([])
    );

    let answer = call(&app, &session, "logout", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, Value::Null);
    assert_eq!(
        answer.headers["set-cookie"],
        "aw_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    assert_eq!(answer.headers["location"], "/login");

    // The session is gone from the database, so the old cookie no longer works anywhere.
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(
        call(&app, &session, "list_agents", &[])
            .await
            .refused(StatusCode::UNAUTHORIZED),
        api_error(401, "authentication required")
    );
    assert_eq!(
        call(&app, &session, "current_user", &[]).await.ok(),
        Value::Null
    );
    let rest = session.get(app.url("/api/agents")).send().await.unwrap();
    assert_eq!(rest.status(), StatusCode::UNAUTHORIZED);

    // Signing out without a session is no error: the cookie is cleared all the same.
    let answer = call(&app, &app.client, "logout", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.headers["set-cookie"],
        "aw_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn current_user_is_none_without_a_session_and_the_signed_in_admin_with_one() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;

    // Not an error: the top bar simply offers to sign in.
    let anonymous = call(&app, &app.client, "current_user", &[]).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert_eq!(anonymous.body, Value::Null);
    let forged = with_session(&app, "aws_forged");
    assert_eq!(
        call(&app, &forged, "current_user", &[]).await.ok(),
        Value::Null
    );

    let user = call(&app, &admin.client, "current_user", &[]).await.ok();
    assert_eq!(
        user,
        json!({"user_id": user_id(&app, &admin.email).await, "email": admin.email})
    );

    // An API token is not a user: nobody to show in the top bar.
    let token = app.api_token("acme").await;
    let response = app
        .client
        .post(app.url("/api/fn/current_user"))
        .bearer_auth(token)
        .form(&[] as &[(&str, &str)])
        .send()
        .await
        .unwrap();
    let answer = Answer::read(response).await;
    assert_eq!(answer.ok(), Value::Null);
    app.stop().await.unwrap();
}

// Server status.

#[tokio::test]
async fn check_server_status_needs_no_session_and_reports_version_database_and_workers() {
    let app = spawn_app_with(TestOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let status = call(&app, &app.client, "check_server_status", &[])
        .await
        .ok();
    assert_eq!(
        status,
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "database_reachable": true,
            "workers_in_process": 2
        })
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn without_the_database_status_says_so_and_sign_in_is_503_not_a_wrong_password() {
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::create_for_test().await);
    let proxy = crate::proxy::TcpProxy::start(&database.url).await;
    let app = spawn_app_with(TestOptions {
        workers: 0,
        database: Some(database.clone()),
        connect_url: Some(proxy.url_for(&database.url)),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;

    proxy.cut();
    let status = call(&app, &app.client, "check_server_status", &[])
        .await
        .ok();
    assert_eq!(
        status,
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "database_reachable": false,
            "workers_in_process": 0
        })
    );
    // The sign-in page must say "try again shortly", not "wrong password".
    let answer = call(
        &app,
        &app.client,
        "login",
        &[("email", &admin.email), ("password", &admin.password)],
    )
    .await;
    assert!(answer.headers.get("set-cookie").is_none());
    assert_eq!(
        answer.refused(StatusCode::SERVICE_UNAVAILABLE),
        json!({
            "status": 503,
            "message": "service temporarily unavailable",
            "details": [],
            "retry_after_seconds": 5
        })
    );
    // A signed-in admin is not signed out by an outage: 503 (as the REST API answers),
    // not 401, which would send the UI to the sign-in page.
    let rest = admin
        .client
        .get(app.url("/api/agents"))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::SERVICE_UNAVAILABLE);
    let answer = call(&app, &admin.client, "list_agents", &[]).await;
    assert_eq!(
        answer.refused(StatusCode::SERVICE_UNAVAILABLE),
        json!({
            "status": 503,
            "message": "service temporarily unavailable",
            "details": [],
            "retry_after_seconds": 5
        })
    );
    // Nor does the top bar take the outage for a sign-out.
    let answer = call(&app, &admin.client, "current_user", &[]).await;
    assert_eq!(
        answer.refused(StatusCode::SERVICE_UNAVAILABLE)["retry_after_seconds"],
        5
    );

    proxy.restore();
    let status = eventually(
        Duration::from_secs(10),
        "the database to be back",
        || async {
            let status = call(&app, &app.client, "check_server_status", &[])
                .await
                .ok();
            (status["database_reachable"] == true).then_some(status)
        },
    )
    .await;
    assert_eq!(status["workers_in_process"], 0);
    assert_eq!(
        call(&app, &admin.client, "list_agents", &[]).await.ok(),
        json!([])
    );
    app.stop().await.unwrap();
}

// Agents.

#[tokio::test]
async fn create_agent_stores_the_agent_in_the_admins_tenant_and_audits_it() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let schema = json!({"type": "object", "required": ["ticket_id"]});
    let agent = create(
        &app,
        &admin,
        json!({
            "name": "  Ticket triage  ",
            "description": "Routes tickets",
            "system_prompt": "Be brief.",
            "payload_schema": schema,
            "rate_limit_per_minute": 30,
            "require_timestamp": true
        }),
    )
    .await;
    let id = id_of(&agent);
    assert_eq!(agent["name"], "Ticket triage", "trimmed");
    assert_eq!(agent["description"], "Routes tickets");
    assert_eq!(agent["system_prompt"], "Be brief.");
    assert_eq!(agent["status"], "active");
    assert_eq!(
        agent["webhook_url"],
        format!("{}/agents/{id}/webhook", app.address)
    );
    assert_eq!(agent["hmac_secret_masked"], "••••••••");
    assert_eq!(agent["payload_schema"], schema);
    assert_eq!(agent["rate_limit_per_minute"], 30);
    assert_eq!(agent["require_timestamp"], true);
    assert_eq!(agent["previous_secret_expires_at"], Value::Null);

    // Stored in the admin's tenant, and the REST API shows the same agent.
    let tenant: Uuid = sqlx::query_scalar("select tenant_id from agents where id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tenant, admin.tenant_id);
    let rest: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest, agent);
    assert_eq!(
        audit_of(&app, &admin, &id).await,
        [(
            "agent.created".to_owned(),
            "success".to_owned(),
            json!({"name": "Ticket triage", "status": "active", "runtime": "builtin",
                "verification": {"scheme": "default"}})
        )]
    );

    // A draft has no webhook and no secret yet; its schema waits for the trigger.
    let draft = create(
        &app,
        &admin,
        json!({"name": "later", "status": "draft", "payload_schema": schema}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["webhook_url"], Value::Null);
    assert_eq!(draft["hmac_secret_masked"], Value::Null);
    assert_eq!(draft["payload_schema"], schema);
    assert_eq!(draft["rate_limit_per_minute"], 100, "the server default");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn create_agent_refuses_invalid_input_naming_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    for (input, path, message) in [
        (json!({"name": "   "}), "/name", "name must not be empty"),
        (
            json!({"name": "a", "rate_limit_per_minute": 0}),
            "/rate_limit_per_minute",
            "rate_limit_per_minute must be null or between 1 and 1000000",
        ),
        (
            json!({"name": "a", "description": "x".repeat(2001)}),
            "/description",
            "description must be at most 2000 characters",
        ),
    ] {
        let answer = call_json(
            &app,
            &admin.client,
            "create_agent",
            json!({ "input": input }),
        )
        .await;
        assert_eq!(
            answer.refused(StatusCode::BAD_REQUEST),
            json!({
                "status": 400,
                "message": message,
                "details": [{"path": path, "message": message}],
                "retry_after_seconds": null
            })
        );
    }
    // An invalid payload schema: every problem located inside the schema.
    let answer = call_json(
        &app,
        &admin.client,
        "create_agent",
        json!({"input": {"name": "a", "payload_schema": {"type": "objekt"}}}),
    )
    .await;
    let error = answer.refused(StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "invalid payload schema");
    assert_eq!(error["details"][0]["path"], "/type", "{error}");
    // Fields the input does not have (a tenant, an id) are refused, not ignored.
    let answer = call_json(
        &app,
        &admin.client,
        "create_agent",
        json!({"input": {"name": "a", "tenant_id": Uuid::new_v4()}}),
    )
    .await;
    let error = answer.refused(StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().starts_with(
            "error deserializing server function arguments: unknown field `tenant_id`"
        ),
        "{error}"
    );

    let agents: i64 = sqlx::query_scalar("select count(*) from agents")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(agents, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn list_agents_shows_the_tenants_agents_newest_first_with_their_latest_execution() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let other = app.admin("globex").await;
    let first = create(&app, &admin, json!({"name": "first"})).await;
    let second = create(&app, &admin, json!({"name": "second", "status": "draft"})).await;
    create(&app, &other, json!({"name": "globex's"})).await;

    let sent = call_json(
        &app,
        &admin.client,
        "send_test_webhook",
        json!({"id": first["id"], "payload": "{}"}),
    )
    .await
    .ok();
    assert_eq!(sent["status"], 202, "{sent}");
    let listed = eventually(
        Duration::from_secs(15),
        "the execution to complete",
        || async {
            let listed = call(&app, &admin.client, "list_agents", &[]).await.ok();
            (listed[1]["last_execution_status"] == "completed").then_some(listed)
        },
    )
    .await;
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(
        items[0],
        json!({
            "id": second["id"],
            "name": "second",
            "status": "draft",
            "webhook_url": null,
            "last_execution_status": null,
            "last_execution_at": null
        })
    );
    assert_eq!(items[1]["id"], first["id"]);
    assert_eq!(items[1]["name"], "first");
    assert_eq!(items[1]["status"], "active");
    assert_eq!(items[1]["webhook_url"], first["webhook_url"]);
    let execution = call(
        &app,
        &admin.client,
        "get_execution",
        &[("id", sent["execution_id"].as_str().unwrap())],
    )
    .await
    .ok();
    assert_eq!(items[1]["last_execution_at"], execution["created_at"]);

    let theirs = call(&app, &other.client, "list_agents", &[]).await.ok();
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["name"], "globex's");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn get_agent_returns_the_agent_and_refuses_unknown_or_malformed_ids() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(&app, &admin, json!({"name": "a", "description": "d"})).await;
    let id = id_of(&agent);
    assert_eq!(
        call(&app, &admin.client, "get_agent", &[("id", &id)])
            .await
            .ok(),
        agent
    );
    let unknown = Uuid::new_v4().to_string();
    assert_eq!(
        call(&app, &admin.client, "get_agent", &[("id", &unknown)])
            .await
            .refused(StatusCode::NOT_FOUND),
        api_error(404, "not found")
    );
    // An argument that does not parse is the caller's mistake (400), not a server error.
    let error = call(&app, &admin.client, "get_agent", &[("id", "not-a-uuid")])
        .await
        .refused(StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("error deserializing server function arguments: UUID parsing failed"),
        "{error}"
    );
    app.stop().await.unwrap();
}

/// The WASM sends every function's arguments as JSON (`JsonOrForm`, src/api/codec.rs); the
/// form encoding above is what the sign-in and sign-out forms post before hydration.
#[tokio::test]
async fn functions_the_browser_calls_take_json_arguments_as_well_as_a_form() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(&app, &admin, json!({"name": "a"})).await;
    let id = id_of(&agent);
    assert_eq!(
        call_json(&app, &admin.client, "get_agent", json!({"id": id}))
            .await
            .ok(),
        agent
    );
    let user = call_json(&app, &admin.client, "current_user", json!({}))
        .await
        .ok();
    assert_eq!(user["email"], admin.email.as_str());
    let error = call_json(
        &app,
        &admin.client,
        "get_agent",
        json!({"id": "not-a-uuid"}),
    )
    .await
    .refused(StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("error deserializing server function arguments: "),
        "{error}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn edit_agent_changes_only_the_given_fields_and_audits_which() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(
        &app,
        &admin,
        json!({"name": "before", "description": "kept", "rate_limit_per_minute": 10}),
    )
    .await;
    let id = id_of(&agent);
    let edited = call_json(
        &app,
        &admin.client,
        "update_agent",
        json!({"id": id, "patch": {"name": "after", "rate_limit_per_minute": null, "system_prompt": "Hi"}}),
    )
    .await
    .ok();
    assert_eq!(edited["name"], "after");
    assert_eq!(edited["description"], "kept");
    assert_eq!(edited["system_prompt"], "Hi");
    assert_eq!(edited["rate_limit_per_minute"], Value::Null, "no limit");
    assert_eq!(edited["status"], "active");
    assert_eq!(edited["webhook_url"], agent["webhook_url"]);
    assert_eq!(edited["created_at"], agent["created_at"]);
    assert_ne!(edited["updated_at"], agent["updated_at"]);
    let stored: (String, String, Option<i32>) =
        sqlx::query_as("select name, description, rate_limit_per_minute from agents where id = $1")
            .bind(id.parse::<Uuid>().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, ("after".into(), "kept".into(), None));
    assert_eq!(
        audit_of(&app, &admin, &id).await[0],
        (
            "agent.updated".to_owned(),
            "success".to_owned(),
            json!({"changed": ["name", "system_prompt", "rate_limit_per_minute"], "status": "active"})
        )
    );

    // Invalid input changes nothing and names the field.
    let answer = call_json(
        &app,
        &admin.client,
        "update_agent",
        json!({"id": id, "patch": {"name": "", "description": "lost"}}),
    )
    .await;
    assert_eq!(
        answer.refused(StatusCode::BAD_REQUEST),
        json!({
            "status": 400,
            "message": "name must not be empty",
            "details": [{"path": "/name", "message": "name must not be empty"}],
            "retry_after_seconds": null
        })
    );
    let answer = call_json(
        &app,
        &admin.client,
        "update_agent",
        json!({"id": id, "patch": {"webhook_url": "https://evil.example"}}),
    )
    .await;
    answer.refused(StatusCode::BAD_REQUEST);
    assert_eq!(
        call(&app, &admin.client, "get_agent", &[("id", &id)])
            .await
            .ok(),
        edited
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn set_agent_status_switches_the_webhook_on_and_off() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let draft = create(&app, &admin, json!({"name": "a", "status": "draft"})).await;
    let id = id_of(&draft);

    // Out of draft, the agent gets its webhook URL and secret.
    let active = call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &id), ("status", "active")],
    )
    .await
    .ok();
    assert_eq!(active["status"], "active");
    let url = active["webhook_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/agents/{id}/webhook", app.address));
    assert_eq!(active["hmac_secret_masked"], "••••••••");
    let secret = reveal(&app, &admin, &id).await;
    assert_eq!(
        app.post_signed(&url, &secret, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    let suspended = call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &id), ("status", "suspended")],
    )
    .await
    .ok();
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["webhook_url"], url, "the URL is kept");
    assert_eq!(
        app.post_signed(&url, &secret, b"{}").await.status(),
        StatusCode::FORBIDDEN
    );
    let stored: String = sqlx::query_scalar("select status from agents where id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, "suspended");
    assert_eq!(
        audit_of(&app, &admin, &id).await[0].2,
        json!({"changed": ["status"], "status": "suspended"})
    );

    // A status that does not exist is refused before anything changes.
    let error = call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &id), ("status", "deleted")],
    )
    .await
    .refused(StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("deleted"),
        "{error}"
    );
    assert_eq!(
        call(&app, &admin.client, "get_agent", &[("id", &id)])
            .await
            .ok()["status"],
        "suspended"
    );

    call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &id), ("status", "active")],
    )
    .await
    .ok();
    assert_eq!(
        app.post_signed(&url, &secret, b"{}").await.status(),
        StatusCode::ACCEPTED,
        "the same secret works again"
    );
    app.stop().await.unwrap();
}

// Secrets.

#[tokio::test]
async fn reveal_secret_gives_the_key_that_signs_deliveries_uncached_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(&app, &admin, json!({"name": "a"})).await;
    let id = id_of(&agent);
    let answer = call(&app, &admin.client, "reveal_secret", &[("id", &id)]).await;
    assert_eq!(
        answer
            .headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "a secret in clear is never kept by a cache"
    );
    let revealed = answer.ok();
    let secret = revealed["hmac_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 44, "base64 of 32 bytes");
    assert_eq!(
        revealed["standard_webhooks_secret"],
        format!("whsec_{secret}")
    );
    // The same secret the REST API reveals, and the one the webhook route verifies.
    let rest: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest, revealed);
    let url = agent["webhook_url"].as_str().unwrap();
    assert_eq!(
        app.post_signed(url, secret, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    let trail = audit_of(&app, &admin, &id).await;
    let actions: Vec<&str> = trail.iter().map(|(action, _, _)| action.as_str()).collect();
    assert_eq!(
        actions,
        ["secret.revealed", "secret.revealed", "agent.created"]
    );
    assert!(!serde_json::to_string(&trail).unwrap().contains(secret));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_eleventh_reveal_in_a_minute_is_429_with_when_to_retry() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a"})).await);
    for _ in 0..10 {
        reveal(&app, &admin, &id).await;
    }
    let error = call(&app, &admin.client, "reveal_secret", &[("id", &id)])
        .await
        .refused(StatusCode::TOO_MANY_REQUESTS);
    let retry_after = error["retry_after_seconds"].as_u64().unwrap();
    assert!(
        (1..=6).contains(&retry_after),
        "one reveal comes back every 6 s: {error}"
    );
    assert_eq!(
        error["message"],
        format!("too many requests; retry in {retry_after} seconds")
    );
    assert!(error.get("hmac_secret").is_none());
    let (action, outcome, details) = audit_of(&app, &admin, &id).await.remove(0);
    assert_eq!(
        (action.as_str(), outcome.as_str()),
        ("secret.reveal_denied", "denied")
    );
    assert_eq!(details["reason"], "rate_limited");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_draft_has_no_secret_to_reveal_regenerate_or_sign_a_test_with() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a", "status": "draft"})).await);
    for answer in [
        call(&app, &admin.client, "reveal_secret", &[("id", &id)]).await,
        call(
            &app,
            &admin.client,
            "regenerate_secret",
            &[("id", &id), ("grace_period_seconds", "0")],
        )
        .await,
        call_json(
            &app,
            &admin.client,
            "send_test_webhook",
            json!({"id": id, "payload": "{}"}),
        )
        .await,
    ] {
        let error = answer.refused(StatusCode::CONFLICT);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("this agent is a draft and has no webhook"),
            "{error}"
        );
    }
    assert_eq!(app.execution_count().await, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regenerate_secret_with_a_grace_period_keeps_the_old_secret_verifying_until_it_ends() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(
        &app,
        &admin,
        json!({"name": "a", "rate_limit_per_minute": null}),
    )
    .await;
    let id = id_of(&agent);
    let url = agent["webhook_url"].as_str().unwrap();
    let old = reveal(&app, &admin, &id).await;

    let regenerated = call(
        &app,
        &admin.client,
        "regenerate_secret",
        &[("id", &id), ("grace_period_seconds", "3600")],
    )
    .await
    .ok();
    assert_eq!(regenerated["success"], true);
    assert_eq!(regenerated["message"], "HMAC secret regenerated");
    assert_eq!(regenerated["new_secret_masked"], "••••••••");
    let expires: chrono::DateTime<chrono::Utc> = regenerated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = chrono::Utc::now() + chrono::Duration::seconds(3600);
    assert!((expires - expected).num_seconds().abs() < 30, "{expires}");
    let shown = call(&app, &admin.client, "get_agent", &[("id", &id)])
        .await
        .ok();
    let shown: chrono::DateTime<chrono::Utc> = shown["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((shown - expires).num_milliseconds().abs() < 1, "{shown}");

    // Senders still on the old secret keep working during the grace period; the new one
    // works at once.
    let new = reveal(&app, &admin, &id).await;
    assert_ne!(new, old);
    for (secret, which) in [(&old, "old"), (&new, "new")] {
        assert_eq!(
            app.post_signed(url, secret, b"{}").await.status(),
            StatusCode::ACCEPTED,
            "the {which} secret"
        );
    }

    // Without a grace period the previous secret stops at once, whichever it was.
    let regenerated = call(
        &app,
        &admin.client,
        "regenerate_secret",
        &[("id", &id), ("grace_period_seconds", "0")],
    )
    .await
    .ok();
    assert_eq!(regenerated["previous_secret_expires_at"], Value::Null);
    let newest = reveal(&app, &admin, &id).await;
    for (secret, expected) in [
        (&old, StatusCode::UNAUTHORIZED),
        (&new, StatusCode::UNAUTHORIZED),
        (&newest, StatusCode::ACCEPTED),
    ] {
        assert_eq!(app.post_signed(url, secret, b"{}").await.status(), expected);
    }

    let regenerations: Vec<Value> = audit_of(&app, &admin, &id)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "secret.regenerated")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(
        regenerations,
        [
            json!({"grace_period_seconds": 0, "source": "generated"}),
            json!({"grace_period_seconds": 3600, "source": "generated"})
        ]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regenerate_secret_refuses_grace_periods_over_a_day_and_keeps_the_secret() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a"})).await);
    let before = reveal(&app, &admin, &id).await;
    let answer = call(
        &app,
        &admin.client,
        "regenerate_secret",
        &[("id", &id), ("grace_period_seconds", "86401")],
    )
    .await;
    let message = "grace_period_seconds must be between 0 and 86400";
    assert_eq!(
        answer.refused(StatusCode::BAD_REQUEST),
        json!({
            "status": 400,
            "message": message,
            "details": [{"path": "/grace_period_seconds", "message": message}],
            "retry_after_seconds": null
        })
    );
    // Not a number of seconds at all.
    for grace in ["-1", "soon"] {
        call(
            &app,
            &admin.client,
            "regenerate_secret",
            &[("id", &id), ("grace_period_seconds", grace)],
        )
        .await
        .refused(StatusCode::BAD_REQUEST);
    }
    assert_eq!(reveal(&app, &admin, &id).await, before);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_secret_is_a_500_that_tells_nothing_about_it() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a"})).await);
    sqlx::query("update agent_triggers set hmac_secret = 'gAAAAA-not-a-token' where agent_id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        call(&app, &admin.client, "reveal_secret", &[("id", &id)])
            .await
            .refused(StatusCode::INTERNAL_SERVER_ERROR),
        api_error(500, "internal error")
    );
    app.stop().await.unwrap();
}

// Schemas.

#[tokio::test]
async fn validate_schema_reports_syntax_and_rule_problems_without_saving_anything() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let validate = |text: &str| {
        call_json(
            &app,
            &admin.client,
            "validate_schema",
            json!({ "schema_text": text }),
        )
    };

    assert_eq!(
        validate(r#"{"type": "object", "required": ["id"]}"#)
            .await
            .ok(),
        json!({"valid": true, "errors": []})
    );
    // A problem with the text is an answer for the editor, not an error.
    let broken = validate(r#"{"type": "object""#).await.ok();
    assert_eq!(broken["valid"], false);
    let errors = broken["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{broken}");
    assert_eq!(errors[0]["path"], "");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON: EOF while parsing an object"),
        "{broken}"
    );
    let wrong = validate(r#"{"type": "objekt"}"#).await.ok();
    assert_eq!(wrong["valid"], false);
    assert_eq!(wrong["errors"][0]["path"], "/type", "{wrong}");
    let not_a_schema = validate("[1, 2]").await.ok();
    assert_eq!(
        not_a_schema,
        json!({"valid": false, "errors": [{"path": "", "message": "a schema must be a JSON object (or a boolean)"}]})
    );

    // Over a cost limit it is refused (400), naming the limit and the regex that crosses it.
    let patterns: serde_json::Map<String, Value> = (0
        ..=agent_webhooks::services::schemas::MAX_PATTERNS)
        .map(|i| (format!("^p{i}"), json!(true)))
        .collect();
    let costly = json!({"patternProperties": patterns}).to_string();
    let error = validate(&costly).await.refused(StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().starts_with(
            "schema over a cost limit: the schema has 101 distinct regular expressions"
        ),
        "{error}"
    );
    assert!(
        error["details"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("/patternProperties/"),
        "{error}"
    );

    // Only validated: the audit log has nothing of it.
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action <> 'auth.login_succeeded'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn save_schema_parses_the_text_saves_it_for_deliveries_and_blank_text_removes_it() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(&app, &admin, json!({"name": "a"})).await;
    let id = id_of(&agent);
    let url = agent["webhook_url"].as_str().unwrap();
    let secret = reveal(&app, &admin, &id).await;

    let saved = call_json(
        &app,
        &admin.client,
        "save_schema",
        json!({"id": id, "schema_text": r#" {"type": "object", "required": ["ticket_id"]} "#}),
    )
    .await
    .ok();
    let schema = json!({"type": "object", "required": ["ticket_id"]});
    assert_eq!(saved["payload_schema"], schema);
    let stored: Option<Value> =
        sqlx::query_scalar("select payload_schema from agent_triggers where agent_id = $1")
            .bind(id.parse::<Uuid>().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, Some(schema.clone()));
    // The webhook route applies it to the next delivery.
    assert_eq!(
        app.post_signed(url, &secret, b"{}").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post_signed(url, &secret, br#"{"ticket_id": 1}"#)
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    // Text that is not JSON, or not a schema: 400 with the problem located, nothing saved.
    let answer = call_json(
        &app,
        &admin.client,
        "save_schema",
        json!({"id": id, "schema_text": "{oops"}),
    )
    .await;
    let error = answer.refused(StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "invalid payload schema");
    let details = error["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{error}");
    assert_eq!(details[0]["path"], "");
    assert!(
        details[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON: key must be a string"),
        "{error}"
    );
    let answer = call_json(
        &app,
        &admin.client,
        "save_schema",
        json!({"id": id, "schema_text": r#"{"type": "objekt"}"#}),
    )
    .await;
    let error = answer.refused(StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "invalid payload schema");
    assert_eq!(error["details"][0]["path"], "/type", "{error}");
    assert_eq!(
        call(&app, &admin.client, "get_agent", &[("id", &id)])
            .await
            .ok()["payload_schema"],
        schema
    );

    // Blank text and no text both remove the schema.
    for text in [json!("  \n "), Value::Null] {
        call_json(
            &app,
            &admin.client,
            "save_schema",
            json!({"id": id, "schema_text": schema.to_string()}),
        )
        .await
        .ok();
        let cleared = call_json(
            &app,
            &admin.client,
            "save_schema",
            json!({"id": id, "schema_text": text}),
        )
        .await
        .ok();
        assert_eq!(cleared["payload_schema"], Value::Null, "{text}");
    }
    assert_eq!(
        app.post_signed(url, &secret, b"{}").await.status(),
        StatusCode::ACCEPTED,
        "no schema: anything goes"
    );
    let schema_changes: Vec<Value> = audit_of(&app, &admin, &id)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "schema.updated")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(
        schema_changes,
        [
            json!({"cleared": true}),
            json!({"cleared": false}),
            json!({"cleared": true}),
            json!({"cleared": false}),
            json!({"cleared": false}),
        ]
    );
    app.stop().await.unwrap();
}

// Test deliveries and executions.

#[tokio::test]
async fn a_test_webhook_runs_the_agent_and_its_execution_is_listed_and_fetched() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let other = app.admin("globex").await;
    let agent = create(&app, &admin, json!({"name": "Triage"})).await;
    let id = id_of(&agent);
    let payload = r#"{"ticket_id": 7}"#;
    let result = call_json(
        &app,
        &admin.client,
        "send_test_webhook",
        json!({"id": id, "payload": payload}),
    )
    .await
    .ok();
    assert_eq!(result["status"], 202, "{result}");
    assert_eq!(result["meaning"], "Webhook accepted!");
    assert_eq!(result["details"], json!([]));
    let execution_id = result["execution_id"].as_str().unwrap().to_owned();
    assert_eq!(
        result["response_body"],
        json!({"status": "queued", "execution_id": execution_id, "message": "Agent execution queued"})
    );
    // The curl command reproduces the delivery: same URL, body and signature.
    let secret = reveal(&app, &admin, &id).await;
    let curl = result["curl"].as_str().unwrap();
    assert!(
        curl.starts_with(&format!(
            "curl -X POST '{}'",
            agent["webhook_url"].as_str().unwrap()
        )),
        "{curl}"
    );
    assert!(
        curl.contains(&format!(
            "-H 'X-Hub-Signature-256: {}'",
            hub_signature(&secret, payload.as_bytes())
        )),
        "{curl}"
    );
    assert!(
        curl.ends_with(&format!("--data-binary '{payload}'")),
        "{curl}"
    );

    // The built-in runner completes it shortly.
    let page = eventually(
        Duration::from_secs(15),
        "the execution to complete",
        || async {
            let page = call(&app, &admin.client, "list_executions", &[("agent_id", &id)])
                .await
                .ok();
            (page["items"][0]["status"] == "completed").then_some(page)
        },
    )
    .await;
    assert_eq!(page["next_before"], Value::Null);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let listed = &items[0];
    assert_eq!(listed["id"], execution_id);
    assert_eq!(listed["agent_id"], id);
    assert_eq!(listed["payload"], json!({"ticket_id": 7}));
    assert_eq!(listed["attempts"], 1);
    assert_eq!(listed["error"], Value::Null);
    assert_eq!(listed["result"]["runner"], "builtin");
    assert_eq!(listed["result"]["agent_name"], "Triage");
    assert_eq!(listed["result"]["top_level_keys"], json!(["ticket_id"]));
    assert_eq!(listed["result"]["payload_bytes"], payload.len());
    let fetched = call(
        &app,
        &admin.client,
        "get_execution",
        &[("id", &execution_id)],
    )
    .await
    .ok();
    assert_eq!(&fetched, listed);

    // Audited, with the scheme and the execution it produced.
    let (action, outcome, details) = audit_of(&app, &admin, &id).await.remove(1);
    assert_eq!(
        (action.as_str(), outcome.as_str()),
        ("webhook.test_sent", "success")
    );
    assert_eq!(
        details,
        json!({"status": 202, "scheme": "x_hub_signature_256", "execution_id": execution_id})
    );

    // Another tenant cannot see the execution; an unknown one is not found either.
    assert_eq!(
        call(
            &app,
            &other.client,
            "get_execution",
            &[("id", &execution_id)]
        )
        .await
        .refused(StatusCode::NOT_FOUND),
        api_error(404, "not found")
    );
    let unknown = Uuid::new_v4().to_string();
    assert_eq!(
        call(&app, &admin.client, "get_execution", &[("id", &unknown)])
            .await
            .refused(StatusCode::NOT_FOUND),
        api_error(404, "not found")
    );
    assert_eq!(
        call(
            &app,
            &admin.client,
            "list_executions",
            &[("agent_id", &unknown)]
        )
        .await
        .refused(StatusCode::NOT_FOUND),
        api_error(404, "not found")
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_test_webhook_the_route_rejects_explains_why_and_queues_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = create(
        &app,
        &admin,
        json!({"name": "a", "payload_schema": {
            "type": "object",
            "required": ["ticket_id"],
            "properties": {"ticket_id": {"type": "integer"}}
        }}),
    )
    .await;
    let id = id_of(&agent);
    let send = |payload: &str| {
        call_json(
            &app,
            &admin.client,
            "send_test_webhook",
            json!({"id": id, "payload": payload}),
        )
    };

    // Not JSON at all.
    let result = send("not json").await.ok();
    assert_eq!(result["status"], 400, "{result}");
    assert_eq!(
        result["meaning"],
        "Payload rejected: invalid JSON or schema validation failed"
    );
    assert_eq!(result["execution_id"], Value::Null);
    assert!(result["curl"]
        .as_str()
        .unwrap()
        .ends_with("--data-binary 'not json'"));

    // JSON the schema refuses: each violation located.
    let result = send(r#"{"ticket_id": "seven"}"#).await.ok();
    assert_eq!(result["status"], 400, "{result}");
    assert_eq!(result["response_body"]["error"], "Validation failed");
    assert_eq!(result["execution_id"], Value::Null);
    let details = result["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{result}");
    assert_eq!(details[0]["path"], "/ticket_id");

    // A suspended agent refuses it too.
    call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &id), ("status", "suspended")],
    )
    .await
    .ok();
    let result = send(r#"{"ticket_id": 7}"#).await.ok();
    assert_eq!(result["status"], 403, "{result}");
    assert_eq!(
        result["meaning"],
        "Agent is not active: activate it to accept webhooks"
    );

    assert_eq!(app.execution_count().await, 0);
    assert_eq!(
        call(&app, &admin.client, "list_executions", &[("agent_id", &id)])
            .await
            .ok(),
        json!({"items": [], "next_before": null})
    );
    let outcomes: Vec<(String, Value)> = audit_of(&app, &admin, &id)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "webhook.test_sent")
        .map(|(_, outcome, details)| (outcome, details["status"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failure".to_owned(), json!(403)),
            ("failure".to_owned(), json!(400)),
            ("failure".to_owned(), json!(400)),
        ]
    );
    app.stop().await.unwrap();
}

// Audit.

#[tokio::test]
async fn agent_audit_lists_what_was_done_to_this_agent_newest_first_and_by_whom() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let id = id_of(&create(&app, &admin, json!({"name": "a"})).await);
    let unrelated = id_of(&create(&app, &admin, json!({"name": "b"})).await);
    call_json(
        &app,
        &admin.client,
        "update_agent",
        json!({"id": id, "patch": {"description": "now described"}}),
    )
    .await
    .ok();
    call_json(
        &app,
        &admin.client,
        "save_schema",
        json!({"id": id, "schema_text": "{}"}),
    )
    .await
    .ok();
    reveal(&app, &admin, &id).await;
    call(
        &app,
        &admin.client,
        "regenerate_secret",
        &[("id", &id), ("grace_period_seconds", "0")],
    )
    .await
    .ok();
    call_json(
        &app,
        &admin.client,
        "send_test_webhook",
        json!({"id": id, "payload": "{}"}),
    )
    .await
    .ok();
    call(
        &app,
        &admin.client,
        "set_agent_status",
        &[("id", &unrelated), ("status", "inactive")],
    )
    .await
    .ok();

    let page = call(&app, &admin.client, "agent_audit", &[("id", &id)])
        .await
        .ok();
    assert_eq!(page["next_before"], Value::Null);
    let items = page["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.test_sent",
            "secret.regenerated",
            "secret.revealed",
            "schema.updated",
            "agent.updated",
            "agent.created"
        ]
    );
    let actor = format!("user:{}", user_id(&app, &admin.email).await);
    for entry in items {
        assert_eq!(entry["actor"], actor, "{entry}");
        assert_eq!(entry["agent_id"], id, "{entry}");
        assert_eq!(entry["outcome"], "success", "{entry}");
        assert_eq!(entry["source_ip"], "127.0.0.1", "{entry}");
    }
    let ids: Vec<i64> = items
        .iter()
        .map(|entry| entry["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    assert_eq!(
        items[4]["details"],
        json!({"changed": ["description"], "status": "active"})
    );
    app.stop().await.unwrap();
}

// Server functions called while a page renders on the server.

#[tokio::test]
async fn a_page_rendering_another_tenants_agent_shows_not_found_and_keeps_its_own_status() {
    let app = spawn_app().await;
    let owner = app.admin("acme").await;
    let stranger = app.admin("globex").await;
    let id = id_of(&create(&app, &owner, json!({"name": "Secret project"})).await);
    let response = stranger
        .client
        .get(app.url(&format!("/agents/{id}")))
        .send()
        .await
        .unwrap();
    // `get_agent` fails with 404 inside the render: the page shows it, and the failure does
    // not set the status of the page's response (that is for server-function calls of their
    // own).
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Agent not found"), "{html}");
    assert!(!html.contains("Secret project"));

    let response = owner
        .client
        .get(app.url(&format!("/agents/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Secret project"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_page_rendered_without_a_session_sends_the_browser_to_sign_in_and_back() {
    let app = spawn_app().await;
    // `list_agents` fails with 401 inside the render; a browser's navigation is redirected.
    let response = app
        .client
        .get(app.url("/agents"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/login?next=/agents");
    app.stop().await.unwrap();
}
