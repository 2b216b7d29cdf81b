//! What a hostile client costs at the edge: connections that stall before or between
//! requests, bodies that trickle, more connections than the cap, and traffic that is not
//! authenticated competing with accepted webhooks for the database.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{spawn_app_with, TestApp, TestOptions};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; fails the test if it stays open `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!(
                "still open after {limit:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

fn short_timeouts(settings: &mut agent_webhooks::config::Settings) {
    settings.server.header_read_timeout_seconds = 1;
    settings.server.keep_alive_timeout_seconds = 1;
    settings.server.body_read_timeout_seconds = 1;
}

#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(short_timeouts),
        ..Default::default()
    })
    .await;
    // Never a byte.
    let mut silent = connect(&app).await;
    // Half a request header, then nothing.
    let mut stalled = connect(&app).await;
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    closed_within(&mut silent, Duration::from_secs(4)).await;
    closed_within(&mut stalled, Duration::from_secs(4)).await;

    // A finished request leaves a keep-alive connection that is closed once idle.
    let mut idle = connect(&app).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = closed_within(&mut idle, Duration::from_secs(4)).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{answer:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before it was idle for the timeout"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_trickled_api_body_gets_408_and_an_endless_one_413() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(|settings| {
            short_timeouts(settings);
            settings.server.max_request_body_bytes = 1024;
        }),
        ..Default::default()
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let answer = closed_within(&mut slow, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("Request body not received in time"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    let big = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(|settings| {
            settings.server.max_connections = 2;
            settings.server.header_read_timeout_seconds = 30;
            settings.server.keep_alive_timeout_seconds = 30;
        }),
        ..Default::default()
    })
    .await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    // Both slots are held by silent connections: a third client is not served.
    let waiting = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/healthz");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "served beyond the connection cap");
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a slot was free")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_agent_ids_are_answered_from_a_negative_cache() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let database_lookups = || {
        app.state
            .metrics
            .target_lookups
            .with_label_values(&["database"])
            .get()
    };
    // The cache is in use once its LISTEN heartbeat has come back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = database_lookups();
    let url = app.url(&format!("/agents/{}/webhook", uuid::Uuid::new_v4()));
    for _ in 0..20 {
        let response = app.post_signed(&url, "whatever", b"{}").await;
        assert_eq!(response.status(), 404);
    }
    assert_eq!(database_lookups() - before, 1, "one lookup for 20 requests");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn accepted_webhooks_are_written_even_when_the_shared_pool_is_exhausted() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(
            &admin,
            serde_json::json!({"name": "busy", "rate_limit_per_minute": null}),
        )
        .await;
    // Cache the agent, then take every connection of the shared pool, as a flood of
    // requests with made-up tokens or cookies would.
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        202
    );
    let mut held = Vec::new();
    for _ in 0..app.state.settings.database.max_connections {
        held.push(app.pool.acquire().await.unwrap());
    }
    let response = app
        .post_signed(&agent.url, &agent.secret, br#"{"n":2}"#)
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    drop(held);
    assert_eq!(app.execution_count().await, 2);
    app.stop().await.unwrap();
}
