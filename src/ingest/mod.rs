//! Import of survey records from CSV and XLSX (KoboToolbox exports accepted).
//!
//! The pipeline (documented for users in `docs/IMPORT.md`):
//! 1. [`read`] detects the format (`,`/`;`/tab CSV, or a spreadsheet's first sheet) and
//!    streams rows in chunks of text cells;
//! 2. [`columns`] maps the header once onto the record's fields (Kobo group prefixes,
//!    aliases, geopoints, select-multiple option columns);
//! 3. [`validate`] checks and geocodes ([`geocode`]) every row, chunks in parallel (rayon)
//!    while the next chunks are read; rows without consent are refused, never stored;
//! 4. the store writes the valid records in one transaction (`Store::import_batch`), unless
//!    it is a dry run or the policy is `reject` and some row is invalid.
//!
//! [`export::write_kobo_csv`] writes records back in the Kobo shape.

mod cli;
pub(crate) mod columns;
pub(crate) mod export;
pub(crate) mod geocode;
pub(crate) mod read;
pub(crate) mod report;
pub(crate) mod validate;
mod window;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

use crate::codes::Codebook;
use crate::record::Record;
use crate::store::{BatchFeed, BatchOutcome, NewBatch, Store, StoreError};
pub use cli::{ImportArgs, OnError};

pub use export::write_kobo_csv;

use columns::Plan;
use geocode::Geocoder;
use read::{Chunk, Table};
use validate::{Ctx, RowResult};
use window::{CloseOnPanic, Window};

/// At most this many problems are listed in a report (all invalid rows are still counted).
pub const MAX_PROBLEMS: usize = 10_000;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub on_error: OnError,
    /// Survey round for rows that do not name one.
    pub default_round: String,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            on_error: OnError::Reject,
            default_round: "default".into(),
            progress: false,
        }
    }
}

/// One problem with one cell: where (1-based data row as a spreadsheet shows it, column
/// header as written in the file) and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowProblem {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// The outcome of an import, printed as a table or JSON by the CLI and returned by the API.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub source_name: String,
    pub sha256: String,
    pub dry_run: bool,
    pub on_error: OnError,
    pub rows_total: u64,
    pub rows_valid: u64,
    pub rows_rejected: u64,
    /// Rows refused because consent was not given (never stored, never an error).
    pub rows_refused: u64,
    pub problems: Vec<RowProblem>,
    /// Problems not listed in `problems` (beyond [`MAX_PROBLEMS`]).
    pub problems_omitted: u64,
    /// Columns of the file that map to no field (ignored).
    pub ignored_columns: Vec<String>,
    /// What was written; `None` for a dry run or a rejected file.
    pub outcome: Option<BatchOutcome>,
}

impl ImportReport {
    /// Whether the file was refused as a whole because of invalid rows (policy `reject`).
    pub fn rejected(&self) -> bool {
        self.rows_rejected > 0 && self.on_error == OnError::Reject
    }
}

