//! Sender presets: every verification scheme end to end through the real route, signed
//! here independently of the server's code (the `hmac` crate over each provider's
//! documented content). For each scheme: a valid delivery, a tampered body, a wrong secret,
//! an expired timestamp where the scheme signs one, and a duplicate delivery by the
//! scheme's own delivery id. Also Slack's url_verification handshake, header tokens,
//! provider secrets set through the API (audited, length-checked, with a grace period), and
//! what the request log and the audit log show.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{error_of, invalid_signature};
use crate::helpers::{eventually, spawn_app, Admin, Delivery, TestAgent, TestApp};

fn mac(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut buffer);
    hex::encode(buffer)
}

/// A secret shaped like the one the provider shows.
fn provider_secret(scheme: &str) -> String {
    match scheme {
        "stripe" => format!("whsec_{}", random_hex(16)),
        "slack" => random_hex(16),
        "shopify" => format!("shpss_{}", random_hex(16)),
        "zendesk" => STANDARD.encode(random_hex(16)),
        "pagerduty" => STANDARD.encode(random_hex(24)),
        _ => format!("tok-{}", random_hex(12)),
    }
}

/// Signs `delivery` as `scheme`'s sender does, at `at` (Unix seconds).
fn signed(delivery: Delivery, scheme: &str, secret: &str, body: &[u8], at: i64) -> Delivery {
    let ts = at.to_string();
    match scheme {
        "stripe" => {
            let v1 = hex::encode(mac(secret, &[ts.as_bytes(), b".", body]));
            // During a roll Stripe lists one v1 per secret, and a test-mode v0.
            let stale = hex::encode(mac("whsec_rolled_away_000", &[ts.as_bytes(), b".", body]));
            delivery.header(
                "stripe-signature",
                format!("t={ts},v1={stale},v1={v1},v0={stale}"),
            )
        }
        "slack" => {
            let v0 = hex::encode(mac(secret, &[b"v0:", ts.as_bytes(), b":", body]));
            delivery
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", format!("v0={v0}"))
        }
        "shopify" => delivery.header(
            "x-shopify-hmac-sha256",
            STANDARD.encode(mac(secret, &[body])),
        ),
        "zendesk" => {
            let stamp = chrono::DateTime::from_timestamp(at, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let signature = STANDARD.encode(mac(secret, &[stamp.as_bytes(), body]));
            delivery
                .header("x-zendesk-webhook-signature", signature)
                .header("x-zendesk-webhook-signature-timestamp", stamp)
        }
        "pagerduty" => {
            let v1 = hex::encode(mac(secret, &[body]));
            // PagerDuty lists one signature per active secret: a stale one first.
            let stale = hex::encode(mac("an-older-secret-0000", &[body]));
            delivery.header("x-pagerduty-signature", format!("v1={stale},v1={v1}"))
        }
        "gitlab_token" => delivery.header("x-gitlab-token", secret),
        "header_token" => delivery.header("x-sdp-token", secret),
        other => panic!("no signer for {other}"),
    }
}

/// The body and headers that carry a delivery id `id` in `scheme`'s place.
fn with_delivery_id(scheme: &str, id: &str, n: u32) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let body = match scheme {
        "stripe" => json!({"id": id, "object": "event", "type": "invoice.paid", "n": n}),
        "slack" => {
            json!({"type": "event_callback", "event_id": id, "event": {"type": "app_mention"}, "n": n})
        }
        _ => json!({"ticket": {"id": 42}, "n": n}),
    };
    let header = match scheme {
        "shopify" => Some("x-shopify-webhook-id"),
        "zendesk" => Some("x-zendesk-webhook-invocation-id"),
        "pagerduty" => Some("x-webhook-id"),
        "gitlab_token" => Some("x-gitlab-event-uuid"),
        "header_token" => Some("idempotency-key"),
        _ => None,
    };
    (
        serde_json::to_vec(&body).unwrap(),
        header
            .map(|name| vec![(name, id.to_owned())])
            .unwrap_or_default(),
    )
}

const SCHEMES: [&str; 7] = [
    "stripe",
    "slack",
    "shopify",
    "zendesk",
    "pagerduty",
    "gitlab_token",
    "header_token",
];

/// An agent verifying with `scheme`, holding a provider-shaped secret set through the API.
async fn preset_agent(app: &TestApp, admin: &Admin, scheme: &str) -> TestAgent {
    let mut verification = json!({"scheme": scheme});
    if scheme == "header_token" {
        verification["header_name"] = json!("X-SDP-Token");
    }
    let agent = app
        .agent(
            admin,
            json!({"name": scheme, "rate_limit_per_minute": null, "verification": verification}),
        )
        .await;
    let secret = provider_secret(scheme);
    set_secret(app, admin, &agent.id, &secret, 0).await;
    TestAgent { secret, ..agent }
}

