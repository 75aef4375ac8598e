//! How a record is laid out in the `records` table: coded answers as their position in the
//! code list (multi-select answers as a bitmask of positions), everything else as written.
//! Integers keep a row about a third of its size as code strings, which is most of an
//! import's write time. `code_values` stores which code each position means, so the file
//! reads on its own, and [`check_code_values`] refuses a program whose code lists moved.

use std::collections::HashMap;

use rusqlite::{params, Connection, Row};
use time::{format_description::well_known::Iso8601, Date};

use super::RawStatement;
use crate::codes::{CodeList, CodeSet, Codebook};
use crate::record::{LocationSource, Record};
use crate::store::StoreError;

/// The record columns, in the order [`bind_record`] binds and [`record_from_row`] reads them.
pub(super) const RECORD_COLUMNS: &str =
    "external_id, survey_round, collected_on, collection_mode, zip, lat, lon, \
    location_source, state_fips, county_fips, h3_cell, gender, age_band, education, years_in_us, \
    generation, occupation, sectors, department, support_sectors, remits, remit_amount_cents, \
    remit_frequency, remit_channel, needs, difficulties, willingness, channels, languages, \
    association_member";

/// How many columns [`RECORD_COLUMNS`] lists, i.e. how many parameters [`bind_record`] binds.
pub(super) const RECORD_FIELDS: usize = 30;

/// Schema 3: the coded `records` table (built as `records_coded`, then renamed), and the
/// meaning of the codes. The erased-ids check moves from a trigger into the batch writer,
/// the only path that inserts records: the trigger ran a sub-program for every row.
const CODED_SCHEMA: &str = r#"
DROP TRIGGER records_stay_erased;
CREATE TABLE code_values (
    list TEXT NOT NULL,
    position INTEGER NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (list, position)
) WITHOUT ROWID;
CREATE TABLE records_coded (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    batch_id INTEGER NOT NULL REFERENCES import_batches(id),
    survey_round TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    -- A coded answer is its position in code_values (list = the column's list);
    -- a multi-select answer is the bitmask of its positions (bit i = position i).
    collection_mode INTEGER,
    zip TEXT,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    location_source TEXT NOT NULL,
    state_fips TEXT NOT NULL,
    county_fips TEXT,
    h3_cell INTEGER NOT NULL,
    gender INTEGER NOT NULL,
    age_band INTEGER NOT NULL,
    education INTEGER,
    years_in_us INTEGER,
    generation INTEGER,
    occupation INTEGER,
    sectors INTEGER NOT NULL,
    department INTEGER,
    support_sectors INTEGER NOT NULL,
    remits INTEGER,
    remit_amount_cents INTEGER,
    remit_frequency INTEGER,
    remit_channel INTEGER,
    needs INTEGER NOT NULL,
    difficulties INTEGER NOT NULL,
    willingness INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    languages INTEGER NOT NULL,
    association_member INTEGER
);
"#;

/// Migration to schema 3: every stored row rewritten with coded answers, ids kept.
pub(super) fn code_the_records(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(CODED_SCHEMA)?;
    // The meaning of the numbers is committed with the numbers (opening fills it in too,
    // but a crash in between could let another program version describe them).
    check_code_values(conn)?;
    let mut read = conn.prepare(&format!(
        "SELECT id, batch_id, {RECORD_COLUMNS} FROM records ORDER BY id"
    ))?;
    let mut write = RawStatement::prepare(
        conn,
        &format!(
            "INSERT INTO records_coded (id, batch_id, {RECORD_COLUMNS}) VALUES ({})",
            placeholders(RECORD_FIELDS + 2)
        ),
    )?;
    let mut date = String::new();
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let record = record_from_text_row(row, 2)?;
        write.int(1, row.get(0)?);
        write.int(2, row.get(1)?);
        // SAFETY: `record` and `date` are not touched until `execute` returns.
        unsafe { bind_record(&mut write, 3, &record, &mut date) };
        write.execute()?;
    }
    drop(rows);
    drop(read);
    drop(write);
    conn.execute_batch("DROP TABLE records; ALTER TABLE records_coded RENAME TO records;")?;
    Ok(())
}

