//! Administrators, browser sessions and API tokens.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{tenants, Actor, Principal};
use crate::{
    crypto::{keyring::MasterKeyring, passwords, tokens},
    db::{self, users::UserRow},
    error::AppError,
};

pub const SESSION_COOKIE: &str = "aw_session";
const SESSION_TOKEN_PREFIX: &str = "aws_";
const API_TOKEN_PREFIX: &str = "awt_";
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The `Set-Cookie` value of a session (empty value and 0 max-age to clear it): HttpOnly,
/// SameSite=Strict, and Secure when the public URL is https.
pub fn session_cookie(
    settings: &crate::config::Settings,
    value: &str,
    max_age_seconds: i64,
) -> String {
    let secure = if settings.serves_https() {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}")
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

async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || passwords::verify_password(&password, &hash))
        .await
        .map_err(AppError::internal)
}

/// A real hash to verify against when the email is unknown, so that a wrong email costs
/// the same time as a wrong password.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            passwords::hash_password(&tokens::random_token("decoy_"))
                .expect("hashing a random password")
        })
        .clone()
}

pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserRow,
}

pub async fn login(
    pool: &PgPool,
    session_ttl_hours: u32,
    email: &str,
    password: &str,
) -> Result<NewSession, AppError> {
    let email = parse_email(email).map_err(|_| AppError::InvalidCredentials)?;
    let user = db::users::find_by_email(pool, &email).await?;
    let hash = user
        .as_ref()
        .map_or_else(decoy_hash, |user| user.password_hash.clone());
    let matches = verify_password(password.to_owned(), hash).await?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(AppError::InvalidCredentials),
    };
    let token = tokens::random_token(SESSION_TOKEN_PREFIX);
    let expires_at = Utc::now() + Duration::hours(i64::from(session_ttl_hours));
    db::sessions::insert(
        pool,
        &tokens::token_hash(&token),
        user.id,
        user.tenant_id,
        expires_at,
    )
    .await?;
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
        Uuid::new_v4(),
        tenant.id,
        name,
        &tokens::token_hash(&token),
    )
    .await?;
    Ok(token)
}

/// A random password for generated administrator accounts.
pub fn generate_password() -> String {
    tokens::random_token("")
}
