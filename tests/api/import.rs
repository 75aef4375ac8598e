//! `dyaspora import`: the real binary on a database in a temporary directory, with the
//! Kobo-shaped CSV fixture, an XLSX built here, and a large file killed mid-write.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dyaspora::codes::CodeSet;
use dyaspora::ingest::write_kobo_csv;
use dyaspora::record::{LocationSource, Record};
use dyaspora::store::{SqliteStore, Store};
use serde_json::{json, Value};

use crate::helpers::{wal_frames, WalFrames};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kobo_sample.csv"
);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

fn dyaspora(db: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_dyaspora"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("DYASPORA_DB")
        .output()
        .expect("binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn import(db: &Path, file: &Path, flags: &[&str]) -> Run {
    let mut args = vec!["import", file.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(flags);
    dyaspora(db, &args)
}

fn count(db: &Path) -> u64 {
    SqliteStore::open(db)
        .expect("db opens")
        .record_count()
        .expect("count")
}

fn external_ids(db: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    SqliteStore::open(db)
        .unwrap()
        .load_records(&mut |r| ids.push(r.external_id))
        .unwrap();
    ids
}

fn problems(report: &Value) -> Vec<(u64, String, String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_string();
            (
                p["row"].as_u64().unwrap(),
                s("column"),
                s("value"),
                s("reason"),
            )
        })
        .collect()
}

