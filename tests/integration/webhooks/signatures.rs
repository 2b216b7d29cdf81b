//! Signatures: what gets the 401, Standard Webhooks with their timestamp, and secrets
//! regenerated with or without a grace period.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{error_of, invalid_signature};
use crate::helpers::{hub_signature, spawn_app};

#[tokio::test]
async fn tampered_reserialized_missing_or_malformed_signatures_get_the_same_401() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let body = br#"{"amount": 100, "currency": "EUR"}"#.to_vec();
    let signature = hub_signature(&agent.secret, &body);

    let mut flipped = body.clone();
    flipped[12] ^= 0x01;
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert_ne!(reserialized, body);
    for tampered in [flipped, reserialized] {
        let response = app
            .delivery(&agent.url, &tampered)
            .signature(&signature)
            .send()
            .await;
        assert_eq!(
            error_of(response).await,
            (StatusCode::UNAUTHORIZED, invalid_signature())
        );
    }
    for header in [
        None,
        Some("sha256=".to_owned()),
        Some("sha1=abc".to_owned()),
        Some(signature.replace("sha256=", "")),
        Some(hub_signature("not the secret", &body)),
    ] {
        let mut delivery = app.delivery(&agent.url, &body);
        if let Some(value) = header {
            delivery = delivery.signature(value);
        }
        assert_eq!(
            error_of(delivery.send().await).await,
            (StatusCode::UNAUTHORIZED, invalid_signature())
        );
    }
    // Upper-case hex and the X-Webhook-Signature alias verify.
    let upper = format!("sha256={}", signature["sha256=".len()..].to_uppercase());
    let response = app
        .delivery(&agent.url, &body)
        .alias_signature(upper)
        .send()
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Failures are audited as the webhook actor, without secret or signature.
    let audit: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{}/audit", agent.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failures: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "webhook.signature_failed")
        .collect();
    assert!(!failures.is_empty());
    assert_eq!(failures[0]["actor"], "webhook");
    assert_eq!(failures[0]["source_ip"], "127.0.0.1");
    let text = audit.to_string();
    assert!(!text.contains(&agent.secret) && !text.contains(&signature[7..]));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn standard_webhooks_deliveries_are_verified_with_their_timestamp() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "require_timestamp": true}))
        .await;
    let body = br#"{"type": "invoice.paid"}"#;
    let now = chrono::Utc::now().timestamp();

    let ok = app
        .delivery(&agent.url, body)
        .standard(&agent.secret, "msg_1", now)
        .send()
        .await;
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    // Well outside the 300 s tolerance: `now` is read once, and a slow machine can take a
    // second or more to get here, which would bring +301 back inside. The exact boundary is
    // unit-tested in crypto::signature.
    for skew in [-360, 360, -100_000] {
        let late = app
            .delivery(&agent.url, body)
            .standard(&agent.secret, "msg_2", now + skew)
            .send()
            .await;
        assert_eq!(
            error_of(late).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Request expired"})
            ),
            "{skew}"
        );
    }
    // The signature covers the id and the timestamp.
    let response = app
        .delivery(&agent.url, body)
        .standard(&agent.secret, "msg_3", now)
        .header("webhook-id", "msg_4")
        .send()
        .await;
    assert_eq!(
        error_of(response).await,
        (StatusCode::UNAUTHORIZED, invalid_signature())
    );

    // require_timestamp refuses GitHub-style deliveries, which carry none.
    let hub = app.post_signed(&agent.url, &agent.secret, body).await;
    assert_eq!(
        error_of(hub).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Signed timestamp required"})
        )
    );

    // webhook-id doubles as the delivery id.
    let again = app
        .delivery(&agent.url, body)
        .standard(&agent.secret, "msg_1", now)
        .send()
        .await;
    let first: Value = ok.json().await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["execution_id"],
        first["execution_id"]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regeneration_invalidates_the_old_secret_unless_a_grace_period_is_given() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let regenerate = |grace: u32| {
        admin
            .client
            .post(app.url(&format!(
                "/api/agents/{}/regenerate-webhook-secret",
                agent.id
            )))
            .json(&json!({"grace_period_seconds": grace}))
            .send()
    };
    let reveal = || app.reveal_secret(&admin, &agent.id);

    assert_eq!(regenerate(0).await.unwrap().status(), StatusCode::OK);
    let second = reveal().await;
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_signed(&agent.url, &second, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    assert_eq!(regenerate(3600).await.unwrap().status(), StatusCode::OK);
    let third = reveal().await;
    assert_eq!(
        app.post_signed(&agent.url, &second, b"{}").await.status(),
        StatusCode::ACCEPTED,
        "during the grace period"
    );
    assert_eq!(
        app.post_signed(&agent.url, &third, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    sqlx::query(
        "update agent_triggers set previous_secret_expires_at = now() - interval '1 second'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // Changed behind the server's back: the cached agent is dropped when the trigger's
    // NOTIFY arrives, right after the commit but not before this request can be sent.
    crate::helpers::eventually(
        std::time::Duration::from_secs(5),
        "the previous secret to stop verifying after its grace period",
        || async {
            let status = app.post_signed(&agent.url, &second, b"{}").await.status();
            (status == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
    assert_eq!(
        app.post_signed(&agent.url, &third, b"{}").await.status(),
        StatusCode::ACCEPTED
    );
    app.stop().await.unwrap();
}