/// `?1, ?2, …, ?n`.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes `code_values` hold this program's code lists: positions not yet stored are added,
/// and a stored position that now means another code (or no code) is refused, since the
/// stored answers would be read as something they are not.
pub(super) fn check_code_values(conn: &Connection) -> Result<(), StoreError> {
    let book = Codebook::get();
    let stored: HashMap<(String, i64), String> = conn
        .prepare("SELECT list, position, code FROM code_values")?
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for ((list, position), code) in &stored {
        let current = CodeList::from_name(list)
            .and_then(|l| book.codes(l).get(*position as usize))
            .map(|c| c.code.as_str());
        if current != Some(code.as_str()) {
            return Err(StoreError::Corrupt(format!(
                "the database codes {list} answer {position} as {code:?}, this program as {}: \
                 its code lists changed in a way that would misread stored answers",
                current.map_or_else(|| "nothing".to_string(), |c| format!("{c:?}"))
            )));
        }
    }
    for list in CodeList::ALL {
        for (position, c) in book.codes(list).iter().enumerate() {
            if !stored.contains_key(&(list.name().to_string(), position as i64)) {
                conn.execute(
                    "INSERT INTO code_values (list, position, code) VALUES (?1, ?2, ?3)",
                    params![list.name(), position as i64, c.code],
                )
                .map_err(super::writable)?;
            }
        }
    }
    Ok(())
}

/// Binds a record's fields to parameters `first..first + RECORD_FIELDS` of an insert that
/// lists [`RECORD_COLUMNS`] in order; `date` is a buffer for the ISO date.
///
/// # Safety
/// `r` and `date` must stay alive and unchanged until the statement's next `execute` returns
/// (strings are bound without copying).
pub(super) unsafe fn bind_record(
    stmt: &mut RawStatement,
    first: i32,
    r: &Record,
    date: &mut String,
) {
    iso_date(date, r.collected_on);
    let code = |v: Option<u8>| v.map(i64::from);
    let set = |s: CodeSet| Some(i64::from(s.0));
    let values: [Value<'_>; RECORD_FIELDS] = [
        Value::Text(Some(&r.external_id)),
        Value::Text(Some(&r.survey_round)),
        Value::Text(Some(date)),
        Value::Int(code(r.collection_mode)),
        Value::Text(r.zip.as_deref()),
        Value::Real(r.lat),
        Value::Real(r.lon),
        Value::Text(Some(r.location_source.as_str())),
        Value::Text(Some(&r.state_fips)),
        Value::Text(r.county_fips.as_deref()),
        Value::Int(Some(r.h3_cell as i64)),
        Value::Int(code(Some(r.gender))),
        Value::Int(code(Some(r.age_band))),
        Value::Int(code(r.education)),
        Value::Int(code(r.years_in_us)),
        Value::Int(code(r.generation)),
        Value::Int(code(r.occupation)),
        Value::Int(set(r.sectors)),
        Value::Int(code(r.department)),
        Value::Int(set(r.support_sectors)),
        Value::Int(r.remits.map(i64::from)),
        Value::Int(r.remit_amount_cents),
        Value::Int(code(r.remit_frequency)),
        Value::Int(code(r.remit_channel)),
        Value::Int(set(r.needs)),
        Value::Int(set(r.difficulties)),
        Value::Int(set(r.willingness)),
        Value::Int(set(r.channels)),
        Value::Int(set(r.languages)),
        Value::Int(r.association_member.map(i64::from)),
    ];
    for (i, v) in (first..).zip(values) {
        match v {
            // SAFETY: the strings borrow `r` and `date`, which the caller keeps alive until
            // the statement's next execute.
            Value::Text(t) => unsafe { stmt.text(i, t) },
            Value::Int(n) => stmt.opt_int(i, n),
            Value::Real(x) => stmt.real(i, x),
        }
    }
}

enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Real(f64),
}

