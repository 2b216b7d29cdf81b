//! Administrators, browser sessions and API tokens.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use serde_json::json;

use super::{audit, tenants, Actor, Principal};
use crate::{
    crypto::{keyring::MasterKeyring, passwords, tokens},
    db::{self, users::UserRow},
    domain::{AuditAction, Password},
    error::AppError,
    state::AppState,
};

/// The session cookie's name over plain HTTP (local development).
pub const SESSION_COOKIE: &str = "aw_session";
/// Its name when the public URL is https: browsers accept a `__Host-` cookie only with
/// `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-aw_session";
const SESSION_TOKEN_PREFIX: &str = "aws_";
pub const API_TOKEN_PREFIX: &str = "awt_";
pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn session_cookie_name(settings: &crate::config::Settings) -> &'static str {
    if settings.serves_https() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value of a session (empty value and 0 max-age to clear it): HttpOnly,
/// SameSite=Strict, and `__Host-` + Secure when the public URL is https.
pub fn session_cookie(
    settings: &crate::config::Settings,
    value: &str,
    max_age_seconds: i64,
) -> String {
    let name = session_cookie_name(settings);
    let secure = if settings.serves_https() {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}")
}

pub fn parse_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(AppError::invalid(
            "email",
            "email must look like name@example.com",
        ));
    }
    Ok(email)
}

async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || passwords::hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

/// Checks `password` against `hash`, or against a decoy hash when the account is unknown
/// (so a wrong email costs the same time as a wrong password). Off the async runtime.
async fn verify_password(password: Password, hash: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(decoy_hash);
        passwords::verify_password(password.expose(), &hash)
    })
    .await
    .map_err(AppError::internal)
}

/// A real hash to verify against when the email is unknown.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            passwords::hash_password(&tokens::random_token("decoy_"))
                .expect("hashing a random password")
        })
        .clone()
}

/// How long a sign-in waits for a free password-hashing slot before the server says busy.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserRow,
}

