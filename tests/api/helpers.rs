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

    /// A new admin token for this service's database.
    pub fn admin_token(&self) -> String {
        let store = dyaspora::store::SqliteStore::open(&self.db_path()).expect("database opens");
        let role = dyaspora::auth::Role::Admin;
        dyaspora::auth::token::issue(&store, role, "test admin", "test")
            .expect("token issued")
            .1
    }

    /// `path` as JSON, asked with `token` (e.g. the exact figures of
    /// `/api/v1/admin/aggregates`).
    pub async fn get_json_as(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
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

/// What SQLite would recover from a write-ahead log: its valid frames (the salts of the
/// header and a checksum chain that holds, <https://www.sqlite.org/fileformat.html#the_write_ahead_log>),
/// how many of them end a transaction (commit frames), and how many follow the last one,
/// i.e. were written by a transaction that had not committed.
#[derive(Debug, Default, PartialEq)]
pub struct WalFrames {
    pub valid: usize,
    pub commits: usize,
    pub uncommitted: usize,
}

/// Reads a WAL file (an absent or empty file has no frames).
pub fn wal_frames(path: &std::path::Path) -> WalFrames {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = WalFrames::default();
    if bytes.len() < 32 {
        return out;
    }
    let be = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap());
    let big_endian = match be(&bytes[0..]) {
        0x377f_0682 => false,
        0x377f_0683 => true,
        magic => panic!("not a WAL file: magic {magic:#x}"),
    };
    // The checksum reads the data as 32-bit words in the byte order the magic names.
    let checksum = |data: &[u8], (mut s0, mut s1): (u32, u32)| {
        for pair in data.chunks_exact(8) {
            let word = |b: &[u8]| {
                let b: [u8; 4] = b.try_into().unwrap();
                if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
            s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
        }
        (s0, s1)
    };
    let page_size = be(&bytes[8..]) as usize;
    let salts = &bytes[16..24];
    let mut sum = checksum(&bytes[..24], (0, 0));
    if sum != (be(&bytes[24..]), be(&bytes[28..])) {
        return out; // a header SQLite would ignore
    }
    for frame in bytes[32..].chunks_exact(24 + page_size) {
        let (header, page) = frame.split_at(24);
        if &header[8..16] != salts {
            break;
        }
        sum = checksum(page, checksum(&header[..8], sum));
        if sum != (be(&header[16..]), be(&header[20..])) {
            break;
        }
        out.valid += 1;
        out.uncommitted += 1;
        if be(&header[4..]) != 0 {
            out.commits += 1;
            out.uncommitted = 0;
        }
    }
    out
}

/// The environment variable that explicitly skips the tests that need root.
pub const SKIP_ROOT_TESTS: &str = "DYASPORA_SKIP_ROOT_TESTS";

/// Whether a test that needs root and cannot have it (`why`) was explicitly opted out of
/// with `DYASPORA_SKIP_ROOT_TESTS=1`; if so, says so on stderr. Without the opt-out the
/// test must fail: a test that passes without running proves nothing (TESTING.md).
pub fn skip_root_tests(why: &str) -> bool {
    let skip = std::env::var(SKIP_ROOT_TESTS).is_ok_and(|v| v == "1");
    if skip {
        eprintln!("SKIPPED ({SKIP_ROOT_TESTS}=1): {why}");
    }
    skip
}
