//! Integration tests: the real application on a loopback port against a fresh Postgres
//! database per test. One binary, shared helpers.

mod helpers;
mod https;
mod receiver;

mod agents;
mod audit;
mod auth;
mod cli;
mod edge;
mod executions;
mod group_commit;
mod health;
mod jobs;
mod keys;
mod logs;
mod metrics;
mod notifications;
mod operations;
mod pages;
mod proxy;
mod queue;
mod runtimes;
mod schema_cost;
mod secrets;
mod server_functions;
mod shared_limits;
mod sign_in;
mod target_cache;
mod test_sender;
mod webhooks;
