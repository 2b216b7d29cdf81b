//! Limits that hold across processes: two servers on one database share an agent's webhook
//! quota, the secret-reveal budget of an administrator and the sign-in budget of an account,
//! so a second web process behind a load balancer does not double them.

use std::time::{Duration, Instant};

use agent_webhooks::db::rate_limits::{self, Want};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app_with, TestAgent, TestApp, TestOptions};

/// One master key for both servers, as a deployment's processes share theirs.
fn master_key() -> Vec<String> {
    vec![agent_webhooks::crypto::MasterKeyring::generate_key()]
}

/// Two servers on one database, with default settings: two web processes of a deployment.
async fn two_servers(keys: &[String]) -> (TestApp, TestApp) {
    let first = spawn_app_with(TestOptions {
        master_keys: keys.to_vec(),
        ..Default::default()
    })
    .await;
    let second = spawn_app_with(TestOptions {
        database: Some(first.database.clone()),
        master_keys: keys.to_vec(),
        ..Default::default()
    })
    .await;
    (first, second)
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

#[tokio::test]
async fn two_servers_share_an_agents_webhook_quota() {
    let keys = master_key();
    let (first, second) = two_servers(&keys).await;
    let admin = first.admin("acme").await;
    // One token every 12 s after the burst of 5.
    let agent = first
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": 5}))
        .await;
    let urls = [
        agent.url.clone(),
        agent.url.replace(&first.address, &second.address),
    ];
    let secret = agent.secret.as_str();
    let started = Instant::now();
    // 32 at once, half to each server: each server's own bucket would let 5 through, and
    // concurrent requests share group commits, so batches hold more requests than tokens.
    let sends = (0..32).map(|n| {
        let (app, url) = if n % 2 == 0 {
            (&first, &urls[0])
        } else {
            (&second, &urls[1])
        };
        let body = format!(r#"{{"n": {n}}}"#);
        async move {
            let response = app.post_signed(url, secret, body.as_bytes()).await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
            (response.status(), retry_after)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let elapsed = started.elapsed();
    let accepted = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    // Exact: the burst, plus one token per 12 s that passed (the test takes well under one).
    let bound = 5 + (elapsed.as_secs() / 12) as usize;
    assert!(
        (5..=bound).contains(&accepted),
        "{accepted} accepted in {elapsed:?}"
    );
    for (status, retry_after) in &answers {
        if *status != StatusCode::ACCEPTED {
            assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
            assert!(
                matches!(retry_after, Some(1..=12)),
                "Retry-After {retry_after:?}"
            );
        }
    }
    assert_eq!(first.execution_count().await, accepted as i64);
    // Spent for a third server too, which has seen none of these requests.
    let third = spawn_app_with(TestOptions {
        database: Some(first.database.clone()),
        master_keys: keys,
        ..Default::default()
    })
    .await;
    let url = agent.url.replace(&first.address, &third.address);
    let again = third.post_signed(&url, &agent.secret, b"{}").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    third.stop().await.unwrap();
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn a_batch_takes_what_each_bucket_has_and_learns_when_the_next_token_is_free() {
    let app = crate::helpers::spawn_app().await;
    let minute = Duration::from_secs(60);
    let seventh = minute / 7;
    let wants = |count_a, count_b| {
        [
            Want {
                key: "test:a",
                interval: seventh,
                count: count_a,
            },
            Want {
                key: "test:b",
                interval: Duration::from_secs(10),
                count: count_b,
            },
        ]
    };
    let grants = rate_limits::take_many(&app.pool, &wants(10, 3), minute)
        .await
        .unwrap();
    // A full bucket gives its whole quota, even where 60 / (60 / 7) rounds below 7.
    assert_eq!((grants[0].granted, grants[1].granted), (7, 3));
    assert!(
        grants[0].wait > seventh - Duration::from_secs(1) && grants[0].wait <= seventh,
        "{:?}",
        grants[0].wait
    );
    assert_eq!(grants[1].wait, Duration::ZERO, "b has 3 tokens left");
    let grants = rate_limits::take_many(&app.pool, &wants(1, 5), minute)
        .await
        .unwrap();
    assert_eq!((grants[0].granted, grants[1].granted), (0, 3));
    assert!(grants[1].wait > Duration::from_secs(5) && grants[1].wait <= Duration::from_secs(10));
    // The single-token form used by reveals and sign-ins reads the same buckets.
    let refused = rate_limits::take(&app.pool, "test:b", Duration::from_secs(10), minute)
        .await
        .unwrap();
    assert!(refused.is_err(), "{refused:?}");
    app.stop().await.unwrap();
}

/// Two agents of one tenant: one limited to `per_minute`, one not limited.
async fn limited_and_free_agents(app: &TestApp, per_minute: u32) -> (TestAgent, TestAgent) {
    let admin = app.admin("acme").await;
    let limited = json!({"name": "limited", "rate_limit_per_minute": per_minute});
    let free = json!({"name": "free", "rate_limit_per_minute": null});
    (
        app.agent(&admin, limited).await,
        app.agent(&admin, free).await,
    )
}

#[tokio::test]
async fn a_batch_refuses_only_the_requests_over_their_own_agents_limit() {
    let app = crate::helpers::spawn_app().await;
    let (limited, free) = limited_and_free_agents(&app, 2).await;
    // Interleaved and concurrent, so that batches hold both agents' requests.
    let sends = (0..24).map(|n| {
        let agent = if n % 2 == 0 { &limited } else { &free };
        let body = format!(r#"{{"n": {n}}}"#);
        let app = &app;
        async move {
            let status = app
                .post_signed(&agent.url, &agent.secret, body.as_bytes())
                .await
                .status();
            (agent.id.clone(), status)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let count = |id: &str, status: StatusCode| {
        answers
            .iter()
            .filter(|(agent, answer)| agent == id && *answer == status)
            .count()
    };
    assert_eq!(count(&limited.id, StatusCode::ACCEPTED), 2);
    assert_eq!(count(&limited.id, StatusCode::TOO_MANY_REQUESTS), 10);
    assert_eq!(count(&free.id, StatusCode::ACCEPTED), 12);
    assert_eq!(app.execution_count().await, 14);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_busy_agents_tokens_taken_ahead_keep_the_bound_across_servers() {
    let (first, second) = two_servers(&master_key()).await;
    let admin = first.admin("acme").await;
    // 1,200 a minute: a burst of 1,200, then one every 50 ms; busy batches take up to two
    // tokens ahead, spent within 100 ms.
    let agent = first
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": 1200}))
        .await;
    let urls = [
        agent.url.clone(),
        agent.url.replace(&first.address, &second.address),
    ];
    let started = Instant::now();
    let mut accepted = 0;
    for wave in 0..14 {
        let sends = (0..100).map(|n| {
            let (app, url) = if n % 2 == 0 {
                (&first, &urls[0])
            } else {
                (&second, &urls[1])
            };
            let body = format!(r#"{{"wave": {wave}, "n": {n}}}"#);
            let secret = agent.secret.as_str();
            async move { app.post_signed(url, secret, body.as_bytes()).await.status() }
        });
        for status in futures_util::future::join_all(sends).await {
            match status {
                StatusCode::ACCEPTED => accepted += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("{other}"),
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The bucket gives at most L + ⌊(t + 0.1)·L/60⌋ in t seconds, and at least its burst;
    // a server forfeits at most the two tokens it holds ahead each time its traffic pauses
    // (between waves).
    let bound = 1200 + ((elapsed + 0.1) * 20.0).floor() as i64;
    assert!(
        (1200 - 2 * 2 * 14..=bound).contains(&accepted),
        "{accepted} accepted in {elapsed} s"
    );
    assert_eq!(first.execution_count().await, accepted);
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn steady_senders_under_their_agents_rate_are_never_refused() {
    let (first, second) = two_servers(&master_key()).await;
    let admin = first.admin("acme").await;
    let agent = first
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": 1200}))
        .await;
    // The bucket all but spent (ten tokens left), then 15 a second through the first server
    // (whose batches come within a lease's time, so it takes tokens ahead) and 3 a second
    // through the second, against a refill of 20: tokens taken ahead and forfeited (one in
    // three with a fixed two ahead) would soon refuse some.
    sqlx::query("insert into rate_limits (key, tat) values ($1, now() + interval '59.5 seconds')")
        .bind(format!("webhook:{}", agent.id))
        .execute(&first.pool)
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let sender = |app: &'static str, gap: u64, count: u32| {
        let (server, url) = match app {
            "first" => (&first, agent.url.clone()),
            _ => (&second, agent.url.replace(&first.address, &second.address)),
        };
        let secret = agent.secret.as_str();
        async move {
            for n in 0..count {
                tokio::time::sleep_until(started + Duration::from_millis(gap) * n).await;
                let body = format!(r#"{{"sender": "{app}", "n": {n}}}"#);
                let status = server
                    .post_signed(&url, secret, body.as_bytes())
                    .await
                    .status();
                assert_eq!(status, StatusCode::ACCEPTED, "{app}'s request {n}");
            }
        }
    };
    tokio::join!(sender("first", 66, 45), sender("second", 333, 9));
    assert_eq!(first.execution_count().await, 54);
    second.stop().await.unwrap();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn when_the_token_statement_fails_only_limited_agents_are_refused() {
    let app = crate::helpers::spawn_app().await;
    let (limited, free) = limited_and_free_agents(&app, 60).await;
    let rename = |from: &str, to: &str| {
        let statement =
            format!("alter function {from}(text[], float8[], int4[], float8) rename to {to}");
        let pool = app.pool.clone();
        async move { sqlx::query(&statement).execute(&pool).await.unwrap() }
    };
    rename("take_rate_tokens", "take_rate_tokens_away").await;
    // Not the database being unreachable (that is a 503 with Retry-After): a 500 that
    // says nothing of the statement.
    let refused = app.post_signed(&limited.url, &limited.secret, b"{}").await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = refused.text().await.unwrap();
    assert!(!body.contains("take_rate_tokens"), "{body}");
    let accepted = app.post_signed(&free.url, &free.secret, b"{}").await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(app.execution_count().await, 1);
    rename("take_rate_tokens_away", "take_rate_tokens").await;
    let accepted = app.post_signed(&limited.url, &limited.secret, b"{}").await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_changed_quota_keeps_the_bucket_as_full_in_proportion() {
    let app = crate::helpers::spawn_app().await;
    let minute = Duration::from_secs(60);
    let take = |per_minute: u32, count| {
        let pool = app.pool.clone();
        async move {
            let want = Want {
                key: "test:changed",
                interval: minute / per_minute,
                count,
            };
            rate_limits::take_many(&pool, std::slice::from_ref(&want), minute)
                .await
                .unwrap()[0]
                .granted
        }
    };
    let started = Instant::now();
    assert_eq!(take(100, 50).await, 50);
    // Half spent at 100 a minute is half spent at 200: 100 of 200 are left, and one more for
    // each 0.3 s the statements took.
    let left = take(200, 1000).await;
    let refilled = (started.elapsed().as_secs_f64() / 0.3).ceil() as u32;
    assert!((100..=100 + refilled).contains(&left), "{left}");
    app.stop().await.unwrap();
}
