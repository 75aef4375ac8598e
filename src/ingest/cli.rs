//! The arguments of `dyaspora import`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV (`,` or `;` delimited) or XLSX file.
    pub file: PathBuf,
    /// Validate and report without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// What to do with a file that has invalid rows.
    #[arg(long, value_enum, default_value_t = OnError::Reject)]
    pub on_error: OnError,
    /// Survey round for rows that do not name one: a code (letters, digits, `_`, `.`, `-`).
    #[arg(long, default_value = "default", value_parser = round_code)]
    pub round: String,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `--round`: survey round names are codes (`ingest::validate::is_round_code`).
fn round_code(s: &str) -> Result<String, String> {
    if super::validate::is_round_code(s) {
        Ok(s.to_string())
    } else {
        Err(super::validate::round_code_problem())
    }
}

/// The policy for a file with invalid rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Write nothing if any row is invalid (the default: fix the file, import again).
    Reject,
    /// Write the valid rows, report the invalid ones (re-import after fixing adds only them).
    Skip,
}
