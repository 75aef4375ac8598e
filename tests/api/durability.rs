//! Faults: the real binary killed with SIGKILL during an HTTP import and just after one was
//! acknowledged; a full disk (a small tmpfs: the tests must run as root, or opt out with
//! `DYASPORA_SKIP_ROOT_TESTS=1`) and a read-only database. A batch is all or nothing, an
//! acknowledged batch stays, and a write that cannot happen is a 503 problem while the
//! service keeps answering.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dyaspora::auth::{token, Role};
use dyaspora::ingest::write_kobo_csv;
use dyaspora::store::{SqliteStore, Store};
use serde_json::Value;

use crate::helpers::{assert_problem, skip_root_tests, SKIP_ROOT_TESTS};

/// The real binary serving `db` on a free loopback port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        Self::start_as(db, extra, None)
    }

    /// Starts the server, optionally as another user (`uid`, `gid`).
    fn start_as(db: &Path, extra: &[&str], user: Option<(u32, u32)>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dyaspora"));
        cmd.arg("--db")
            .arg(db)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--no-demo",
                "--rate-limit",
                "0",
            ])
            .args(extra)
            .env_remove("DYASPORA_DB")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = user {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = strip_ansi(&line);
                if let Some(addr) = line
                    .split("addr=")
                    .nth(1)
                    .filter(|_| line.contains("dyaspora listening"))
                {
                    if let Some(tx) = tx.take() {
                        let _ =
                            tx.send(Ok(addr.split_whitespace().next().unwrap_or("").to_string()));
                    }
                } else if line.contains("Error") || line.contains("error") {
                    if let Some(tx) = &tx {
                        let _ = tx.send(Err(line.clone()));
                    }
                }
            }
        });
        let addr = loop {
            match rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the server reports its address")
            {
                Ok(addr) => break addr,
                Err(line) if child.try_wait().unwrap().is_some() => {
                    panic!("the server stopped: {line}")
                }
                Err(_) => continue,
            }
        };
        // The port is bound before the data are loaded: wait until the service is ready.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !is_ready(&addr) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the server stopped while loading"
            );
            assert!(std::time::Instant::now() < deadline, "not ready in 120 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /health/ready` at `addr` answers 200 (a plain HTTP/1.0 exchange, so that a
/// synchronous constructor can wait for it).
fn is_ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /health/ready HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(request.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn editor_token(db: &Path) -> String {
    let store = SqliteStore::open(db).unwrap();
    token::issue(&store, Role::Editor, "durability", "test")
        .unwrap()
        .1
}

/// `n` demo records (seed `seed`) as a Kobo-shaped CSV.
fn demo_csv(n: usize, seed: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(n * 400);
    write_kobo_csv(&dyaspora::demo::generate(n, seed).records, &mut buf).unwrap();
    buf
}

async fn post_import(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    csv: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/api/v1/imports?name={name}"))
        .bearer_auth(token)
        .body(csv)
        .send()
        .await
}

/// The record count, as a caller with a token sees it on `/health`.
async fn records(base: &str, token: &str) -> u64 {
    let h = crate::helpers::health_with(&reqwest::Client::new(), base, token).await;
    h["records"].as_u64().unwrap()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_import_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let token = editor_token(&db);
    let client = reqwest::Client::new();
    let server = Server::start(&db, &[]);
    let r = post_import(
        &client,
        &server.base,
        &token,
        "small.csv",
        demo_csv(2_000, 11),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["outcome"]["inserted"], 2_000);
    server.kill(); // at once, after the 200

    let server = Server::start(&db, &[]);
    assert_eq!(records(&server.base, &token).await, 2_000);
    let audit = SqliteStore::open(&db).unwrap().audit_log(None, 10).unwrap();
    assert_eq!(
        audit[0].action, "import",
        "the acknowledged import was audited before its answer"
    );
    assert_eq!(audit[0].detail["inserted"], 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_http_import_keeps_all_or_nothing_and_a_retry_completes() {
    const N: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let wal: PathBuf = dir.path().join("t.db-wal");
    let token = editor_token(&db);
    let csv = demo_csv(N, 42);
    let limit = ["--max-import-mb", "512"];
    let server = Server::start(&db, &limit);
    let wal_before = file_len(&wal);

    let (base, t, body) = (server.base.clone(), token.clone(), csv.clone());
    let upload = tokio::spawn(async move {
        post_import(&reqwest::Client::new(), &base, &t, "big.csv", body).await
    });
    // Kill once the import's transaction spills pages into the WAL: mid-write.
    let start = Instant::now();
    let mut killed_mid_write = false;
    while start.elapsed() < Duration::from_secs(300) && !upload.is_finished() {
        if file_len(&wal) > wal_before + (4 << 20) {
            killed_mid_write = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let waited = start.elapsed();
    server.kill();
    let answer = upload.await.unwrap();
    eprintln!(
        "killed mid-write: {killed_mid_write} after {waited:?}; the client saw {:?}",
        answer.as_ref().map(|r| r.status())
    );
    assert!(
        killed_mid_write,
        "the import finished before the kill: make it larger"
    );
    assert!(
        answer.is_err() || answer.unwrap().status() == 200,
        "a killed import is never half-acknowledged"
    );

    let server = Server::start(&db, &limit);
    let after_kill = records(&server.base, &token).await;
    eprintln!("records after SIGKILL and restart: {after_kill}");
    assert!(
        after_kill == 0 || after_kill == N as u64,
        "{after_kill} records: a batch is all or nothing"
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let r = post_import(&client, &server.base, &token, "big.csv", csv)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report["outcome"]["inserted"].as_u64(),
        Some(N as u64 - after_kill)
    );
    assert_eq!(records(&server.base, &token).await, N as u64);
}

/// The effective user id of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

/// A tmpfs of `mb` MiB at `at`, unmounted on drop; `Err` says why it could not be mounted.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mb: u32) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_503_and_the_service_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let fs = match Tmpfs::mount(&dir.path().join("small"), 24) {
        Ok(fs) => fs,
        Err(why) => {
            let why = format!(
                "the full-disk test mounts a small tmpfs, which needs root (CAP_SYS_ADMIN) \
                 (euid {}): {why}",
                euid()
            );
            if skip_root_tests(&why) {
                return;
            }
            panic!("{why}; run the tests as root, or set {SKIP_ROOT_TESTS}=1 to skip it");
        }
    };
    let db = fs.0.join("t.db");
    let token = editor_token(&db);
    let client = reqwest::Client::new();
    let server = Server::start(&db, &[]);
    let csv = demo_csv(5_000, 3);

    // Fill the file system.
    let filler = fs.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let r = post_import(&client, &server.base, &token, "full.csv", csv.clone())
        .await
        .unwrap();
    let problem = assert_problem(r, 503).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be written"),
        "{problem}"
    );
    assert_eq!(
        records(&server.base, &token).await,
        0,
        "nothing of the batch was kept"
    );
    assert_eq!(
        reqwest::get(format!("{}/api/v1/aggregates?unit=state", server.base))
            .await
            .unwrap()
            .status(),
        200
    );

    // Space again: the same file goes in whole.
    std::fs::remove_file(&filler).unwrap();
    let r = post_import(&client, &server.base, &token, "full.csv", csv)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(records(&server.base, &token).await, 5_000);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_served_and_refuses_writes_with_503() {
    use std::os::unix::fs::PermissionsExt;
    const NOBODY: (u32, u32) = (65534, 65534);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let token = editor_token(&db);
    {
        let store = SqliteStore::open(&db).unwrap();
        dyaspora::demo::load_into(&store, 1_000, 5).unwrap();
    } // closed: the WAL is checkpointed and removed
      // Root may write any file: run the server as nobody then. The directory stays writable
      // (SQLite keeps its shared-memory index there); the database file is read-only.
    let user = (euid() == 0).then_some(NOBODY);
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();

    let server = Server::start_as(&db, &[], user);
    assert_eq!(records(&server.base, &token).await, 1_000, "reads work");
    let client = reqwest::Client::new();
    let r = post_import(&client, &server.base, &token, "ro.csv", demo_csv(100, 9))
        .await
        .unwrap();
    let problem = assert_problem(r, 503).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("read-only"),
        "{problem}"
    );
    assert!(problem.get("request_id").is_some(), "{problem}");
    assert_eq!(
        reqwest::get(format!("{}/api/v1/aggregates?unit=state", server.base))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(records(&server.base, &token).await, 1_000);
    drop(server);

    // A directory that is read-only too: the service refuses to start, saying why.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let _ = std::fs::remove_file(dir.path().join("t.db-shm"));
    let _ = std::fs::remove_file(dir.path().join("t.db-wal"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dyaspora"));
    cmd.arg("--db")
        .arg(&db)
        .args(["serve", "--addr", "127.0.0.1:0", "--no-demo"])
        .env_remove("DYASPORA_DB");
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a clean exit with an error, not a crash: {stderr}"
    );
    assert!(
        stderr.contains("readonly database") || stderr.contains("unable to open database file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}
