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

/// How long until the server closes `s` (a read gives the end of the stream or an error),
/// reading and dropping whatever it sends; `None` if it is still open after `limit`.
async fn closed_within(
    s: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> Option<std::time::Duration> {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends a whole request and reads its answer, keeping the connection open.
async fn ask_health(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with("{\"status\":\"ok\"}") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// Connections that send nothing, half a request, or a head byte by byte are closed after
/// the header timeout; a keep-alive connection may stay idle longer, up to the idle timeout.
#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let app = TestApp::spawn_with(0, |a| {
        a.header_timeout = 1;
        a.idle_timeout = 3;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let limit = Duration::from_secs(10);
    let header = Duration::from_secs(1);

    let silent = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        closed_within(&mut s, limit).await
    };
    let half = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nhost: loc")
            .await
            .unwrap();
        closed_within(&mut s, limit).await
    };
    let trickle = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let start = std::time::Instant::now();
        for b in b"GET /health HTTP/1.1\r\nhost: localhost\r\nx-slow: 1" {
            if s.write_all(&[*b]).await.is_err() {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        None // sent all of it without being closed
    };
    let idle = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        assert!(ask_health(&mut s).await.starts_with("HTTP/1.1 200"));
        // Past the header timeout, the kept-alive connection still takes a request…
        tokio::time::sleep(Duration::from_millis(1_800)).await;
        assert!(ask_health(&mut s).await.starts_with("HTTP/1.1 200"));
        // …until it has been idle for the idle timeout.
        closed_within(&mut s, limit).await
    };
    let (silent, half, trickle, idle) = tokio::join!(silent, half, trickle, idle);
    for (what, closed) in [("silent", silent), ("half a request", half)] {
        let after = closed.unwrap_or_else(|| panic!("{what}: still open after {limit:?}"));
        assert!(
            after >= header - Duration::from_millis(100) && after < header * 3,
            "{what}: closed after {after:?}"
        );
    }
    let after = trickle.expect("a head sent a byte at a time was never cut off");
    assert!(after < header * 3, "trickle: closed after {after:?}");
    let after = idle.expect("an idle connection is still open");
    assert!(
        after >= Duration::from_millis(2_800) && after < Duration::from_secs(5),
        "idle: closed after {after:?}"
    );
    // And the service still answers.
    assert_eq!(app.get_json("/health").await.0, 200);
}

/// `serve` on a port already in use fails at once, naming the port, before it loads
/// anything (the database here would take a demo load of 200,000 records).
#[test]
fn serve_on_a_busy_port_fails_at_once_naming_the_port() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dyaspora"))
        .args(["--db"])
        .arg(dir.path().join("busy.db"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let took = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(2),
        "took {took:?}: {stderr}"
    );
    assert!(stderr.contains(&port.to_string()), "{stderr}");
    assert!(!dir.path().join("busy.db").exists(), "nothing was opened");
}

/// The liveness answer needs no database, and a token holder's counts are read beside the
/// writer: both answer while another connection holds a write transaction open.
#[tokio::test]
async fn health_answers_while_a_write_transaction_is_open() {
    let app = TestApp::spawn(500).await;
    let before = app.health().await;
    let db = app.db_path();
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch(
            "BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'data_version';",
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked.recv().unwrap();
    let t0 = std::time::Instant::now();
    let (status, body) = app.get_json("/health").await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));
    let counted = app.health().await;
    let took = t0.elapsed();
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(counted["records"], before["records"]);
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

/// `main` binds, then loads: until the snapshot is loaded, `/health` is live,
/// `/health/ready` and every data route answer 503; then every route answers.
#[tokio::test]
async fn readiness_says_when_the_snapshot_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let args = dyaspora::config::ServeArgs {
        addr: "127.0.0.1:0".parse().unwrap(),
        demo_records: 20_000,
        demo_seed: 3,
        ..dyaspora::config::ServeArgs::default()
    };
    let app = dyaspora::App::bind(&dir.path().join("r.db"), args)
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    assert_eq!(get("/health").await.unwrap().status(), 200);
    let first = get("/health/ready").await.unwrap();
    let loading = first.status() == 503;
    if loading {
        assert_eq!(first.headers()["content-type"], "application/problem+json");
        let r = get("/api/v1/aggregates?unit=state").await.unwrap();
        assert!(matches!(r.status().as_u16(), 503 | 200), "{}", r.status());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = get("/health/ready").await.unwrap();
        if r.status() == 200 {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["status"], "ready");
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = get("/api/v1/aggregates?unit=state").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        loading,
        "20,000 demo records load in more than the first request's time"
    );
}

/// Bodies above a route's limit are refused before they are read, with a problem that
/// names the limit: 1 MiB for places, the import limit for imports.
#[tokio::test]
async fn oversized_bodies_are_refused_naming_the_limit() {
    let app = TestApp::spawn_with(0, |a| a.max_import_mb = 2).await;
    let admin = app.admin_token();
    for (path, size, limit) in [
        ("/api/v1/places", (1 << 20) + 10, "1 MiB"),
        ("/api/v1/imports", (3 << 20), "2 MiB"),
    ] {
        let r = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&admin)
            .body(vec![b'x'; size])
            .send()
            .await
            .unwrap();
        let problem = assert_problem(r, 413).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(limit), "{path}: {detail}");
    }
}
