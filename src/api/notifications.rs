//! The settings page's server functions, and the outbound signing secrets (an agent's http
//! runtime, the tenant's notifications), which the UI reveals and regenerates through one
//! pair of functions. Every server function and every type it returns costs the browser's
//! WASM its own client code, so these answer with what the page shows and no more
//! (docs/decisions.md, "WASM size"); the REST API has the full shapes.

use leptos::prelude::*;

use super::codec::JsonOrForm;
use leptos::server_fn::codec::Json;

use crate::domain::{ApiError, RevealedSecret, SigningSecretOwner};

/// The notification URL, if notifications are on.
#[server(prefix = "/api/fn", endpoint = "notification_url", input = JsonOrForm)]
pub async fn notification_url() -> Result<Option<String>, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::notifications::settings(&state, &principal)
        .await
        .map(|settings| settings.url)
        .map_err(fail)
}

/// Sets the notification URL (blank turns notifications off); the URL as saved.
#[server(prefix = "/api/fn", endpoint = "set_notification_url", input = JsonOrForm)]
pub async fn set_notification_url(url: String) -> Result<Option<String>, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    let input = crate::domain::UpdateNotificationSettings {
        url: Some(Some(url).filter(|url| !url.trim().is_empty())),
    };
    crate::services::notifications::update_settings(&state, &principal, input)
        .await
        .map(|saved| saved.url)
        .map_err(fail)
}

/// Sends a test event: what the receiver answered, or (502) why it was not delivered.
#[server(prefix = "/api/fn", endpoint = "send_test_notification", input = JsonOrForm)]
pub async fn send_test_notification() -> Result<String, ApiError> {
    use super::context::{fail, principal};
    use crate::error::AppError;
    let (state, principal) = principal().await?;
    let result = crate::services::notifications::send_test(&state, &principal)
        .await
        .map_err(fail)?;
    match (result.delivered, result.status) {
        (true, Some(status)) => Ok(format!(
            "Delivered: the receiver answered {status} in {} ms.",
            result.duration_ms
        )),
        _ => {
            let why = result.error.unwrap_or_default();
            Err(fail(AppError::BadGateway(format!("Not delivered: {why}"))))
        }
    }
}

/// The secret in clear, in both spellings (audited, rate-limited with the other reveals).
#[server(prefix = "/api/fn", endpoint = "reveal_signing_secret", input = Json)]
pub async fn reveal_signing_secret(owner: SigningSecretOwner) -> Result<RevealedSecret, ApiError> {
    use super::context::{fail, no_store, principal};
    let (state, principal) = principal().await?;
    let revealed = match owner {
        SigningSecretOwner::Runtime(id) => {
            crate::services::runtimes::reveal_secret(&state, &principal, id).await
        }
        SigningSecretOwner::Notifications => {
            crate::services::notifications::reveal_secret(&state, &principal).await
        }
    }
    .map_err(fail)?;
    no_store();
    let whsec = revealed.standard_webhooks_secret;
    Ok(RevealedSecret {
        hmac_secret: whsec.trim_start_matches("whsec_").to_owned(),
        standard_webhooks_secret: whsec,
    })
}

#[server(prefix = "/api/fn", endpoint = "regenerate_signing_secret", input = Json)]
pub async fn regenerate_signing_secret(owner: SigningSecretOwner) -> Result<(), ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    match owner {
        SigningSecretOwner::Runtime(id) => {
            crate::services::runtimes::regenerate_secret(&state, &principal, id).await
        }
        SigningSecretOwner::Notifications => {
            crate::services::notifications::regenerate_secret(&state, &principal).await
        }
    }
    .map_err(fail)
}