#[test]
fn kobo_csv_is_rejected_as_a_whole_then_imported_with_skip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");

    let run = import(&db, Path::new(FIXTURE), &["--json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["rows_total"], 30);
    assert_eq!(report["rows_valid"], 21);
    assert_eq!(report["rows_rejected"], 8);
    assert_eq!(report["rows_refused"], 1);
    assert_eq!(report["outcome"], Value::Null);
    assert_eq!(report["on_error"], "reject");
    let located: Vec<(u64, String)> = problems(&report)
        .into_iter()
        .map(|(r, c, _, _)| (r, c))
        .collect();
    assert_eq!(
        located,
        [
            (9, "respondent/gender"),
            (10, "residence/zip"),
            (12, "remittances/remit_amount_usd"),
            (13, "remittances/remit_amount_usd"),
            (14, "today"),
            (15, "support/needs"),
            (16, "_location_latitude"),
            (17, "respondent/age_band"),
        ]
        .map(|(r, c)| (r, c.to_string()))
    );
    assert_eq!(
        report["ignored_columns"],
        json!([
            "start",
            "end",
            "residence/location",
            "_location_altitude",
            "_location_precision",
            "_id",
            "_validation_status",
            "_index"
        ])
    );
    assert_eq!(count(&db), 0, "reject writes nothing");

    // The human table names the same rows, aligned.
    let table = import(&db, Path::new(FIXTURE), &[]);
    assert_eq!(table.code, 2);
    assert!(
        table
            .stdout
            .contains("ROW  COLUMN                        VALUE"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("\n  9  respondent/gender             q "),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("Nothing written: 8 row(s) have problems"),
        "{}",
        table.stdout
    );

    let run = import(&db, Path::new(FIXTURE), &["--json", "--on-error", "skip"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["outcome"]["inserted"], 21);
    assert_eq!(report["outcome"]["duplicates"], 0);
    assert_eq!(count(&db), 21);

    // The refused row (consent "non", row 11) is stored nowhere and reported nowhere.
    let refused_id = "3f1c0010-8a2b-4c1d-9e0f-000000007009";
    assert!(!run.stdout.contains(refused_id) && !run.stdout.contains("\"row\": 11"));
    assert!(!external_ids(&db).iter().any(|id| id == refused_id));

    // Re-importing the same file adds nothing.
    let again = import(&db, Path::new(FIXTURE), &["--json", "--on-error", "skip"]).json();
    assert_eq!(again["outcome"]["inserted"], 0);
    assert_eq!(again["outcome"]["duplicates"], 21);
    assert_eq!(count(&db), 21);
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let run = import(
        &db,
        Path::new(FIXTURE),
        &["--dry-run", "--on-error", "skip", "--json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["rows_valid"], 21);
    assert_eq!(report["outcome"], Value::Null);
    let rejected = import(&db, Path::new(FIXTURE), &["--dry-run"]);
    assert_eq!(rejected.code, 2);
    assert!(
        rejected.stdout.contains("Dry run: nothing written."),
        "{}",
        rejected.stdout
    );
    assert_eq!(count(&db), 0);
}

#[test]
fn file_level_errors_exit_with_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let file = dir.path().join("no_gender.csv");
    std::fs::write(
        &file,
        "consent;age_band;today;zip\nyes;25-34;2024-03-05;33138\n",
    )
    .unwrap();
    let run = import(&db, &file, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("required column \"gender\" is missing"),
        "{}",
        run.stderr
    );
    let run = import(&db, &dir.path().join("absent.csv"), &["--json"]);
    assert_eq!(run.code, 1);
    assert!(run.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot read"));
}

#[test]
fn files_without_ids_get_derived_ids_and_reimport_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let file = dir.path().join("plain.csv");
    // Two respondents with identical answers are two records.
    std::fs::write(
        &file,
        "consent,gender,age_band,collection_date,zip\n\
         yes,f,25-34,2024-03-05,33138\n\
         yes,f,25-34,2024-03-05,33138\n\
         yes,m,35-44,2024-03-06,11226\n",
    )
    .unwrap();
    let first = import(&db, &file, &["--json"]).json();
    assert_eq!(first["outcome"]["inserted"], 3);
    let ids = external_ids(&db);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("sha256:") && id.len() == 71),
        "{ids:?}"
    );
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    let second = import(&db, &file, &["--json"]).json();
    assert_eq!(second["outcome"]["inserted"], 0);
    assert_eq!(second["outcome"]["duplicates"], 3);
    assert_eq!(external_ids(&db), ids);
}

#[test]
fn xlsx_bad_rows_are_reported_precisely() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let file = dir.path().join("survey.xlsx");

    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let headers = [
        "external_id",
        "consent",
        "gender",
        "age_band",
        "collection_date",
        "zip_code",
        "lat",
        "lng",
        "remit_amount_usd",
        "remits",
        "needs",
        "needs/housing",
        "languages",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    enum Cell {
        S(&'static str),
        N(f64),
        B(bool),
        D(u16, u8, u8),
        E,
    }
    use Cell::{B, D, E, N, S};
    let rows: Vec<[Cell; 13]> = vec![
        // row 2: valid; ZIP as a number (Excel dropped the zero), amount and date typed.
        [
            S("x-1"),
            S("yes"),
            S("f"),
            S("35-44"),
            D(2024, 3, 5),
            N(2126.0),
            E,
            E,
            N(150.25),
            B(true),
            S("housing transfer_costs"),
            N(1.0),
            S("ht fr"),
        ],
        [
            S("x-2"),
            S("yes"),
            S("z"),
            S("35-44"),
            D(2024, 3, 5),
            N(33138.0),
            E,
            E,
            E,
            E,
            E,
            E,
            E,
        ],
        [
            S("x-3"),
            S("no"),
            S("f"),
            S("35-44"),
            D(2024, 3, 5),
            N(33138.0),
            E,
            E,
            E,
            E,
            E,
            E,
            E,
        ],
        [
            S("x-4"),
            S("yes"),
            S("m"),
            S("25-34"),
            D(2024, 3, 6),
            S("11226"),
            E,
            E,
            N(-20.0),
            S("wi"),
            E,
            E,
            E,
        ],
        [
            S("x-5"),
            S("oui"),
            S("m"),
            S("25-34"),
            S("05/03/2024"),
            S("11226"),
            E,
            E,
            E,
            E,
            E,
            E,
            E,
        ],
        [
            S("x-6"),
            S("yes"),
            S("x"),
            S("18-24"),
            D(2024, 3, 7),
            E,
            N(95.0),
            N(-80.19),
            E,
            E,
            E,
            E,
            E,
        ],
        [
            S("x-7"),
            S("yes"),
            S("f"),
            S("65+"),
            D(2024, 3, 7),
            S("02126-1234"),
            E,
            E,
            E,
            E,
            S("housing"),
            N(0.0),
            E,
        ],
        // row 9: valid, a point only (Little Haiti, Miami).
        [
            S("x-8"),
            S("TRUE"),
            S("f"),
            S("45-54"),
            S("2024-03-08T09:15:00-05:00"),
            E,
            N(25.83),
            N(-80.19),
            S("75.5"),
            S("non"),
            E,
            E,
            S("en"),
        ],
        [
            S("x-9"),
            S("yes"),
            S("m"),
            S("55-64"),
            S("2999-01-01"),
            S("ABCDE"),
            E,
            E,
            E,
            E,
            E,
            E,
            E,
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                S(s) => {
                    sheet.write_string(r, c, *s).unwrap();
                }
                N(n) => {
                    sheet.write_number(r, c, *n).unwrap();
                }
                B(b) => {
                    sheet.write_boolean(r, c, *b).unwrap();
                }
                D(y, m, d) => {
                    sheet
                        .write_datetime_with_format(
                            r,
                            c,
                            ExcelDateTime::from_ymd(*y, *m, *d).unwrap(),
                            &date,
                        )
                        .unwrap();
                }
                E => {}
            }
        }
    }
    book.save(&file).unwrap();

    let run = import(&db, &file, &["--json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        (report["rows_total"].as_u64(), report["rows_valid"].as_u64()),
        (Some(9), Some(2))
    );
    assert_eq!(
        (
            report["rows_rejected"].as_u64(),
            report["rows_refused"].as_u64()
        ),
        (Some(6), Some(1))
    );
    let today = time::OffsetDateTime::now_utc().date();
    let expected: Vec<(u64, String, String, String)> = [
        (
            3,
            "gender",
            "z",
            "unknown gender code \"z\"; valid codes: f, m, x".to_string(),
        ),
        (
            5,
            "remit_amount_usd",
            "-20",
            "must not be negative".to_string(),
        ),
        (
            6,
            "collection_date",
            "05/03/2024",
            "expected an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SS)".to_string(),
        ),
        (
            7,
            "lat",
            "95",
            "latitude out of range (−90…90 degrees)".to_string(),
        ),
        (
            8,
            "needs",
            "housing",
            "disagrees with the needs/… option columns (summary: housing; option columns: nothing)"
                .to_string(),
        ),
        (
            10,
            "collection_date",
            "2999-01-01",
            format!("in the future (today is {today})"),
        ),
        (
            10,
            "zip_code",
            "ABCDE",
            "expected a 5-digit ZIP code (or ZIP+4 like 02126-1234)".to_string(),
        ),
    ]
    .into_iter()
    .map(|(r, c, v, why)| (r, c.to_string(), v.to_string(), why))
    .collect();
    assert_eq!(problems(&report), expected);
    assert_eq!(count(&db), 0);

    let run = import(&db, &file, &["--json", "--on-error", "skip"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["outcome"]["inserted"], 2);
    let mut records = Vec::new();
    SqliteStore::open(&db)
        .unwrap()
        .load_records(&mut |r| records.push(r))
        .unwrap();
    let (a, b) = (&records[0], &records[1]);
    assert_eq!(a.external_id, "x-1");
    assert_eq!(a.zip.as_deref(), Some("02126"));
    assert_eq!(
        (a.state_fips.as_str(), a.county_fips.as_deref()),
        ("25", Some("25025"))
    );
    assert_eq!(a.location_source, LocationSource::ZipCentroid);
    assert_eq!(a.remit_amount_cents, Some(15_025));
    assert_eq!(a.collected_on.to_string(), "2024-03-05");
    assert_eq!(b.external_id, "x-8");
    assert_eq!(
        (b.lat, b.lon, b.location_source),
        (25.83, -80.19, LocationSource::Point)
    );
    assert_eq!(
        (b.state_fips.as_str(), b.county_fips.as_deref()),
        ("12", Some("12086"))
    );
    assert_eq!((b.remits, b.remit_amount_cents), (Some(false), Some(7_550)));
}

/// `n` synthetic records located by ZIP centroid (the importer recomputes every derived field).
fn synthetic(n: usize) -> Vec<Record> {
    const ZIPS: [&str; 8] = [
        "33138", "11226", "02126", "07111", "02301", "33311", "32808", "30083",
    ];
    (0..n)
        .map(|i| Record {
            external_id: format!("synthetic-{i:08}"),
            survey_round: "crash-test".into(),
            collected_on: time::macros::date!(2024 - 01 - 01)
                + time::Duration::days((i % 365) as i64),
            collection_mode: Some((i % 4) as u8),
            zip: Some(ZIPS[i % ZIPS.len()].into()),
            lat: 0.0,
            lon: 0.0,
            location_source: LocationSource::ZipCentroid,
            state_fips: String::new(),
            county_fips: None,
            h3_cell: 0,
            gender: (i % 3) as u8,
            age_band: (i % 6) as u8,
            education: Some((i % 6) as u8),
            years_in_us: Some((i % 4) as u8),
            generation: Some((i % 2) as u8),
            occupation: Some((i % 10) as u8),
            sectors: CodeSet(1 << (i % 21)),
            department: Some((i % 10) as u8),
            support_sectors: CodeSet(1 << ((i + 3) % 21)),
            remits: Some(i % 3 != 0),
            remit_amount_cents: Some((i % 50_000) as i64),
            remit_frequency: Some((i % 4) as u8),
            remit_channel: Some((i % 5) as u8),
            needs: CodeSet(0b101 << (i % 8)),
            difficulties: CodeSet(1 << (i % 8)),
            willingness: CodeSet(1 << (i % 8)),
            channels: CodeSet(0b11 << (i % 9)),
            languages: CodeSet(1 | 1 << (i % 4)),
            association_member: Some(i % 2 == 0),
        })
        .collect()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// One attempt at killing `dyaspora import` of `csv` into a new database `db` while it
/// writes: waits until the import's transaction has put `pages` pages into the write-ahead
/// log, then sends SIGKILL and reads the log before anything opens the database again. `Ok`
/// with the log's frames when the kill provably landed mid-write: the process died of the
/// signal and the log ends with frames of a transaction that had not committed. `Err` says
/// why the attempt proves nothing (the import ended, or committed, before the kill).
fn kill_while_writing(db: &Path, csv: &Path, pages: u64) -> Result<(WalFrames, Duration), String> {
    use std::os::unix::process::ExitStatusExt;
    drop(SqliteStore::open(db).unwrap()); // schema in place: the WAL below is the import's
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    assert_eq!(
        wal_frames(&wal),
        WalFrames::default(),
        "no frame before the import"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_dyaspora"))
        .arg("--db")
        .arg(db)
        .args(["import", csv.to_str().unwrap(), "--quiet"])
        .env_remove("DYASPORA_DB")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let grown = 32 + pages * (24 + 16_384); // the WAL header, then frames of 16 KiB pages
    while file_len(&wal) < grown {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
            return Err(format!(
                "the import ended ({status}) before the kill: {stderr}"
            ));
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("the import wrote nothing to the WAL in 300 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    let when = start.elapsed();
    let frames = wal_frames(&wal);
    if status.signal() != Some(libc::SIGKILL) {
        return Err(format!("the import ended ({status}) before the kill"));
    }
    if frames.uncommitted == 0 {
        return Err(format!("the kill came after the commit: WAL {frames:?}"));
    }
    Ok((frames, when))
}

/// SIGKILL while the importer writes a large batch leaves nothing of it, and importing the
/// file again writes it whole. The importer keeps the batch in its page cache (up to
/// 500 MB) and writes it to the WAL only at the end, as it rebuilds the external-id index
/// and commits (the last few tenths of a second here): the kill waits for that writing to
/// show in the WAL, and the WAL read after the kill shows that it landed before the commit
/// frame. An attempt whose kill came too late is made again on a fresh database.
#[test]
fn sigkill_during_the_write_leaves_all_or_nothing() {
    const N: usize = 300_000;
    const ATTEMPTS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let csv: PathBuf = dir.path().join("big.csv");
    write_kobo_csv(
        &synthetic(N),
        std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
    )
    .unwrap();
    let mut missed = Vec::new();
    for attempt in 1..=ATTEMPTS {
        let db = dir.path().join(format!("t{attempt}.db"));
        // 64 pages (1 MiB) of the batch in the WAL: writing has begun, and the commit
        // frame comes only after the whole batch (some 40 MB of pages).
        let killed = kill_while_writing(&db, &csv, 64);
        let after_kill = count(&db);
        let batches: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM import_batches", [], |r| r.get(0))
            .unwrap();
        match killed {
            Ok((frames, when)) => {
                eprintln!(
                    "attempt {attempt}: killed {when:?} into the import with {} uncommitted \
                     frames in the WAL ({frames:?}); records after: {after_kill}",
                    frames.uncommitted
                );
                assert_eq!(
                    (after_kill, batches),
                    (0, 0),
                    "killed before its commit, the batch is wholly absent"
                );
                let run = import(&db, &csv, &["--json"]);
                assert_eq!(run.code, 0, "{}", run.stderr);
                assert_eq!(run.json()["outcome"]["inserted"].as_u64(), Some(N as u64));
                assert_eq!(count(&db), N as u64);
                return;
            }
            Err(why) => {
                // Too late to prove anything, but never half a batch.
                assert!(
                    after_kill == 0 || after_kill == N as u64,
                    "{after_kill} records: a batch is all or nothing"
                );
                eprintln!("attempt {attempt}: {why}; records after: {after_kill}");
                missed.push(why);
            }
        }
    }
    panic!("no kill landed mid-write in {ATTEMPTS} attempts (make the file larger): {missed:?}");
}

/// The WAL reader of the test above tells a committed transaction's frames from those of
/// one still open, on a log SQLite itself wrote.
#[test]
fn the_wal_reader_tells_committed_frames_from_uncommitted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let wal = dir.path().join("w.db-wal");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 10; CREATE TABLE t (x BLOB);",
    )
    .unwrap();
    let committed = wal_frames(&wal);
    assert!(
        committed.valid > 0 && committed.commits > 0,
        "{committed:?}"
    );
    assert_eq!(committed.uncommitted, 0);
    // A transaction larger than the page cache spills pages into the WAL before its commit.
    let tx = conn.transaction().unwrap();
    for _ in 0..200 {
        tx.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
            .unwrap();
    }
    let open = wal_frames(&wal);
    assert_eq!(open.commits, committed.commits, "{open:?}");
    assert!(open.uncommitted > 0, "{open:?}");
    tx.commit().unwrap();
    let done = wal_frames(&wal);
    assert_eq!(
        (done.commits, done.uncommitted),
        (committed.commits + 1, 0),
        "{done:?}"
    );
    // A torn frame (its page no longer matches its checksum) ends what SQLite would read.
    let mut bytes = std::fs::read(&wal).unwrap();
    let page_size = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    bytes[32 + 24 + page_size + 24 + 100] ^= 1; // in the second frame's page
    let torn = dir.path().join("torn-wal");
    std::fs::write(&torn, &bytes).unwrap();
    assert_eq!(wal_frames(&torn).valid, 1);
}
