//! The SQLite backend: one file, WAL journal, `synchronous=FULL` so an acknowledged batch
//! survives a crash or power loss, schema migrations numbered in `MIGRATIONS`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::{format_description::well_known::Iso8601, Date};

use super::{BatchOutcome, NewBatch, Store, StoreError};
use crate::audit::{Action, Event, NewEvent};
use crate::auth::{NewToken, Role, TokenInfo};
use crate::codes::{CodeList, CodeSet, Codebook};
use crate::places::Place;
use crate::record::{LocationSource, Record};

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
-- Access control and audit (issue 7): tokens are stored as SHA-256 digests only; the audit
-- log refuses updates and deletes; erased external ids stay erased on re-import.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('editor', 'admin')),
    sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TABLE erased_records (
    external_id TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) WITHOUT ROWID;
CREATE TRIGGER records_stay_erased BEFORE INSERT ON records
WHEN EXISTS (SELECT 1 FROM erased_records WHERE external_id = NEW.external_id)
BEGIN SELECT RAISE(IGNORE); END;
"#,
];

const RECORD_COLUMNS: &str =
    "external_id, survey_round, collected_on, collection_mode, zip, lat, lon, \
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
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
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
        return Err(StoreError::NewerSchema {
            found: version,
            supported,
        });
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
    use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly};
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
        let mut conn = self.conn();
        // The records' only foreign key, `batch_id`, is the batch row written just before them
        // in the same transaction: it cannot be violated. Checking it anyway makes SQLite keep
        // a statement journal (a copy of every page each insert touches), which costs more
        // than the insert itself. `foreign_keys` cannot change inside a transaction, so it is
        // switched off around it, and back on after.
        let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
        if fk {
            conn.pragma_update(None, "foreign_keys", false)?;
        }
        let outcome = write_batch(&mut conn, batch, records, progress);
        if fk {
            conn.pragma_update(None, "foreign_keys", true)?;
        }
        outcome
    }

    fn load_records(&self, sink: &mut dyn FnMut(Record)) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            sink(record_from_row(row)?);
        }
        Ok(())
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
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
        Ok(self
            .conn()
            .execute("DELETE FROM places WHERE id = ?1", [id])
            .map_err(writable)?
            > 0)
    }

    fn erase_record(&self, external_id: &str, actor: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn();
        // Freed pages are zeroed, so the erased answers do not linger in the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let tx = conn.transaction().map_err(writable)?;
        let deleted = tx
            .execute("DELETE FROM records WHERE external_id = ?1", [external_id])
            .map_err(writable)?;
        if deleted == 0 {
            return Ok(None);
        }
        tx.execute(
            "INSERT OR IGNORE INTO erased_records (external_id) VALUES (?1)",
            [external_id],
        )
        .map_err(writable)?;
        bump_data_version(&tx)?;
        let version = read_data_version(&tx)?;
        insert_audit(
            &tx,
            &NewEvent {
                actor: actor.to_string(),
                action: Action::Erase,
                target: format!("record {external_id}"),
                detail: serde_json::json!({ "data_version": version }),
            },
        )?;
        tx.commit().map_err(writable)?;
        // Move the committed change out of the write-ahead log, which still holds the old
        // pages; a busy reader may delay this, which is harmless.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(Some(version))
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, name, role, sha256, created_at, created_by, revoked_at FROM tokens ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let role: String = r.get(2)?;
            let digest: Vec<u8> = r.get(3)?;
            out.push(TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                role: Role::of_token(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("token role {role:?}")))?,
                digest: digest
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("token digest is not 32 bytes".into()))?,
                created_at: r.get(4)?,
                created_by: r.get(5)?,
                revoked_at: r.get(6)?,
            });
        }
        Ok(out)
    }

    fn create_token(&self, token: &NewToken) -> Result<i64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(writable)?;
        tx.execute(
            "INSERT INTO tokens (name, role, sha256, created_by) VALUES (?1, ?2, ?3, ?4)",
            params![
                token.name,
                token.role.as_str(),
                &token.digest[..],
                token.created_by
            ],
        )
        .map_err(writable)?;
        let id = tx.last_insert_rowid();
        insert_audit(
            &tx,
            &NewEvent {
                actor: token.created_by.clone(),
                action: Action::TokenCreate,
                target: format!("token {id}"),
                detail: serde_json::json!({ "name": token.name, "role": token.role }),
            },
        )?;
        tx.commit().map_err(writable)?;
        Ok(id)
    }

    fn revoke_token(&self, id: i64, actor: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(writable)?;
        let n = tx
            .execute(
                "UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1 AND revoked_at IS NULL",
                [id],
            )
            .map_err(writable)?;
        if n == 0 {
            return Ok(false);
        }
        insert_audit(
            &tx,
            &NewEvent {
                actor: actor.to_string(),
                action: Action::TokenRevoke,
                target: format!("token {id}"),
                detail: serde_json::json!({}),
            },
        )?;
        tx.commit().map_err(writable)?;
        Ok(true)
    }

    fn append_audit(&self, event: &NewEvent) -> Result<i64, StoreError> {
        insert_audit(&self.conn(), event)
    }

    fn audit_log(&self, before: Option<i64>, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![before.unwrap_or(i64::MAX), limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let detail: String = r.get(5)?;
            out.push(Event {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
            });
        }
        Ok(out)
    }
}

