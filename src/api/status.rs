use leptos::prelude::*;

use super::codec::JsonOrForm;

use crate::domain::{ApiError, ServerStatus};

#[server(prefix = "/api/fn", endpoint = "check_server_status", input = JsonOrForm)]
pub async fn check_server_status() -> Result<ServerStatus, ApiError> {
    let state = super::context::state()?;
    let database_reachable = crate::db::health::readiness(&state.pool).await.is_ok();
    Ok(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database_reachable,
        workers_in_process: state.workers.0,
    })
}
