use leptos::prelude::*;

use super::codec::JsonOrForm;
use crate::domain::{
    ApiError, Notification, NotificationSettings, NotificationTestResult, RevealedSigningSecret,
};

#[server(prefix = "/api/fn", endpoint = "notification_settings", input = JsonOrForm)]
pub async fn get_notification_settings() -> Result<NotificationSettings, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::notifications::settings(&state, &principal)
        .await
        .map_err(fail)
}

/// Sets the notification URL; blank turns notifications off.
#[server(prefix = "/api/fn", endpoint = "set_notification_url", input = JsonOrForm)]
pub async fn set_notification_url(url: String) -> Result<NotificationSettings, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    let input = crate::domain::UpdateNotificationSettings {
        url: Some(Some(url).filter(|url| !url.trim().is_empty())),
    };
    crate::services::notifications::update_settings(&state, &principal, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "reveal_notification_secret", input = JsonOrForm)]
pub async fn reveal_notification_secret() -> Result<RevealedSigningSecret, ApiError> {
    use super::context::{fail, no_store, principal};
    let (state, principal) = principal().await?;
    let secret = crate::services::notifications::reveal_secret(&state, &principal)
        .await
        .map_err(fail)?;
    no_store();
    Ok(secret)
}

#[server(prefix = "/api/fn", endpoint = "regenerate_notification_secret", input = JsonOrForm)]
pub async fn regenerate_notification_secret() -> Result<(), ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::notifications::regenerate_secret(&state, &principal)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "send_test_notification", input = JsonOrForm)]
pub async fn send_test_notification() -> Result<NotificationTestResult, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::notifications::send_test(&state, &principal)
        .await
        .map_err(fail)
}

#[server(prefix = "/api/fn", endpoint = "recent_notifications", input = JsonOrForm)]
pub async fn recent_notifications() -> Result<Vec<Notification>, ApiError> {
    use super::context::{fail, principal};
    let (state, principal) = principal().await?;
    crate::services::notifications::recent(&state, &principal)
        .await
        .map_err(fail)
}
