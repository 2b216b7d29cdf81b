use crate::helpers::spawn_app;

#[tokio::test]
async fn the_start_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Agent Webhooks</h1>"), "{html}");
    assert!(
        html.contains("/pkg/agent-webhooks.js"),
        "hydration script is linked"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_page_answers_404_with_a_page() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
    app.stop().await.unwrap();
}

#[test]
fn every_example_schema_is_valid_and_its_sample_payload_satisfies_it() {
    use agent_webhooks::{app::examples::EXAMPLES, domain::sample_payload, services::schemas};

    for (name, text) in EXAMPLES {
        let schema: serde_json::Value = serde_json::from_str(text).unwrap();
        let validator = schemas::compile(&schema).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let sample = sample_payload(Some(&schema));
        let violations = schemas::violations(&validator, &sample);
        assert!(
            violations.is_empty(),
            "{name}: {sample} breaks {violations:?}"
        );
    }
}
