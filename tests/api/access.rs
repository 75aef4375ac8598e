//! Access control, imports over HTTP, erasure, export and the audit log: tokens stored only
//! as digests, and the guard's headers and limits. The route × role matrix is in `roles.rs`.

use std::path::Path;

use dyaspora::auth::{token, Role};
use dyaspora::store::{SqliteStore, Store};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{assert_problem, TestApp};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kobo_sample.csv"
);

/// Tokens of every kind, made the way the CLI makes them, in the app's database.
struct Tokens {
    editor: String,
    admin: String,
}

fn make_tokens(db: &Path) -> Tokens {
    let store = SqliteStore::open(db).unwrap();
    let (_, editor) = token::issue(&store, Role::Editor, "matrix editor", "test").unwrap();
    let (_, admin) = token::issue(&store, Role::Admin, "matrix admin", "test").unwrap();
    // A revoked one too: the audit log of the erasure test counts its two events.
    let (info, _) = token::issue(&store, Role::Admin, "revoked admin", "test").unwrap();
    assert!(store.revoke_token(info.id, "test").unwrap());
    Tokens { editor, admin }
}

async fn spawn(demo: usize) -> (TestApp, Tokens) {
    let app = TestApp::spawn_with(demo, |a| a.rate_limit = 0).await;
    let tokens = make_tokens(&app.db_path());
    (app, tokens)
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> reqwest::Response {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    req.send().await.expect("request sent")
}

/// Records and data version, as a caller with a token sees them on `/health`.
async fn health(app: &TestApp, token: &str) -> (u64, u64) {
    let h = crate::helpers::health_with(&app.client, &app.base, token).await;
    (
        h["records"].as_u64().unwrap(),
        h["data_version"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn tokens_are_stored_only_as_digests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dyaspora"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("DYASPORA_DB")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created: Value = serde_json::from_str(&run(&[
        "token", "create", "--role", "admin", "--name", "ops", "--json",
    ]))
    .unwrap();
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("dya_admin_"));
    let plain = run(&["token", "create", "--role", "editor", "--name", "field"]);
    let editor = plain.trim().to_string();
    assert!(
        editor.starts_with("dya_editor_"),
        "the token alone on stdout: {plain:?}"
    );
    let listed = run(&["token", "list", "--json"]);
    assert!(
        !listed.contains(&secret) && !listed.contains(&editor),
        "the list never shows a token"
    );

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for t in [&secret, &editor] {
        let random = t.splitn(3, '_').nth(2).unwrap();
        assert!(random.len() == 43);
        assert!(
            !contains(t.as_bytes()),
            "the token text is in the database files"
        );
        assert!(
            !contains(random.as_bytes()),
            "the token's random part is in the database files"
        );
        assert!(contains(&token::digest(t)), "the token's SHA-256 is stored");
    }
    let store = SqliteStore::open(&db).unwrap();
    let tokens = store.tokens().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].digest, token::digest(&secret));
    let audit = store.audit_log(None, 10).unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit
        .iter()
        .all(|e| e.action == "token.create" && e.actor.starts_with("cli")));
    assert!(audit.iter().all(|e| !e.detail.to_string().contains("dya_")));
}

