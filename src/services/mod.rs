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
pub mod tenants;
pub mod tokens;
pub mod webhook_targets;
pub mod webhooks;

use std::fmt;

use uuid::Uuid;

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
