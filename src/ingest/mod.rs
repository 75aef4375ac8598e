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

pub mod columns;
pub mod export;
pub mod geocode;
pub mod read;
pub mod report;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

use crate::codes::Codebook;
use crate::config::{ImportArgs, OnError};
use crate::record::Record;
use crate::store::{BatchOutcome, NewBatch, Store, StoreError};

pub use export::write_kobo_csv;

use columns::Plan;
use geocode::Geocoder;
use read::{Chunk, Table};
use validate::{Ctx, RowResult};

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
pub fn import_bytes(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let bar = progress_bar(options.progress);
    let started = Instant::now();
    let Validated {
        records,
        mut report,
    } = validate_with(name, bytes, options, today(), &bar)?;
    let validated = started.elapsed();
    tracing::debug!(
        source = name,
        rows = report.rows_total,
        seconds = validated.as_secs_f64(),
        rows_per_second = report.rows_total as f64 / validated.as_secs_f64(),
        "read, validated and geocoded"
    );
    if options.dry_run || report.rejected() {
        bar.finish_and_clear();
        return Ok(report);
    }
    bar.set_style(bar_style("writing  "));
    bar.set_length(records.len() as u64);
    bar.set_position(0);
    let batch = NewBatch {
        source_name: name.to_string(),
        sha256: report.sha256.clone(),
        rows_total: report.rows_total,
        rows_rejected: report.rows_rejected,
        rows_refused: report.rows_refused,
    };
    let writing = Instant::now();
    let outcome = store.import_batch(&batch, &records, &|n| bar.set_position(n));
    bar.finish_and_clear();
    let written = writing.elapsed();
    tracing::debug!(
        source = name,
        records = records.len(),
        seconds = written.as_secs_f64(),
        total_seconds = started.elapsed().as_secs_f64(),
        rows_per_second = report.rows_total as f64 / started.elapsed().as_secs_f64(),
        "written"
    );
    report.outcome = Some(outcome?);
    Ok(report)
}

/// Parses, validates and geocodes a file without writing anything.
pub fn validate_bytes(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<Validated, IngestError> {
    validate_with(name, bytes, options, today(), &ProgressBar::hidden())
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

pub(crate) fn validate_with(
    name: &str,
    bytes: &[u8],
    options: &ImportOptions,
    today: Date,
    bar: &ProgressBar,
) -> Result<Validated, IngestError> {
    let book = Codebook::get();
    let (sha256, parsed) = rayon::join(
        || hex::encode(Sha256::digest(bytes)),
        || -> Result<_, IngestError> {
            let geocoder = Geocoder::get();
            let table = Table::open(name, bytes)?;
            let plan = Plan::new(name, table.header(), book)?;
            bar.set_style(bar_style("validating"));
            bar.set_length(table.total());
            let codes = validate::CodeIndex::new(book);
            let ctx = Ctx {
                plan: &plan,
                book,
                codes: &codes,
                geocoder,
                today,
                default_round: &options.default_round,
            };
            let outs: Mutex<Vec<ChunkOut>> = Mutex::new(Vec::new());
            let mut read = Ok(());
            rayon::scope(|s| {
                let (ctx, outs) = (&ctx, &outs);
                read = table.for_each_chunk(name, |chunk| {
                    s.spawn(move |_| {
                        let out = validate_chunk(ctx, &chunk);
                        bar.inc(chunk.bytes);
                        outs.lock().unwrap_or_else(|e| e.into_inner()).push(out);
                    });
                });
            });
            read?;
            let mut outs = outs.into_inner().unwrap_or_else(|e| e.into_inner());
            outs.sort_by_key(|o| o.seq);
            Ok((plan, outs))
        },
    );
    let (plan, outs) = parsed?;

    let valid: usize = outs.iter().map(|o| o.records.len()).sum();
    let mut records = Vec::with_capacity(valid);
    let mut derived = Vec::new();
    let mut problems = Vec::new();
    let (mut rows, mut rejected, mut refused, mut omitted) = (0u64, 0u64, 0u64, 0u64);
    let mut first_row = read::FIRST_ROW;
    for mut out in outs {
        if let Some(records) = out.relative_records {
            out.problems.iter_mut().for_each(|p| p.row += first_row);
            first_row += records;
        }
        derived.extend(out.derived.iter().map(|i| records.len() + i));
        records.extend(out.records);
        rows += out.rows;
        rejected += out.rejected;
        refused += out.refused;
        let room = MAX_PROBLEMS.saturating_sub(problems.len());
        omitted += out.problems.len().saturating_sub(room) as u64;
        problems.extend(out.problems.into_iter().take(room));
    }
    // Rows with identical answers and no id get distinct ids, stable across re-imports.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for i in derived {
        let n = seen.entry(records[i].external_id.clone()).or_insert(0);
        if *n > 0 {
            records[i].external_id = validate::derived_external_id(book, &records[i], *n);
        }
        *n += 1;
    }
    bar.set_position(bar.length().unwrap_or(0));

    let report = ImportReport {
        source_name: name.to_string(),
        sha256,
        dry_run: options.dry_run,
        on_error: options.on_error,
        rows_total: rows,
        rows_valid: records.len() as u64,
        rows_rejected: rejected,
        rows_refused: refused,
        problems,
        problems_omitted: omitted,
        ignored_columns: plan.ignored,
        outcome: None,
    };
    Ok(Validated { records, report })
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
    let result = std::fs::read(&args.file)
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
