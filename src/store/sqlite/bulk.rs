//! How a large batch is written. Survey exports identify rows by random UUIDs (Kobo's
//! `_uuid`), and inserting random keys one by one into the unique index on `external_id`
//! reads a different part of the index for every row: measured on a million such ids, it
//! takes longer than writing the rows themselves. A batch at least as large as the table
//! therefore drops that index, refuses duplicates in memory, and builds the index again
//! from sorted keys before the commit. The index is dropped and rebuilt inside the batch's
//! transaction, so a crash or a withdrawn batch leaves it as it was, and building it again
//! re-checks in SQLite that no external id was written twice.

use std::collections::HashSet;

use rusqlite::Connection;

use crate::store::StoreError;

/// The unique index on `records.external_id` (schema 4).
const INDEX_SQL: &str = "CREATE UNIQUE INDEX records_external_id ON records (external_id)";

/// Migration to schema 4: the uniqueness of external ids moves from the column's `UNIQUE`
/// (an index SQLite will not drop) to a named index. The table is rebuilt with the same
/// columns and row ids; its definition is read from the file, so the columns are written
/// down once, in the migration that made them.
pub(super) fn name_the_external_id_index(conn: &Connection) -> Result<(), StoreError> {
    let table: String = conn.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'records'",
        [],
        |r| r.get(0),
    )?;
    let unique = "external_id TEXT NOT NULL UNIQUE";
    let columns = table
        .find('(')
        .map(|at| &table[at..])
        .filter(|columns| columns.contains(unique))
        .ok_or_else(|| StoreError::Corrupt(format!("unexpected records table: {table}")))?;
    let columns = columns.replacen(unique, "external_id TEXT NOT NULL", 1);
    conn.execute_batch(&format!(
        "CREATE TABLE records_indexed {columns};
         INSERT INTO records_indexed SELECT * FROM records;
         DROP TABLE records;
         ALTER TABLE records_indexed RENAME TO records;
         {INDEX_SQL};"
    ))?;
    Ok(())
}

/// Whether a batch of about `expected` records is written as a bulk load into a table of
/// at most `stored` records. Building the index again costs about 1 µs for every key the
/// table ends with (random UUIDs; 0.55 µs for ids nearly in order), plus reading the stored
/// ids; inserting key by key costs about 4.5 µs a random UUID and 1.5 µs an ordered id
/// (BENCHMARKS.md, session 8). A batch larger than the table is on the bulk side of both.
pub(super) fn worth_rebuilding(expected: u64, stored: u64) -> bool {
    expected > stored
}

/// A batch written without the unique index: the external ids stored or written so far.
pub(super) struct BulkLoad {
    /// foldhash: SipHash, the standard one, was a tenth of the writer's time; the seed is
    /// still random, since the ids come from uploaded files.
    seen: HashSet<Box<str>, foldhash::fast::RandomState>,
}

impl BulkLoad {
    /// Reads the stored external ids and drops the index, in the batch's transaction.
    pub(super) fn start(tx: &Connection) -> rusqlite::Result<BulkLoad> {
        let seen = tx
            .prepare("SELECT external_id FROM records")?
            .query_map([], |r| Ok(r.get::<_, String>(0)?.into_boxed_str()))?
            .collect::<Result<_, _>>()?;
        tx.execute_batch("DROP INDEX records_external_id")?;
        Ok(BulkLoad { seen })
    }

    /// Whether `external_id` is new to the table and the batch (and now seen).
    pub(super) fn is_new(&mut self, external_id: &str) -> bool {
        // One hash per id: duplicates are rare in a batch larger than the table.
        self.seen.insert(Box::from(external_id))
    }

    /// Builds the index again; fails if an external id was written twice.
    ///
    /// SQLite's sorter keeps up to a page cache's worth of keys in memory per sorted run.
    /// Runs of 8 MiB (instead of the batch's large cache) stay within the CPU's caches, and
    /// one helper thread sorts a run while the next is read: validation is over by then.
    /// A million random UUIDs: 1.0 s against 1.9 s (BENCHMARKS.md). The caller restores the
    /// cache size.
    pub(super) fn finish(self, tx: &Connection) -> rusqlite::Result<()> {
        drop(self.seen);
        tx.pragma_update(None, "cache_size", -8192)?;
        tx.pragma_update(None, "threads", 1)?;
        let built = tx.execute_batch(INDEX_SQL);
        tx.pragma_update(None, "threads", 0)?;
        built
    }
}