#[tokio::test]
async fn a_token_created_by_the_cli_works_at_once_and_a_revoked_one_stops() {
    let app = TestApp::spawn(0).await;
    let db = app.db_path();
    let store = SqliteStore::open(&db).unwrap();
    let (info, secret) = token::issue(&store, Role::Admin, "late", "test").unwrap();
    let r = send(&app, Method::GET, "/api/v1/tokens", Some(&secret), None).await;
    assert_eq!(r.status(), 200);
    // Revoked over HTTP: refused on the very next request.
    let (other, other_secret) = token::issue(&store, Role::Editor, "to revoke", "test").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await; // past the unknown-token reload pause
    assert_eq!(
        send(
            &app,
            Method::GET,
            "/api/v1/places",
            Some(&other_secret),
            None
        )
        .await
        .status(),
        200
    );
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{}", other.id),
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_problem(
        send(
            &app,
            Method::GET,
            "/api/v1/places",
            Some(&other_secret),
            None,
        )
        .await,
        401,
    )
    .await;
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{}", other.id),
        Some(&secret),
        None,
    )
    .await;
    assert_problem(r, 404).await;
    // Revoked by the CLI (another process): refused within the reload delay.
    assert!(store.revoke_token(info.id, "cli:test").unwrap());
    tokio::time::sleep(dyaspora::auth::RELOAD_AFTER + std::time::Duration::from_millis(200)).await;
    assert_problem(
        send(&app, Method::GET, "/api/v1/tokens", Some(&secret), None).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn an_http_import_returns_the_cli_report_and_is_idempotent() {
    let (app, t) = spawn(0).await;
    let csv = std::fs::read(FIXTURE).unwrap();
    // The fixture has invalid rows: under reject nothing is written, and the report says why.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/imports?name=kobo_sample.csv",
        Some(&t.editor),
        Some(csv.clone()),
    )
    .await;
    let rejected = assert_problem(r, 422).await;
    let report = &rejected["report"];
    assert!(report["rows_rejected"].as_u64().unwrap() > 0);
    assert!(report["outcome"].is_null());
    assert_eq!(health(&app, &t.admin).await.0, 0);

    // The same file, the CLI's way, as a dry run: the same report.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_dyaspora"))
        .arg("--db")
        .arg(app.dir.path().join("cli.db"))
        .args([
            "import",
            FIXTURE,
            "--json",
            "--dry-run",
            "--on-error",
            "skip",
        ])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();

    let url = "/api/v1/imports?name=kobo_sample.csv&on_error=skip";
    let r = send(&app, Method::POST, url, Some(&t.editor), Some(csv.clone())).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    for key in [
        "source_name",
        "sha256",
        "rows_total",
        "rows_valid",
        "rows_rejected",
        "rows_refused",
        "problems",
        "ignored_columns",
    ] {
        assert_eq!(first[key], cli[key], "{key}");
    }
    let inserted = first["outcome"]["inserted"].as_u64().unwrap();
    assert_eq!(inserted, first["rows_valid"].as_u64().unwrap());
    let (records, version) = health(&app, &t.admin).await;
    assert_eq!(records, inserted);

    // Again: nothing new, every valid row a duplicate, the data version unchanged.
    let r = send(&app, Method::POST, url, Some(&t.admin), Some(csv)).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["outcome"]["inserted"], 0);
    assert_eq!(second["outcome"]["duplicates"].as_u64().unwrap(), inserted);
    assert_eq!(health(&app, &t.admin).await, (records, version));

    let audit = send(&app, Method::GET, "/api/v1/audit", Some(&t.admin), None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let imports: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "import")
        .collect();
    assert_eq!(imports.len(), 2, "{audit}");
    assert!(imports[1]["actor"]
        .as_str()
        .unwrap()
        .ends_with("(matrix editor)"));
    assert_eq!(imports[1]["detail"]["inserted"].as_u64(), Some(inserted));
    assert_eq!(imports[1]["detail"]["sha256"], first["sha256"]);
}

#[tokio::test]
async fn an_xlsx_upload_is_read_like_the_cli_reads_it() {
    use rust_xlsxwriter::Workbook;
    let (app, t) = spawn(0).await;
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in text.lines().enumerate() {
        for (c, cell) in line.split(';').enumerate() {
            sheet.write_string(r as u32, c as u16, cell).unwrap();
        }
    }
    let xlsx = book.save_to_buffer().unwrap();
    let r = send(
        &app,
        Method::POST,
        "/api/v1/imports?name=s.xlsx&on_error=skip",
        Some(&t.editor),
        Some(xlsx),
    )
    .await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert!(
        report["outcome"]["inserted"].as_u64().unwrap() > 10,
        "{report}"
    );
}

/// The exact national count, as admins see it (the public one is perturbed).
async fn national(app: &TestApp, admin: &str) -> u64 {
    let (status, layer) = app
        .get_json_as("/api/v1/admin/aggregates?unit=state", admin)
        .await;
    assert_eq!(status, 200);
    layer["totals"]["count"].as_u64().unwrap()
}

#[tokio::test]
async fn an_erased_record_leaves_every_aggregate_at_once_and_stays_erased() {
    let (app, t) = spawn(3_000).await;
    let export = send(&app, Method::GET, "/api/v1/records", Some(&t.admin), None).await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["cache-control"], "no-store");
    let csv = export.bytes().await.unwrap().to_vec();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&csv[..]);
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (uuid, zip) = (col("_uuid"), col("residence/zip"));
    // Someone in Florida (ZIP 33…), whose state count is well above the minimum.
    let victim = reader
        .records()
        .map(Result::unwrap)
        .find(|r| r[zip].starts_with("33"))
        .unwrap()[uuid]
        .to_string();

    let (records, version) = health(&app, &t.admin).await;
    let count = national(&app, &t.admin).await;
    let tile = app.get("/tiles/states/0/0/0.mvt").await;
    let tile_tag = tile.headers()["etag"].to_str().unwrap().to_string();

    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/records/{victim}"),
        Some(&t.admin),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["erased"], victim.as_str());
    // At once: no wait for the periodic refresh.
    assert_eq!(health(&app, &t.admin).await, (records - 1, version + 1));
    assert_eq!(national(&app, &t.admin).await, count - 1);
    assert_ne!(
        app.get("/tiles/states/0/0/0.mvt").await.headers()["etag"]
            .to_str()
            .unwrap(),
        tile_tag
    );
    let again = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/records/{victim}"),
        Some(&t.admin),
        None,
    )
    .await;
    assert_problem(again, 404).await;

    // Importing the old export again does not bring the record back.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/imports?name=export.csv",
        Some(&t.editor),
        Some(csv),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"]["inserted"], 0);
    assert_eq!(health(&app, &t.admin).await.0, records - 1);

    let audit = send(
        &app,
        Method::GET,
        "/api/v1/audit?limit=2",
        Some(&t.admin),
        None,
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(audit["next"]
        .as_str()
        .unwrap()
        .starts_with("/api/v1/audit?limit=2&before="));
    let all = send(
        &app,
        Method::GET,
        "/api/v1/audit?limit=1000",
        Some(&t.admin),
        None,
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let actions: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "import",
            "erase",
            "export",
            "token.revoke",
            "token.create",
            "token.create",
            "token.create"
        ]
    );
    let erase = &all["events"][1];
    assert_eq!(erase["target"], format!("record {victim}"));
    assert_eq!(erase["actor"], all["events"][2]["actor"]);
    assert!(erase["actor"].as_str().unwrap().contains("matrix admin"));
}

