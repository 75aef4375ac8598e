//! Row-level tests of the whole pipeline (read → plan → validate → geocode), and the
//! export round trip.

use indicatif::ProgressBar;
use time::macros::date;

use super::*;
use crate::codes::{CodeList, CodeSet};
use crate::record::LocationSource;
use crate::store::SqliteStore;

const TODAY: Date = date!(2025 - 06 - 30);

fn options(on_error: OnError) -> ImportOptions {
    ImportOptions {
        on_error,
        ..ImportOptions::default()
    }
}

fn check(csv: &str) -> Validated {
    validate_with(
        "t.csv",
        csv.as_bytes(),
        &options(OnError::Skip),
        TODAY,
        &ProgressBar::hidden(),
    )
    .expect("readable")
}

fn problems(v: &Validated) -> Vec<(u64, &str, &str, &str)> {
    v.report
        .problems
        .iter()
        .map(|p| {
            (
                p.row,
                p.column.as_str(),
                p.value.as_str(),
                p.reason.as_str(),
            )
        })
        .collect()
}

const HEAD: &str = "consent;gender;age_band;collection_date;zip";

#[test]
fn a_minimal_row_is_geocoded_from_its_zip() {
    let v = check(&format!("{HEAD}\nyes;F;35-44;2024-03-05;2126\n"));
    assert_eq!(problems(&v), []);
    let r = &v.records[0];
    let z = &crate::geodata::Geodata::get().zips["02126"];
    assert_eq!(r.zip.as_deref(), Some("02126"));
    assert_eq!(
        (r.lat, r.lon, r.location_source),
        (z.lat, z.lon, LocationSource::ZipCentroid)
    );
    assert_eq!(
        (r.state_fips.as_str(), r.county_fips.as_deref()),
        ("25", Some("25025"))
    );
    assert_eq!(r.h3_cell, geocode::h3_cell(z.lat, z.lon).unwrap());
    assert_eq!(
        r.gender,
        Codebook::get().index(CodeList::Gender, "f").unwrap()
    );
    assert_eq!(r.survey_round, "default");
    assert!(r.external_id.starts_with("sha256:"));
}

#[test]
fn bad_cells_are_reported_with_row_column_and_value() {
    let csv = format!(
        "{HEAD};remit_amount_usd;remits;_submission_time\n\
         yes;f;35-44;2024-03-05;33138;12.345;yes;\n\
         yes;q;35-44;;33138;;maybe;\n\
         yes;m;35-44;;33138;;;2024-03-06T19:22:10\n\
         yes;m;;1999-12-31;123456;-1;;\n"
    );
    let v = check(&csv);
    assert_eq!(
        problems(&v),
        [
            (
                2,
                "remit_amount_usd",
                "12.345",
                "more than 2 decimals (amounts are kept to the cent)"
            ),
            (3, "collection_date", "", "required"),
            (
                3,
                "gender",
                "q",
                "unknown gender code \"q\"; valid codes: f, m, x"
            ),
            (
                3,
                "remits",
                "maybe",
                "expected yes or no (also oui/non, wi/non, true/false, 1/0)"
            ),
            (5, "collection_date", "1999-12-31", "before 2000-01-01"),
            (
                5,
                "zip",
                "123456",
                "expected a 5-digit ZIP code (or ZIP+4 like 02126-1234)"
            ),
            (5, "age_band", "", "required"),
            (5, "remit_amount_usd", "-1", "must not be negative"),
        ]
    );
    // Row 4 took its date from `_submission_time`.
    assert_eq!(v.records.len(), 1);
    assert_eq!(v.records[0].collected_on, date!(2024 - 03 - 06));
    assert_eq!((v.report.rows_total, v.report.rows_rejected), (4, 3));
}

#[test]
fn consent_is_read_first_and_refusals_leave_no_trace() {
    let csv = format!("{HEAD}\nno;q;zz;;\nnon;f;35-44;2024-03-05;33138\n;f;35-44;2024-03-05;33138\nperhaps;q;;;\n");
    let v = check(&csv);
    assert_eq!(v.report.rows_refused, 3);
    assert_eq!(v.records.len(), 0);
    // Only the unclear consent is reported, with nothing else of its row.
    assert_eq!(
        problems(&v),
        [(
            5,
            "consent",
            "perhaps",
            "expected yes or no (also oui/non, wi/non, true/false, 1/0); rows without a clear yes are not imported"
        )]
    );
}

