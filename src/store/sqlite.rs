//! The SQLite backend: one file, WAL journal, `synchronous=FULL` so an acknowledged batch
//! survives a crash or power loss, schema migrations numbered in `MIGRATIONS`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{BatchFeed, BatchOutcome, Release, Store, StoreError};
use super::{NewToken, Place, Role, TokenInfo};
use crate::audit::{Action, Event, NewEvent};
use crate::record::Record;

mod bulk;
mod coded;

use coded::{
    bind_record, check_code_values, code_the_records, record_from_row, RECORD_COLUMNS,
    RECORD_FIELDS,
};

/// One step of the schema.
enum Migration {
    Sql(&'static str),
    /// A step that needs the program (e.g. to recode rows), in the migration's transaction.
    Code(fn(&Connection) -> Result<(), StoreError>),
}

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[Migration] = &[
    Migration::Sql(
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
    ),
    Migration::Sql(
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
    ),
    Migration::Code(code_the_records),
    Migration::Code(bulk::name_the_external_id_index),
    Migration::Sql(
        r#"
-- Public releases (issue 18): the records published together, each release with fresh
-- record keys for the cell-key perturbation, derived from a secret that never leaves the
-- database (randomblob: SQLite's ChaCha20 generator, seeded by the operating system).
CREATE TABLE releases (
    id INTEGER PRIMARY KEY,
    cut_at INTEGER NOT NULL,
    max_record_id INTEGER NOT NULL,
    records INTEGER NOT NULL,
    data_version INTEGER NOT NULL,
    reason TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('perturbation_secret', lower(hex(randomblob(32))));
"#,
    ),
];

/// SQLite store: one writing connection behind a mutex (SQLite serialises writers anyway)
/// and a pool of read-only connections, so that reads (the snapshot's refresh, tokens,
/// places, `/health` for token holders) never wait behind an import's transaction: in WAL
/// mode a reader sees the last committed state while the writer goes on.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// `None` for an in-memory database (its one connection is the only view of it).
    readers: Option<ReadPool>,
}

/// Read-only connections to the database file, opened on demand and kept when idle.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Idle read connections kept open (more may be open at once; the extra ones are closed
/// when done).
const MAX_IDLE_READERS: usize = 4;

/// A connection to read with: a pooled read-only one, or the writer's when none can be had.
enum Reader<'a> {
    Pooled(&'a ReadPool, Option<Connection>),
    Writer(MutexGuard<'a, Connection>),
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Reader::Pooled(_, Some(c)) => c,
            Reader::Pooled(_, None) => unreachable!("a pooled reader holds its connection"),
            Reader::Writer(c) => c,
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Reader::Pooled(pool, conn) = self {
            if let Some(conn) = conn.take() {
                let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(conn);
                }
            }
        }
    }
}

impl ReadPool {
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }
}

