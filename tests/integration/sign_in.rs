//! Sign-in as an attacker tries it: cross-site form posts, crafted `next` targets, password
//! guessing, and what the audit log keeps of it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestOptions};

/// A browser's form post accepts HTML: Leptos then answers a server function's redirect with
/// a 302 and `Location`.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// The form post a browser sends from the login page (before or without hydration).
fn form(email: &str, password: &str, next: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.to_owned()),
        ("password", password.to_owned()),
        ("next", next.to_owned()),
    ]
}

#[tokio::test]
async fn a_cross_site_form_post_cannot_sign_a_browser_in() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    for (site, origin) in [
        (Some("cross-site"), Some("https://evil.example")),
        (None, Some("https://evil.example")),
        (Some("cross-site"), None),
        (Some("same-site"), Some("https://evil.127.0.0.1.example")),
    ] {
        let mut request = app.client.post(app.url("/api/fn/login")).form(&form(
            &admin.email,
            &admin.password,
            "/agents",
        ));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{site:?} {origin:?}"
        );
        assert!(response.headers().get("set-cookie").is_none());
    }
    // The same post from the page itself signs in.
    let response = app
        .client
        .post(app.url("/api/fn/login"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &app.address)
        .form(&form(&admin.email, &admin.password, "/agents"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_redirection());
    assert!(response.headers().get("set-cookie").is_some());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn next_only_follows_plain_local_paths_and_never_breaks_the_answer() {
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| settings.security.login_attempts_per_minute_per_account = 100),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    for (next, expected) in [
        ("/agents/42?tab=audit", "/agents/42?tab=audit"),
        ("/\t/evil.example", "/agents"),
        ("//evil.example", "/agents"),
        ("/\\evil.example", "/agents"),
        ("https://evil.example", "/agents"),
        ("/agents\r\nSet-Cookie: x=1", "/agents"),
        ("/agents\n", "/agents"),
    ] {
        let response = app
            .client
            .post(app.url("/api/fn/login"))
            .header("accept", BROWSER_ACCEPT)
            .form(&form(&admin.email, &admin.password, next))
            .send()
            .await
            .unwrap_or_else(|err| panic!("{next:?}: the connection broke: {err}"));
        assert_eq!(response.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(response.headers()["location"], expected, "{next:?}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn password_guessing_is_throttled_per_account_before_any_hashing() {
    // Two attempts per minute: a token comes back only every 30 s, far longer than this
    // test takes even on a loaded machine.
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.security.login_attempts_per_minute_per_account = 2;
            settings.security.login_attempts_per_minute_per_ip = 1000;
        }),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await; // the first of the account's two attempts
    let attempt = |password: &str| {
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": admin.email, "password": password}))
            .send()
    };
    assert_eq!(
        attempt("wrong password!").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let started = std::time::Instant::now();
    for password in ["wrong password!", admin.password.as_str()] {
        let throttled = attempt(password).await.unwrap();
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(throttled.headers().get("set-cookie").is_none());
    }
    // A throttled attempt costs no password hash (argon2id takes seconds in a debug build).
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    // Unknown accounts are throttled the same way, so the limit reveals nothing.
    for expected in [401, 401, 429] {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "nobody@acme.example", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected);
    }

    // The audit log has the successes and failures of the account, never a password.
    let token = app.api_token("acme").await;
    let audit: Value = app
        .client
        .get(app.url("/api/audit?limit=50"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(!text.contains("wrong password") && !text.contains(&admin.password));
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["auth.login_failed", "auth.login_succeeded"]);
    let failed = &audit["items"][0];
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["source_ip"], "127.0.0.1");
    assert_eq!(failed["details"]["reason"], "wrong_password");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_throttled() {
    let app = spawn_app_with(TestOptions {
        // A token comes back every 30 s, longer than the test takes.
        tweak: Some(|settings| settings.security.login_attempts_per_minute_per_ip = 2),
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    for n in 0..4 {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": format!("user{n}@acme.example"), "password": "x"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_password_checks_are_bounded() {
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| {
            settings.security.max_concurrent_password_hashes = 1;
            settings.security.login_attempts_per_minute_per_ip = 1000;
            settings.security.login_attempts_per_minute_per_account = 1000;
        }),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    // Hold the only slot: every sign-in waits for it, and none hashes meanwhile.
    let slot = app.state.limits.password_hashes.acquire().await.unwrap();
    let waiting = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/api/auth/login");
        let body = json!({"email": admin.email, "password": admin.password});
        async move { client.post(url).json(&body).send().await.unwrap().status() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a sign-in hashed without a slot");
    drop(slot);
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    app.stop().await.unwrap();
}
