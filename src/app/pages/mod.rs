pub mod agent;
pub mod agents;
pub mod execution;
pub mod home;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod tokens;
