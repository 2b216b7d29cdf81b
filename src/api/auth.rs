use leptos::prelude::*;

use super::codec::JsonOrForm;

use crate::domain::{ApiError, CurrentUser, Password};

/// Signs in and sets the session cookie; then sends the browser to `next` (a local path).
/// Works as a plain HTML form post too, before the page has hydrated.
#[server(prefix = "/api/fn", endpoint = "login", input = JsonOrForm)]
pub async fn login(
    email: String,
    password: Password,
    next: Option<String>,
) -> Result<(), ApiError> {
    use axum::http::{header, request::Parts, HeaderValue};
    use leptos_axum::ResponseOptions;

    use super::context::{fail, state};
    use crate::{routes::transport::ClientInfo, services::auth};

    let state = state()?;
    let ttl_hours = state.settings.security.session_ttl_hours;
    let source_ip = use_context::<Parts>().and_then(|parts| ClientInfo::ip_of(&parts.extensions));
    let session = auth::login(&state, &email, password, source_ip.as_deref())
        .await
        .map_err(fail)?;
    let cookie = auth::session_cookie(&state.settings, &session.token, i64::from(ttl_hours) * 3600);
    if let Some(response) = use_context::<ResponseOptions>() {
        response.insert_header(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("cookie text is ASCII"),
        );
    }
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Only local paths of a strict character set, so a crafted link cannot send a fresh
/// session elsewhere (`//host`, `/\\host`, or `/\t/host`, which browsers read as `//host`)
/// and cannot break the `Location` header (control characters). Anything else: `/agents`.
pub fn safe_next(next: Option<&str>) -> String {
    const MAX_CHARS: usize = 1024;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~?=&%+,:@".contains(c);
    match next {
        Some(path)
            if path.len() <= MAX_CHARS
                && path.starts_with('/')
                && !path.starts_with("//")
                && path.chars().all(allowed) =>
        {
            path.to_owned()
        }
        _ => "/agents".to_owned(),
    }
}

#[server(prefix = "/api/fn", endpoint = "logout", input = JsonOrForm)]
pub async fn logout() -> Result<(), ApiError> {
    use axum::http::{header, HeaderMap, HeaderValue};
    use leptos_axum::ResponseOptions;

    use super::context::{fail, state};
    use crate::{routes::csrf::cookie, services::auth};

    let state = state()?;
    let headers: HeaderMap = leptos_axum::extract()
        .await
        .map_err(|err| fail(crate::error::AppError::internal(anyhow::anyhow!("{err}"))))?;
    if let Some(token) = cookie(&headers, auth::session_cookie_name(&state.settings)) {
        auth::logout(&state.pool, token).await.map_err(fail)?;
    }
    if let Some(response) = use_context::<ResponseOptions>() {
        let cleared = auth::session_cookie(&state.settings, "", 0);
        response.insert_header(
            header::SET_COOKIE,
            HeaderValue::from_str(&cleared).expect("ASCII"),
        );
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in administrator, or `None`.
#[server(prefix = "/api/fn", endpoint = "current_user", input = JsonOrForm)]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, ApiError> {
    use super::context::{fail, principal};
    use crate::{db, services::Actor};

    let (state, principal) = match principal().await {
        Ok(found) => found,
        // Not signed in is an answer; a database outage is still an error (503).
        Err(error) if error.is_unauthenticated() => {
            super::context::set_status(axum::http::StatusCode::OK);
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    let Actor::User(user_id) = principal.actor else {
        return Ok(None);
    };
    let user = db::users::find(&state.pool, user_id)
        .await
        .map_err(|err| fail(err.into()))?;
    Ok(user.map(|user| CurrentUser {
        user_id,
        email: user.email,
    }))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/agents/123")), "/agents/123");
        assert_eq!(safe_next(Some("//evil.example")), "/agents");
        assert_eq!(safe_next(Some("https://evil.example")), "/agents");
        assert_eq!(safe_next(Some("/\\evil.example")), "/agents");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/agents");
        assert_eq!(safe_next(Some("/agents\r\nSet-Cookie: x=1")), "/agents");
        assert_eq!(safe_next(Some("/agents\n")), "/agents");
        assert_eq!(safe_next(Some("/%2F%2Fevil")), "/%2F%2Fevil");
        assert_eq!(
            safe_next(Some("/agents?tab=audit&x=1")),
            "/agents?tab=audit&x=1"
        );
        assert_eq!(
            safe_next(Some(&format!("/{}", "a".repeat(2000)))),
            "/agents"
        );
        assert_eq!(safe_next(Some("/ünïcode")), "/agents");
        assert_eq!(safe_next(None), "/agents");
    }
}