#[test]
fn both_select_multiple_shapes_must_agree() {
    let csv = "consent;gender;age_band;today;zip;g/needs;g/needs/transfer_costs;g/needs/housing;needs/legal_advice\n\
               yes;f;35-44;2024-03-05;33138;transfer_costs housing;1;1;\n\
               yes;f;35-44;2024-03-05;33138;transfer_costs legal_advice;1;0;1\n\
               yes;f;35-44;2024-03-05;33138;transfer_costs;0;1;\n\
               yes;f;35-44;2024-03-05;33138;;1;;\n\
               yes;f;35-44;2024-03-05;33138;;0;0;0\n\
               yes;f;35-44;2024-03-05;33138;housing;;;\n\
               yes;f;35-44;2024-03-05;33138;;2;;\n";
    let v = check(csv);
    assert_eq!(
        problems(&v),
        [
            (
                4,
                "g/needs",
                "transfer_costs",
                "disagrees with the needs/… option columns (summary: transfer_costs; option columns: housing)"
            ),
            (5, "g/needs", "", "disagrees with the needs/… option columns (summary: nothing; option columns: transfer_costs)"),
            (8, "g/needs/transfer_costs", "2", "expected 1 or 0 (selected or not)"),
        ]
    );
    let book = Codebook::get();
    let sets: Vec<String> = v
        .records
        .iter()
        .map(|r| book.format_set(CodeList::Need, r.needs))
        .collect();
    assert_eq!(
        sets,
        [
            "transfer_costs housing",
            "transfer_costs legal_advice",
            "",
            "housing"
        ]
    );
}

#[test]
fn option_columns_alone_and_unknown_options() {
    let csv = "consent;gender;age_band;today;zip;languages/HT;languages/fr;languages/klingon\n\
               yes;f;35-44;2024-03-05;33138;1;1;0\n\
               yes;f;35-44;2024-03-05;33138;0;1;1\n";
    let v = check(csv);
    let book = Codebook::get();
    assert_eq!(
        book.format_set(CodeList::Language, v.records[0].languages),
        "ht fr"
    );
    assert_eq!(
        problems(&v),
        [(
            3,
            "languages/klingon",
            "1",
            "option \"klingon\" is not a language code; valid codes: ht, fr, en, es"
        )]
    );
}

#[test]
fn coordinates_win_and_fall_back_on_the_zip_state() {
    let csv = "consent;gender;age_band;today;zip;_gps_latitude;_gps_longitude\n\
               yes;f;35-44;2024-03-05;11226;25.83;-80.19\n\
               yes;f;35-44;2024-03-05;;40.64;-73.96\n\
               yes;f;35-44;2024-03-05;33138;25.80;-79.95\n\
               yes;f;35-44;2024-03-05;;25.80;-79.95\n\
               yes;f;35-44;2024-03-05;;-80.19;25.83\n\
               yes;f;35-44;2024-03-05;;NaN;-80\n\
               yes;f;35-44;2024-03-05;;25.8;\n\
               yes;f;35-44;2024-03-05;;;\n\
               yes;f;35-44;2024-03-05;00000;;\n";
    let v = check(csv);
    let placed: Vec<(&str, Option<&str>, LocationSource)> = v
        .records
        .iter()
        .map(|r| {
            (
                r.state_fips.as_str(),
                r.county_fips.as_deref(),
                r.location_source,
            )
        })
        .collect();
    assert_eq!(
        placed,
        [
            // A Brooklyn ZIP with a point in Miami: the point wins.
            ("12", Some("12086"), LocationSource::Point),
            ("36", Some("36047"), LocationSource::Point),
            // Offshore of Miami Beach, in no state polygon: the ZIP names state and county.
            ("12", Some("12086"), LocationSource::Point),
        ]
    );
    assert_eq!((v.records[2].lat, v.records[2].lon), (25.80, -79.95));
    assert_eq!(v.records[0].zip.as_deref(), Some("11226"));
    assert_eq!(
        problems(&v),
        [
            (5, "_gps_latitude", "25.80, -79.95", "the point (25.8, -79.95) is outside every US state and no ZIP code is given"),
            (
                6,
                "_gps_latitude",
                "-80.19, 25.83",
                "the point (-80.19, 25.83) is outside every US state and no ZIP code is given (are latitude and longitude swapped?)"
            ),
            (7, "_gps_latitude", "NaN", "latitude is not a finite number"),
            (8, "_gps_longitude", "", "longitude missing (latitude is given)"),
            (9, "zip", "", "a ZIP code or coordinates are required"),
            (10, "zip", "00000", "unknown ZIP code 00000"),
        ]
    );
}

