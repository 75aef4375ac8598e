//! `TestApp::spawn` starts the service exactly as `main` does, on 127.0.0.1:0 with a
//! database in a temporary directory.

#![allow(dead_code)]

use std::path::PathBuf;

use dyaspora::config::ServeArgs;
use dyaspora::App;

pub struct TestApp {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// An admin token made on first use by [`TestApp::health`].
    admin: tokio::sync::OnceCell<String>,
}

impl TestApp {
    /// A service on a fresh database loaded with `demo_records` demo records (0 = empty).
    pub async fn spawn(demo_records: usize) -> TestApp {
        Self::spawn_with(demo_records, |_| {}).await
    }

    /// A service as [`TestApp::spawn`], its configuration tweaked. The budget of filtered
    /// layers per client is off unless `tweak` sets it (`tests/api/budget.rs`): the tests ask
    /// for hundreds of filtered layers from one address.
    pub async fn spawn_with(demo_records: usize, tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            no_demo: demo_records == 0,
            demo_records,
            demo_seed: 7,
            layer_budget: 0,
            ..ServeArgs::default()
        };
        tweak(&mut args);
        let app = App::build(&dir.path().join("test.db"), args)
            .await
            .expect("service starts");
        let base = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            dir,
            client: reqwest::Client::new(),
            admin: tokio::sync::OnceCell::new(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("test.db")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }
}

impl TestApp {
    /// `/health` as a caller with a token sees it (with `records` and `data_version`; the
    /// public sees only the status), with an admin token made on first use.
    pub async fn health(&self) -> serde_json::Value {
        let token = self
            .admin
            .get_or_init(|| async {
                let db = self.db_path();
                tokio::task::spawn_blocking(move || {
                    let store = dyaspora::store::SqliteStore::open(&db).unwrap();
                    let role = dyaspora::auth::Role::Admin;
                    dyaspora::auth::token::issue(&store, role, "health check", "test")
                        .unwrap()
                        .1
                })
                .await
                .unwrap()
            })
            .await;
        health_with(&self.client, &self.base, token).await
    }
}

/// `/health` with `token`; a token made a moment ago may need the service's next reload of
/// the tokens (unknown tokens reload them at most every 500 ms), hence the retries.
pub async fn health_with(client: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    for _ in 0..20 {
        let r = client
            .get(format!("{base}/health"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        if r.status() == 200 {
            return r.json().await.expect("JSON");
        }
        assert_eq!(r.status(), 401, "/health");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("/health never accepted the token");
}

/// Asserts a response is an RFC 9457 problem with this status.
pub async fn assert_problem(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status().as_u16(), status);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}
