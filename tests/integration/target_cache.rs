//! The in-process cache of agents' webhook targets: it spares the database on every
//! delivery, and a change made anywhere (another server, plain SQL) reaches it at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{eventually, spawn_app_with, Admin, TestAgent, TestApp, TestOptions};

fn lookups(app: &TestApp, source: &str) -> u64 {
    app.state
        .metrics
        .target_lookups
        .with_label_values(&[source])
        .get()
}

/// Two servers on one database, as behind a load balancer. The cache entries live an hour,
/// so only invalidation can make a change visible within the tests' deadlines.
pub(crate) async fn two_servers() -> (TestApp, TestApp) {
    let key = agent_webhooks::crypto::keyring::MasterKeyring::generate_key();
    let options = |database| TestOptions {
        workers: 0,
        master_keys: vec![key.clone()],
        database,
        tweak: Some(|settings| settings.webhooks.target_cache_seconds = 3600),
        ..Default::default()
    };
    let first = spawn_app_with(options(None)).await;
    let second = spawn_app_with(options(Some(first.database.clone()))).await;
    (first, second)
}

/// Posts until the agent is served from `app`'s cache (its LISTEN connection may still be
/// starting), with a signature that is refused either way.
pub(crate) async fn warm(app: &TestApp, url: &str) {
    eventually(Duration::from_secs(10), "a cache hit", || async {
        let before = lookups(app, "cache");
        let status = app.post_signed(url, "not-the-secret", b"{}").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        (lookups(app, "cache") > before).then_some(())
    })
    .await;
}

/// Posts `{}` signed with `secret` until `url` answers `status` (within 5 s: a notification
/// takes milliseconds; the cache entries would live an hour).
async fn until_answer(app: &TestApp, url: &str, secret: &str, status: StatusCode, what: &str) {
    eventually(Duration::from_secs(5), what, || async {
        let answer = app.post_signed(url, secret, b"{}").await.status();
        (answer == status).then_some(())
    })
    .await;
}

async fn regenerate(app: &TestApp, admin: &Admin, agent: &TestAgent) -> String {
    let response = admin
        .client
        .post(app.url(&format!(
            "/api/agents/{}/regenerate-webhook-secret",
            agent.id
        )))
        .json(&json!({"grace_period_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.reveal_secret(admin, &agent.id).await
}

#[tokio::test]
async fn cached_agents_are_verified_without_a_database_lookup() {
    let (app, _other) = two_servers().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    warm(&app, &agent.url).await;
    let from_database = lookups(&app, "database");
    for _ in 0..20 {
        let status = app.post_signed(&agent.url, "wrong", b"{}").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = app
        .post_signed(&agent.url, &agent.secret, b"{}")
        .await
        .status();
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(lookups(&app, "database"), from_database);
}

#[tokio::test]
async fn a_secret_regenerated_on_one_server_stops_working_on_the_other() {
    let (first, second) = two_servers().await;
    let admin = first.admin("acme").await;
    let agent = first
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let on_second = agent.url.replace(&first.address, &second.address);
    warm(&second, &on_second).await;
    assert_eq!(
        second
            .post_signed(&on_second, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    let new_secret = regenerate(&first, &admin, &agent).await;
    // On the server that regenerated: at once.
    assert_eq!(
        first
            .post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // On the other: as soon as the notification arrives (milliseconds; the entry itself
    // would live an hour).
    until_answer(
        &second,
        &on_second,
        &agent.secret,
        StatusCode::UNAUTHORIZED,
        "the old secret to be refused",
    )
    .await;
    assert_eq!(
        second
            .post_signed(&on_second, &new_secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn changes_made_with_plain_sql_reach_the_cache() {
    let (app, _other) = two_servers().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    warm(&app, &agent.url).await;
    let id: uuid::Uuid = agent.id.parse().unwrap();

    sqlx::query("update agent_triggers set payload_schema = $2 where agent_id = $1")
        .bind(id)
        .bind(json!({"type": "object", "required": ["ticket_id"]}))
        .execute(&app.pool)
        .await
        .unwrap();
    until_answer(
        &app,
        &agent.url,
        &agent.secret,
        StatusCode::BAD_REQUEST,
        "the new schema to apply",
    )
    .await;

    sqlx::query("update agents set status = 'suspended' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    until_answer(
        &app,
        &agent.url,
        &agent.secret,
        StatusCode::FORBIDDEN,
        "the suspension to apply",
    )
    .await;

    sqlx::query("delete from agents where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    until_answer(
        &app,
        &agent.url,
        &agent.secret,
        StatusCode::NOT_FOUND,
        "the deletion to apply",
    )
    .await;
}

/// Notifications sent while the LISTEN connection is down are lost: the cache must not
/// outlive that connection.
#[tokio::test]
async fn a_change_missed_while_the_listen_connection_was_down_is_not_served_stale() {
    let (first, second) = two_servers().await;
    let admin = first.admin("acme").await;
    let agent = first
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let on_second = agent.url.replace(&first.address, &second.address);
    warm(&second, &on_second).await;

    // Kill every LISTEN session (both servers'), then change the secret before the second
    // server could have listened again.
    let killed: i64 = sqlx::query_scalar(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'",
    )
    .fetch_one(&first.pool)
    .await
    .unwrap();
    assert_eq!(killed, 2, "each server keeps one LISTEN connection");
    sqlx::query("update agent_triggers set hmac_secret = 'gAAAAA-not-a-token' where agent_id = $1")
        .bind(agent.id.parse::<uuid::Uuid>().unwrap())
        .execute(&first.pool)
        .await
        .unwrap();

    // The second server re-reads the row, finds a secret it cannot open, and says so
    // instead of verifying with the secret it had cached.
    until_answer(
        &second,
        &on_second,
        &agent.secret,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the cached secret to be dropped",
    )
    .await;
    // And it listens again.
    eventually(Duration::from_secs(10), "LISTEN to be back", || async {
        let listening: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and query ilike 'listen%'",
        )
        .fetch_one(&first.pool)
        .await
        .unwrap();
        (listening == 2).then_some(())
    })
    .await;
    // Listening again must not bring the entry cached before the outage back.
    assert_eq!(
        second
            .post_signed(&on_second, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

/// A LISTEN connection can die without either end noticing (a vanished peer, a dropped NAT
/// entry): notifications stop arriving while the connection looks fine. The cache's
/// heartbeat must notice and stop serving what a change should have dropped.
#[tokio::test]
async fn a_silently_dead_listen_connection_stops_the_cache() {
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::create_for_test().await);
    let proxy = crate::proxy::TcpProxy::start(&database.url).await;
    let app = spawn_app_with(TestOptions {
        workers: 0,
        listen_url: Some(proxy.url_for(&database.url)),
        database: Some(database.clone()),
        tweak: Some(|settings| {
            settings.webhooks.target_cache_seconds = 3600;
            settings.webhooks.target_cache_heartbeat_seconds = 1;
        }),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    warm(&app, &agent.url).await;
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    // The connection stays open but carries nothing; then the secret changes.
    proxy.freeze();
    sqlx::query("update agent_triggers set hmac_secret = 'gAAAAA-not-a-token' where agent_id = $1")
        .bind(agent.id.parse::<uuid::Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    // Within about two heartbeats the cache is out of use: the row is read again and its
    // secret (here unreadable) is what counts, not the one cached an hour long.
    until_answer(
        &app,
        &agent.url,
        &agent.secret,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the cache to stop serving",
    )
    .await;
    proxy.thaw();
    app.stop().await.unwrap();
}