#[test]
fn future_dates_and_long_values_are_rejected() {
    let long = "x".repeat(200);
    let csv = format!(
        "{HEAD};external_id;round\nyes;f;35-44;2025-07-01;33138;a;r\nyes;f;35-44;2025-06-30T23:59:59+14:00;33138;{long};r\n"
    );
    let v = check(&csv);
    let p = problems(&v);
    assert_eq!(
        p[0],
        (
            2,
            "collection_date",
            "2025-07-01",
            "in the future (today is 2025-06-30)"
        )
    );
    assert_eq!(p[1].1, "external_id");
    assert_eq!(p[1].3, "longer than 128 characters");
    assert_eq!(p.len(), 2);
}

#[test]
fn survey_rounds_are_codes() {
    let long = "r".repeat(41);
    let csv = format!(
        "{HEAD};round\n\
         yes;f;35-44;2024-03-05;33138;2025-R1\n\
         yes;f;35-44;2024-03-05;33138;\"a,b\"\n\
         yes;f;35-44;2024-03-05;33138;<b>x</b>\n\
         yes;f;35-44;2024-03-05;33138;{long}\n\
         yes;f;35-44;2024-03-05;33138;-r\n\
         yes;f;35-44;2024-03-05;33138;r 1\n\
         yes;f;35-44;2024-03-05;33138;  2026_b.3  \n"
    );
    let v = check(&csv);
    let reason = validate::round_code_problem();
    let bad = |row: u64, value: &str| (row, "round".to_string(), value.to_string(), reason.clone());
    let expected = vec![
        bad(3, "a,b"),
        bad(4, "<b>x</b>"),
        bad(5, &long),
        bad(6, "-r"),
        bad(7, "r 1"),
    ];
    let got: Vec<(u64, String, String, String)> = v
        .report
        .problems
        .iter()
        .map(|p| (p.row, p.column.clone(), p.value.clone(), p.reason.clone()))
        .collect();
    assert_eq!(got, expected);
    let rounds: Vec<&str> = v.records.iter().map(|r| r.survey_round.as_str()).collect();
    assert_eq!(rounds, ["2025-R1", "2026_b.3"]);
    assert!(validate::is_round_code(&"r".repeat(40)));
    assert!(!validate::is_round_code(""));
    assert!(!validate::is_round_code("été"));
}

#[test]
fn extra_cells_are_a_row_problem() {
    let v = check(&format!("{HEAD}\nyes;f;35-44;2024-03-05;33138;oops\n"));
    assert_eq!(
        problems(&v),
        [(2, "", "", "the row has 6 cells but the header 5 (a value containing the delimiter must be quoted)")]
    );
}

#[test]
fn comma_csv_and_reject_policy() {
    let store = SqliteStore::open_in_memory().unwrap();
    let csv = "consent,gender,age_band,collection_date,zip\nyes,f,35-44,2024-03-05,33138\nyes,q,35-44,2024-03-05,33138\n";
    let report = import_bytes(&store, "c.csv", csv.as_bytes(), &options(OnError::Reject)).unwrap();
    assert!(report.rejected() && report.outcome.is_none());
    assert_eq!(store.record_count().unwrap(), 0);
    let report = import_bytes(&store, "c.csv", csv.as_bytes(), &options(OnError::Skip)).unwrap();
    assert_eq!(report.outcome.unwrap().inserted, 1);
    let report = import_bytes(&store, "c.csv", csv.as_bytes(), &options(OnError::Skip)).unwrap();
    assert_eq!(report.outcome.unwrap().duplicates, 1);
    assert_eq!(store.record_count().unwrap(), 1);
    let dry = ImportOptions {
        dry_run: true,
        ..options(OnError::Skip)
    };
    assert!(import_bytes(&store, "c.csv", csv.as_bytes(), &dry)
        .unwrap()
        .outcome
        .is_none());
}

