//! Structured logs: with LOG_FORMAT=json every line is a JSON object, and the lines of a
//! request carry its request id. Logs go to stderr (stdout is for commands' output, see cli.rs).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::helpers::{spawn_app_with, TestOptions};

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    // A database with migrations applied, then a real process on it.
    let key = agent_webhooks::crypto::keyring::MasterKeyring::generate_key();
    let app = spawn_app_with(TestOptions {
        workers: 0,
        master_keys: vec![key.clone()],
        ..Default::default()
    })
    .await;
    let database = app.database.clone();
    app.stop().await.unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-webhooks"))
        .args(["serve", "--workers", "0"])
        .env("DATABASE_URL", &database.url)
        .env("MASTER_KEYS", &key)
        .env("AGENT_WEBHOOKS_CONFIG", "/nonexistent/settings.toml")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let next_line = || {
        lines_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("a log line")
    };

    let address = loop {
        let line: Value = serde_json::from_str(&next_line()).expect("every line is JSON");
        if line["message"] == "listening" || line["fields"]["message"] == "listening" {
            break line["address"]
                .as_str()
                .or(line["fields"]["address"].as_str())
                .unwrap()
                .to_owned();
        }
    };
    let response = reqwest::Client::new()
        .get(format!("http://{address}/healthz"))
        .header("x-request-id", "drill-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "drill-1234");
    let found = loop {
        let text = next_line();
        let line: Value = serde_json::from_str(&text).expect("every line is JSON");
        if text.contains("drill-1234") {
            break line;
        }
    };
    assert_eq!(found["span"]["request_id"], "drill-1234", "{found}");
    assert_eq!(found["span"]["path"], "/healthz");
    let _ = child.kill();
    let _ = child.wait();
}
