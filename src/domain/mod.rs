//! Types shared by the server, the browser UI and the machine routes.

use serde::{Deserialize, Serialize};

/// What the "Check server status" control shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub version: String,
    pub database_reachable: bool,
    pub workers_in_process: u32,
}
