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