#[test]
fn the_kobo_export_reads_back_to_the_same_records() {
    let fixture = include_str!("../../tests/fixtures/kobo_sample.csv");
    let first = check(fixture);
    assert_eq!(first.records.len(), 21);
    // Every shape: ZIP-only, point-only, point + ZIP, sets, amounts, missing optionals.
    let mut records = first.records;
    let book = Codebook::get();
    let mut rich = records[0].clone();
    rich.external_id = "sha256:derived-looking-id".into();
    rich.survey_round = "2026-R2.b_x".into();
    let all = |list| CodeSet((1u32 << book.len(list)) - 1);
    (rich.sectors, rich.support_sectors) = (all(CodeList::Sector), CodeSet(0b1010));
    (rich.needs, rich.difficulties) = (all(CodeList::Need), all(CodeList::Difficulty));
    (rich.willingness, rich.channels) = (all(CodeList::Willingness), all(CodeList::Channel));
    rich.languages = all(CodeList::Language);
    rich.remit_amount_cents = Some(100_000_000);
    records.push(rich);
    let mut bare = records[3].clone();
    bare.external_id = "bare; with \"quotes\"".into();
    (
        bare.education,
        bare.occupation,
        bare.remits,
        bare.remit_amount_cents,
    ) = (None, None, None, None);
    (
        bare.association_member,
        bare.collection_mode,
        bare.department,
    ) = (None, None, None);
    bare.needs = CodeSet::default();
    records.push(bare);

    let mut csv = Vec::new();
    write_kobo_csv(&records, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.starts_with("survey/survey_round;survey/collection_date;"),
        "{text}"
    );
    let again = check(&text);
    assert_eq!(problems(&again), []);
    assert_eq!(again.report.ignored_columns, ["_id"]);
    assert_eq!(again.records, records);

    // And through the store: what is written is what is read back.
    let store = SqliteStore::open_in_memory().unwrap();
    let batch = NewBatch {
        source_name: "x".into(),
        sha256: "y".into(),
        rows_total: 0,
        rows_rejected: 0,
        rows_refused: 0,
    };
    let outcome = store.import_batch(&batch, &records, &|_| {}).unwrap();
    assert_eq!(
        (outcome.inserted, outcome.duplicates),
        (records.len() as u64, 0)
    );
    let mut stored = Vec::new();
    store.load_records(&mut |r| stored.push(r)).unwrap();
    assert_eq!(stored, records);
    let outcome = store.import_batch(&batch, &records, &|_| {}).unwrap();
    assert_eq!(
        (outcome.inserted, outcome.duplicates),
        (0, records.len() as u64)
    );
}

/// `n` demo records and the Kobo-shaped CSV of them (1 MiB chunks: n / 2,800 of them).
fn demo_csv(n: usize, seed: u64) -> (Vec<Record>, Vec<u8>) {
    let records = crate::demo::generate(n, seed).records;
    let mut csv = Vec::new();
    write_kobo_csv(&records, &mut csv).unwrap();
    (records, csv)
}

/// Runs the pipeline over `csv` (the `skip` policy) and hands its feed to `consume`.
fn run_over<T>(
    csv: &[u8],
    bar: &ProgressBar,
    consume: impl FnOnce(&mut dyn BatchFeed) -> Result<T, StoreError>,
) -> Result<(ImportReport, T), IngestError> {
    let options = options(OnError::Skip);
    let after_the_demo = date!(2026 - 11 - 27); // its last collection date is in June 2026
    run_pipeline(
        "big.csv",
        csv,
        &options,
        after_the_demo,
        bar,
        false,
        consume,
    )
}

