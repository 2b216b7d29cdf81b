//! The use cases. The REST API and the server functions are two doors into these.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod execution_writer;
pub mod executions;
pub mod keys;
pub mod notifications;
pub mod request_log;
pub mod runtimes;
pub mod schemas;
pub mod secrets;
pub mod shared_limits;
pub mod tenants;
pub mod token_leases;
pub mod tokens;
pub mod webhook_targets;
pub mod webhooks;

use std::fmt;

use uuid::Uuid;

use crate::error::AppError;

/// Items per page of a list when the caller does not say (`limit`).
pub const DEFAULT_PAGE: i64 = 50;
/// The largest `limit` a list accepts.
pub const MAX_PAGE: i64 = 200;

/// A list's `limit`: `DEFAULT_PAGE` when absent, else 1..=`MAX_PAGE` (400 otherwise).
pub fn page_limit(limit: Option<i64>) -> Result<i64, AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be 1..={MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

/// The next page's cursor (keyset paging, newest first): the last item's key when the page
/// is full, else `None` (the end).
pub fn next_before<T, K>(items: &[T], limit: i64, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() as i64 == limit {
        items.last().map(key)
    } else {
        None
    }
}

/// Who is acting, in which tenant. Everything an administrator does carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: Uuid,
    pub actor: Actor,
    /// The peer address the request came from, for the audit log.
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    User(Uuid),
    Token(Uuid),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Token(id) => write!(f, "token:{id}"),
        }
    }
}
