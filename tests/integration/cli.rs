//! The command line's stdout holds only each command's documented output (logs, notices
//! and progress go to stderr), so scripts can capture it: `TOKEN=$(agent-webhooks create-token …)`.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use crate::helpers::TestDatabase;

/// Runs the binary with the settings of a test database, everything it can log switched on
/// (PostgreSQL's notices included), and `stdin` as its input.
pub fn run_cli(database_url: &str, key: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-webhooks"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("MASTER_KEYS", key)
        .env("AGENT_WEBHOOKS_CONFIG", "/nonexistent/settings.toml")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// `run_cli`, which must succeed.
fn run(database: &TestDatabase, key: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let output = run_cli(&database.url, key, args, stdin);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn every_command_prints_only_its_documented_output_on_stdout() {
    let database = TestDatabase::create_for_test().await;
    let key = agent_webhooks::crypto::keyring::MasterKeyring::generate_key();

    // Twice: the second run meets existing tables, which PostgreSQL reports as notices.
    for _ in 0..2 {
        let migrate = run(&database, &key, &["migrate"], None);
        assert_eq!(stdout(&migrate), "", "migrate prints nothing on stdout");
        assert!(!migrate.stderr.is_empty(), "migrate reports on stderr");
    }

    let admin = run(
        &database,
        &key,
        &[
            "create-admin",
            "--tenant",
            "acme",
            "--email",
            "ops@acme.example",
        ],
        Some("a long enough password\n"),
    );
    assert_eq!(stdout(&admin), "", "a password from stdin is not echoed");

    let token = run(
        &database,
        &key,
        &["create-token", "--tenant", "acme", "--name", "ci"],
        None,
    );
    let token = stdout(&token);
    let lines: Vec<&str> = token.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {token:?}");
    assert!(lines[0].starts_with("awt_"), "{token:?}");

    let generated = run(&database, &key, &["generate-master-key"], None);
    let generated = stdout(&generated);
    assert_eq!(generated.lines().count(), 1, "{generated:?}");
    agent_webhooks::crypto::keyring::MasterKeyring::from_keys(&[generated.trim().to_owned()])
        .expect("a usable master key");

    let rotate = run(&database, &key, &["rotate-master-key"], None);
    assert_eq!(stdout(&rotate), "");
}