#[test]
fn the_audit_log_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = SqliteStore::open(&db).unwrap();
    token::issue(&store, Role::Admin, "a", "test").unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    for sql in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.audit_log(None, 10).unwrap().len(), 1);
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_page_its_policy() {
    let app = TestApp::spawn(0).await;
    for path in ["/health", "/no/such/endpoint", "/", "/ogc/api.html"] {
        let r = app.get(path).await;
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-request-id"].len(), 16, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let document = h["content-type"].to_str().unwrap().starts_with("text/html");
        // `/` is a problem document, not the page, when the map was not built.
        assert!(
            document == (path == "/ogc/api.html") || path == "/",
            "{path}"
        );
        // The policies that govern documents go on documents, and only there.
        for (name, value) in [
            ("referrer-policy", "no-referrer"),
            ("cross-origin-opener-policy", "same-origin"),
        ] {
            let got = h.get(name).map(|v| v.to_str().unwrap());
            assert_eq!(got, document.then_some(value), "{path}: {name}");
        }
        assert_eq!(h.contains_key("permissions-policy"), document, "{path}");
        if document && path == "/" {
            assert!(
                csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
                "{csp}"
            );
            assert!(
                !csp.contains("http") && !csp.contains('*') && !csp.contains("unsafe"),
                "{csp}"
            );
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        }
    }
    let r = app
        .client
        .post(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    let body = assert_problem(r, 405).await;
    assert!(body["detail"].as_str().unwrap().contains("GET"), "{body}");
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let app = TestApp::spawn_with(0, |a| {
        a.cors_origins = vec!["https://partner.example".into()]
    })
    .await;
    let get = |origin: &'static str| {
        app.client
            .get(format!("{}/api/v1/codes", app.base))
            .header("origin", origin)
            .send()
    };
    let ok = get("https://partner.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://partner.example"
    );
    let other = get("https://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    let preflight = app
        .client
        .request(Method::OPTIONS, format!("{}/api/v1/imports", app.base))
        .header("origin", "https://partner.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert!(preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));

    let closed = TestApp::spawn(0).await;
    let r = closed
        .client
        .get(format!("{}/api/v1/codes", closed.base))
        .header("origin", "https://partner.example")
        .send()
        .await;
    assert!(
        !r.unwrap()
            .headers()
            .contains_key("access-control-allow-origin"),
        "no CORS unless configured"
    );
}

#[tokio::test]
async fn expensive_endpoints_are_rate_limited_per_client() {
    let app = TestApp::spawn_with(300, |a| a.rate_limit = 8).await; // bursts of 2
    assert_eq!(app.get("/api/v1/aggregates?unit=state").await.status(), 200);
    assert_eq!(app.get("/api/v1/aggregates?unit=state").await.status(), 200);
    let r = app.get("/api/v1/aggregates?unit=state").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=8).contains(&retry), "{retry}");
    assert_problem(r, 429).await;
    // Cheap endpoints are not counted.
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/codes").await.status(), 200);
    }
}

/// With a release interval, an import is stored at once but reaches the public figures (and
/// the admins' exact ones, which are those of the release) only with the next release; the
/// report says so.
#[tokio::test]
async fn an_import_waits_for_the_next_release() {
    let app = TestApp::spawn_with(3_000, |a| {
        a.rate_limit = 0;
        a.release_interval_hours = 24;
    })
    .await;
    let t = make_tokens(&app.db_path());
    let before = public_national(&app).await;
    let url = "/api/v1/imports?name=kobo_sample.csv&on_error=skip";
    let csv = std::fs::read(FIXTURE).unwrap();
    let r = send(&app, Method::POST, url, Some(&t.editor), Some(csv)).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert!(
        report["outcome"]["inserted"].as_u64().unwrap() > 0,
        "{report}"
    );
    let publication = &report["publication"];
    assert_eq!(publication["release"], 1, "{report}");
    assert_eq!(publication["published"], false, "{report}");
    assert!(
        publication["next_release_from"].as_str().is_some(),
        "{report}"
    );
    assert_eq!(public_national(&app).await, before);
    assert_eq!(national(&app, &t.admin).await, 3_000);
}

async fn public_national(app: &TestApp) -> u64 {
    app.get_json("/api/v1/aggregates?unit=state").await.1["totals"]["count"]
        .as_u64()
        .unwrap()
}