async fn set_secret(app: &TestApp, admin: &Admin, id: &str, secret: &str, grace: u32) -> Value {
    let response = admin
        .client
        .put(app.url(&format!("/api/agents/{id}/webhook-secret")))
        .json(&json!({"secret": secret, "grace_period_seconds": grace}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn send(
    app: &TestApp,
    agent: &TestAgent,
    scheme: &str,
    secret: &str,
    body: &[u8],
    at: i64,
    extra: &[(&str, String)],
) -> reqwest::Response {
    let mut delivery = signed(app.delivery(&agent.url, body), scheme, secret, body, at);
    for (name, value) in extra {
        delivery = delivery.header(name, value.as_str());
    }
    delivery.send().await
}

#[tokio::test]
async fn every_scheme_accepts_its_senders_deliveries_and_refuses_forgeries() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    for scheme in SCHEMES {
        let agent = preset_agent(&app, &admin, scheme).await;
        let (body, ids) = with_delivery_id(scheme, &format!("{scheme}-d1"), 1);

        let first = send(&app, &agent, scheme, &agent.secret, &body, now(), &ids).await;
        assert_eq!(first.status(), StatusCode::ACCEPTED, "{scheme}: valid");
        let first: Value = first.json().await.unwrap();

        // The sender retries: the same delivery id and body answer the first execution.
        let again = send(&app, &agent, scheme, &agent.secret, &body, now(), &ids).await;
        assert_eq!(again.status(), StatusCode::ACCEPTED, "{scheme}: duplicate");
        assert_eq!(
            again.json::<Value>().await.unwrap(),
            first,
            "{scheme}: duplicate"
        );
        // The same id with another body is not the same delivery.
        let (other_body, _) = with_delivery_id(scheme, &format!("{scheme}-d1"), 2);
        let conflict = send(
            &app,
            &agent,
            scheme,
            &agent.secret,
            &other_body,
            now(),
            &ids,
        )
        .await;
        assert_eq!(
            conflict.status(),
            StatusCode::CONFLICT,
            "{scheme}: reused id"
        );

        let wrong = send(
            &app,
            &agent,
            scheme,
            &provider_secret(scheme),
            &body,
            now(),
            &ids,
        )
        .await;
        assert_eq!(
            error_of(wrong).await,
            (StatusCode::UNAUTHORIZED, invalid_signature()),
            "{scheme}: wrong secret"
        );

        if !scheme.ends_with("_token") {
            // Signed over one body, another sent.
            let (tampered, _) = with_delivery_id(scheme, &format!("{scheme}-d2"), 3);
            let forged = signed(
                app.delivery(&agent.url, &tampered),
                scheme,
                &agent.secret,
                &body,
                now(),
            );
            assert_eq!(
                error_of(forged.send().await).await,
                (StatusCode::UNAUTHORIZED, invalid_signature()),
                "{scheme}: tampered body"
            );
        }
        if ["stripe", "slack", "zendesk"].contains(&scheme) {
            for at in [now() - 310, now() + 310] {
                let stale = send(&app, &agent, scheme, &agent.secret, &body, at, &ids).await;
                assert_eq!(
                    error_of(stale).await,
                    (
                        StatusCode::UNAUTHORIZED,
                        json!({"error": "Request expired"})
                    ),
                    "{scheme}: timestamp {at}"
                );
            }
        }
        // Another scheme's signature is not this one's.
        let hub = app.post_signed(&agent.url, &agent.secret, &body).await;
        assert_eq!(
            hub.status(),
            StatusCode::UNAUTHORIZED,
            "{scheme}: GitHub-style"
        );
    }
    // One execution per scheme: duplicates and refusals queued nothing.
    assert_eq!(app.execution_count().await, SCHEMES.len() as i64);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn slack_url_verification_is_answered_with_its_challenge_and_queues_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = preset_agent(&app, &admin, "slack").await;
    // Slack checks the URL when it is configured, possibly before the agent runs.
    let suspended = admin
        .client
        .patch(app.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({"status": "suspended"}))
        .send()
        .await
        .unwrap();
    assert_eq!(suspended.status(), StatusCode::OK);
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let answer = send(&app, &agent, "slack", &agent.secret, body, now(), &[]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    // Unsigned, or signed with another secret, it is just a bad signature.
    let forged = send(
        &app,
        &agent,
        "slack",
        &provider_secret("slack"),
        body,
        now(),
        &[],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unsigned = app.delivery(&agent.url, body).send().await;
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.execution_count().await, 0);

    // The request log shows the handshake.
    let log = eventually(
        Duration::from_secs(10),
        "the handshake in the request log",
        || async {
            let page = app
                .get_json(
                    &admin,
                    &format!("/api/agents/{}/requests?outcome=handshake", agent.id),
                )
                .await;
            (page["items"].as_array().map(Vec::len) == Some(1)).then_some(page)
        },
    )
    .await;
    assert_eq!(log["items"][0]["status"], 200, "{log}");
    assert_eq!(
        log["items"][0]["headers"]["x-slack-signature"], "[redacted]",
        "{log}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_header_token_is_compared_exactly_and_redacted_from_the_log() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = preset_agent(&app, &admin, "header_token").await;
    let body = br#"{"request": {"id": "1001"}}"#;
    let with = |name: &str, value: String| app.delivery(&agent.url, body).header(name, value);

    assert_eq!(
        with("x-sdp-token", agent.secret.clone())
            .send()
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        with("authorization", format!("Bearer {}", agent.secret))
            .send()
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    for wrong in [
        format!("{}x", agent.secret),
        agent.secret[..agent.secret.len() - 1].to_owned(),
        agent.secret.to_uppercase(),
        String::new(),
    ] {
        let refused = with("x-sdp-token", wrong.clone()).send().await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
    }
    assert_eq!(
        app.delivery(&agent.url, body).send().await.status(),
        StatusCode::UNAUTHORIZED
    );

    let log = eventually(Duration::from_secs(10), "the log", || async {
        let page = app
            .get_json(
                &admin,
                &format!("/api/agents/{}/requests?limit=50", agent.id),
            )
            .await;
        (page["items"].as_array().map(Vec::len) == Some(7)).then_some(page)
    })
    .await;
    let text = log.to_string();
    assert!(
        !text.contains(&agent.secret[4..]),
        "the token is not logged: {text}"
    );
    assert_eq!(
        log["items"][6]["headers"]["x-sdp-token"], "[redacted]",
        "{log}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_token_header_of_any_name_is_redacted_also_when_refused_before_the_lookup() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(
            &admin,
            json!({"name": "sdp", "verification": {"scheme": "header_token", "header_name": "X-SDP-Pass"}}),
        )
        .await;
    let body = br#"{"request": 1}"#;
    // A form post (415) and a JSON one: neither leaves the token in the log.
    let form = app
        .delivery(&agent.url, body)
        .content_type("application/x-www-form-urlencoded")
        .header("x-sdp-pass", agent.secret.as_str())
        .send()
        .await;
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let json = app
        .delivery(&agent.url, body)
        .header("x-sdp-pass", agent.secret.as_str())
        .send()
        .await;
    assert_eq!(json.status(), StatusCode::ACCEPTED);
    let log = eventually(
        Duration::from_secs(10),
        "both requests in the log",
        || async {
            let page = app
                .get_json(&admin, &format!("/api/agents/{}/requests", agent.id))
                .await;
            (page["items"].as_array().map(Vec::len) == Some(2)).then_some(page)
        },
    )
    .await;
    for item in log["items"].as_array().unwrap() {
        assert_eq!(item["headers"]["x-sdp-pass"], "[redacted]", "{log}");
    }
    assert!(!log.to_string().contains(&agent.secret), "{log}");

    // The test sender's curl names the header, quoted, and leaves the token to the shell.
    let result: Value = admin
        .client
        .post(app.url("/api/fn/send_test_webhook"))
        .json(&json!({"id": agent.id, "payload": "{}"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        result["curl"]
            .as_str()
            .unwrap()
            .contains(r#"-H 'x-sdp-pass: '"$WEBHOOK_SECRET""#),
        "{result}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_provider_secret_is_checked_audited_and_rotates_with_a_grace_period() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(
            &admin,
            json!({"name": "stripe", "verification": {"scheme": "stripe"}}),
        )
        .await;
    let agent_json = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(agent_json["verification"], json!({"scheme": "stripe"}));
    assert_eq!(agent_json["secret_source"], "generated");

    for bad in [
        "whsec_short",
        "whsec_with space_0123456789",
        &"x".repeat(513),
    ] {
        let response = admin
            .client
            .put(app.url(&format!("/api/agents/{}/webhook-secret", agent.id)))
            .json(&json!({"secret": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let text = response.text().await.unwrap();
        assert!(text.contains("secret") && !text.contains(bad), "{text}");
    }

    let old = provider_secret("stripe");
    set_secret(&app, &admin, &agent.id, &old, 0).await;
    let body = br#"{"id": "evt_1", "type": "charge.succeeded"}"#;
    assert_eq!(
        send(&app, &agent, "stripe", &old, body, now(), &[])
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    // The generated secret it replaced stopped at once.
    assert_eq!(
        send(&app, &agent, "stripe", &agent.secret, body, now(), &[])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Stripe rolls the secret: the old one keeps verifying for the grace period.
    let new = provider_secret("stripe");
    let answer = set_secret(&app, &admin, &agent.id, &new, 3600).await;
    assert_eq!(answer["message"], "Webhook secret set");
    assert!(answer["previous_secret_expires_at"].is_string());
    let body2 = br#"{"id": "evt_2", "type": "charge.succeeded"}"#;
    for secret in [&old, &new] {
        assert_eq!(
            send(&app, &agent, "stripe", secret, body2, now(), &[])
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(app.reveal_secret(&admin, &agent.id).await, new);
    let agent_json = app
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(agent_json["secret_source"], "provided");

    let audit = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let sets: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "secret.set")
        .collect();
    assert_eq!(sets.len(), 2, "{audit}");
    assert_eq!(
        sets[0]["details"],
        json!({"grace_period_seconds": 3600, "source": "provided"})
    );
    let text = audit.to_string();
    assert!(
        !text.contains(&old[6..]) && !text.contains(&new[6..]),
        "no secret in the audit log"
    );

    // Regenerate goes back to a generated secret, verified as Stripe signs.
    let regenerated = admin
        .client
        .post(app.url(&format!(
            "/api/agents/{}/regenerate-webhook-secret",
            agent.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(regenerated.status(), StatusCode::OK);
    let generated = app.reveal_secret(&admin, &agent.id).await;
    let body3 = br#"{"id": "evt_3"}"#;
    assert_eq!(
        send(&app, &agent, "stripe", &generated, body3, now(), &[])
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn verification_settings_are_checked_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let patch = |body: Value| {
        let request = admin
            .client
            .patch(app.url(&format!("/api/agents/{}", agent.id)))
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    for (body, field) in [
        (
            json!({"verification": {"scheme": "header_token"}}),
            "verification",
        ),
        (
            json!({"verification": {"scheme": "header_token", "header_name": "Content-Type"}}),
            "verification",
        ),
        (
            json!({"verification": {"scheme": "stripe", "header_name": "x-a"}}),
            "verification",
        ),
        (
            json!({"verification": {"scheme": "shopify"}, "require_timestamp": true}),
            "require_timestamp",
        ),
    ] {
        let (status, answer) = patch(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer.to_string().contains(field), "{body}: {answer}");
    }
    let (status, unknown) = patch(json!({"verification": {"scheme": "github"}})).await;
    assert!(status.is_client_error(), "{unknown}");

    let (status, answer) =
        patch(json!({"verification": {"scheme": "header_token", "header_name": " X-SDP-Token "}}))
            .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["verification"],
        json!({"scheme": "header_token", "header_name": "x-sdp-token"})
    );
    // With the default scheme, require_timestamp is the admin's choice again.
    let (status, _) =
        patch(json!({"verification": {"scheme": "default"}, "require_timestamp": true})).await;
    assert_eq!(status, StatusCode::OK);

    let audit = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let updates: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "agent.updated")
        .collect();
    assert_eq!(
        updates[1]["details"]["verification"],
        json!({"scheme": "header_token", "header_name": "x-sdp-token"}),
        "{audit}"
    );
    assert_eq!(
        updates[1]["details"]["previous_verification"],
        json!({"scheme": "default"}),
        "{audit}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_test_sender_signs_as_the_agents_scheme() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    for scheme in SCHEMES {
        let agent = preset_agent(&app, &admin, scheme).await;
        let response = admin
            .client
            .post(app.url("/api/fn/send_test_webhook"))
            .json(&json!({"id": agent.id, "payload": "{\"id\": \"evt_test\", \"event_id\": \"Ev1\"}"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["status"], 202, "{scheme}: {result}");
        let curl = result["curl"].as_str().unwrap();
        // A token is never shown; the signature schemes show their signature headers.
        assert!(!curl.contains(&agent.secret), "{scheme}: {curl}");
        let audit = app
            .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
            .await;
        assert_eq!(audit["items"][0]["details"]["scheme"], scheme, "{audit}");
    }
    app.stop().await.unwrap();
}
