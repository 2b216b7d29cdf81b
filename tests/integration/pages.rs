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
