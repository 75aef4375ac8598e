//! Any bytes, read as an import file (CSV with any delimiter, or a spreadsheet when the
//! bytes start like one): the reader, the column plan, validation and geocoding must return
//! a report or a file-level error, never panic. Every record accepted must be valid.
#![no_main]

use dyaspora::ingest::{validate_bytes, ImportOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ImportOptions {
        on_error: dyaspora::config::OnError::Skip,
        ..ImportOptions::default()
    };
    if let Ok(v) = validate_bytes("fuzz.csv", data, &options) {
        assert_eq!(v.records.len() as u64, v.report.rows_valid);
        assert!(
            v.report.rows_valid + v.report.rows_rejected + v.report.rows_refused
                == v.report.rows_total
        );
        for r in &v.records {
            assert!(
                r.lat.is_finite() && (-90.0..=90.0).contains(&r.lat),
                "{}",
                r.lat
            );
            assert!(
                r.lon.is_finite() && (-180.0..=180.0).contains(&r.lon),
                "{}",
                r.lon
            );
            assert!(!r.external_id.is_empty());
        }
    }
});
