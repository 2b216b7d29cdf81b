use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_stays_in_its_tenant() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let other = app.admin("globex").await;
    let agent: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = agent["id"].as_str().unwrap();
    for i in 0..3 {
        admin
            .client
            .patch(app.url(&format!("/api/agents/{id}")))
            .json(&json!({"description": format!("v{i}")}))
            .send()
            .await
            .unwrap();
    }
    admin
        .client
        .patch(app.url(&format!("/api/agents/{id}")))
        .json(&json!({"payload_schema": {"type": "object"}}))
        .send()
        .await
        .unwrap();

    let page: Value = admin
        .client
        .get(app.url("/api/audit?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]["id"].as_i64() > items[1]["id"].as_i64(),
        "newest first"
    );
    assert_eq!(items[0]["action"], "schema.updated");
    assert_eq!(items[1]["action"], "agent.updated");
    let before = page["next_before"].as_i64().unwrap();
    let rest: Value = admin
        .client
        .get(app.url(&format!("/api/audit?limit=50&before={before}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // The oldest entry is the administrator's own sign-in.
    assert_eq!(
        actions,
        [
            "agent.updated",
            "agent.updated",
            "agent.created",
            "auth.login_succeeded"
        ]
    );
    assert_eq!(rest["next_before"], Value::Null);

    let theirs: Value = other
        .client
        .get(app.url("/api/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The other tenant sees its own sign-in and nothing of ours.
    let their_actions: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(their_actions, ["auth.login_succeeded"]);
    let bad = admin
        .client
        .get(app.url("/api/audit?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await.unwrap();
}
