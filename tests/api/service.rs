//! The service skeleton: health, codes, problem bodies.

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn health_reports_the_loaded_demo_records_to_token_holders_only() {
    let app = TestApp::spawn(2_000).await;
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, 200);
    // Watching the count or the data version would tell anyone when one record came in.
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    let body = app.health().await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["records"], 2_000);
    assert!(body["data_version"].as_u64().is_some());
}

#[tokio::test]
async fn an_empty_database_stays_empty_when_demo_data_is_off() {
    let app = TestApp::spawn(0).await;
    assert_eq!(app.health().await["records"], 0);
}

#[tokio::test]
async fn codes_are_served_in_three_languages() {
    let app = TestApp::spawn(0).await;
    let (status, body) = app.get_json("/api/v1/codes").await;
    assert_eq!(status, 200);
    assert_eq!(body["occupation"].as_array().unwrap().len(), 10);
    assert_eq!(body["sector"].as_array().unwrap().len(), 21);
    let f = &body["gender"][0];
    assert_eq!(f["code"], "f");
    for lang in ["en", "fr", "ht"] {
        assert!(f[lang].as_str().is_some_and(|s| !s.is_empty()));
    }
}

#[tokio::test]
async fn unknown_endpoints_get_a_problem_body() {
    let app = TestApp::spawn(0).await;
    assert_problem(app.get("/no/such/thing").await, 404).await;
}
