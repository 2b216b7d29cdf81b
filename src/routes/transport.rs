//! Where a request really came from: the client address and whether it arrived over TLS,
//! believing `X-Forwarded-*` only from configured proxies. Enforces `require_https`.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::state::AppState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub https: bool,
}

impl ClientInfo {
    /// The client address of a request that went through [`identify`].
    pub fn ip_of(extensions: &axum::http::Extensions) -> Option<String> {
        extensions
            .get::<ClientInfo>()
            .and_then(|info| info.ip)
            .map(|ip| ip.to_string())
    }
}

/// Probes from inside the deployment may use plain HTTP.
const EXEMPT: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

pub async fn identify(
    State(state): State<AppState>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let info = client_info(
        peer,
        request.headers(),
        &state.settings.server.trusted_proxies,
    );
    let path = request.uri().path();
    if state.settings.server.require_https && !info.https && !EXEMPT.contains(&path) {
        return refuse_plain_http(&request, &state.settings.server.public_base_url);
    }
    request.extensions_mut().insert(info);
    next.run(request).await
}

fn client_info(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> ClientInfo {
    let from_proxy = peer.is_some_and(|ip| trusted.contains(&ip));
    if !from_proxy {
        return ClientInfo {
            ip: peer,
            https: false,
        };
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    // The nearest address that is not one of our proxies is the client.
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    let ip = forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .copied()
        .or(peer);
    ClientInfo { ip, https }
}

/// Browsers asking for a page are sent to https; everything else gets a clear 403.
fn refuse_plain_http(request: &Request<Body>, public_base_url: &str) -> Response {
    let is_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !request.uri().path().starts_with("/api/")
        && !request.uri().path().ends_with("/webhook");
    if is_page {
        let host = public_base_url
            .strip_prefix("https://")
            .map(str::to_owned)
            .or_else(|| {
                request
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            });
        if let Some(host) = host {
            let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{path}")) {
                return (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response();
            }
        }
    }
    (
        StatusCode::FORBIDDEN,
        Json(json!({ "error": "HTTPS required: send this request over https" })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let forwarded = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
        ]);
        let via_proxy = client_info(Some(proxy), &forwarded, &[proxy]);
        assert_eq!(
            via_proxy,
            ClientInfo {
                ip: Some("203.0.113.7".parse().unwrap()),
                https: true
            }
        );
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let spoofed = client_info(Some(stranger), &forwarded, &[proxy]);
        assert_eq!(
            spoofed,
            ClientInfo {
                ip: Some(stranger),
                https: false
            }
        );
    }
}
