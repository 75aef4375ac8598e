//! The coded record layout: migrating a database written with code strings, and refusing a
//! program whose code lists moved.

use rusqlite::{params, Connection};

use super::coded::placeholders;
use super::*;
use crate::codes::{CodeList, Codebook};
use crate::store::{NewBatch, SliceFeed};

/// A database at schema 2 (code strings), with `records` written as that schema did.
fn schema_2_database(path: &std::path::Path, records: &[Record]) {
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    for step in &MIGRATIONS[..2] {
        let Migration::Sql(sql) = step else {
            panic!("schemas 1 and 2 are SQL")
        };
        tx.execute_batch(sql).unwrap();
    }
    tx.pragma_update(None, "user_version", 2).unwrap();
    tx.execute(
        "INSERT INTO import_batches (id, source_name, sha256, rows_total, rows_inserted, rows_duplicate, rows_rejected, rows_refused)
         VALUES (7, 'old.csv', '', 0, 0, 0, 0, 0)",
        [],
    )
    .unwrap();
    let book = Codebook::get();
    let one = |l, v: Option<u8>| v.map(|i| book.code(l, i).to_string());
    let set = |l, s| book.format_set(l, s);
    for (i, r) in records.iter().enumerate() {
        tx.execute(
            &format!(
                "INSERT INTO records (id, batch_id, {RECORD_COLUMNS}) VALUES ({})",
                placeholders(RECORD_FIELDS + 2)
            ),
            params![
                100 + i as i64,
                7,
                r.external_id,
                r.survey_round,
                r.collected_on.to_string(),
                one(CodeList::CollectionMode, r.collection_mode),
                r.zip,
                r.lat,
                r.lon,
                r.location_source.as_str(),
                r.state_fips,
                r.county_fips,
                r.h3_cell as i64,
                book.code(CodeList::Gender, r.gender),
                book.code(CodeList::AgeBand, r.age_band),
                one(CodeList::Education, r.education),
                one(CodeList::YearsInUs, r.years_in_us),
                one(CodeList::Generation, r.generation),
                one(CodeList::Occupation, r.occupation),
                set(CodeList::Sector, r.sectors),
                one(CodeList::Department, r.department),
                set(CodeList::Sector, r.support_sectors),
                r.remits,
                r.remit_amount_cents,
                one(CodeList::RemitFrequency, r.remit_frequency),
                one(CodeList::RemitChannel, r.remit_channel),
                set(CodeList::Need, r.needs),
                set(CodeList::Difficulty, r.difficulties),
                set(CodeList::Willingness, r.willingness),
                set(CodeList::Channel, r.channels),
                set(CodeList::Language, r.languages),
                r.association_member,
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn a_database_of_code_strings_is_recoded_with_its_ids_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let records = crate::demo::generate(500, 5).records;
    schema_2_database(&path, &records);

    let store = SqliteStore::open(&path).unwrap();
    let mut stored = Vec::new();
    store.load_records(&mut |r| stored.push(r)).unwrap();
    assert_eq!(stored, records);

    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    // Schema 4: the external ids' uniqueness is the named index, not the column's own.
    assert_eq!(external_id_indexes(&conn), ["records_external_id"]);
    let (first_id, batch, gender): (i64, i64, i64) = conn
        .query_row(
            "SELECT id, batch_id, gender FROM records ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (first_id, batch, gender),
        (100, 7, records[0].gender.into())
    );
    // The file says what its numbers mean.
    let code: String = conn
        .query_row(
            "SELECT code FROM code_values WHERE list = 'gender' AND position = ?1",
            [gender],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        code,
        Codebook::get().code(CodeList::Gender, records[0].gender)
    );

    // Erased ids stay erased without the old trigger: re-importing skips them.
    let victim = records[3].external_id.clone();
    store.erase_record(&victim, "test").unwrap().unwrap();
    let outcome = store
        .import_batch(
            &NewBatch {
                source_name: "again".into(),
                sha256: String::new(),
                rows_total: 500,
                rows_rejected: 0,
                rows_refused: 0,
            },
            &records,
            &|_| {},
        )
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 500));
    assert_eq!(store.record_count().unwrap(), 499);
}

#[test]
fn a_program_whose_code_lists_moved_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE code_values SET code = 'x' WHERE list = 'gender' AND position = 0",
            [],
        )
        .unwrap();
    let Err(StoreError::Corrupt(why)) = SqliteStore::open(&path) else {
        panic!("opened a database whose gender codes differ")
    };
    assert!(why.contains("gender answer 0 as \"x\""), "{why}");
}