/// Signs an administrator in. In order, so that guessing costs the guesser and not the
/// server: the client address's and the account's attempt budgets (429 before any hashing),
/// a bounded number of concurrent password hashes (503 when they stay busy), then the
/// check itself. Successes and failures of known accounts go to their tenant's audit log
/// (never the password); unknown emails only to the log, since they belong to no tenant.
pub async fn login(
    state: &AppState,
    email: &str,
    password: Password,
    source_ip: Option<&str>,
) -> Result<NewSession, AppError> {
    let email = email.trim().to_lowercase();
    if let Err(retry_after) = super::shared_limits::take_login(state, source_ip, &email).await? {
        tracing::warn!(
            source_ip = source_ip.unwrap_or("unknown"),
            "sign-in throttled"
        );
        return Err(AppError::RateLimited { retry_after });
    }
    let email = parse_email(&email).map_err(|_| AppError::InvalidCredentials)?;
    let user = db::users::find_by_email(&state.pool, &email).await?;
    let matches = {
        let _slot = tokio::time::timeout(HASHING_WAIT, state.limits.password_hashes.acquire())
            .await
            .map_err(|_| AppError::Busy)?
            .map_err(|_| AppError::Busy)?;
        verify_password(
            password,
            user.as_ref().map(|user| user.password_hash.clone()),
        )
        .await?
    };
    let Some(user) = user else {
        tracing::warn!(
            source_ip = source_ip.unwrap_or("unknown"),
            "sign-in failed: unknown account"
        );
        return Err(AppError::InvalidCredentials);
    };
    let principal = Principal {
        tenant_id: user.tenant_id,
        actor: Actor::User(user.id),
        source_ip: source_ip.map(str::to_owned),
    };
    if !matches {
        tracing::warn!(user_id = %user.id, source_ip = source_ip.unwrap_or("unknown"), "sign-in failed");
        audit::record(
            &state.pool,
            &principal,
            AuditAction::LoginFailed,
            None,
            "failure",
            json!({ "reason": "wrong_password" }),
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    let token = tokens::random_token(SESSION_TOKEN_PREFIX);
    let ttl_hours = state.settings.security.session_ttl_hours;
    let expires_at = Utc::now() + Duration::hours(i64::from(ttl_hours));
    let mut tx = state.pool.begin().await?;
    db::sessions::insert(
        &mut *tx,
        &tokens::token_hash(&token),
        user.id,
        user.tenant_id,
        expires_at,
    )
    .await?;
    audit::record(
        &mut *tx,
        &principal,
        AuditAction::LoginSucceeded,
        None,
        "success",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(NewSession {
        token,
        expires_at,
        user,
    })
}

pub async fn logout(pool: &PgPool, session_token: &str) -> Result<(), AppError> {
    db::sessions::delete(pool, &tokens::token_hash(session_token)).await?;
    Ok(())
}

pub async fn authenticate_session(
    pool: &PgPool,
    token: &str,
) -> Result<Option<Principal>, AppError> {
    Ok(db::sessions::find_live(pool, &tokens::token_hash(token))
        .await?
        .map(|(user_id, tenant_id)| Principal {
            tenant_id,
            actor: Actor::User(user_id),
            source_ip: None,
        }))
}

pub async fn authenticate_api_token(
    pool: &PgPool,
    token: &str,
) -> Result<Option<Principal>, AppError> {
    if !token.starts_with(API_TOKEN_PREFIX) {
        return Ok(None);
    }
    Ok(
        db::api_tokens::authenticate(pool, &tokens::token_hash(token))
            .await?
            .map(|(token_id, tenant_id)| Principal {
                tenant_id,
                actor: Actor::Token(token_id),
                source_ip: None,
            }),
    )
}

pub struct CreatedAdmin {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
}

/// Creates the tenant when missing, then the administrator. An existing email is a conflict.
pub async fn create_admin(
    pool: &PgPool,
    keyring: &MasterKeyring,
    tenant_slug: &str,
    email: &str,
    password: &str,
) -> Result<CreatedAdmin, AppError> {
    let email = parse_email(email)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let tenant = tenants::ensure(pool, keyring, tenant_slug).await?;
    let user = UserRow {
        id: Uuid::new_v4(),
        tenant_id: tenant.id,
        email: email.clone(),
        password_hash: hash_password(password.to_owned()).await?,
    };
    match db::users::insert(pool, &user).await {
        Ok(()) => Ok(CreatedAdmin {
            user_id: user.id,
            tenant_id: tenant.id,
            email,
        }),
        Err(sqlx::Error::Database(err)) if err.constraint() == Some("users_email_key") => Err(
            AppError::Conflict(format!("a user with email {email} already exists")),
        ),
        Err(err) => Err(err.into()),
    }
}

pub async fn user_exists(pool: &PgPool, email: &str) -> Result<bool, AppError> {
    Ok(db::users::find_by_email(pool, &parse_email(email)?)
        .await?
        .is_some())
}

/// Creates an API token in the tenant (created when missing); the token is returned once
/// and only its hash is stored.
pub async fn create_api_token(
    pool: &PgPool,
    keyring: &MasterKeyring,
    tenant_slug: &str,
    name: &str,
) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "name",
            "token name must be 1-200 characters",
        ));
    }
    let tenant = tenants::ensure(pool, keyring, tenant_slug).await?;
    let token = tokens::random_token(API_TOKEN_PREFIX);
    db::api_tokens::insert(
        pool,
        &db::api_tokens::NewToken {
            id: Uuid::new_v4(),
            tenant_id: tenant.id,
            name,
            token_hash: &tokens::token_hash(&token),
            expires_at: None,
        },
    )
    .await?;
    Ok(token)
}

/// A random password for generated administrator accounts.
pub fn generate_password() -> String {
    tokens::random_token("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings(public_base_url: &str) -> Settings {
        Settings::default()
            .with_env(|name| (name == "PUBLIC_BASE_URL").then(|| public_base_url.to_owned()))
            .unwrap()
            .finish()
            .unwrap()
    }

    #[test]
    fn over_https_the_session_cookie_is_host_prefixed_and_secure() {
        let https = settings("https://hooks.example.com");
        assert_eq!(session_cookie_name(&https), "__Host-aw_session");
        let cookie = session_cookie(&https, "aws_x", 60);
        assert!(
            cookie.starts_with("__Host-aw_session=aws_x; Path=/;"),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; Secure") && !cookie.contains("Domain"),
            "{cookie}"
        );

        let http = settings("http://127.0.0.1:3000");
        let cookie = session_cookie(&http, "aws_x", 60);
        assert!(cookie.starts_with("aw_session=aws_x;") && !cookie.contains("Secure"));
    }

    #[test]
    fn debug_output_never_shows_a_password_or_its_hash() {
        let user = UserRow {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            email: "ops@acme.example".into(),
            password_hash: "$argon2id$v=19$secret-hash".into(),
        };
        let shown = format!("{user:?}");
        assert!(shown.contains("ops@acme.example") && !shown.contains("secret-hash"));
        let password = Password::new("hunter2 hunter2");
        assert!(!format!("{password:?}").contains("hunter2"));
        let arguments = crate::api::Login {
            email: "ops@acme.example".into(),
            password,
            next: None,
        };
        assert!(!format!("{arguments:?}").contains("hunter2"));
    }
}
