//! Limits that hold across processes: two servers on one database share the secret-reveal
//! budget of an administrator and the sign-in budget of an account, so a second web process
//! behind a load balancer does not double them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app_with, TestOptions};

/// One master key for both servers, as a deployment's processes share theirs.
fn master_key() -> Vec<String> {
    vec![agent_webhooks::crypto::MasterKeyring::generate_key()]
}

#[tokio::test]
async fn two_servers_share_an_administrators_reveal_budget() {
    let keys = master_key();
    let first = spawn_app_with(TestOptions {
        master_keys: keys.clone(),
        tweak: Some(|settings| settings.security.reveal_limit_per_minute = 4),
        ..Default::default()
    })
    .await;
    let second = spawn_app_with(TestOptions {
        database: Some(first.database.clone()),
        master_keys: keys,
        tweak: Some(|settings| settings.security.reveal_limit_per_minute = 4),
        ..Default::default()
    })
    .await;
    let admin = first.admin("acme").await;
    let agent = first.agent(&admin, json!({"name": "a"})).await; // one reveal
    let reveal = |base: String| {
        let request = admin
            .client
            .get(format!("{base}/api/agents/{}/webhook-secret", agent.id));
        async move { request.send().await.unwrap() }
    };
    // Three more, alternating servers (the session cookie is for the first's origin, but
    // both serve the same database, so it is valid on either).
    for base in [&second.address, &first.address, &second.address] {
        assert_eq!(reveal(base.clone()).await.status(), StatusCode::OK);
    }
    for base in [&first.address, &second.address] {
        let refused = reveal(base.clone()).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{base}");
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn two_servers_share_an_accounts_sign_in_budget() {
    let tweak: fn(&mut agent_webhooks::config::Settings) = |settings| {
        settings.security.login_attempts_per_minute_per_account = 3;
        settings.security.login_attempts_per_minute_per_ip = 1000;
    };
    let first = spawn_app_with(TestOptions {
        tweak: Some(tweak),
        ..Default::default()
    })
    .await;
    let second = spawn_app_with(TestOptions {
        database: Some(first.database.clone()),
        tweak: Some(tweak),
        ..Default::default()
    })
    .await;
    let (email, password, _) = first.admin_account("acme").await;
    let attempt = |base: &str, password: &str| {
        first
            .client
            .post(format!("{base}/api/auth/login"))
            .header("origin", base)
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let mut statuses = Vec::new();
    for base in [
        &first.address,
        &second.address,
        &first.address,
        &second.address,
    ] {
        statuses.push(
            attempt(base, "wrong password!")
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    // The right password too, on either server: the account's budget is spent everywhere.
    for base in [&first.address, &second.address] {
        assert_eq!(
            attempt(base, &password).await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // Buckets are rows; full ones are pruned by the retention pass.
    let rows: i64 = sqlx::query_scalar("select count(*) from rate_limits where key like 'login:%'")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2, "one bucket for the address, one for the account");
    sqlx::query("update rate_limits set tat = now() - interval '1 second'")
        .execute(&first.pool)
        .await
        .unwrap();
    let pruned = agent_webhooks::db::rate_limits::prune(&first.pool)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    // A megabyte of "email" is throttled like any other (its key is a digest), not a 500.
    let huge = "x".repeat(900_000);
    let response = first
        .client
        .post(first.url("/api/auth/login"))
        .header("origin", first.address.as_str())
        .json(&json!({"email": huge, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let longest: i32 = sqlx::query_scalar("select max(length(key)) from rate_limits")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert!(longest <= 100, "{longest}");
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}
