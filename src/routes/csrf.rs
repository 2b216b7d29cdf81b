//! Refuses cross-site state-changing requests: anything a hostile page could make a
//! victim's browser send. Every unsafe request (not GET/HEAD/OPTIONS) is checked unless it
//! carries a bearer token (which a cross-site form cannot add) or is a webhook delivery
//! (authenticated by its signature, not by anything the browser holds). That covers the
//! REST API, server functions and both sign-in endpoints, so a hostile page can neither act
//! with the victim's session nor sign the victim into the attacker's account.

use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, Method, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::AppError, routes::webhook::is_webhook_path, state::AppState};

pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes().starts_with(b"Bearer "));
    let guarded = unsafe_method && !bearer && !is_webhook_path(request.uri().path());
    if guarded && is_cross_site(request.headers(), &state.settings.server.public_base_url) {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return AppError::Forbidden("cross-site request refused".into()).into_response();
    }
    next.run(request).await
}

/// `Sec-Fetch-Site` first (browsers set it and pages cannot), then `Origin`. A request with
/// neither comes from a client that is not a browser, or from one too old to matter here.
fn is_cross_site(headers: &HeaderMap, public_base_url: &str) -> bool {
    match headers.get("sec-fetch-site").map(|site| site.as_bytes()) {
        Some(b"same-origin" | b"none") => return false,
        Some(b"cross-site") => return true,
        // `same-site` (a sibling subdomain may be someone else's) or unknown: ask Origin.
        _ => {}
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    if origin.eq_ignore_ascii_case(origin_of(public_base_url)) {
        return false;
    }
    // The scheme and Host the request was sent to (TLS may end at a proxy in front of us).
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    !host.is_some_and(|host| {
        ["http://", "https://"].iter().any(|scheme| {
            origin.len() == scheme.len() + host.len()
                && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                && origin[scheme.len()..].eq_ignore_ascii_case(host)
        })
    })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    match url[authority_start..].find('/') {
        Some(end) => &url[..authority_start + end],
        None => url,
    }
}

/// The value of a cookie in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_and_originless_requests_pass() {
        let base = "https://hooks.example.com";
        assert!(!is_cross_site(&headers(&[]), base));
        assert!(!is_cross_site(
            &headers(&[("origin", "https://hooks.example.com")]),
            base
        ));
        assert!(!is_cross_site(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            base
        ));
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            base
        ));
    }

    #[test]
    fn cross_site_requests_are_caught() {
        let base = "https://hooks.example.com/";
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            base
        ));
        assert!(is_cross_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "hooks.example.com")
            ]),
            base
        ));
        assert!(is_cross_site(&headers(&[("origin", "null")]), base));
        // A sibling subdomain is same-site but not same-origin.
        assert!(is_cross_site(
            &headers(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://evil.example.com"),
                ("host", "hooks.example.com")
            ]),
            base
        ));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let map = headers(&[
            ("cookie", "theme=dark; aw_session=abc123"),
            ("cookie", "x=1"),
        ]);
        assert_eq!(cookie(&map, "aw_session"), Some("abc123"));
        assert_eq!(cookie(&map, "x"), Some("1"));
        assert_eq!(cookie(&map, "missing"), None);
    }

    #[test]
    fn origin_drops_the_path() {
        assert_eq!(origin_of("https://a.example/base/"), "https://a.example");
        assert_eq!(origin_of("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }
}
