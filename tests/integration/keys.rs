//! Master keys: rotation and the command-line tools that read the same settings as `serve`.

use agent_webhooks::{crypto::keyring::MasterKeyring, services};
use serde_json::{json, Value};

use crate::{
    cli::run_cli,
    helpers::{spawn_app_with, TestOptions},
};

#[tokio::test]
async fn rotating_the_master_key_keeps_every_secret_readable() {
    let old_key = MasterKeyring::generate_key();
    let new_key = MasterKeyring::generate_key();
    let app = spawn_app_with(TestOptions {
        master_keys: vec![old_key.clone()],
        ..Default::default()
    })
    .await;
    let mut revealed = Vec::new();
    for tenant in ["acme", "globex"] {
        let admin = app.admin(tenant).await;
        let agent: Value = admin
            .client
            .post(app.url("/api/agents"))
            .json(&json!({"name": "a"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret: Value = admin
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
        revealed.push((
            admin.email.clone(),
            admin.password.clone(),
            agent["id"].as_str().unwrap().to_owned(),
            secret,
        ));
    }
    let database = app.database.clone();
    app.stop().await.unwrap();

    let ring = MasterKeyring::from_keys(&[new_key.clone(), old_key]).unwrap();
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    assert_eq!(
        services::keys::rotate_master_key(&pool, &ring)
            .await
            .unwrap(),
        2
    );
    pool.close().await;

    // Only the new key now: every secret still opens, unchanged.
    let app = spawn_app_with(TestOptions {
        master_keys: vec![new_key],
        database: Some(database),
        ..Default::default()
    })
    .await;
    for (email, password, id, secret) in revealed {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let login = client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let again: Value = client
            .get(app.url(&format!("/api/agents/{id}/webhook-secret")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(again, secret);
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_cli_creates_an_admin_and_prints_a_token_alone_on_stdout() {
    let key = MasterKeyring::generate_key();
    let app = spawn_app_with(TestOptions {
        master_keys: vec![key.clone()],
        ..Default::default()
    })
    .await;
    let run = |args: &[&str], stdin: Option<&str>| run_cli(&app.database.url, &key, args, stdin);

    let admin = run(
        &[
            "create-admin",
            "--tenant",
            "cli-co",
            "--email",
            "Ops@Cli.Example",
        ],
        Some("a long enough password\n"),
    );
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    assert!(
        admin.stdout.is_empty(),
        "a password given on stdin is not echoed"
    );
    let again = run(
        &[
            "create-admin",
            "--tenant",
            "cli-co",
            "--email",
            "ops@cli.example",
            "--if-missing",
        ],
        None,
    );
    assert!(again.status.success());
    let duplicate = run(
        &[
            "create-admin",
            "--tenant",
            "cli-co",
            "--email",
            "ops@cli.example",
        ],
        Some("another long password\n"),
    );
    assert!(!duplicate.status.success());

    let token = run(
        &["create-token", "--tenant", "cli-co", "--name", "ci"],
        None,
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let stdout = String::from_utf8(token.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout:?}");
    assert!(lines[0].starts_with("awt_"));

    let agents = app
        .client
        .get(app.url("/api/agents"))
        .bearer_auth(lines[0])
        .send()
        .await
        .unwrap();
    assert_eq!(agents.status(), 200);
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ops@cli.example", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.status(),
        200,
        "the admin can sign in with the password from stdin"
    );
    app.stop().await.unwrap();
}
