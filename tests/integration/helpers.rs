use std::time::Duration;

use std::sync::Arc;

use agent_webhooks::crypto::signature::standard_webhooks;
use agent_webhooks::{
    config::Settings, crypto::keyring::MasterKeyring, jobs::runner::AgentRunner, services,
    startup::Application, state::AppState,
};
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use sqlx::{postgres::PgPoolOptions, PgPool};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// The server tests create their databases on: `DATABASE_URL` (any database on it) or the
/// local default.
fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced, keeping credentials and query (`?host=` sockets).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..authority_end], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A database created for one test and dropped when the test ends, even on panic.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create_for_test() -> Self {
        Self::create().await
    }

    async fn create() -> Self {
        let name = format!("aw_test_{}", Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&with_database(&server_url(), "postgres"))
            .await
            .expect("tests need PostgreSQL: set DATABASE_URL or start it on 127.0.0.1:5432");
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&server_url(), &name);
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = with_database(&server_url(), "postgres");
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(admin) = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin_url)
                    .await
                {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub state: AppState,
    /// A client without cookies, following no redirects.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    // Last: dropped after the server is gone.
    pub database: Arc<TestDatabase>,
}

pub struct TestOptions {
    pub workers: u32,
    /// Master keys, newest first; a fresh one when empty.
    pub master_keys: Vec<String>,
    /// Reuse another app's database (for restarts); a fresh one when `None`.
    pub database: Option<Arc<TestDatabase>>,
    /// One runner for every agent; each agent's own runtime when `None`.
    pub runner: Option<Arc<dyn AgentRunner>>,
    /// Connect the app through this URL instead (e.g. a proxy in front of the test database).
    pub connect_url: Option<String>,
    /// Adjusts the settings before the app starts.
    pub tweak: Option<fn(&mut Settings)>,
    /// Where the target cache LISTENs (`database.listen_url`), e.g. through a proxy.
    pub listen_url: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            master_keys: Vec::new(),
            database: None,
            runner: None,
            connect_url: None,
            tweak: None,
            listen_url: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        agent_webhooks::telemetry::init(agent_webhooks::config::LogFormat::Pretty);
    }
    let database = match options.database {
        Some(database) => database,
        None => Arc::new(TestDatabase::create().await),
    };
    let master_keys = if options.master_keys.is_empty() {
        vec![MasterKeyring::generate_key()]
    } else {
        options.master_keys
    };
    let settings = Settings::from_toml(&format!(
        r#"
        [server]
        site_addr = "127.0.0.1:0"
        shutdown_grace_seconds = 5
        [database]
        url = "{url}"
        max_connections = 5
        acquire_timeout_seconds = 1
        [workers]
        count = {workers}
        poll_interval_ms = 50
        lease_seconds = 2
        reaper_interval_seconds = 1
        retry_backoff_max_seconds = 1
        [security]
        master_keys = {master_keys:?}
        "#,
        url = options.connect_url.as_deref().unwrap_or(&database.url),
        workers = options.workers,
    ))
    .expect("test settings")
    .finish()
    .expect("valid test settings");
    let mut settings = settings;
    if let Some(tweak) = options.tweak {
        tweak(&mut settings);
    }
    if let Some(url) = options.listen_url {
        settings.database.listen_url = Some(agent_webhooks::config::Redacted::new(url));
    }
    let app = match options.runner {
        Some(runner) => Application::build_with_runner(settings, runner).await,
        None => Application::build(settings).await,
    }
    .expect("application starts");
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let pool = state.pool.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        pool,
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        shutdown: Some(shutdown),
        server: Some(server),
        database,
    }
}

/// An administrator signed in through the real login endpoint.
pub struct Admin {
    pub email: String,
    pub password: String,
    pub tenant_id: uuid::Uuid,
    /// Carries the session cookie and sends a same-origin `Origin`, as a browser would.
    pub client: reqwest::Client,
}

impl TestApp {
    /// Creates an administrator in `tenant` (created when new) and signs in.
    pub async fn admin(&self, tenant: &str) -> Admin {
        let (email, password, tenant_id) = self.admin_account(tenant).await;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.address.parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let response = client
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "login: {}",
            response.text().await.unwrap()
        );
        Admin {
            email,
            password,
            tenant_id,
            client,
        }
    }

    /// A new administrator of `tenant` who has not signed in: (email, password, tenant id).
    pub async fn admin_account(&self, tenant: &str) -> (String, String, Uuid) {
        let email = format!("admin-{}@{tenant}.example", Uuid::new_v4().simple());
        let password = "correct horse battery staple".to_owned();
        let created = services::auth::create_admin(
            &self.pool,
            &self.state.keyring,
            tenant,
            &email,
            &password,
        )
        .await
        .expect("create admin");
        (email, password, created.tenant_id)
    }

    /// A new API token in `tenant`.
    pub async fn api_token(&self, tenant: &str) -> String {
        services::auth::create_api_token(&self.pool, &self.state.keyring, tenant, "tests")
            .await
            .expect("create token")
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Stops the server gracefully and reports whether it stopped cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }
}

/// Polls `check` every 50 ms until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/app", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://postgres@localhost/app?host=/tmp/sock", "x"),
        "postgres://postgres@localhost/x?host=/tmp/sock"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

/// An agent created through the API, with its secret revealed through the API.
pub struct TestAgent {
    pub id: String,
    pub secret: String,
    pub url: String,
}