/// Reads a record from the columns of [`RECORD_COLUMNS`], starting at column 0.
pub(super) fn record_from_row(row: &Row<'_>) -> Result<Record, StoreError> {
    let book = Codebook::get();
    let corrupt = |what: String| StoreError::Corrupt(what);
    let one = |idx: usize, list: CodeList| -> Result<Option<u8>, StoreError> {
        let v: Option<i64> = row.get(idx)?;
        v.map(|v| match u8::try_from(v) {
            Ok(i) if usize::from(i) < book.len(list) => Ok(i),
            _ => Err(corrupt(format!("{list} position {v} is not a code"))),
        })
        .transpose()
    };
    let req = |idx: usize, list: CodeList| -> Result<u8, StoreError> {
        one(idx, list)?.ok_or_else(|| corrupt(format!("{list} is null")))
    };
    let set = |idx: usize, list: CodeList| -> Result<CodeSet, StoreError> {
        let v: i64 = row.get(idx)?;
        let codes = book.len(list);
        match u32::try_from(v) {
            Ok(bits) if codes >= 32 || bits >> codes == 0 => Ok(CodeSet(bits)),
            _ => Err(corrupt(format!("{list} bitmask {v} names no code"))),
        }
    };
    record(row, 0, &one, &req, &set)
}

/// Reads a record stored before schema 3 (code strings), from column `at` on.
fn record_from_text_row(row: &Row<'_>, at: usize) -> Result<Record, StoreError> {
    let book = Codebook::get();
    let corrupt = |what: String| StoreError::Corrupt(what);
    let one = |idx: usize, list: CodeList| -> Result<Option<u8>, StoreError> {
        let v: Option<String> = row.get(at + idx)?;
        v.map(|v| book.index(list, &v).map_err(|e| corrupt(e.to_string())))
            .transpose()
    };
    let req = |idx: usize, list: CodeList| -> Result<u8, StoreError> {
        one(idx, list)?.ok_or_else(|| corrupt(format!("{list} is null")))
    };
    let set = |idx: usize, list: CodeList| -> Result<CodeSet, StoreError> {
        let v: String = row.get(at + idx)?;
        book.parse_set(list, &v).map_err(|e| corrupt(e.to_string()))
    };
    record(row, at, &one, &req, &set)
}

/// The fields of a record from `row` (columns of [`RECORD_COLUMNS`] from `at`), the coded
/// ones read by `one` (optional), `req` (required) and `set` (multi-select), which take the
/// column's index relative to `at`.
fn record(
    row: &Row<'_>,
    at: usize,
    one: &dyn Fn(usize, CodeList) -> Result<Option<u8>, StoreError>,
    req: &dyn Fn(usize, CodeList) -> Result<u8, StoreError>,
    set: &dyn Fn(usize, CodeList) -> Result<CodeSet, StoreError>,
) -> Result<Record, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(what);
    let collected_on: String = row.get(at + 2)?;
    let location_source: String = row.get(at + 7)?;
    Ok(Record {
        external_id: row.get(at)?,
        survey_round: row.get(at + 1)?,
        collected_on: Date::parse(&collected_on, &Iso8601::DEFAULT)
            .map_err(|e| corrupt(format!("collected_on {collected_on:?}: {e}")))?,
        collection_mode: one(3, CodeList::CollectionMode)?,
        zip: row.get(at + 4)?,
        lat: row.get(at + 5)?,
        lon: row.get(at + 6)?,
        location_source: LocationSource::parse(&location_source)
            .ok_or_else(|| corrupt(format!("location_source {location_source:?}")))?,
        state_fips: row.get(at + 8)?,
        county_fips: row.get(at + 9)?,
        h3_cell: row.get::<_, i64>(at + 10)? as u64,
        gender: req(11, CodeList::Gender)?,
        age_band: req(12, CodeList::AgeBand)?,
        education: one(13, CodeList::Education)?,
        years_in_us: one(14, CodeList::YearsInUs)?,
        generation: one(15, CodeList::Generation)?,
        occupation: one(16, CodeList::Occupation)?,
        sectors: set(17, CodeList::Sector)?,
        department: one(18, CodeList::Department)?,
        support_sectors: set(19, CodeList::Sector)?,
        remits: row.get(at + 20)?,
        remit_amount_cents: row.get(at + 21)?,
        remit_frequency: one(22, CodeList::RemitFrequency)?,
        remit_channel: one(23, CodeList::RemitChannel)?,
        needs: set(24, CodeList::Need)?,
        difficulties: set(25, CodeList::Difficulty)?,
        willingness: set(26, CodeList::Willingness)?,
        channels: set(27, CodeList::Channel)?,
        languages: set(28, CodeList::Language)?,
        association_member: row.get(at + 29)?,
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