/// A file of many chunks, validated in parallel and written while later chunks are still
/// being validated: the records land in file order, problem rows keep their numbers, and a
/// bad last row under the `reject` policy rolls back everything already written.
#[test]
fn a_many_chunk_file_is_written_in_order_or_not_at_all() {
    let (records, csv) = demo_csv(12_000, 3);
    let mut text = String::from_utf8(csv).unwrap();
    assert!(text.len() > 3 << 20, "several 1 MiB chunks");
    // A bad gender in the middle row and on the last row (data rows start at 2).
    let lines: Vec<&str> = text.lines().collect();
    let bad = |line: &str| line.replacen(";f;", ";q;", 1).replacen(";m;", ";q;", 1);
    let (middle, last) = (6_000, lines.len() - 1);
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[middle] = bad(lines[middle]);
    edited[last] = bad(lines[last]);
    assert!(edited[middle] != lines[middle] && edited[last] != lines[last]);
    text = edited.join("\n") + "\n";

    let store = SqliteStore::open_in_memory().unwrap();
    let report = import_bytes(
        &store,
        "big.csv",
        text.as_bytes(),
        &options(OnError::Reject),
    )
    .unwrap();
    assert!(report.rejected() && report.outcome.is_none());
    assert_eq!(
        store.record_count().unwrap(),
        0,
        "nothing of a refused file"
    );

    let report = import_bytes(&store, "big.csv", text.as_bytes(), &options(OnError::Skip)).unwrap();
    let rows: Vec<u64> = report.problems.iter().map(|p| p.row).collect();
    assert_eq!(rows, [middle as u64 + 1, last as u64 + 1]);
    assert_eq!(report.outcome.unwrap().inserted, records.len() as u64 - 2);
    let mut stored = Vec::new();
    store
        .load_records(&mut |r| stored.push(r.external_id))
        .unwrap();
    let expected: Vec<String> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| ![middle - 1, last - 1].contains(i))
        .map(|(_, r)| r.external_id.clone())
        .collect();
    assert_eq!(stored, expected, "file order");
}

/// The feed estimates a file's records from its first chunk (the store picks how to write a
/// batch from it), and asking for the estimate loses no chunk.
#[test]
fn the_feed_estimates_a_files_records_from_its_first_chunk() {
    let (records, csv) = demo_csv(12_000, 4);
    let (_, (estimate, handed)) = run_over(&csv, &ProgressBar::hidden(), |feed| {
        let estimate = feed.expected_records();
        let mut handed = Vec::new();
        while let Some(chunk) = feed.next_records() {
            handed.extend(chunk.iter().map(|r| r.external_id.clone()));
        }
        feed.finish();
        Ok((estimate, handed))
    })
    .unwrap();
    let ids: Vec<String> = records.into_iter().map(|r| r.external_id).collect();
    assert_eq!(handed, ids, "every record, in file order");
    let estimate = estimate.expect("an estimate") as f64;
    assert!((estimate / 12_000.0 - 1.0).abs() < 0.05, "{estimate}");
}

/// Validation runs at most `CHUNKS_AHEAD` chunks ahead of a consumer that does not take
/// them (the store's writer, busy), so an import's memory does not grow with its file.
#[test]
fn validation_waits_for_a_slow_consumer() {
    let (records, csv) = demo_csv(120_000, 5);
    let chunk_bytes = (1 << 20) + 1024; // a chunk is cut at the first line end after 1 MiB
    let chunks = csv.len() / chunk_bytes;
    assert!(chunks > 2 * window::CHUNKS_AHEAD, "{chunks} chunks");
    let bar = ProgressBar::hidden();
    let (_, (handed, ahead)) = run_over(&csv, &bar, |feed| {
        let mut handed = feed.next_records().map_or(0, <[Record]>::len);
        // The bar counts the bytes of the chunks validated. Wait for the window's edge,
        // then give validation time to go further, which the window must not let it do.
        let edge = (window::CHUNKS_AHEAD as u64) << 20;
        let start = std::time::Instant::now();
        while bar.position() < edge && start.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let ahead = (bar.position() as usize).div_ceil(chunk_bytes) - 1;
        while let Some(chunk) = feed.next_records() {
            handed += chunk.len();
        }
        feed.finish();
        Ok((handed, ahead))
    })
    .unwrap();
    assert_eq!(handed, records.len());
    assert!(
        ahead <= window::CHUNKS_AHEAD,
        "{ahead} chunks validated ahead"
    );
    assert!(
        ahead >= window::CHUNKS_AHEAD - 1,
        "validation goes ahead ({ahead})"
    );
}

/// A store that fails after one chunk (disk full) ends the import with its error, however
/// many chunks the file has left: the reader is not left waiting for it.
#[test]
fn a_store_failing_midway_ends_the_import() {
    let (_, csv) = demo_csv(80_000, 6);
    assert!(csv.len() > (window::CHUNKS_AHEAD + 4) << 20);
    let result = run_over(&csv, &ProgressBar::hidden(), |feed| {
        feed.next_records();
        Err::<(), _>(StoreError::NotWritable("disk full".into()))
    });
    assert!(
        matches!(result, Err(IngestError::Store(StoreError::NotWritable(_)))),
        "{:?}",
        result.err()
    );
}