impl SqliteStore {
    /// Opens (or creates) the database file and migrates it to the current schema.
    ///
    /// # Errors
    /// When the file cannot be opened, or was written by a newer version of dyaspora.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        // 16 KiB pages for a new file (an existing one keeps its own): a bulk import has
        // fewer pages to split and rebalance (measured with the grouped inserts in
        // BENCHMARKS.md, "Spine").
        conn.pragma_update(None, "page_size", 16_384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let readers = ReadPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        };
        Self::with_connection(conn, Some(readers))
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::with_connection(Connection::open_in_memory()?, None)
    }

    fn with_connection(
        mut conn: Connection,
        readers: Option<ReadPool>,
    ) -> Result<SqliteStore, StoreError> {
        migrate(&mut conn)?;
        check_code_values(&conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers,
        })
    }

    /// A connection to read with, without waiting for the writer: an idle pooled one, or a
    /// new read-only one (the writer's only for an in-memory database, or when the file
    /// cannot be opened again).
    fn reader(&self) -> Reader<'_> {
        let Some(pool) = &self.readers else {
            return Reader::Writer(self.conn());
        };
        let idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle.map_or_else(|| pool.open(), Ok) {
            Ok(c) => Reader::Pooled(pool, Some(c)),
            Err(e) => {
                tracing::debug!(error = %e, "no read connection: reading through the writer");
                Reader::Writer(self.conn())
            }
        }
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
    let mut rewrote_rows = false;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(step) => {
                step(&tx)?;
                rewrote_rows = true;
            }
        }
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    // A step that rewrote the records left the old table's pages free in the file (a
    // million records: 350 MB); give them back once, after the migrations are committed.
    // Not fatal: the migration is committed, and free pages are reused by later imports.
    if rewrote_rows && version > 0 {
        tracing::info!("database migrated; compacting the file");
        if let Err(e) = conn.execute_batch("VACUUM") {
            tracing::warn!(error = %e, "could not compact the migrated database (it works as is)");
        }
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
    fn write_batch(&self, feed: &mut dyn BatchFeed) -> Result<Option<BatchOutcome>, StoreError> {
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
        // A page cache big enough for a large batch: the random external ids spread the
        // unique index's inserts over the whole index, and a small cache would spill the
        // same pages to the WAL again and again. SQLite's sorter, which builds the index
        // again after a bulk load, keeps as much in memory as the cache may hold.
        let cache_kib: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        let wanted = -500_000; // KiB; pages are allocated only as they are used
        if wanted < cache_kib {
            conn.pragma_update(None, "cache_size", wanted)?;
        }
        let outcome = write_batch(&mut conn, feed);
        conn.pragma_update(None, "cache_size", cache_kib)?;
        if fk {
            conn.pragma_update(None, "foreign_keys", true)?;
        }
        outcome
    }

    fn load_records(&self, sink: &mut dyn FnMut(Record)) -> Result<(), StoreError> {
        let conn = self.reader();
        let mut stmt =
            conn.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            sink(record_from_row(row)?);
        }
        Ok(())
    }

    fn load_released(
        &self,
        max_record_id: i64,
        sink: &mut dyn FnMut(i64, Record),
    ) -> Result<(), StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS}, id FROM records WHERE id <= ?1 ORDER BY id"
        ))?;
        let mut rows = stmt.query([max_record_id])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(RECORD_FIELDS)?;
            sink(id, record_from_row(row)?);
        }
        Ok(())
    }

    fn latest_release(&self) -> Result<Option<Release>, StoreError> {
        newest_release(&self.reader())
    }

    fn cut_release(&self, reason: &str, now_unix: i64) -> Result<Release, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(writable)?;
        let (max_id, records): (i64, i64) = tx.query_row(
            "SELECT coalesce(max(id), 0), count(*) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let version = read_data_version(&tx)?;
        // Idempotent: another process (a replica, the CLI) may have cut one for this very
        // state of the records a moment ago.
        if let Some(r) =
            newest_release(&tx)?.filter(|r| r.data_version == version && r.max_record_id == max_id)
        {
            return Ok(r);
        }
        tx.execute(
            "INSERT INTO releases (cut_at, max_record_id, records, data_version, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now_unix, max_id, records, version as i64, reason],
        )
        .map_err(writable)?;
        let release = newest_release(&tx)?.expect("the release just inserted");
        tx.commit().map_err(writable)?;
        Ok(release)
    }

    fn count_records_upto(&self, max_record_id: i64) -> Result<u64, StoreError> {
        let n: i64 = self.reader().query_row(
            "SELECT count(*) FROM records WHERE id <= ?1",
            [max_record_id],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn perturbation_secret(&self) -> Result<[u8; 32], StoreError> {
        let hex_secret: String = self.reader().query_row(
            "SELECT value FROM meta WHERE key = 'perturbation_secret'",
            [],
            |r| r.get(0),
        )?;
        let mut secret = [0u8; 32];
        hex::decode_to_slice(&hex_secret, &mut secret)
            .map_err(|_| StoreError::Corrupt("meta.perturbation_secret is not 32 bytes".into()))?;
        Ok(secret)
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .reader()
            .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn data_version(&self) -> Result<u64, StoreError> {
        read_data_version(&self.reader())
    }

    fn places(&self) -> Result<Vec<Place>, StoreError> {
        let conn = self.reader();
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
        let conn = self.reader();
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
        let conn = self.reader();
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

/// Records inserted by one statement.
const ROWS_PER_INSERT: usize = 16;

/// The body of [`Store::write_batch`], in one transaction.
fn write_batch(
    conn: &mut Connection,
    feed: &mut dyn BatchFeed,
) -> Result<Option<BatchOutcome>, StoreError> {
    let tx = conn.transaction().map_err(writable)?;
    // The batch row first (the records point to it); its figures are known at the end.
    tx.execute(
        "INSERT INTO import_batches (source_name, sha256, rows_total, rows_inserted, rows_duplicate, rows_rejected, rows_refused)
         VALUES ('', '', 0, 0, 0, 0, 0)",
        [],
    )
    .map_err(writable)?;
    let batch_id = tx.last_insert_rowid();
    // Erasures are few: looked up in memory rather than by the database for every row.
    let erased: HashSet<String> = tx
        .prepare("SELECT external_id FROM erased_records")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // A batch larger than the table is written without the unique index on external ids,
    // which is built again at the end (`bulk`). The table's size is bounded by its largest
    // id (ids only grow), read from the B-tree's edge: `count(*)` reads a whole index,
    // 10–120 ms on a million records, for every batch however small.
    let mut bulk = match feed.expected_records() {
        Some(expected) if bulk::worth_rebuilding(expected, largest_record_id(&tx)?) => {
            Some(bulk::BulkLoad::start(&tx).map_err(writable)?)
        }
        _ => None,
    };
    let (mut handed, mut inserted) = (0u64, 0u64);
    {
        // Several rows per statement: each run of a statement has a fixed cost (step,
        // reset, unbinding) that 16 rows share.
        let insert = |rows: usize| {
            let row = format!("({batch_id}, {})", ["?"; RECORD_FIELDS].join(", "));
            let sql = format!(
                "INSERT OR IGNORE INTO records (batch_id, {RECORD_COLUMNS}) VALUES {}",
                vec![row; rows].join(", ")
            );
            RawStatement::prepare(&tx, &sql)
        };
        let (mut group, mut stmt) = (insert(ROWS_PER_INSERT)?, insert(1)?);
        let mut dates = vec![String::with_capacity(10); ROWS_PER_INSERT];
        while let Some(records) = feed.next_records() {
            handed += records.len() as u64;
            let kept: Vec<&Record> = records
                .iter()
                .filter(|r| erased.is_empty() || !erased.contains(&r.external_id))
                .filter(|r| bulk.as_mut().is_none_or(|b| b.is_new(&r.external_id)))
                .collect();
            for rows in kept.chunks(ROWS_PER_INSERT) {
                if rows.len() == ROWS_PER_INSERT {
                    for (i, (r, date)) in rows.iter().zip(&mut dates).enumerate() {
                        // SAFETY: `rows` and `dates` are not touched until `execute` returns.
                        unsafe { bind_record(&mut group, 1 + (RECORD_FIELDS * i) as i32, r, date) };
                    }
                    inserted += group.execute().map_err(writable)? as u64;
                    continue;
                }
                for r in rows {
                    // SAFETY: as above.
                    unsafe { bind_record(&mut stmt, 1, r, &mut dates[0]) };
                    inserted += stmt.execute().map_err(writable)? as u64;
                }
            }
        }
        drop(group);
        drop(stmt);
    }
    let Some(batch) = feed.finish() else {
        return Ok(None); // dropping `tx` rolls every record back (and the index drop)
    };
    if let Some(bulk) = bulk {
        bulk.finish(&tx).map_err(writable)?;
    }
    let duplicates = handed - inserted;
    tx.execute(
        "UPDATE import_batches SET source_name = ?1, sha256 = ?2, rows_total = ?3, rows_inserted = ?4,
         rows_duplicate = ?5, rows_rejected = ?6, rows_refused = ?7 WHERE id = ?8",
        params![
            batch.source_name,
            batch.sha256,
            batch.rows_total as i64,
            inserted as i64,
            duplicates as i64,
            batch.rows_rejected as i64,
            batch.rows_refused as i64,
            batch_id
        ],
    )
    .map_err(writable)?;
    if inserted > 0 {
        bump_data_version(&tx)?;
    }
    let data_version = read_data_version(&tx)?;
    tx.commit().map_err(writable)?;
    Ok(Some(BatchOutcome {
        batch_id,
        inserted,
        duplicates,
        data_version,
    }))
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
        // SAFETY: a valid statement; the caller keeps `v` alive until the next execute
        // (SQLITE_STATIC: SQLite reads the bytes in place).
        unsafe {
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
    // SAFETY: `db` is open (the caller's promise); sqlite3_errmsg returns a NUL-terminated
    // string owned by the connection, copied before any other call on it.
    let (code, msg) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = std::ffi::CStr::from_ptr(ffi::sqlite3_errmsg(db))
            .to_string_lossy()
            .into_owned();
        (code, msg)
    };
    let code = if code == ffi::SQLITE_OK { rc } else { code };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(msg))
}

/// The release with the highest id, if any.
fn newest_release(conn: &Connection) -> Result<Option<Release>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, cut_at, max_record_id, records, data_version, reason \
             FROM releases ORDER BY id DESC LIMIT 1",
            [],
            release_from_row,
        )
        .optional()?)
}

fn release_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    Ok(Release {
        id: r.get::<_, i64>(0)? as u64,
        cut_at: r.get(1)?,
        max_record_id: r.get(2)?,
        records: r.get::<_, i64>(3)? as u64,
        data_version: r.get::<_, i64>(4)? as u64,
        reason: r.get(5)?,
    })
}

/// At least the number of records (0 for an empty table).
fn largest_record_id(conn: &Connection) -> Result<u64, StoreError> {
    let id: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM records", [], |r| r.get(0))?;
    Ok(id as u64)
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

#[cfg(test)]
mod tests;
