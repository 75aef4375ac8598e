//! The web map's server side: the page and its assets (when `web/dist` is built), the
//! problem+json 404 for every other unknown path, and the methodology figures.

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn unknown_paths_stay_problem_json_404s_beside_the_page() {
    let app = TestApp::spawn(0).await;
    for path in [
        "/no-such-page",
        "/assets/no-such-file.js",
        "/assets/..%2f..%2fCargo.toml",
        "/api/v1/nothing",
    ] {
        assert_problem(app.get(path).await, 404).await;
    }
    let page = app.get("/").await;
    if page.status() == 200 {
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(page.headers()["cache-control"], "no-cache");
        let html = page.text().await.unwrap();
        let js = html
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a script");
        let asset = app
            .client
            .get(format!("{}{js}", app.base))
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200);
        assert_eq!(asset.headers()["content-encoding"], "br");
        assert!(asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
    } else {
        // The front-end was not built: the page says how to build it.
        let p = assert_problem(page, 503).await;
        assert!(p["detail"].as_str().unwrap().contains("setup-web.sh"));
    }
}

#[tokio::test]
async fn methodology_gives_published_counts_per_round_and_months_of_fieldwork() {
    let app = TestApp::spawn(20_000).await;
    let (status, m) = app.get_json("/api/v1/methodology").await;
    assert_eq!(status, 200);
    assert_eq!(m["min_count"], 11);
    let (_, states) = app.get_json("/api/v1/aggregates?unit=state").await;
    assert_eq!(
        m["records"], states["totals"]["count"],
        "the national published count"
    );
    let rounds = m["rounds"].as_array().unwrap();
    assert!(!rounds.is_empty());
    let mut sum = 0;
    for r in rounds {
        let name = r["name"].as_str().unwrap();
        let (_, layer) = app
            .get_json(&format!("/api/v1/aggregates?unit=state&round={name}"))
            .await;
        assert_eq!(r["count"], layer["totals"]["count"], "round {name}");
        sum += r["count"].as_u64().unwrap();
        let (first, last) = (
            r["first_month"].as_str().unwrap(),
            r["last_month"].as_str().unwrap(),
        );
        assert!(first <= last, "{first} to {last}");
        // The first month of fieldwork has a published count.
        let (_, month) = app
            .get_json(&format!(
                "/api/v1/aggregates?unit=state&round={name}&from={first}&to={first}"
            ))
            .await;
        assert!(month["totals"]["count"].as_u64().unwrap() > 0);
    }
    // Each figure is perturbed by at most D on its own (cell-key perturbation), so the
    // rounds add up to the national figure only within that.
    let max = m["perturbation"]["max"].as_u64().unwrap();
    let total = m["records"].as_u64().unwrap();
    assert!(
        sum.abs_diff(total) <= max * (rounds.len() as u64 + 1),
        "rounds add up to {sum}, the national figure is {total}"
    );
}
