//! Integration tests: the real application on a loopback port against a fresh Postgres
//! database per test. One binary, shared helpers.

mod helpers;

mod health;
mod jobs;
mod pages;
