//! The SQLite backend: one file, WAL journal, `synchronous=FULL` so an acknowledged batch
//! survives a crash or power loss, schema migrations numbered in `MIGRATIONS`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::{format_description::well_known::Iso8601, Date};

use super::{BatchOutcome, NewBatch, Store, StoreError};
use crate::codes::{CodeList, CodeSet, Codebook};
use crate::places::Place;
use crate::record::{LocationSource, Record};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('data_version', '0');
CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY,
    source_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    rows_total INTEGER NOT NULL,
    rows_inserted INTEGER NOT NULL,
    rows_duplicate INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    rows_refused INTEGER NOT NULL
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    batch_id INTEGER NOT NULL REFERENCES import_batches(id),
    survey_round TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    collection_mode TEXT,
    zip TEXT,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    location_source TEXT NOT NULL,
    state_fips TEXT NOT NULL,
    county_fips TEXT,
    h3_cell INTEGER NOT NULL,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    education TEXT,
    years_in_us TEXT,
    generation TEXT,
    occupation TEXT,
    sectors TEXT NOT NULL,
    department TEXT,
    support_sectors TEXT NOT NULL,
    remits INTEGER,
    remit_amount_cents INTEGER,
    remit_frequency TEXT,
    remit_channel TEXT,
    needs TEXT NOT NULL,
    difficulties TEXT NOT NULL,
    willingness TEXT NOT NULL,
    channels TEXT NOT NULL,
    languages TEXT NOT NULL,
    association_member INTEGER
);
CREATE TABLE places (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    sectors TEXT NOT NULL,
    languages TEXT NOT NULL,
    is_demo INTEGER NOT NULL
);
"#];

const RECORD_COLUMNS: &str = "external_id, survey_round, collected_on, collection_mode, zip, lat, lon, \
    location_source, state_fips, county_fips, h3_cell, gender, age_band, education, years_in_us, \
    generation, occupation, sectors, department, support_sectors, remits, remit_amount_cents, \
    remit_frequency, remit_channel, needs, difficulties, willingness, channels, languages, \
    association_member";

/// SQLite store; one connection behind a mutex (SQLite serialises writers anyway).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the database file and migrates it to the current schema.
    ///
    /// # Errors
    /// When the file cannot be opened, or was written by a newer version of dyaspora.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Self::with_connection(conn)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        migrate(&mut conn)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::NewerSchema { found: version, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Maps write failures caused by the environment to a clear error.
fn writable(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DiskFull, ReadOnly, CannotOpen};
    match e.sqlite_error_code() {
        Some(DiskFull | ReadOnly | CannotOpen) => StoreError::NotWritable(e.to_string()),
        _ => StoreError::Sqlite(e),
    }
}

impl Store for SqliteStore {
    fn import_batch(
        &self,
        batch: &NewBatch,
        records: &[Record],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchOutcome, StoreError> {
        let book = Codebook::get();
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(writable)?;
        tx.execute(
            "INSERT INTO import_batches (source_name, sha256, rows_total, rows_inserted, rows_duplicate, rows_rejected, rows_refused)
             VALUES (?1, ?2, ?3, 0, 0, ?4, ?5)",
            params![batch.source_name, batch.sha256, batch.rows_total as i64, batch.rows_rejected as i64, batch.rows_refused as i64],
        )
        .map_err(writable)?;
        let batch_id = tx.last_insert_rowid();
        let mut inserted = 0u64;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT OR IGNORE INTO records (batch_id, {RECORD_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)"
            ))?;
            let one = |list, v: Option<u8>| v.map(|i| book.code(list, i));
            let set = |list, s: CodeSet| book.format_set(list, s);
            for (i, r) in records.iter().enumerate() {
                inserted += stmt
                    .execute(params![
                        batch_id,
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
                    ])
                    .map_err(writable)? as u64;
                if i % 10_000 == 9_999 {
                    progress(i as u64 + 1);
                }
            }
        }
        let duplicates = records.len() as u64 - inserted;
        tx.execute(
            "UPDATE import_batches SET rows_inserted = ?1, rows_duplicate = ?2 WHERE id = ?3",
            params![inserted as i64, duplicates as i64, batch_id],
        )?;
        if inserted > 0 {
            bump_data_version(&tx)?;
        }
        let data_version = read_data_version(&tx)?;
        tx.commit().map_err(writable)?;
        progress(records.len() as u64);
        Ok(BatchOutcome { batch_id, inserted, duplicates, data_version })
    }

    fn load_records(&self, sink: &mut dyn FnMut(Record)) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            sink(record_from_row(row)?);
        }
        Ok(())
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn data_version(&self) -> Result<u64, StoreError> {
        read_data_version(&self.conn())
    }

    fn places(&self) -> Result<Vec<Place>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, kind, name, city, state, lat, lon, sectors, languages, is_demo FROM places ORDER BY id",
        )?;
        let split = |s: String| s.split_whitespace().map(str::to_string).collect();
        let places = stmt
            .query_map([], |r| {
                Ok(Place {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                    city: r.get(3)?,
                    state: r.get(4)?,
                    lat: r.get(5)?,
                    lon: r.get(6)?,
                    sectors: split(r.get(7)?),
                    languages: split(r.get(8)?),
                    is_demo: r.get(9)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(places)
    }

    fn upsert_places(&self, places: &[Place]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(writable)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO places (id, kind, name, city, state, lat, lon, sectors, languages, is_demo)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for p in places {
                stmt.execute(params![
                    p.id,
                    p.kind,
                    p.name,
                    p.city,
                    p.state,
                    p.lat,
                    p.lon,
                    p.sectors.join(" "),
                    p.languages.join(" "),
                    p.is_demo
                ])
                .map_err(writable)?;
            }
        }
        tx.commit().map_err(writable)?;
        Ok(())
    }

    fn delete_place(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute("DELETE FROM places WHERE id = ?1", [id]).map_err(writable)? > 0)
    }
}