fn insert_audit(conn: &Connection, e: &NewEvent) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, detail) VALUES (?1, ?2, ?3, ?4)",
        params![e.actor, e.action.as_str(), e.target, e.detail.to_string()],
    )
    .map_err(writable)?;
    Ok(conn.last_insert_rowid())
}

/// The body of [`Store::import_batch`], in one transaction.
fn write_batch(
    conn: &mut Connection,
    batch: &NewBatch,
    records: &[Record],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BatchOutcome, StoreError> {
    let book = Codebook::get();
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
        // A page cache sized for the batch: the random external ids spread the unique
        // index's inserts over the whole index, and a small cache would spill the same
        // pages to the WAL again and again.
        let cache_kib: i64 = tx.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        let wanted = -((records.len() as i64 / 2).clamp(2_000, 1_000_000)); // ~512 B a record
        if wanted < cache_kib {
            tx.pragma_update(None, "cache_size", wanted)?;
        }
        let mut stmt = RawStatement::prepare(
            &tx,
            &format!(
                "INSERT OR IGNORE INTO records (batch_id, {RECORD_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)"
            ),
        )?;
        // Code strings looked up once, not through the codebook's map for every cell.
        let table: Vec<Vec<&str>> = CodeList::ALL
            .iter()
            .map(|&l| book.codes(l).iter().map(|c| c.code.as_str()).collect())
            .collect();
        let code = |list: CodeList, i: u8| table[list as usize][i as usize];
        let one = |list: CodeList, v: Option<u8>| v.map(|i| code(list, i));
        // Multi-select answers as space-separated codes, written into reused buffers.
        let set = |buf: &mut String, list: CodeList, s: CodeSet| {
            buf.clear();
            for i in s.iter() {
                if !buf.is_empty() {
                    buf.push(' ');
                }
                buf.push_str(code(list, i));
            }
        };
        let mut date = String::with_capacity(10);
        let mut sets: [String; 7] = Default::default();
        stmt.int(1, batch_id);
        for (i, r) in records.iter().enumerate() {
            iso_date(&mut date, r.collected_on);
            let [sectors, support, needs, difficulties, willingness, channels, languages] =
                &mut sets;
            set(sectors, CodeList::Sector, r.sectors);
            set(support, CodeList::Sector, r.support_sectors);
            set(needs, CodeList::Need, r.needs);
            set(difficulties, CodeList::Difficulty, r.difficulties);
            set(willingness, CodeList::Willingness, r.willingness);
            set(channels, CodeList::Channel, r.channels);
            set(languages, CodeList::Language, r.languages);
            // SAFETY (`text`): every string bound below (the record's fields, the code table,
            // the buffers above) stays alive and unchanged until `execute` returns: the
            // buffers are rewritten only at the next iteration, after it.
            unsafe {
                stmt.text(2, Some(&r.external_id));
                stmt.text(3, Some(&r.survey_round));
                stmt.text(4, Some(&date));
                stmt.text(5, one(CodeList::CollectionMode, r.collection_mode));
                stmt.text(6, r.zip.as_deref());
                stmt.real(7, r.lat);
                stmt.real(8, r.lon);
                stmt.text(9, Some(r.location_source.as_str()));
                stmt.text(10, Some(&r.state_fips));
                stmt.text(11, r.county_fips.as_deref());
                stmt.int(12, r.h3_cell as i64);
                stmt.text(13, Some(code(CodeList::Gender, r.gender)));
                stmt.text(14, Some(code(CodeList::AgeBand, r.age_band)));
                stmt.text(15, one(CodeList::Education, r.education));
                stmt.text(16, one(CodeList::YearsInUs, r.years_in_us));
                stmt.text(17, one(CodeList::Generation, r.generation));
                stmt.text(18, one(CodeList::Occupation, r.occupation));
                stmt.text(19, Some(sectors));
                stmt.text(20, one(CodeList::Department, r.department));
                stmt.text(21, Some(support));
                stmt.opt_int(22, r.remits.map(i64::from));
                stmt.opt_int(23, r.remit_amount_cents);
                stmt.text(24, one(CodeList::RemitFrequency, r.remit_frequency));
                stmt.text(25, one(CodeList::RemitChannel, r.remit_channel));
                stmt.text(26, Some(needs));
                stmt.text(27, Some(difficulties));
                stmt.text(28, Some(willingness));
                stmt.text(29, Some(channels));
                stmt.text(30, Some(languages));
                stmt.opt_int(31, r.association_member.map(i64::from));
            }
            inserted += stmt.execute().map_err(writable)? as u64;
            if i % 10_000 == 9_999 {
                progress(i as u64 + 1);
            }
        }
        drop(stmt);
        if wanted < cache_kib {
            tx.pragma_update(None, "cache_size", cache_kib)?;
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
    Ok(BatchOutcome {
        batch_id,
        inserted,
        duplicates,
        data_version,
    })
}

/// Writes `date` as `YYYY-MM-DD` (what `Date`'s `Display` writes for years 0–9999, faster).
fn iso_date(buf: &mut String, date: Date) {
    use std::fmt::Write;
    buf.clear();
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    if (0..=9999).contains(&y) {
        let digits = [y / 1000, y / 100 % 10, y / 10 % 10, y % 10];
        buf.extend(digits.map(|n| char::from(b'0' + n as u8)));
        buf.extend([
            '-',
            char::from(b'0' + m / 10),
            char::from(b'0' + m % 10),
            '-',
        ]);
        buf.extend([char::from(b'0' + d / 10), char::from(b'0' + d % 10)]);
    } else {
        write!(buf, "{date}").expect("a String takes any date");
    }
}

/// An insert statement driven through SQLite's C API, for the one hot loop of the store:
/// rusqlite copies every bound string (`SQLITE_TRANSIENT`), and with ~20 strings a record
/// the copies cost a fifth of an import. Here strings are bound in place
/// (`SQLITE_STATIC`). Errors are rusqlite's, so `writable` classifies them as usual.
struct RawStatement {
    db: *mut rusqlite::ffi::sqlite3,
    stmt: *mut rusqlite::ffi::sqlite3_stmt,
}

impl RawStatement {
    /// Prepares `sql` on `conn`; the statement must be dropped before `conn` is.
    fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<RawStatement> {
        use rusqlite::ffi;
        // SAFETY: the handle is valid while `conn` is open; the statement borrows nothing
        // else and is finalized on drop, before the transaction that holds `conn` ends.
        unsafe {
            let db = conn.handle();
            let mut stmt = std::ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v2(
                db,
                sql.as_ptr().cast(),
                sql.len() as i32,
                &mut stmt,
                std::ptr::null_mut(),
            );
            if rc != ffi::SQLITE_OK {
                return Err(sqlite_error(db, rc));
            }
            Ok(RawStatement { db, stmt })
        }
    }

    fn int(&mut self, i: i32, v: i64) {
        // SAFETY: a valid statement; binding an in-range index cannot fail.
        unsafe { rusqlite::ffi::sqlite3_bind_int64(self.stmt, i, v) };
    }

    fn opt_int(&mut self, i: i32, v: Option<i64>) {
        match v {
            Some(v) => self.int(i, v),
            // SAFETY: as above.
            None => unsafe {
                rusqlite::ffi::sqlite3_bind_null(self.stmt, i);
            },
        }
    }

    fn real(&mut self, i: i32, v: f64) {
        // SAFETY: as above.
        unsafe { rusqlite::ffi::sqlite3_bind_double(self.stmt, i, v) };
    }

    /// Binds a string without copying it.
    ///
    /// # Safety
    /// `v` must stay alive and unchanged until the next [`RawStatement::execute`] returns.
    unsafe fn text(&mut self, i: i32, v: Option<&str>) {
        use rusqlite::ffi;
        match v {
            Some(v) => ffi::sqlite3_bind_text(
                self.stmt,
                i,
                v.as_ptr().cast(),
                v.len() as i32,
                ffi::SQLITE_STATIC(),
            ),
            None => ffi::sqlite3_bind_null(self.stmt, i),
        };
    }

    /// Runs the statement and resets it; returns the number of rows changed.
    fn execute(&mut self) -> rusqlite::Result<usize> {
        use rusqlite::ffi;
        // SAFETY: a valid statement and connection.
        unsafe {
            let rc = ffi::sqlite3_step(self.stmt);
            let result = if rc == ffi::SQLITE_DONE {
                Ok(ffi::sqlite3_changes(self.db) as usize)
            } else {
                Err(sqlite_error(self.db, rc))
            };
            ffi::sqlite3_reset(self.stmt);
            result
        }
    }
}

impl Drop for RawStatement {
    fn drop(&mut self) {
        // SAFETY: finalized once, while the connection is open.
        unsafe { rusqlite::ffi::sqlite3_finalize(self.stmt) };
    }
}

/// The error of the last call on `db`, as rusqlite reports it.
///
/// # Safety
/// `db` must be an open connection.
unsafe fn sqlite_error(db: *mut rusqlite::ffi::sqlite3, rc: i32) -> rusqlite::Error {
    use rusqlite::ffi;
    let code = ffi::sqlite3_extended_errcode(db);
    let code = if code == ffi::SQLITE_OK { rc } else { code };
    let msg = std::ffi::CStr::from_ptr(ffi::sqlite3_errmsg(db))
        .to_string_lossy()
        .into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(msg))
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
        .query_row(
            "SELECT value FROM meta WHERE key = 'data_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    v.and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("meta.data_version is missing".into()))
}

fn record_from_row(row: &Row<'_>) -> Result<Record, StoreError> {
    let book = Codebook::get();
    let corrupt = |what: String| StoreError::Corrupt(what);
    let one = |idx: usize, list: CodeList| -> Result<Option<u8>, StoreError> {
        let v: Option<String> = row.get(idx)?;
        v.map(|v| book.index(list, &v).map_err(|e| corrupt(e.to_string())))
            .transpose()
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