/// A slice feed that withdraws its batch at the end.
struct Withdrawn<'a>(SliceFeed<'a>);

impl BatchFeed for Withdrawn<'_> {
    fn next_records(&mut self) -> Option<&[Record]> {
        self.0.next_records()
    }

    fn expected_records(&mut self) -> Option<u64> {
        self.0.expected_records()
    }

    fn finish(&mut self) -> Option<NewBatch> {
        None
    }
}

fn new_batch(rows: u64) -> NewBatch {
    NewBatch {
        source_name: "test".into(),
        sha256: String::new(),
        rows_total: rows,
        rows_rejected: 0,
        rows_refused: 0,
    }
}

/// The batch of `records`, sized so that the store writes it as a bulk load or not.
fn feed(records: &[Record], bulk: bool) -> SliceFeed<'_> {
    SliceFeed::new(new_batch(records.len() as u64), records, &|_| {})
        .expecting(bulk.then_some(u64::MAX))
}

/// Writes `records` as one batch, as a bulk load or not.
fn write(store: &SqliteStore, records: &[Record], bulk: bool) -> Option<BatchOutcome> {
    store.write_batch(&mut feed(records, bulk)).unwrap()
}

fn external_id_indexes(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_index_list('records') WHERE \"unique\" ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Records go in by groups of `ROWS_PER_INSERT` and one by one for the rest of each slice:
/// duplicates inside one statement, erased ids inside a group and a last partial group are
/// counted and skipped exactly as row-by-row inserts would, and the file order is kept.
/// The same holds when the unique index is dropped and rebuilt around a bulk load, and when
/// batches of both kinds follow each other.
#[test]
fn grouped_inserts_count_and_skip_like_single_rows() {
    for (first_bulk, second_bulk) in [(false, false), (true, true), (true, false), (false, true)] {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut records = crate::demo::generate(3 * ROWS_PER_INSERT + 5, 9).records;
        let n = records.len() as u64;
        // Same ids: rows 1 and 2 (a first batch too short for a group), rows 29 and 30 (one
        // grouped statement of the second batch).
        records[2].external_id = records[1].external_id.clone();
        records[30].external_id = records[29].external_id.clone();
        let first = write(&store, &records[..7], first_bulk).unwrap();
        assert_eq!((first.inserted, first.duplicates), (6, 1));
        // Row 4 erased, then the whole set again: rows 0–6 are skipped (row 4 as erased,
        // inside the first 16-row statement), and so is row 30 (row 29's id, in the same
        // statement).
        store
            .erase_record(&records[4].external_id, "test")
            .unwrap()
            .unwrap();
        let all = write(&store, &records, second_bulk).unwrap();
        assert_eq!((all.inserted, all.duplicates), (n - 7 - 1, 7 + 1));
        let mut stored = Vec::new();
        store.load_records(&mut |r| stored.push(r)).unwrap();
        let expected: Vec<&Record> = records
            .iter()
            .enumerate()
            .filter(|&(i, _)| ![2, 4, 30].contains(&i))
            .map(|(_, r)| r)
            .collect();
        assert_eq!(stored.iter().collect::<Vec<_>>(), expected);
        assert_eq!(
            external_id_indexes(&store.conn()),
            ["records_external_id"],
            "bulk {first_bulk}, {second_bulk}"
        );
    }
}

/// A bulk load rebuilds the unique index, which SQLite then enforces; a withdrawn bulk load
/// leaves the table and its index as they were.
#[test]
fn a_bulk_load_leaves_the_unique_index_in_force() {
    let store = SqliteStore::open_in_memory().unwrap();
    let records = crate::demo::generate(40, 3).records;
    write(&store, &records[..20], true).unwrap();

    let mut withdrawn = Withdrawn(feed(&records[20..], true));
    assert_eq!(store.write_batch(&mut withdrawn).unwrap(), None);
    assert_eq!(store.record_count().unwrap(), 20);

    let conn = store.conn();
    assert_eq!(external_id_indexes(&conn), ["records_external_id"]);
    let duplicate = conn.execute(
        "INSERT INTO records SELECT NULL, external_id, batch_id, survey_round, collected_on,
         collection_mode, zip, lat, lon, location_source, state_fips, county_fips, h3_cell,
         gender, age_band, education, years_in_us, generation, occupation, sectors,
         department, support_sectors, remits, remit_amount_cents, remit_frequency,
         remit_channel, needs, difficulties, willingness, channels, languages,
         association_member FROM records LIMIT 1",
        [],
    );
    let Err(e) = duplicate else {
        panic!("a second row with a stored external id was accepted")
    };
    assert!(e.to_string().contains("UNIQUE"), "{e}");
}

/// The store writes a batch as a bulk load only when it is larger than the table.
#[test]
fn only_a_batch_larger_than_the_table_is_a_bulk_load() {
    assert!(bulk::worth_rebuilding(1_000_000, 0));
    assert!(bulk::worth_rebuilding(10, 9));
    assert!(!bulk::worth_rebuilding(10, 10));
    assert!(!bulk::worth_rebuilding(200, 1_000_000));
}

/// Hands over its records, then holds the batch open (the writer's lock and transaction)
/// until told to finish.
struct Stalled<'a> {
    inner: SliceFeed<'a>,
    started: std::sync::mpsc::Sender<()>,
    go: std::sync::mpsc::Receiver<()>,
}