impl TestApp {
    pub async fn agent(&self, admin: &Admin, body: serde_json::Value) -> TestAgent {
        let response = admin
            .client
            .post(self.url("/api/agents"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "create agent");
        let agent: serde_json::Value = response.json().await.unwrap();
        let id = agent["id"].as_str().unwrap().to_owned();
        TestAgent {
            url: agent["webhook_url"].as_str().unwrap().to_owned(),
            secret: self.reveal_secret(admin, &id).await,
            id,
        }
    }

    /// The agent's current secret, revealed through the API.
    pub async fn reveal_secret(&self, admin: &Admin, agent_id: &str) -> String {
        let revealed: serde_json::Value = admin
            .client
            .get(self.url(&format!("/api/agents/{agent_id}/webhook-secret")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        revealed["hmac_secret"].as_str().unwrap().to_owned()
    }

    /// `GET path` as `admin`: the answer's JSON.
    pub async fn get_json(&self, admin: &Admin, path: &str) -> serde_json::Value {
        admin
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A webhook delivery of `body` to `url`, to be signed and sent: see [`Delivery`].
    pub fn delivery(&self, url: &str, body: &[u8]) -> Delivery {
        Delivery::new(self.client.clone(), url, body)
    }

    /// Posts `body` signed GitHub-style (`X-Hub-Signature-256`) with `secret`.
    pub async fn post_signed(&self, url: &str, secret: &str, body: &[u8]) -> reqwest::Response {
        self.delivery(url, body).hub(secret).send().await
    }

    /// How many executions the database holds.
    pub async fn execution_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from agent_executions")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The execution as stored, polled until `done` says it is what the test waits for.
    pub async fn execution_when(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let id: Uuid = id.parse().unwrap();
        eventually(Duration::from_secs(15), what, || async {
            let row: Option<serde_json::Value> = sqlx::query_scalar(
                "select to_jsonb(e) - 'raw_body' from agent_executions e where id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .unwrap();
            row.filter(|row| done(row))
        })
        .await
    }
}

/// `sha256=<hex>` keyed with the secret's text, as GitHub-style senders compute it.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    agent_webhooks::crypto::signature::hub_signature(secret.as_bytes(), body)
}

/// A POST to a webhook URL: the one place tests put signatures and delivery ids on
/// requests. `Content-Type: application/json` unless changed; no signature unless one is
/// asked for. Setting a header again replaces it (to send a signature with a header
/// swapped after signing, say).
///
/// ```ignore
/// app.delivery(&agent.url, body).hub(&agent.secret).delivery_id("d-1").send().await
/// ```
pub struct Delivery {
    client: reqwest::Client,
    url: String,
    body: Vec<u8>,
    headers: HeaderMap,
    streamed: Option<reqwest::Body>,
}

impl Delivery {
    fn new(client: reqwest::Client, url: &str, body: &[u8]) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            client,
            url: url.to_owned(),
            body: body.to_vec(),
            headers,
            streamed: None,
        }
    }

    /// Signed GitHub-style: `X-Hub-Signature-256: sha256=<hex>`, keyed with the secret's
    /// text, over the body.
    pub fn hub(self, secret: &str) -> Self {
        let signature = hub_signature(secret, &self.body);
        self.signature(signature)
    }

    /// `X-Hub-Signature-256` with exactly this value: missing parts, another body's
    /// signature, other schemes.
    pub fn signature(self, value: impl AsRef<str>) -> Self {
        self.header("x-hub-signature-256", value.as_ref())
    }

    /// `X-Webhook-Signature`, the alias of `X-Hub-Signature-256`, with exactly this value.
    pub fn alias_signature(self, value: impl AsRef<str>) -> Self {
        self.header("x-webhook-signature", value.as_ref())
    }

    /// Signed as Standard Webhooks: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature`, keyed with the base64-decoded secret over
    /// `{msg_id}.{timestamp}.{body}`.
    pub fn standard(self, secret: &str, msg_id: &str, timestamp: i64) -> Self {
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .expect("a base64 secret");
        let signature = standard_webhooks::sign(&key, msg_id, timestamp, &self.body);
        self.header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
    }

    /// The delivery id, GitHub-style: `X-GitHub-Delivery`.
    pub fn delivery_id(self, id: &str) -> Self {
        self.header("x-github-delivery", id)
    }

    /// Sets (or replaces) any header.
    pub fn header<V>(mut self, name: &str, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: std::fmt::Debug,
    {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        self.headers
            .insert(name, value.try_into().expect("a header value"));
        self
    }

    pub fn content_type(self, value: &str) -> Self {
        self.header(CONTENT_TYPE.as_str(), value)
    }

    pub fn no_content_type(mut self) -> Self {
        self.headers.remove(CONTENT_TYPE);
        self
    }

    /// Sends `body` on the wire instead of the signed bytes (a chunked or stalling stream);
    /// the signatures still cover the bytes given to [`TestApp::delivery`].
    pub fn streamed(mut self, body: reqwest::Body) -> Self {
        self.streamed = Some(body);
        self
    }

    pub async fn send(self) -> reqwest::Response {
        let body = match self.streamed {
            Some(streamed) => streamed,
            None => self.body.into(),
        };
        self.client
            .post(&self.url)
            .headers(self.headers)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
