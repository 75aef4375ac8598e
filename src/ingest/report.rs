//! The human form of an [`ImportReport`]: a summary and an aligned table of the problems.

use std::fmt::Write;

use super::ImportReport;
use super::OnError;

/// Longest value shown in the table (longer ones are cut with `…`; the JSON has them whole).
const MAX_VALUE_CHARS: usize = 32;

fn cut(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// Renders the report as text for a terminal.
pub fn render_table(r: &ImportReport) -> String {
    let mut out = String::new();
    let sha = r.sha256.get(..12).unwrap_or(&r.sha256);
    let _ = writeln!(
        out,
        "{} (sha256 {sha}…){}",
        r.source_name,
        if r.dry_run { " — dry run" } else { "" }
    );
    let n = |v: u64| format!("{v:>9}");
    let _ = writeln!(out, "  rows      {}", n(r.rows_total));
    let _ = writeln!(out, "  valid     {}", n(r.rows_valid));
    let _ = writeln!(
        out,
        "  rejected  {}  (rows with problems{})",
        n(r.rows_rejected),
        if r.rows_rejected > 0 { ", below" } else { "" }
    );
    let _ = writeln!(
        out,
        "  refused   {}  (no consent: not imported)",
        n(r.rows_refused)
    );
    if let Some(o) = &r.outcome {
        let _ = writeln!(out, "  inserted  {}", n(o.inserted));
        let _ = writeln!(
            out,
            "  duplicate {}  (already stored: same external id)",
            n(o.duplicates)
        );
    }

    if !r.problems.is_empty() {
        let rows: Vec<[String; 4]> = r
            .problems
            .iter()
            .map(|p| {
                [
                    p.row.to_string(),
                    if p.column.is_empty() {
                        "(row)".to_string()
                    } else {
                        cut(&p.column, 40)
                    },
                    if p.value.is_empty() {
                        "(empty)".to_string()
                    } else {
                        cut(&p.value, MAX_VALUE_CHARS)
                    },
                    p.reason.clone(),
                ]
            })
            .collect();
        let head = ["ROW", "COLUMN", "VALUE", "PROBLEM"];
        let w: Vec<usize> = (0..3)
            .map(|i| {
                rows.iter()
                    .map(|r| width(&r[i]))
                    .chain([width(head[i])])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let _ = writeln!(out);
        let line = |cells: [&str; 4]| {
            format!(
                "{:>w0$}  {}  {}  {}",
                cells[0],
                pad(cells[1], w[1]),
                pad(cells[2], w[2]),
                cells[3],
                w0 = w[0]
            )
        };
        let _ = writeln!(out, "{}", line(head));
        for row in &rows {
            let _ = writeln!(out, "{}", line([&row[0], &row[1], &row[2], &row[3]]));
        }
        if r.problems_omitted > 0 {
            let _ = writeln!(
                out,
                "… and {} more problems (see --json)",
                r.problems_omitted
            );
        }
    }
    if !r.ignored_columns.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Ignored columns (no matching field): {}",
            r.ignored_columns.join(", ")
        );
    }

    let _ = writeln!(out);
    let verdict = match (&r.outcome, r.dry_run, r.rejected()) {
        (_, true, true) => format!(
            "Dry run: nothing written. The file would be rejected: {} invalid row(s) under --on-error reject.",
            r.rows_rejected
        ),
        (_, true, false) => format!("Dry run: nothing written. {} record(s) would be written.", r.rows_valid),
        (None, false, _) => format!(
            "Nothing written: {} row(s) have problems and the policy is --on-error reject. Fix them and import \
             again, or import with --on-error skip to write the {} valid row(s).",
            r.rows_rejected, r.rows_valid
        ),
        (Some(o), false, _) => {
            let skipped = if r.on_error == OnError::Skip && r.rows_rejected > 0 {
                format!(" {} invalid row(s) skipped.", r.rows_rejected)
            } else {
                String::new()
            };
            format!(
                "Written: {} new record(s), {} already present (batch {}, data version {}).{skipped}",
                o.inserted, o.duplicates, o.batch_id, o.data_version
            )
        }
    };
    let _ = writeln!(out, "{verdict}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RowProblem;
    use crate::store::BatchOutcome;

    fn report() -> ImportReport {
        ImportReport {
            source_name: "kobo.csv".into(),
            sha256: "0123456789abcdef0123".into(),
            dry_run: false,
            on_error: OnError::Reject,
            rows_total: 5,
            rows_valid: 3,
            rows_rejected: 1,
            rows_refused: 1,
            problems: vec![
                RowProblem {
                    row: 4,
                    column: "respondent/gender".into(),
                    value: "q".into(),
                    reason: "unknown".into(),
                },
                RowProblem {
                    row: 12,
                    column: "zip".into(),
                    value: "".into(),
                    reason: "required".into(),
                },
            ],
            problems_omitted: 0,
            ignored_columns: vec!["start".into(), "_id".into()],
            outcome: None,
        }
    }

    #[test]
    fn problems_are_aligned() {
        let text = render_table(&report());
        assert!(
            text.contains("ROW  COLUMN             VALUE    PROBLEM\n"),
            "{text}"
        );
        assert!(
            text.contains("  4  respondent/gender  q        unknown\n"),
            "{text}"
        );
        assert!(
            text.contains(" 12  zip                (empty)  required\n"),
            "{text}"
        );
        assert!(
            text.contains("Ignored columns (no matching field): start, _id"),
            "{text}"
        );
        assert!(
            text.contains("Nothing written: 1 row(s) have problems"),
            "{text}"
        );
    }

    #[test]
    fn written_outcome_is_summarised() {
        let mut r = report();
        r.on_error = OnError::Skip;
        r.outcome = Some(BatchOutcome {
            batch_id: 2,
            inserted: 3,
            duplicates: 0,
            data_version: 5,
        });
        let text = render_table(&r);
        assert!(text.contains("  inserted          3\n"), "{text}");
        assert!(text.contains("Written: 3 new record(s), 0 already present (batch 2, data version 5). 1 invalid row(s) skipped."), "{text}");
    }
}