impl BatchFeed for Stalled<'_> {
    fn next_records(&mut self) -> Option<&[Record]> {
        let next = self.inner.next_records();
        if next.is_none() {
            let _ = self.started.send(());
            let _ = self.go.recv();
        }
        next
    }

    fn finish(&mut self) -> Option<NewBatch> {
        self.inner.finish()
    }
}

/// Reads go through the read-only connections: a batch holding the writer (its lock and an
/// open transaction) delays none of them, and they see the last committed state.
#[test]
fn reads_do_not_wait_for_a_batch_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("r.db")).unwrap();
    let records = crate::demo::generate(300, 4).records;
    write(&store, &records[..100], false).unwrap();
    let version = store.data_version().unwrap();
    let (started_tx, started) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut feed = Stalled {
                inner: feed(&records[100..], false),
                started: started_tx,
                go: go_rx,
            };
            store.write_batch(&mut feed).unwrap()
        });
        started.recv().unwrap();
        // The reads on their own thread: were they to wait for the writer, the test fails
        // after 5 s instead of hanging.
        let (done, read) = std::sync::mpsc::channel();
        let store = &store;
        s.spawn(move || {
            let t0 = std::time::Instant::now();
            assert_eq!(store.record_count().unwrap(), 100, "the committed state");
            assert_eq!(store.data_version().unwrap(), version);
            assert!(store.latest_release().unwrap().is_none());
            assert!(store.tokens().unwrap().is_empty());
            let _ = store.places().unwrap();
            let _ = store.perturbation_secret().unwrap();
            let _ = done.send(t0.elapsed());
        });
        let took = read.recv_timeout(std::time::Duration::from_secs(5));
        go.send(()).unwrap();
        let outcome = writer.join().unwrap().unwrap();
        assert_eq!(outcome.inserted, 200);
        let took = took.expect("the reads waited for the writer");
        assert!(
            took < std::time::Duration::from_secs(1),
            "reads took {took:?}"
        );
    });
    assert_eq!(store.record_count().unwrap(), 300);
}