fn bump_data_version(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'",
        [],
    )
    .map_err(writable)?;
    Ok(())
}

fn read_data_version(conn: &Connection) -> Result<u64, StoreError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'data_version'", [], |r| r.get(0))
        .optional()?;
    v.and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("meta.data_version is missing".into()))
}

fn record_from_row(row: &Row<'_>) -> Result<Record, StoreError> {
    let book = Codebook::get();
    let corrupt = |what: String| StoreError::Corrupt(what);
    let one = |idx: usize, list: CodeList| -> Result<Option<u8>, StoreError> {
        let v: Option<String> = row.get(idx)?;
        v.map(|v| book.index(list, &v).map_err(|e| corrupt(e.to_string()))).transpose()
    };
    let req = |idx: usize, list: CodeList| -> Result<u8, StoreError> {
        one(idx, list)?.ok_or_else(|| corrupt(format!("{list} is null")))
    };
    let set = |idx: usize, list: CodeList| -> Result<CodeSet, StoreError> {
        let v: String = row.get(idx)?;
        book.parse_set(list, &v).map_err(|e| corrupt(e.to_string()))
    };
    let collected_on: String = row.get(2)?;
    let location_source: String = row.get(7)?;
    Ok(Record {
        external_id: row.get(0)?,
        survey_round: row.get(1)?,
        collected_on: Date::parse(&collected_on, &Iso8601::DEFAULT)
            .map_err(|e| corrupt(format!("collected_on {collected_on:?}: {e}")))?,
        collection_mode: one(3, CodeList::CollectionMode)?,
        zip: row.get(4)?,
        lat: row.get(5)?,
        lon: row.get(6)?,
        location_source: LocationSource::parse(&location_source)
            .ok_or_else(|| corrupt(format!("location_source {location_source:?}")))?,
        state_fips: row.get(8)?,
        county_fips: row.get(9)?,
        h3_cell: row.get::<_, i64>(10)? as u64,
        gender: req(11, CodeList::Gender)?,
        age_band: req(12, CodeList::AgeBand)?,
        education: one(13, CodeList::Education)?,
        years_in_us: one(14, CodeList::YearsInUs)?,
        generation: one(15, CodeList::Generation)?,
        occupation: one(16, CodeList::Occupation)?,
        sectors: set(17, CodeList::Sector)?,
        department: one(18, CodeList::Department)?,
        support_sectors: set(19, CodeList::Sector)?,
        remits: row.get(20)?,
        remit_amount_cents: row.get(21)?,
        remit_frequency: one(22, CodeList::RemitFrequency)?,
        remit_channel: one(23, CodeList::RemitChannel)?,
        needs: set(24, CodeList::Need)?,
        difficulties: set(25, CodeList::Difficulty)?,
        willingness: set(26, CodeList::Willingness)?,
        channels: set(27, CodeList::Channel)?,
        languages: set(28, CodeList::Language)?,
        association_member: row.get(29)?,
    })
}
