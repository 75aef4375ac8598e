//! Durable state: records, import batches and places. SQLite (embedded, WAL) is the default
//! backend; [`Store`] is the interface a PostgreSQL backend would implement for stateless
//! replicas. Everything else (snapshots, indexes, tiles) is rebuilt from what is here.

mod rows;
mod sqlite;

pub use rows::{Digest, NewToken, Place, Role, TokenInfo};
pub use sqlite::SqliteStore;

use crate::record::Record;

/// What the store knows about one import before it is written.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// File name or upload name, for the audit trail.
    pub source_name: String,
    /// SHA-256 of the source bytes, hex.
    pub sha256: String,
    pub rows_total: u64,
    pub rows_rejected: u64,
    pub rows_refused: u64,
}

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchOutcome {
    pub batch_id: i64,
    /// Records written by this batch.
    pub inserted: u64,
    /// Records skipped because their external id was already stored (idempotent re-import).
    pub duplicates: u64,
    /// The data version after the batch (bumped only when something was inserted).
    pub data_version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database is read-only or the disk is full: {0}")]
    NotWritable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database schema version {found} is newer than this program ({supported})")]
    NewerSchema { found: i64, supported: i64 },
}

/// A public release: the records whose figures are published together. Every release draws
/// fresh record keys (see `aggregate::perturb`), so its figures never change while it lasts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    /// 1, 2, … in the order they were cut.
    pub id: u64,
    /// When it was cut, seconds since 1970 (UTC).
    pub cut_at: i64,
    /// The records of the release: those with an id up to this one.
    pub max_record_id: i64,
    /// How many records it had when it was cut (fewer remain after an erasure).
    pub records: u64,
    /// The store's data version it was cut at.
    pub data_version: u64,
    /// Why it was cut: `first`, `scheduled` or `erasure`.
    pub reason: String,
}

/// Records handed to [`Store::write_batch`] in order, chunk by chunk, so that a file can be
/// written while its later rows are still being validated.
pub trait BatchFeed {
    /// The next records to write, in order; `None` once every record has been handed over.
    fn next_records(&mut self) -> Option<&[Record]>;

    /// About how many records the whole batch will hand over, asked once before the first
    /// [`BatchFeed::next_records`]: the store writes a large batch differently. `None`
    /// when unknown.
    fn expected_records(&mut self) -> Option<u64> {
        None
    }

    /// Called once after the last records: the batch's description to commit it with, or
    /// `None` to write nothing at all (the transaction is rolled back).
    fn finish(&mut self) -> Option<NewBatch>;
}

/// A feed over records already in memory, handed over in slices so that `progress` moves.
pub struct SliceFeed<'a> {
    records: &'a [Record],
    expected: Option<u64>,
    batch: Option<NewBatch>,
    done: usize,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> SliceFeed<'a> {
    pub fn new(batch: NewBatch, records: &'a [Record], progress: &'a (dyn Fn(u64) + Sync)) -> Self {
        SliceFeed {
            records,
            expected: Some(records.len() as u64),
            batch: Some(batch),
            done: 0,
            progress,
        }
    }

    /// The feed with another answer to [`BatchFeed::expected_records`] than its length,
    /// e.g. `None` to have the store write key by key (benchmarks and tests compare both).
    pub fn expecting(self, expected: Option<u64>) -> Self {
        SliceFeed { expected, ..self }
    }
}

impl BatchFeed for SliceFeed<'_> {
    fn next_records(&mut self) -> Option<&[Record]> {
        (self.progress)(self.done as u64);
        let rest = &self.records[self.done..];
        let slice = &rest[..rest.len().min(10_000)];
        self.done += slice.len();
        (!slice.is_empty()).then_some(slice)
    }

    fn expected_records(&mut self) -> Option<u64> {
        self.expected
    }

    fn finish(&mut self) -> Option<NewBatch> {
        self.batch.take()
    }
}

/// The durable store behind the service.
pub trait Store: Send + Sync {
    /// Writes a batch atomically: every record the feed hands over lands, or none does (when
    /// the feed's `finish` says so, or on an error). Records whose external id is already
    /// stored, or was erased, are skipped and counted as duplicates. `None` when the feed
    /// withdrew the batch.
    fn write_batch(&self, feed: &mut dyn BatchFeed) -> Result<Option<BatchOutcome>, StoreError>;

    /// [`Store::write_batch`] for records already in memory; `progress` gets the number of
    /// records processed so far.
    fn import_batch(
        &self,
        batch: &NewBatch,
        records: &[Record],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchOutcome, StoreError> {
        let mut feed = SliceFeed::new(batch.clone(), records, progress);
        let outcome = self.write_batch(&mut feed)?;
        progress(records.len() as u64);
        Ok(outcome.expect("a slice feed always commits"))
    }

    /// Streams every record to `sink`, in insertion order.
    fn load_records(&self, sink: &mut dyn FnMut(Record)) -> Result<(), StoreError>;

    /// Streams the records with an id up to `max_record_id`, with their ids, in id order.
    fn load_released(
        &self,
        max_record_id: i64,
        sink: &mut dyn FnMut(i64, Record),
    ) -> Result<(), StoreError>;

    /// The newest release, if any was cut.
    fn latest_release(&self) -> Result<Option<Release>, StoreError>;

    /// Cuts a release of every record stored now, or returns the newest release when it
    /// already holds exactly them (replicas racing to cut the same release cut one).
    fn cut_release(&self, reason: &str, now_unix: i64) -> Result<Release, StoreError>;

    /// How many records have an id up to `max_record_id` (fewer than a release's count
    /// after an erasure).
    fn count_records_upto(&self, max_record_id: i64) -> Result<u64, StoreError>;

    /// The secret the record keys are derived from: never published.
    fn perturbation_secret(&self) -> Result<[u8; 32], StoreError>;

    fn record_count(&self) -> Result<u64, StoreError>;

    /// A counter bumped by every change to the records; keys caches and ETags.
    fn data_version(&self) -> Result<u64, StoreError>;

    fn places(&self) -> Result<Vec<Place>, StoreError>;

    /// Inserts or replaces places by id, atomically.
    fn upsert_places(&self, places: &[Place]) -> Result<(), StoreError>;

    /// Removes a place; `false` when there was none with that id.
    fn delete_place(&self, id: &str) -> Result<bool, StoreError>;

    // Access control and audit (`crate::auth`, `crate::audit`).

    /// Erases the record with this external id: deletes it (overwriting its bytes on disk),
    /// remembers the id so that re-importing the same file does not bring it back, bumps the
    /// data version and appends the audit entry, in one transaction. Returns the new data
    /// version, or `None` when no record has that id (nothing is written).
    fn erase_record(&self, external_id: &str, actor: &str) -> Result<Option<u64>, StoreError>;

    /// Every token (valid and revoked), oldest first.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Stores a token's digest and appends the audit entry; returns its id.
    fn create_token(&self, token: &NewToken) -> Result<i64, StoreError>;

    /// Revokes a valid token and appends the audit entry; `false` when there was no valid
    /// token with that id.
    fn revoke_token(&self, id: i64, actor: &str) -> Result<bool, StoreError>;

    /// Appends an audit entry; returns its id.
    fn append_audit(&self, event: &crate::audit::NewEvent) -> Result<i64, StoreError>;

    /// Audit entries, newest first: at most `limit`, with ids below `before` when given.
    fn audit_log(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<crate::audit::Event>, StoreError>;
}
