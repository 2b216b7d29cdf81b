//! The one outbound HTTP client: agent runtimes and notifications send through it, so the
//! rules every request to a tenant-chosen URL must follow live in one place:
//! - targets: `https://` (plain `http://` only to hosts listed in
//!   `runtimes.allowed_private_hosts`), no credentials or fragment in the URL;
//! - the SSRF rules (`address`): checked when a target is saved ([`Outbound::check_target`])
//!   and again for every connection, in the client's resolver, so DNS that changed since is
//!   caught; address literals are checked before sending (no resolver sees them);
//! - no proxy from the environment (it would connect on our behalf, past the rules);
//! - at most one redirect, a 307 or 308 (which keep the method and the body; a 301, 302 or
//!   303 would turn the signed POST into a GET without the payload), to the same origin;
//! - a timeout for the whole exchange, and a cap on the answer's bytes that are read;
//! - Standard Webhooks signing (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER},
    redirect, StatusCode, Url,
};

use super::address::{AddressRules, Refused};
use crate::{crypto::secrets::WebhookSecret, domain::URL_MAX_CHARS};

/// Time to resolve a target's host when it is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to open a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// Why a URL cannot be a target; the text is safe to show to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the host {0} cannot be resolved")]
    Unresolvable(String),
}

/// One request to send.
pub struct Request<'a> {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// Bytes of the answer's body that are read; the rest is dropped.
    pub max_answer_bytes: usize,
    /// Signs the request as a Standard Webhooks sender: (secret, `webhook-id`).
    pub signing: Option<(&'a WebhookSecret, &'a str)>,
}

/// What the target answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than `max_answer_bytes`.
    pub truncated: bool,
}

impl Answer {
    /// `Retry-After` in seconds (the HTTP-date form is not used by the servers we call).
    pub fn retry_after(&self) -> Option<Duration> {
        let seconds: u64 = self
            .headers
            .get(RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
    }

    /// Whether the target said "not now" rather than "no": 429 and 5xx, and 408 when
    /// `with_408` (a server that timed out reading a request we sent whole). Such an
    /// answer is worth another attempt; any other non-2xx is not.
    pub fn is_transient(&self, with_408: bool) -> bool {
        let status = self.status.as_u16();
        status == 429 || (500..=599).contains(&status) || (with_408 && status == 408)
    }

    /// The body as text for a message: at most `max_chars` characters, lossy UTF-8.
    pub fn body_excerpt(&self, max_chars: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(max_chars).collect();
        if excerpt.len() < text.len() || self.truncated {
            excerpt.push('…');
        }
        excerpt
    }
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Refused(Refused),
    /// The URL itself is not an acceptable target (any more): see [`TargetError`].
    #[error("{0}")]
    Target(TargetError),
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("no connection within {} s", CONNECT_TIMEOUT.as_secs())]
    ConnectTimeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the request failed: {0}")]
    Other(String),
}

pub struct Outbound {
    client: reqwest::Client,
    rules: Arc<AddressRules>,
}

impl Outbound {
    pub fn new(rules: AddressRules) -> anyhow::Result<Self> {
        let rules = Arc::new(rules);
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                rules: rules.clone(),
            }))
            .redirect(redirect::Policy::custom(|attempt| {
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                let keeps_the_body = matches!(attempt.status().as_u16(), 307 | 308);
                if attempt.previous().len() == 1 && same_origin && keeps_the_body {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("agent-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, rules })
    }

    /// Parses a target URL and checks its form (not its addresses).
    pub fn parse_target(&self, raw: &str) -> Result<Url, TargetError> {
        let invalid = |message: String| TargetError::Invalid(message);
        if raw.len() > URL_MAX_CHARS {
            return Err(invalid(format!(
                "the URL must be at most {URL_MAX_CHARS} characters"
            )));
        }
        let url =
            Url::parse(raw.trim()).map_err(|err| invalid(format!("not a valid URL: {err}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("the URL must name a host".into()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.rules.allows_host(host) => {}
            "http" => {
                return Err(invalid(format!(
                    "the URL must use https:// (plain http:// only for hosts in runtimes.allowed_private_hosts, and {host} is not one)"
                )))
            }
            other => return Err(invalid(format!("the URL must use https://, not {other}://"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "the URL must not carry credentials (user:password@); use the API key field".into(),
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid("the URL must not have a #fragment".into()));
        }
        if let Some(port) = url.port_or_known_default() {
            self.rules.check_port(host, port).map_err(invalid)?;
        }
        Ok(url)
    }

    /// The save-time check: the URL's form, then every address its host resolves to.
    pub async fn check_target(&self, raw: &str) -> Result<Url, TargetError> {
        let url = self.parse_target(raw)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        if let Some(address) = literal(&url) {
            self.rules.check(&host, address)?;
            return Ok(url);
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match tokio::time::timeout(
            RESOLVE_TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(addresses)) => addresses.collect(),
            _ => Vec::new(),
        };
        if addresses.is_empty() {
            return Err(TargetError::Unresolvable(host));
        }
        for address in addresses {
            self.rules.check(&host, address.ip())?;
        }
        Ok(url)
    }

    /// Sends one POST and reads the answer (at most `max_answer_bytes` of its body).
    pub async fn post(&self, request: Request<'_>) -> Result<Answer, SendError> {
        if let Some(address) = literal(&request.url) {
            self.rules
                .check(request.url.host_str().unwrap_or_default(), address)
                .map_err(SendError::Refused)?;
        }
        let mut headers = request.headers;
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some((secret, id)) = request.signing {
            let timestamp = chrono::Utc::now().timestamp();
            let signature = secret.sign_standard(id, timestamp, &request.body);
            for (name, value) in [
                ("webhook-id", id.to_owned()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ] {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value)
                        .map_err(|err| SendError::Other(err.to_string()))?,
                );
            }
        }
        let timeout = request.timeout;
        let exchange = async {
            let mut response = self
                .client
                .post(request.url)
                .headers(headers)
                .body(request.body)
                .send()
                .await?;
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = response.chunk().await? {
                let room = request.max_answer_bytes - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Answer {
                status: response.status(),
                headers: response.headers().clone(),
                body,
                truncated,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(SendError::Timeout(timeout)),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => Err(classify(err, timeout)),
        }
    }
}

/// The address of a URL whose host is an address literal.
fn literal(url: &Url) -> Option<IpAddr> {
    url.host_str()?.trim_matches(['[', ']']).parse().ok()
}

fn classify(err: reqwest::Error, timeout: Duration) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return SendError::Refused(refused.clone());
        }
        source = current.source();
    }
    if err.is_connect() && err.is_timeout() {
        SendError::ConnectTimeout
    } else if err.is_timeout() {
        SendError::Timeout(timeout)
    } else if err.is_connect() {
        SendError::Connect(innermost(&err))
    } else {
        SendError::Other(innermost(&err))
    }
}

/// The most specific message of an error chain ("connection refused" rather than "error
/// sending request for url (…)"); the URL is left out, since it may carry a token.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Resolves a host, then refuses it if any of its addresses is refused.
struct CheckedResolver {
    rules: Arc<AddressRules>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rules = self.rules.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for address in &addresses {
                if let Err(refused) = rules.check(&host, address.ip()) {
                    // The tenant's message names the rule only; the operator gets the address.
                    tracing::warn!(%host, address = %refused.address, class = refused.class, "outbound request refused by the SSRF rules");
                    return Err(refused.into());
                }
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
