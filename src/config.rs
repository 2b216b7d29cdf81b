//! Typed runtime settings: `Leptos.toml` first, then environment overrides, then validation.
//!
//! Every setting is listed in the README with its default and its environment variable.
//! Anything secret lives in a [`Redacted`] so that `{:?}` never prints it.

use std::{fmt, net::SocketAddr, path::Path, time::Duration};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Where the settings file is looked for unless `--config` / `AGENT_WEBHOOKS_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub workers: WorkerSettings,
    pub webhooks: WebhookSettings,
    pub security: SecuritySettings,
    pub runtimes: RuntimeSettings,
    pub alerts: AlertSettings,
    pub retention: RetentionSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Exceptions to the outbound SSRF rules: host names, addresses or CIDR networks that
    /// runtimes and notifications may reach although they are loopback, private, ...
    pub allowed_private_hosts: Vec<String>,
}

/// How long records are kept; the worker processes delete older ones
/// (`services::retention`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Finished executions, with their payloads and results.
    pub executions_days: u32,
    /// The request log.
    pub requests_days: u32,
    /// Delivery ids, which is also the idempotency window.
    pub deliveries_hours: u32,
    pub audit_days: u32,
    /// Seconds between pruning passes.
    pub interval_seconds: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            executions_days: 30,
            requests_days: 7,
            deliveries_hours: 24,
            audit_days: 365,
            interval_seconds: 300,
        }
    }
}

impl RetentionSettings {
    /// The idempotency window of delivery ids.
    pub fn deliveries(&self) -> Duration {
        Duration::from_secs(u64::from(self.deliveries_hours) * 3600)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Invalid signatures for one agent within 5 minutes that send a
    /// `webhook.signature_failures` notification.
    pub signature_failures_threshold: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            signature_failures_threshold: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub site_addr: SocketAddr,
    /// Empty until [`Settings::finish`] fills it from `site_addr`.
    pub public_base_url: String,
    pub site_root: String,
    pub shutdown_grace_seconds: u64,
    /// Refuse (webhooks, API) or redirect (browsers) requests that did not arrive over TLS.
    pub require_https: bool,
    /// Proxies whose `X-Forwarded-Proto` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Time for a client to send a request's headers (then the connection is closed).
    pub header_read_timeout_seconds: u64,
    /// An idle keep-alive connection is closed after this long without a request.
    pub keep_alive_timeout_seconds: u64,
    /// Time for the body of a request other than a webhook to arrive (then 408).
    pub body_read_timeout_seconds: u64,
    /// Largest body of a request other than a webhook (one more byte: 413).
    pub max_request_body_bytes: usize,
    /// Open client connections; further clients wait in the listen backlog.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Redacted<String>,
    /// Where the webhook target cache LISTENs (default: `url`); a direct or session-pooled
    /// connection when `url` goes through a transaction-mode pooler.
    pub listen_url: Option<Redacted<String>>,
    pub max_connections: u32,
    pub acquire_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    pub count: u32,
    pub concurrency: u32,
    pub batch_size: u32,
    pub run_timeout_seconds: u64,
    pub poll_interval_ms: u64,
    pub builtin_runner_delay_ms: u64,
    pub lease_seconds: u64,
    pub reaper_interval_seconds: u64,
    pub retry_backoff_max_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    pub default_rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    pub read_timeout_seconds: u64,
    /// How long an agent's decrypted secrets and compiled schema may be reused without
    /// reading the database (changes are also pushed at once, see `webhook_targets`); 0 = off.
    pub target_cache_seconds: u64,
    /// The cache pings itself through its LISTEN connection this often, and stops serving
    /// when a ping takes longer than this to come back.
    pub target_cache_heartbeat_seconds: u64,
    /// Refused requests per agent and second the request log records (per process); the
    /// rest are counted in `request_log_entries_total{fate="dropped"}`.
    pub request_log_refusals_per_second: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Fernet master keys, newest first. Empty: use (or create) `master_key_file`.
    pub master_keys: Vec<Redacted<String>>,
    pub master_key_file: String,
    pub session_ttl_hours: u32,
    pub reveal_limit_per_minute: u32,
    /// Sign-in attempts per account (by email, known or not), burst then refilled evenly.
    pub login_attempts_per_minute_per_account: u32,
    /// Sign-in attempts per client address.
    pub login_attempts_per_minute_per_ip: u32,
    /// Password hashes computed at once (argon2id takes 19 MiB and ~50 ms of a core each).
    pub max_concurrent_password_hashes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            site_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_base_url: String::new(),
            site_root: "target/site".into(),
            shutdown_grace_seconds: 20,
            require_https: false,
            trusted_proxies: Vec::new(),
            header_read_timeout_seconds: 10,
            keep_alive_timeout_seconds: 60,
            body_read_timeout_seconds: 10,
            max_request_body_bytes: 1_048_576,
            max_connections: 1024,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: Redacted("postgres://postgres@127.0.0.1:5432/agent_webhooks".into()),
            listen_url: None,
            max_connections: 20,
            acquire_timeout_seconds: 3,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            count: 2,
            concurrency: 64,
            batch_size: 64,
            run_timeout_seconds: 60,
            poll_interval_ms: 1000,
            builtin_runner_delay_ms: 0,
            lease_seconds: 60,
            reaper_interval_seconds: 10,
            retry_backoff_max_seconds: 30,
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            default_rate_limit_per_minute: 100,
            max_body_bytes: 1_048_576,
            read_timeout_seconds: 10,
            target_cache_seconds: 60,
            target_cache_heartbeat_seconds: 5,
            request_log_refusals_per_second: 1000,
        }
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            master_keys: Vec::new(),
            master_key_file: ".agent-webhooks/master.key".into(),
            session_ttl_hours: 12,
            reveal_limit_per_minute: 10,
            login_attempts_per_minute_per_account: 5,
            login_attempts_per_minute_per_ip: 30,
            max_concurrent_password_hashes: 4,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
        }
    }
}

impl Settings {
    /// Reads the settings file (a missing file means defaults), applies the process
    /// environment and validates the result.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let settings = match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text)
                .with_context(|| format!("invalid settings file {}", path.display()))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        settings.with_env(|name| std::env::var(name).ok())?.finish()
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// Applies the documented environment overrides; `lookup` is the environment.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T>
        where
            T::Err: fmt::Display,
        {
            value
                .trim()
                .parse()
                .map_err(|err| anyhow::anyhow!("{name}={value:?} is not valid: {err}"))
        }
        macro_rules! env_override {
            ($name:literal => $field:expr) => {
                if let Some(value) = lookup($name) {
                    $field = parse($name, value)?;
                }
            };
        }
        env_override!("LEPTOS_SITE_ADDR" => self.server.site_addr);
        env_override!("PUBLIC_BASE_URL" => self.server.public_base_url);
        env_override!("LEPTOS_SITE_ROOT" => self.server.site_root);
        env_override!("SHUTDOWN_GRACE_SECONDS" => self.server.shutdown_grace_seconds);
        env_override!("REQUIRE_HTTPS" => self.server.require_https);
        if let Some(value) = lookup("TRUSTED_PROXIES") {
            self.server.trusted_proxies = value
                .split(',')
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
                .map(|ip| parse("TRUSTED_PROXIES", ip.to_owned()))
                .collect::<anyhow::Result<_>>()?;
        }
        env_override!("HEADER_READ_TIMEOUT_SECONDS" => self.server.header_read_timeout_seconds);
        env_override!("KEEP_ALIVE_TIMEOUT_SECONDS" => self.server.keep_alive_timeout_seconds);
        env_override!("BODY_READ_TIMEOUT_SECONDS" => self.server.body_read_timeout_seconds);
        env_override!("MAX_REQUEST_BODY_BYTES" => self.server.max_request_body_bytes);
        env_override!("SERVER_MAX_CONNECTIONS" => self.server.max_connections);
        env_override!("DATABASE_URL" => self.database.url.0);
        if let Some(value) = lookup("DATABASE_LISTEN_URL") {
            let value = value.trim();
            self.database.listen_url = (!value.is_empty()).then(|| Redacted(value.to_owned()));
        }
        env_override!("DATABASE_MAX_CONNECTIONS" => self.database.max_connections);
        env_override!("DATABASE_ACQUIRE_TIMEOUT_SECONDS" => self.database.acquire_timeout_seconds);
        env_override!("WORKERS" => self.workers.count);
        env_override!("WORKER_CONCURRENCY" => self.workers.concurrency);
        env_override!("WORKER_BATCH_SIZE" => self.workers.batch_size);
        env_override!("WORKER_RUN_TIMEOUT_SECONDS" => self.workers.run_timeout_seconds);
        env_override!("WORKER_POLL_INTERVAL_MS" => self.workers.poll_interval_ms);
        env_override!("BUILTIN_RUNNER_DELAY_MS" => self.workers.builtin_runner_delay_ms);
        env_override!("WORKER_LEASE_SECONDS" => self.workers.lease_seconds);
        env_override!("REAPER_INTERVAL_SECONDS" => self.workers.reaper_interval_seconds);
        env_override!("RETRY_BACKOFF_MAX_SECONDS" => self.workers.retry_backoff_max_seconds);
        env_override!("WEBHOOK_MAX_BODY_BYTES" => self.webhooks.max_body_bytes);
        env_override!("WEBHOOK_READ_TIMEOUT_SECONDS" => self.webhooks.read_timeout_seconds);
        env_override!("WEBHOOK_TARGET_CACHE_SECONDS" => self.webhooks.target_cache_seconds);
        env_override!("WEBHOOK_TARGET_CACHE_HEARTBEAT_SECONDS" => self.webhooks.target_cache_heartbeat_seconds);
        env_override!("REQUEST_LOG_REFUSALS_PER_SECOND" => self.webhooks.request_log_refusals_per_second);
        env_override!("DEFAULT_RATE_LIMIT_PER_MINUTE" => self.webhooks.default_rate_limit_per_minute);
        if let Some(value) = lookup("MASTER_KEYS") {
            self.security.master_keys = value
                .split(',')
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(|key| Redacted(key.to_owned()))
                .collect();
        }
        env_override!("MASTER_KEY_FILE" => self.security.master_key_file);
        if let Some(value) = lookup("RUNTIMES_ALLOWED_PRIVATE_HOSTS") {
            self.runtimes.allowed_private_hosts = value
                .split(',')
                .map(str::trim)
                .filter(|host| !host.is_empty())
                .map(str::to_owned)
                .collect();
        }
        env_override!("ALERTS_SIGNATURE_FAILURES_THRESHOLD" => self.alerts.signature_failures_threshold);
        env_override!("RETENTION_EXECUTIONS_DAYS" => self.retention.executions_days);
        env_override!("RETENTION_REQUESTS_DAYS" => self.retention.requests_days);
        env_override!("RETENTION_DELIVERIES_HOURS" => self.retention.deliveries_hours);
        env_override!("RETENTION_AUDIT_DAYS" => self.retention.audit_days);
        env_override!("RETENTION_INTERVAL_SECONDS" => self.retention.interval_seconds);
        env_override!("SESSION_TTL_HOURS" => self.security.session_ttl_hours);
        env_override!("REVEAL_LIMIT_PER_MINUTE" => self.security.reveal_limit_per_minute);
        env_override!("LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT" => self.security.login_attempts_per_minute_per_account);
        env_override!("LOGIN_ATTEMPTS_PER_MINUTE_PER_IP" => self.security.login_attempts_per_minute_per_ip);
        env_override!("MAX_CONCURRENT_PASSWORD_HASHES" => self.security.max_concurrent_password_hashes);
        if let Some(value) = lookup("LOG_FORMAT") {
            self.log.format = match value.trim() {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => bail!("LOG_FORMAT={other:?} is not valid: use \"pretty\" or \"json\""),
            };
        }
        Ok(self)
    }

    /// Fills derived values and refuses settings the server cannot run with.
    pub fn finish(mut self) -> anyhow::Result<Self> {
        if self.server.public_base_url.trim().is_empty() {
            self.server.public_base_url = format!("http://{}", self.server.site_addr);
        }
        let base = self.server.public_base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.contains('?') {
            bail!(
                "public_base_url (PUBLIC_BASE_URL) must be an http:// or https:// URL without a \
                 query, for example https://hooks.example.com; got {base:?}"
            );
        }
        self.server.public_base_url = base.to_owned();
        let url = self.database.url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!("database.url (DATABASE_URL) must be a postgres:// URL");
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections (DATABASE_MAX_CONNECTIONS) must be at least 1");
        }
        if self.workers.poll_interval_ms == 0 || self.workers.poll_interval_ms > 60_000 {
            bail!("workers.poll_interval_ms (WORKER_POLL_INTERVAL_MS) must be 1..=60000");
        }
        if !(1..=10_000).contains(&self.workers.concurrency) {
            bail!("workers.concurrency (WORKER_CONCURRENCY) must be 1..=10000");
        }
        if !(1..=1_000).contains(&self.workers.batch_size) {
            bail!("workers.batch_size (WORKER_BATCH_SIZE) must be 1..=1000");
        }
        if self.workers.run_timeout_seconds == 0 {
            bail!("workers.run_timeout_seconds (WORKER_RUN_TIMEOUT_SECONDS) must be at least 1");
        }
        if self.workers.lease_seconds < 2 {
            bail!("workers.lease_seconds (WORKER_LEASE_SECONDS) must be at least 2");
        }
        if self.workers.reaper_interval_seconds == 0 {
            bail!("workers.reaper_interval_seconds (REAPER_INTERVAL_SECONDS) must be at least 1");
        }
        if self.webhooks.target_cache_heartbeat_seconds == 0 {
            bail!("webhooks.target_cache_heartbeat_seconds (WEBHOOK_TARGET_CACHE_HEARTBEAT_SECONDS) must be at least 1");
        }
        if self.database.listen_url.as_ref().is_some_and(|url| {
            !(url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://"))
        }) {
            bail!("database.listen_url (DATABASE_LISTEN_URL) must be a postgres:// URL");
        }
        if self.webhooks.max_body_bytes == 0 || self.webhooks.read_timeout_seconds == 0 {
            bail!("webhooks.max_body_bytes and webhooks.read_timeout_seconds must be positive");
        }
        if self.webhooks.request_log_refusals_per_second == 0 {
            bail!("webhooks.request_log_refusals_per_second (REQUEST_LOG_REFUSALS_PER_SECOND) must be at least 1");
        }
        let limit = self.webhooks.default_rate_limit_per_minute;
        if !(1..=1_000_000).contains(&limit) {
            bail!("webhooks.default_rate_limit_per_minute (DEFAULT_RATE_LIMIT_PER_MINUTE) must be 1..=1000000");
        }
        if self.security.session_ttl_hours == 0 {
            bail!("security.session_ttl_hours (SESSION_TTL_HOURS) must be at least 1");
        }
        if self.security.reveal_limit_per_minute == 0 {
            bail!("security.reveal_limit_per_minute (REVEAL_LIMIT_PER_MINUTE) must be at least 1");
        }
        crate::runtimes::address::AddressRules::parse(&self.runtimes.allowed_private_hosts)
            .map_err(|err| {
                anyhow::anyhow!(
                    "runtimes.allowed_private_hosts (RUNTIMES_ALLOWED_PRIVATE_HOSTS): {err}"
                )
            })?;
        if self.alerts.signature_failures_threshold == 0 {
            bail!("alerts.signature_failures_threshold (ALERTS_SIGNATURE_FAILURES_THRESHOLD) must be at least 1");
        }
        let retention = &self.retention;
        for (value, name) in [
            (
                retention.executions_days,
                "retention.executions_days (RETENTION_EXECUTIONS_DAYS)",
            ),
            (
                retention.requests_days,
                "retention.requests_days (RETENTION_REQUESTS_DAYS)",
            ),
            (
                retention.deliveries_hours,
                "retention.deliveries_hours (RETENTION_DELIVERIES_HOURS)",
            ),
            (
                retention.audit_days,
                "retention.audit_days (RETENTION_AUDIT_DAYS)",
            ),
        ] {
            if !(1..=36_500).contains(&value) {
                bail!("{name} must be 1..=36500");
            }
        }
        if retention.deliveries_hours > retention.executions_days.saturating_mul(24) {
            // A repeated delivery id would answer with an execution already pruned.
            bail!("retention.deliveries_hours (RETENTION_DELIVERIES_HOURS) must not exceed retention.executions_days (RETENTION_EXECUTIONS_DAYS) in hours");
        }
        if retention.interval_seconds == 0 {
            bail!("retention.interval_seconds (RETENTION_INTERVAL_SECONDS) must be at least 1");
        }
        let server = &self.server;
        for (value, name) in [
            (
                server.header_read_timeout_seconds,
                "server.header_read_timeout_seconds (HEADER_READ_TIMEOUT_SECONDS)",
            ),
            (
                server.keep_alive_timeout_seconds,
                "server.keep_alive_timeout_seconds (KEEP_ALIVE_TIMEOUT_SECONDS)",
            ),
            (
                server.body_read_timeout_seconds,
                "server.body_read_timeout_seconds (BODY_READ_TIMEOUT_SECONDS)",
            ),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if server.max_request_body_bytes == 0 || server.max_connections == 0 {
            bail!("server.max_request_body_bytes (MAX_REQUEST_BODY_BYTES) and server.max_connections (SERVER_MAX_CONNECTIONS) must be positive");
        }
        let security = &self.security;
        if security.login_attempts_per_minute_per_account == 0
            || security.login_attempts_per_minute_per_ip == 0
            || security.max_concurrent_password_hashes == 0
        {
            bail!("security.login_attempts_per_minute_per_account, security.login_attempts_per_minute_per_ip and security.max_concurrent_password_hashes must be at least 1");
        }
        Ok(self)
    }

    /// Cookies get the `Secure` flag when the public URL is https.
    pub fn serves_https(&self) -> bool {
        self.server.public_base_url.starts_with("https://")
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_grace_seconds)
    }
}

/// A value that must not reach logs: `Debug` prints a placeholder.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_shipped_settings_file_matches_the_built_in_defaults() {
        let shipped = Settings::from_toml(include_str!("../Leptos.toml")).unwrap();
        let defaults = Settings::default();
        assert_eq!(format!("{shipped:?}"), format!("{defaults:?}"));
        assert_eq!(shipped.database.url, defaults.database.url);
    }

    #[test]
    fn environment_overrides_the_file_and_public_url_defaults_to_the_site_address() {
        let settings = Settings::default()
            .with_env(env(&[
                ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
                ("WORKERS", "0"),
                ("LOG_FORMAT", "json"),
            ]))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(settings.server.site_addr.port(), 8080);
        assert_eq!(settings.server.public_base_url, "http://0.0.0.0:8080");
        assert_eq!(settings.workers.count, 0);
        assert_eq!(settings.log.format, LogFormat::Json);
    }

    #[test]
    fn public_base_url_loses_its_trailing_slash() {
        let settings = Settings::default()
            .with_env(env(&[("PUBLIC_BASE_URL", "https://hooks.example.com/")]))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(settings.server.public_base_url, "https://hooks.example.com");
    }

    #[test]
    fn bad_values_name_the_variable_to_fix() {
        let err = Settings::default()
            .with_env(env(&[("WORKERS", "many")]))
            .unwrap_err();
        assert!(err.to_string().contains("WORKERS"), "{err}");
        let err = Settings::default()
            .with_env(env(&[("PUBLIC_BASE_URL", "hooks.example.com")]))
            .unwrap()
            .finish()
            .unwrap_err();
        assert!(err.to_string().contains("PUBLIC_BASE_URL"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let err = Settings::from_toml("[server]\nsite_adr = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("site_adr"), "{err:#}");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let settings = Settings::default()
            .with_env(env(&[
                ("DATABASE_URL", "postgres://app:hunter2@db/app"),
                ("MASTER_KEYS", "newkey-secret, oldkey-secret"),
            ]))
            .unwrap();
        assert_eq!(settings.security.master_keys.len(), 2);
        assert_eq!(settings.security.master_keys[1].expose(), "oldkey-secret");
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("secret"),
            "{debug}"
        );
    }
}