/// File-level failures (row-level problems go in the report).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {name}: {reason}")]
    Unreadable { name: String, reason: String },
    #[error("required column {column:?} is missing (nor any of its accepted aliases)")]
    MissingColumn { column: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A validated file: its records (not yet written) and its report (without outcome).
#[derive(Debug)]
pub struct Validated {
    pub records: Vec<Record>,
    pub report: ImportReport,
}

/// Parses, validates, geocodes and (unless a dry run or rejected) writes one file's rows.
/// The store writes each chunk of rows, in file order, while later chunks are validated; a
/// file refused under the `reject` policy, or unreadable midway, is rolled back whole.
pub fn import_bytes(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let bar = progress_bar(options.progress);
    let started = Instant::now();
    let writes = !options.dry_run;
    let (report, outcome) = run_pipeline(name, bytes, options, today(), &bar, writes, |feed| {
        if options.dry_run {
            while feed.next_records().is_some() {}
            feed.finish();
            return Ok(None);
        }
        tracing::debug!(source = name, "writing as the rows are validated");
        store.write_batch(feed)
    })?;
    bar.finish_and_clear();
    tracing::debug!(
        source = name,
        rows = report.rows_total,
        seconds = started.elapsed().as_secs_f64(),
        rows_per_second = report.rows_total as f64 / started.elapsed().as_secs_f64(),
        written = outcome.is_some(),
        "imported"
    );
    Ok(ImportReport { outcome, ..report })
}

/// Parses, validates and geocodes a file without writing anything.
pub fn validate_bytes(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Validated, IngestError> {
    validate_with(name, bytes, options, today(), &ProgressBar::hidden())
}

pub(crate) fn validate_with(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
    today: Date,
    bar: &ProgressBar,
) -> Result<Validated, IngestError> {
    let (report, records) = run_pipeline(name, bytes, options, today, bar, false, |feed| {
        let mut records = Vec::new();
        while let Some(chunk) = feed.next_records() {
            records.extend_from_slice(chunk);
        }
        feed.finish();
        Ok(records)
    })?;
    Ok(Validated { records, report })
}

fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// What one chunk of rows gave.
#[derive(Default)]
struct ChunkOut {
    seq: usize,
    records: Vec<Record>,
    /// Indexes in `records` of the records whose external id was derived.
    derived: Vec<usize>,
    problems: Vec<RowProblem>,
    /// Input the chunk covers, in the unit of `Table::total`.
    bytes: u64,
    rows: u64,
    rejected: u64,
    refused: u64,
    /// For a chunk numbered from 0 (quote-free CSV): its number of records, by which the
    /// following chunks' row numbers are shifted.
    relative_records: Option<u64>,
}

fn validate_chunk(ctx: &Ctx<'_>, chunk: &Chunk<'_>) -> ChunkOut {
    let mut out = ChunkOut {
        seq: chunk.seq,
        bytes: chunk.bytes,
        records: Vec::with_capacity(chunk.capacity()),
        ..ChunkOut::default()
    };
    let records = chunk.for_each_row(|row| {
        out.rows += 1;
        match validate::validate_row(ctx, row) {
            RowResult::Valid { record, derived_id } => {
                if derived_id {
                    out.derived.push(out.records.len());
                }
                out.records.push(record);
            }
            RowResult::Refused => out.refused += 1,
            RowResult::Invalid(problems) => {
                out.rejected += 1;
                out.problems.extend(problems);
            }
        }
    });
    out.relative_records = chunk.relative().then_some(records);
    out
}

/// Reads and validates `bytes` in parallel chunks and hands the valid records, in file
/// order, to `consume` as a [`BatchFeed`] while later chunks are still being validated.
/// Returns the report (without outcome) and what `consume` returned.
///
/// The file's digest is computed on a thread of its own; with `digest_when_idle` (an import
/// that writes) that thread runs at the lowest CPU priority: the digest is needed only at
/// the commit, and on a busy machine its CPU is better spent feeding the store's writer.
fn run_pipeline<T>(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
    today: Date,
    bar: &ProgressBar,
    digest_when_idle: bool,
    consume: impl FnOnce(&mut dyn BatchFeed) -> Result<T, StoreError>,
) -> Result<(ImportReport, T), IngestError> {
    let book = Codebook::get();
    let table = Table::open(name, bytes)?;
    let plan = Plan::new(name, table.header(), book)?;
    bar.set_style(bar_style("importing"));
    let input_size = table.total();
    bar.set_length(input_size);
    let codes = validate::CodeIndex::new(book);
    let ctx = Ctx {
        plan: &plan,
        book,
        codes: &codes,
        geocoder: Geocoder::get(),
        today,
        default_round: &options.default_round,
    };
    let (sender, receiver) = mpsc::channel();
    // Set by the reader when it is done; still `None` after a panic in a validation task.
    let read_result = Mutex::new(None);
    let window = Window::new(window::CHUNKS_AHEAD);
    let (ctx, read_result_ref, window) = (&ctx, &read_result, &window);
    let (consumed, tally) = std::thread::scope(|scope| {
        // Named threads, so that `top -H` and profiles say which is which.
        let digest = std::thread::Builder::new()
            .name("import-digest".into())
            .spawn_scoped(scope, move || {
                if digest_when_idle {
                    use_idle_cpu_only();
                }
                hex::encode(Sha256::digest(bytes))
            })
            .expect("a thread for the digest");
        std::thread::Builder::new()
            .name("import-read".into())
            .spawn_scoped(scope, move || {
                // The chunks go to rayon's shared queue, first in first out, from this
                // thread, which waits whenever validation is too far ahead of the store.
                let read = rayon::in_place_scope(|s| {
                    table.for_each_chunk(name, |chunk| {
                        if !window.admit(chunk.seq) {
                            return;
                        }
                        let sender = sender.clone();
                        s.spawn(move |_| {
                            let _close = CloseOnPanic(window);
                            let out = validate_chunk(ctx, &chunk);
                            bar.inc(chunk.bytes);
                            // The feed stops listening only when the store failed.
                            let _ = sender.send(out);
                        });
                    })
                });
                *read_result_ref.lock().unwrap_or_else(|e| e.into_inner()) = Some(read);
            })
            .expect("a thread for the reader");
        let mut feed = ChunkFeed {
            receiver,
            window,
            pending: BTreeMap::new(),
            next_seq: 0,
            current: Vec::new(),
            digest: Some(digest),
            read_result: read_result_ref,
            source_name: name,
            input_size,
            book,
            withhold: options.on_error == OnError::Reject,
            tally: Tally {
                first_row: read::FIRST_ROW,
                ..Tally::default()
            },
        };
        let consumed = consume(&mut feed);
        // Drain what the store did not take (it failed), so that the readers finish.
        while feed.next_out().is_some() {}
        debug_assert!(
            feed.pending.is_empty(),
            "every chunk is handed over in order"
        );
        (consumed, std::mem::take(&mut feed.tally))
    });
    let consumed = consumed?;
    if let Some(read) = read_result.lock().unwrap_or_else(|e| e.into_inner()).take() {
        read?;
    }
    bar.set_position(bar.length().unwrap_or(0));
    let t = tally;
    let report = ImportReport {
        source_name: name.to_string(),
        sha256: t.sha256,
        dry_run: options.dry_run,
        on_error: options.on_error,
        rows_total: t.rows,
        rows_valid: t.valid,
        rows_rejected: t.rejected,
        rows_refused: t.refused,
        problems: t.problems,
        problems_omitted: t.omitted,
        ignored_columns: plan.ignored.clone(),
        outcome: None,
    };
    Ok((report, consumed))
}

/// What the chunks handed over so far add up to.
#[derive(Default)]
struct Tally {
    rows: u64,
    valid: u64,
    rejected: u64,
    refused: u64,
    problems: Vec<RowProblem>,
    omitted: u64,
    /// Data row number of the next relative chunk's first row.
    first_row: u64,
    /// Derived external ids seen so far, with how many times.
    seen: HashMap<String, u32>,
    sha256: String,
}

/// The validated chunks in file order, as the store takes them.
struct ChunkFeed<'s, 'a> {
    receiver: mpsc::Receiver<ChunkOut>,
    /// Told of every chunk taken, so that the reader may hand out more.
    window: &'a Window,
    /// Chunks validated before an earlier one, by sequence number.
    pending: BTreeMap<usize, ChunkOut>,
    next_seq: usize,
    /// The records handed over last.
    current: Vec<Record>,
    digest: Option<std::thread::ScopedJoinHandle<'s, String>>,
    read_result: &'a Mutex<Option<Result<(), IngestError>>>,
    source_name: &'a str,
    /// The input's size, in the unit of `ChunkOut::bytes`.
    input_size: u64,
    book: &'a Codebook,
    /// Under the `reject` policy, a file with an invalid row is not written: once one is
    /// seen, no more records are handed over (they would be rolled back).
    withhold: bool,
    tally: Tally,
}

impl ChunkFeed<'_, '_> {
    /// Whether the file is refused as a whole (the `reject` policy and an invalid row).
    fn refused(&self) -> bool {
        self.withhold && self.tally.rejected > 0
    }

    /// The next chunk in file order; `None` when the readers are done.
    fn next_out(&mut self) -> Option<ChunkOut> {
        loop {
            if let Some(out) = self.pending.remove(&self.next_seq) {
                self.next_seq += 1;
                self.window.taken(self.next_seq);
                return Some(out);
            }
            let out = self.receiver.recv().ok()?;
            self.pending.insert(out.seq, out);
        }
    }

    /// Adds a chunk to the tally: row numbers shifted, derived ids made distinct.
    fn take(&mut self, mut out: ChunkOut) -> Vec<Record> {
        let t = &mut self.tally;
        if let Some(records) = out.relative_records {
            let first_row = t.first_row;
            out.problems.iter_mut().for_each(|p| p.row += first_row);
            t.first_row += records;
        }
        // Rows with identical answers and no id get distinct ids, stable across re-imports.
        for &i in &out.derived {
            let n = t
                .seen
                .entry(out.records[i].external_id.clone())
                .or_insert(0);
            if *n > 0 {
                out.records[i].external_id =
                    validate::derived_external_id(self.book, &out.records[i], *n);
            }
            *n += 1;
        }
        t.rows += out.rows;
        t.valid += out.records.len() as u64;
        t.rejected += out.rejected;
        t.refused += out.refused;
        let room = MAX_PROBLEMS.saturating_sub(t.problems.len());
        t.omitted += out.problems.len().saturating_sub(room) as u64;
        t.problems.extend(out.problems.into_iter().take(room));
        out.records
    }
}

impl BatchFeed for ChunkFeed<'_, '_> {
    fn next_records(&mut self) -> Option<&[Record]> {
        while let Some(out) = self.next_out() {
            let records = self.take(out);
            if !records.is_empty() && !self.refused() {
                // The records handed over before are freed on another thread: the store's
                // writer is an import's critical path, and a million records are five
                // million small allocations.
                let written = std::mem::replace(&mut self.current, records);
                rayon::spawn(move || drop(written));
                return Some(&self.current);
            }
        }
        None
    }

    /// Estimated from the first chunk: its valid records per byte, times the input's size.
    fn expected_records(&mut self) -> Option<u64> {
        let first = self.next_out()?;
        let estimate = (first.records.len() as u64)
            .saturating_mul(self.input_size)
            .checked_div(first.bytes);
        // Put back: the chunk is handed over by the first `next_records`, as if unread.
        self.next_seq -= 1;
        self.pending.insert(first.seq, first);
        estimate
    }

    fn finish(&mut self) -> Option<NewBatch> {
        while let Some(out) = self.next_out() {
            self.take(out);
        }
        if let Some(digest) = self.digest.take() {
            self.tally.sha256 = digest.join().expect("hashing does not panic");
        }
        let read_whole = matches!(
            *self.read_result.lock().unwrap_or_else(|e| e.into_inner()),
            Some(Ok(()))
        );
        let t = &self.tally;
        (read_whole && self.pending.is_empty() && !self.refused()).then(|| NewBatch {
            source_name: self.source_name.to_string(),
            sha256: t.sha256.clone(),
            rows_total: t.rows,
            rows_rejected: t.rejected,
            rows_refused: t.refused,
        })
    }
}

/// A feed dropped (the import over, or unwinding from a panic) takes no more chunks: the
/// reader must not wait for it.
impl Drop for ChunkFeed<'_, '_> {
    fn drop(&mut self) {
        self.window.close();
    }
}

/// Lowers the calling thread to the lowest CPU priority (nice 19), so that it runs on cycles
/// no other thread wants. Linux gives each thread its own nice value; elsewhere, a no-op.
fn use_idle_cpu_only() {
    #[cfg(target_os = "linux")]
    // SAFETY: `setpriority` on the calling thread's own id changes only its nice value; an
    // error (none is expected when lowering) leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
    }
}

/// The file's bytes: mapped into memory when the system allows it (reading a large file
/// into a fresh buffer costs a copy and a page fault per 4 KiB, before any row is parsed;
/// mapped pages are faulted in by the parsing threads, in parallel), read otherwise.
fn read_file(path: &std::path::Path) -> std::io::Result<FileBytes> {
    let file = std::fs::File::open(path)?;
    // SAFETY: the map is read-only and private to this process; if another program
    // truncated the file during the import the process could be killed (SIGBUS), which
    // the import's single transaction survives: nothing of the batch is written.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => Ok(FileBytes::Mapped(map)),
        Err(_) => std::fs::read(path).map(FileBytes::Read),
    }
}

enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn bar_style(stage: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{stage} [{{bar:40}}] {{percent:>3}}% {{elapsed_precise}} (eta {{eta}})"
    ))
    .expect("valid template")
    .progress_chars("=> ")
}

/// `dyaspora import FILE`: imports one file and prints the report (a table, or JSON with
/// `--json`) on stdout. Exit code 0 when written (or a clean dry run), 2 when rows were
/// invalid under the `reject` policy (nothing written), 1 when the file cannot be read or
/// lacks a required column.
///
/// # Errors
/// Database failures (the import is rolled back).
pub fn run_import_command(store: &dyn Store, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let options = ImportOptions {
        dry_run: args.dry_run,
        on_error: args.on_error,
        default_round: args.round.clone(),
        progress: !args.quiet,
    };
    let result = read_file(&args.file)
        .map_err(|e| IngestError::Unreadable {
            name: args.file.display().to_string(),
            reason: e.to_string(),
        })
        .and_then(|bytes| import_bytes(store, &name, &bytes, &options));
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report::render_table(&report));
            }
            Ok(if report.rejected() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(IngestError::Store(e)) => Err(e.into()),
        Err(e) => {
            if args.json {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
            }
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
