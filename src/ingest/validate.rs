//! Row validation: cells → a geocoded [`Record`], or the list of the row's problems.
//!
//! Every cell parser returns `Err(reason)`; [`validate_row`] attaches row, column and value.
//! A row whose consent is not a clear "yes" is refused before any other cell is read.

use sha2::{Digest, Sha256};
use time::{Date, Month};

use super::columns::{Col, MultiCols, Plan};
use super::geocode::{h3_cell, Geocoder};
use super::read::Row;
use super::RowProblem;
use crate::codes::{CodeList, CodeSet, Codebook, UnknownCode};
use crate::record::{LocationSource, Record};

/// Largest accepted annual remittance, in cents (USD 1,000,000).
pub const MAX_REMIT_CENTS: i64 = 100_000_000;
/// Earliest accepted collection date.
pub const MIN_DATE: Date = time::macros::date!(2000 - 01 - 01);
/// Longest accepted external id.
pub const MAX_ID_LEN: usize = 128;
/// Longest survey round name (see [`is_round_code`]).
pub const MAX_ROUND_LEN: usize = 40;

/// Whether `name` is a survey round code (`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`): a letter or digit, then up to
/// 39 letters, digits, `_`, `.` or `-`. Round names are published (the methodology lists
/// them) and name rounds in `round=` filters, whose commas separate alternatives: they are
/// codes, never free text.
pub fn is_round_code(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_ROUND_LEN
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The reason a survey round name is refused.
pub fn round_code_problem() -> String {
    format!(
        "not a survey round code: 1 to {MAX_ROUND_LEN} letters, digits, '_', '.' or '-', \
         starting with a letter or digit (e.g. 2025-R1)"
    )
}

/// What validation needs besides the row.
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub book: &'static Codebook,
    pub codes: &'a CodeIndex,
    pub geocoder: &'static Geocoder,
    /// Dates after this day are rejected as in the future.
    pub today: Date,
    pub default_round: &'a str,
}

/// The verdict on one row.
#[derive(Debug)]
pub enum RowResult {
    /// A valid record; `derived_id` when its external id was derived from its content.
    Valid {
        record: Record,
        derived_id: bool,
    },
    /// Consent not given: never stored, never reported with its content.
    Refused,
    Invalid(Vec<RowProblem>),
}

/// Parses a yes/no answer: yes/no, oui/non, wi/non (Haitian Creole), true/false, 1/0, in
/// any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = trim(value).as_bytes();
    let is = |word: &[u8]| v.eq_ignore_ascii_case(word);
    match v.len() {
        1 if v[0] == b'1' => Some(true),
        1 if v[0] == b'0' => Some(false),
        2 if is(b"wi") => Some(true),
        2 if is(b"no") => Some(false),
        3 if is(b"yes") || is(b"oui") => Some(true),
        3 if is(b"non") => Some(false),
        4 if is(b"true") => Some(true),
        5 if is(b"false") => Some(false),
        _ => None,
    }
}

/// `str::trim`, with a fast path for the usual cell that needs no trimming.
pub fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [] => s,
        [first, .., last] | [first @ last]
            if *first > b' ' && *first < 0x80 && *last > b' ' && *last < 0x80 =>
        {
            s
        }
        _ => s.trim(),
    }
}

/// Case-insensitive lookup of codes, built once per import: each list's codes are bucketed
/// by length and first letter, so a lookup compares one or two candidates.
pub struct CodeIndex {
    book: &'static Codebook,
    /// `(start, end)` in `entries` for each list × slot.
    slots: Vec<(u16, u16)>,
    entries: Vec<(&'static [u8], u8)>,
}

const SLOTS: usize = 64;

fn slot(code: &[u8]) -> usize {
    (code.len() * 31 + usize::from(code[0] | 0x20)) % SLOTS
}

impl CodeIndex {
    pub fn new(book: &'static Codebook) -> CodeIndex {
        let mut slots = Vec::with_capacity(CodeList::ALL.len() * SLOTS);
        let mut entries = Vec::new();
        for list in CodeList::ALL {
            debug_assert_eq!(slots.len(), list as usize * SLOTS);
            let codes = book.codes(list);
            for s in 0..SLOTS {
                let start = entries.len() as u16;
                for (i, c) in codes.iter().enumerate() {
                    if slot(c.code.as_bytes()) == s {
                        entries.push((c.code.as_bytes(), i as u8));
                    }
                }
                slots.push((start, entries.len() as u16));
            }
        }
        CodeIndex {
            book,
            slots,
            entries,
        }
    }

    /// The index of `value` (trimmed, any case) in `list`, like [`Codebook::index`].
    pub fn index(&self, list: CodeList, value: &str) -> Result<u8, UnknownCode> {
        self.find(list, trim(value).as_bytes())
            .ok_or_else(|| self.book.unknown(list, trim(value)))
    }

    fn find(&self, list: CodeList, v: &[u8]) -> Option<u8> {
        if v.is_empty() {
            return None;
        }
        let (start, end) = self.slots[list as usize * SLOTS + slot(v)];
        self.entries[start as usize..end as usize]
            .iter()
            .find(|(code, _)| code.len() == v.len() && code.eq_ignore_ascii_case(v))
            .map(|&(_, i)| i)
    }

    /// A space-separated multi-select answer, like [`Codebook::parse_set`].
    pub fn set(&self, list: CodeList, value: &str) -> Result<CodeSet, UnknownCode> {
        let mut set = CodeSet::default();
        if value.is_ascii() {
            for code in value.split_ascii_whitespace() {
                set.insert(
                    self.find(list, code.as_bytes())
                        .ok_or_else(|| self.book.unknown(list, code))?,
                );
            }
        } else {
            for code in value.split_whitespace() {
                set.insert(self.index(list, code)?);
            }
        }
        Ok(set)
    }
}

const BOOL_REASON: &str = "expected yes or no (also oui/non, wi/non, true/false, 1/0)";

/// Parses a US-dollar amount with at most two decimals into exact cents.
pub fn parse_cents(value: &str) -> Result<i64, String> {
    let v = value.trim();
    let lower = v.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if ["nan", "inf", "infinity"].contains(&lower.as_str()) {
        return Err("not a finite number".into());
    }
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err("expected an amount in US dollars like 150 or 150.25 (no currency sign or thousands separator)".into());
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > 2 {
        return Err("more than 2 decimals (amounts are kept to the cent)".into());
    }
    let int = int.trim_start_matches('0');
    if int.len() > 7 {
        return Err("more than USD 1,000,000".into());
    }
    let dollars: i64 = if int.is_empty() {
        0
    } else {
        int.parse().expect("digits")
    };
    let cents: i64 = format!("{frac_trimmed:0<2}").parse().expect("digits");
    let total = dollars * 100 + cents;
    if negative && total != 0 {
        return Err("must not be negative".into());
    }
    if total > MAX_REMIT_CENTS {
        return Err("more than USD 1,000,000".into());
    }
    Ok(total)
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    let b = b.get(..N)?;
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Checks the time part of an ISO date-time: `HH:MM[:SS[.fff]][Z|±HH[:MM]]`.
fn valid_time(t: &[u8]) -> bool {
    let (Some(h), Some(m)) = (digits::<2>(t), t.get(3..).and_then(digits::<2>)) else {
        return false;
    };
    if t[2] != b':' || h > 23 || m > 59 {
        return false;
    }
    let mut rest = &t[5..];
    if rest.first() == Some(&b':') {
        match digits::<2>(&rest[1..]) {
            Some(s) if s <= 60 => rest = &rest[3..],
            _ => return false,
        }
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            rest = &rest[1 + n..];
        }
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', tz @ ..] => {
            let hh = digits::<2>(tz);
            match tz.len() {
                2 => hh.is_some(),
                4 => hh.is_some() && digits::<2>(&tz[2..]).is_some(),
                5 => hh.is_some() && tz[2] == b':' && digits::<2>(&tz[3..]).is_some(),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Parses an ISO date (`2024-03-05`) or date-time (`2024-03-05T14:22:10.123-05:00`, also with
/// a space, `Z` or no offset). A date-time keeps the calendar date as written (the
/// respondent's local date), it is not converted to UTC.
pub fn parse_date(value: &str) -> Result<Date, String> {
    const EXPECTED: &str = "expected an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SS)";
    let b = value.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(EXPECTED.into());
    }
    let (Some(y), Some(m), Some(d)) = (digits::<4>(b), digits::<2>(&b[5..]), digits::<2>(&b[8..]))
    else {
        return Err(EXPECTED.into());
    };
    if b.len() > 10 && !((b[10] == b'T' || b[10] == b' ') && valid_time(&b[11..])) {
        return Err(EXPECTED.into());
    }
    let month = Month::try_from(m as u8).map_err(|_| format!("no month {m}"))?;
    Date::from_calendar_date(y as i32, month, d as u8)
        .map_err(|_| format!("no such day: {y:04}-{m:02}-{d:02}"))
}

/// Checks a collection date's range: from 2000-01-01 to `today`.
pub fn check_date(date: Date, today: Date) -> Result<Date, String> {
    if date < MIN_DATE {
        Err("before 2000-01-01".into())
    } else if date > today {
        Err(format!("in the future (today is {today})"))
    } else {
        Ok(date)
    }
}

/// Normalises a ZIP code to 5 digits: `12345`, ZIP+4 (`12345-6789`, `123456789`), and
/// 3- or 4-digit numbers whose leading zeros a spreadsheet dropped (`2139` → `02139`).
pub fn normalise_zip(value: &str) -> Result<String, String> {
    let v = value.trim();
    let main = match v.split_once('-') {
        Some((main, plus4)) if plus4.len() == 4 && plus4.bytes().all(|b| b.is_ascii_digit()) => {
            main
        }
        Some(_) => return Err("expected a 5-digit ZIP code (or ZIP+4 like 02126-1234)".into()),
        None if v.len() == 9 => &v[..5],
        None => v,
    };
    if main.is_empty() || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a 5-digit ZIP code (or ZIP+4 like 02126-1234)".into());
    }
    match main.len() {
        5 => Ok(main.to_string()),
        3 | 4 => Ok(format!("{main:0>5}")),
        _ => Err("expected a 5-digit ZIP code (or ZIP+4 like 02126-1234)".into()),
    }
}

/// Parses one coordinate in degrees within ±`limit`.
pub fn parse_degrees(value: &str, what: &str, limit: f64) -> Result<f64, String> {
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{what} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{what} is not a finite number"));
    }
    if !(-limit..=limit).contains(&v) {
        return Err(format!("{what} out of range (−{limit}…{limit} degrees)"));
    }
    Ok(v)
}

/// Collects the problems of one row.
struct Problems {
    row: u64,
    list: Vec<RowProblem>,
}

impl Problems {
    fn add(&mut self, col: &Col, value: &str, reason: impl Into<String>) {
        self.list.push(RowProblem {
            row: self.row,
            column: col.header.clone(),
            value: value.to_string(),
            reason: reason.into(),
        });
    }
}

struct RowCtx<'r, 'c> {
    row: Row<'r>,
    ctx: &'c Ctx<'c>,
    problems: Problems,
}

impl<'r> RowCtx<'r, '_> {
    fn cell(&self, col: &Col) -> &'r str {
        self.row.cell(col.idx)
    }

    /// The trimmed, non-empty cell of an optional column.
    fn opt<'p>(&self, col: &'p Option<Col>) -> Option<(&'p Col, &'r str)> {
        let col = col.as_ref()?;
        let v = trim(self.cell(col));
        (!v.is_empty()).then_some((col, v))
    }

    fn code(&mut self, col: &Option<Col>, list: CodeList) -> Option<u8> {
        let (col, v) = self.opt(col)?;
        match self.ctx.codes.index(list, v) {
            Ok(i) => Some(i),
            Err(e) => {
                self.problems.add(col, self.cell(col), e.to_string());
                None
            }
        }
    }

    fn required_code(&mut self, col: &Col, list: CodeList) -> u8 {
        let v = trim(self.cell(col));
        if v.is_empty() {
            self.problems.add(col, "", "required");
            return 0;
        }
        match self.ctx.codes.index(list, v) {
            Ok(i) => i,
            Err(e) => {
                self.problems.add(col, self.cell(col), e.to_string());
                0
            }
        }
    }

    fn boolean(&mut self, col: &Option<Col>) -> Option<bool> {
        let (col, v) = self.opt(col)?;
        let b = parse_bool(v);
        if b.is_none() {
            self.problems.add(col, self.cell(col), BOOL_REASON);
        }
        b
    }

    /// A multi-select answer from its summary column and/or its 0/1 option columns; when both
    /// are present they must agree.
    fn multi(&mut self, m: &MultiCols, name: &str) -> CodeSet {
        let book = self.ctx.book;
        let mut summary = None;
        if let Some(col) = &m.summary {
            let v = self.cell(col);
            match self.ctx.codes.set(m.list, v) {
                Ok(set) => summary = Some(set),
                Err(e) => {
                    self.problems.add(col, v, e.to_string());
                    return CodeSet::default();
                }
            }
        }
        let mut ticked = CodeSet::default();
        let mut stated = CodeSet::default();
        let mut any_option = false;
        for opt in &m.options {
            let v = trim(self.cell(&opt.col));
            if v.is_empty() {
                continue;
            }
            any_option = true;
            match (parse_bool(v), opt.code) {
                (None, _) => self.problems.add(
                    &opt.col,
                    self.cell(&opt.col),
                    "expected 1 or 0 (selected or not)",
                ),
                (Some(true), None) => {
                    let e = book.unknown(m.list, &opt.option);
                    self.problems.add(
                        &opt.col,
                        v,
                        format!(
                            "option {:?} is not a {} code; valid codes: {}",
                            opt.option,
                            m.list,
                            e.valid.join(", ")
                        ),
                    )
                }
                (Some(sel), Some(code)) => {
                    stated.insert(code);
                    if sel {
                        ticked.insert(code);
                    }
                }
                (Some(false), None) => {}
            }
        }
        match (summary, m.summary.as_ref()) {
            (Some(s), Some(col)) if any_option && (s.0 & stated.0) != ticked.0 => {
                let list = |set: CodeSet| {
                    if set.is_empty() {
                        "nothing".to_string()
                    } else {
                        book.format_set(m.list, set)
                    }
                };
                self.problems.add(
                    col,
                    self.cell(col),
                    format!(
                        "disagrees with the {name}/… option columns (summary: {}; option columns: {})",
                        list(CodeSet(s.0 & stated.0)),
                        list(ticked)
                    ),
                );
                CodeSet::default()
            }
            (Some(s), _) => CodeSet(s.0 | ticked.0),
            (None, _) => ticked,
        }
    }
}

/// Validates and geocodes one row.
pub fn validate_row(ctx: &Ctx<'_>, row: Row<'_>) -> RowResult {
    let plan = ctx.plan;
    let cell = |c: &Col| row.cell(c.idx);
    let mut r = RowCtx {
        row,
        ctx,
        problems: Problems {
            row: row.number,
            list: Vec::new(),
        },
    };

    // Consent first: without a clear yes nothing else of the row is read.
    let consent = cell(&plan.consent);
    if trim(consent).is_empty() {
        return RowResult::Refused;
    }
    match parse_bool(consent) {
        Some(true) => {}
        Some(false) => return RowResult::Refused,
        None => {
            r.problems.add(
                &plan.consent,
                consent,
                format!("{BOOL_REASON}; rows without a clear yes are not imported"),
            );
            return RowResult::Invalid(r.problems.list);
        }
    }
    if row.len() > plan.width {
        r.problems.list.push(RowProblem {
            row: row.number,
            column: String::new(),
            value: String::new(),
            reason: format!(
                "the row has {} cells but the header {} (a value containing the delimiter must be quoted)",
                row.len(),
                plan.width
            ),
        });
    }

    let external_id = match r.opt(&plan.external_id) {
        Some((col, v)) if v.len() > MAX_ID_LEN => {
            r.problems
                .add(col, v, format!("longer than {MAX_ID_LEN} characters"));
            None
        }
        Some((_, v)) => Some(v.to_string()),
        None => None,
    };
    let survey_round = match r.opt(&plan.survey_round) {
        Some((col, v)) if !is_round_code(v) => {
            r.problems.add(col, v, round_code_problem());
            String::new()
        }
        Some((_, v)) => v.to_string(),
        None => ctx.default_round.to_string(),
    };

    // Collection date, falling back to Kobo's `_submission_time`.
    let date_col = r
        .opt(&plan.collection_date)
        .or_else(|| r.opt(&plan.submission_time));
    let collected_on = match date_col {
        Some((col, v)) => match parse_date(v).and_then(|d| check_date(d, ctx.today)) {
            Ok(d) => Some(d),
            Err(reason) => {
                r.problems.add(col, cell(col), reason);
                None
            }
        },
        None => {
            let col = plan
                .collection_date
                .as_ref()
                .or(plan.submission_time.as_ref())
                .expect("checked by Plan");
            r.problems.add(col, "", "required");
            None
        }
    };
    let collection_mode = r.code(&plan.collection_mode, CodeList::CollectionMode);

    // Location: ZIP and/or coordinates.
    let mut location_ok = true;
    let zip = match r.opt(&plan.zip) {
        Some((col, v)) => match normalise_zip(v) {
            Ok(z) => match ctx.geocoder.zip(&z) {
                Some(info) => Some((z, info)),
                None => {
                    r.problems
                        .add(col, cell(col), format!("unknown ZIP code {z}"));
                    location_ok = false;
                    None
                }
            },
            Err(reason) => {
                r.problems.add(col, cell(col), reason);
                location_ok = false;
                None
            }
        },
        None => None,
    };
    let point = match (&plan.latitude, &plan.longitude) {
        (Some(lat_col), Some(lon_col)) => {
            let (lat_v, lon_v) = (trim(cell(lat_col)), trim(cell(lon_col)));
            match (lat_v.is_empty(), lon_v.is_empty()) {
                (true, true) => None,
                (false, true) => {
                    r.problems
                        .add(lon_col, "", "longitude missing (latitude is given)");
                    location_ok = false;
                    None
                }
                (true, false) => {
                    r.problems
                        .add(lat_col, "", "latitude missing (longitude is given)");
                    location_ok = false;
                    None
                }
                (false, false) => {
                    let lat = parse_degrees(lat_v, "latitude", 90.0)
                        .map_err(|e| r.problems.add(lat_col, cell(lat_col), e))
                        .ok();
                    let lon = parse_degrees(lon_v, "longitude", 180.0)
                        .map_err(|e| r.problems.add(lon_col, cell(lon_col), e))
                        .ok();
                    if lat.is_none() || lon.is_none() {
                        location_ok = false;
                    }
                    lat.zip(lon).map(|p| (p, lat_col))
                }
            }
        }
        _ => None,
    };
    let mut place = None;
    if location_ok {
        match (point, &zip) {
            (Some(((lat, lon), lat_col)), _) => match ctx.geocoder.locate(lon, lat) {
                Some(p) => {
                    // A point in no county polygon of its state takes its ZIP's county.
                    let county = p.county_fips.or_else(|| {
                        zip.as_ref()
                            .filter(|(_, z)| z.state_fips == p.state_fips)
                            .and_then(|(_, z)| z.county_fips)
                    });
                    place = Some((
                        lat,
                        lon,
                        LocationSource::Point,
                        p.state_fips,
                        county,
                        h3_cell(lat, lon),
                    ));
                }
                // Off every state polygon (coast, island): the ZIP, when given, names the state.
                None => match &zip {
                    Some((_, z)) => {
                        place = Some((
                            lat,
                            lon,
                            LocationSource::Point,
                            z.state_fips,
                            z.county_fips,
                            h3_cell(lat, lon),
                        ))
                    }
                    None => {
                        let hint = if ctx.geocoder.in_us(lat, lon) {
                            " (are latitude and longitude swapped?)"
                        } else {
                            ""
                        };
                        let value = format!(
                            "{}, {}",
                            trim(cell(lat_col)),
                            trim(cell(plan.longitude.as_ref().expect("pair")))
                        );
                        r.problems.add(lat_col, &value, format!("the point ({lat}, {lon}) is outside every US state and no ZIP code is given{hint}"));
                    }
                },
            },
            (None, Some((_, z))) => {
                place = Some((
                    z.lat,
                    z.lon,
                    LocationSource::ZipCentroid,
                    z.state_fips,
                    z.county_fips,
                    Some(z.h3_cell),
                ))
            }
            (None, None) => {
                let col = plan
                    .zip
                    .as_ref()
                    .or(plan.latitude.as_ref())
                    .expect("checked by Plan");
                r.problems
                    .add(col, "", "a ZIP code or coordinates are required");
            }
        }
    }

    let gender = r.required_code(&plan.gender, CodeList::Gender);
    let age_band = r.required_code(&plan.age_band, CodeList::AgeBand);
    let education = r.code(&plan.education, CodeList::Education);
    let years_in_us = r.code(&plan.years_in_us, CodeList::YearsInUs);
    let generation = r.code(&plan.generation, CodeList::Generation);
    let occupation = r.code(&plan.occupation, CodeList::Occupation);
    let sectors = r.multi(&plan.sectors, "sectors");
    let department = r.code(&plan.department, CodeList::Department);
    let support_sectors = r.multi(&plan.support_sectors, "support_sectors");
    let remits = r.boolean(&plan.remits);
    let remit_amount_cents = match r.opt(&plan.remit_amount_usd) {
        Some((col, v)) => match parse_cents(v) {
            Ok(c) => Some(c),
            Err(reason) => {
                r.problems.add(col, cell(col), reason);
                None
            }
        },
        None => None,
    };
    let remit_frequency = r.code(&plan.remit_frequency, CodeList::RemitFrequency);
    let remit_channel = r.code(&plan.remit_channel, CodeList::RemitChannel);
    let needs = r.multi(&plan.needs, "needs");
    let difficulties = r.multi(&plan.difficulties, "difficulties");
    let willingness = r.multi(&plan.willingness, "willingness");
    let channels = r.multi(&plan.channels, "channels");
    let languages = r.multi(&plan.languages, "languages");
    let association_member = r.boolean(&plan.association_member);

    if !r.problems.list.is_empty() {
        return RowResult::Invalid(r.problems.list);
    }
    let (
        Some(collected_on),
        Some((lat, lon, location_source, state_fips, county_fips, Some(h3_cell))),
    ) = (collected_on, place)
    else {
        unreachable!("a row without problems has a date and a place")
    };
    let derived_id = external_id.is_none();
    let mut record = Record {
        external_id: external_id.unwrap_or_default(),
        survey_round,
        collected_on,
        collection_mode,
        zip: zip.map(|(z, _)| z),
        lat,
        lon,
        location_source,
        state_fips: state_fips.to_string(),
        county_fips: county_fips.map(str::to_string),
        h3_cell,
        gender,
        age_band,
        education,
        years_in_us,
        generation,
        occupation,
        sectors,
        department,
        support_sectors,
        remits,
        remit_amount_cents,
        remit_frequency,
        remit_channel,
        needs,
        difficulties,
        willingness,
        channels,
        languages,
        association_member,
    };
    if derived_id {
        record.external_id = derived_external_id(ctx.book, &record, 0);
    }
    RowResult::Valid { record, derived_id }
}

/// The external id of a row without one: `sha256:` + the hex SHA-256 of the record's
/// normalised answers (canonical codes, ISO date, 5-digit ZIP, cents; the coordinates only
/// when given), so that the same file imported twice yields the same ids. `occurrence` counts
/// earlier rows of the file with identical answers, so that two respondents who answered
/// alike are both kept.
pub fn derived_external_id(book: &Codebook, r: &Record, occurrence: u32) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(256);
    let one = |list, v: Option<u8>| v.map_or("", |i| book.code(list, i));
    let flag = |b: Option<bool>| b.map_or("", |b| if b { "1" } else { "0" });
    let _ = write!(s, "survey_round={}\x1f", r.survey_round);
    let _ = write!(s, "collection_date={}\x1f", r.collected_on);
    let _ = write!(
        s,
        "collection_mode={}\x1f",
        one(CodeList::CollectionMode, r.collection_mode)
    );
    let _ = write!(s, "zip={}\x1f", r.zip.as_deref().unwrap_or(""));
    if r.location_source == LocationSource::Point {
        let _ = write!(s, "latitude={}\x1flongitude={}\x1f", r.lat, r.lon);
    }
    let _ = write!(s, "gender={}\x1f", book.code(CodeList::Gender, r.gender));
    let _ = write!(
        s,
        "age_band={}\x1f",
        book.code(CodeList::AgeBand, r.age_band)
    );
    let _ = write!(s, "education={}\x1f", one(CodeList::Education, r.education));
    let _ = write!(
        s,
        "years_in_us={}\x1f",
        one(CodeList::YearsInUs, r.years_in_us)
    );
    let _ = write!(
        s,
        "generation={}\x1f",
        one(CodeList::Generation, r.generation)
    );
    let _ = write!(
        s,
        "occupation={}\x1f",
        one(CodeList::Occupation, r.occupation)
    );
    let _ = write!(
        s,
        "sectors={}\x1f",
        book.format_set(CodeList::Sector, r.sectors)
    );
    let _ = write!(
        s,
        "department={}\x1f",
        one(CodeList::Department, r.department)
    );
    let _ = write!(
        s,
        "support_sectors={}\x1f",
        book.format_set(CodeList::Sector, r.support_sectors)
    );
    let _ = write!(s, "remits={}\x1f", flag(r.remits));
    let _ = write!(
        s,
        "remit_amount_cents={}\x1f",
        r.remit_amount_cents
            .map(|c| c.to_string())
            .unwrap_or_default()
    );
    let _ = write!(
        s,
        "remit_frequency={}\x1f",
        one(CodeList::RemitFrequency, r.remit_frequency)
    );
    let _ = write!(
        s,
        "remit_channel={}\x1f",
        one(CodeList::RemitChannel, r.remit_channel)
    );
    let _ = write!(s, "needs={}\x1f", book.format_set(CodeList::Need, r.needs));
    let _ = write!(
        s,
        "difficulties={}\x1f",
        book.format_set(CodeList::Difficulty, r.difficulties)
    );
    let _ = write!(
        s,
        "willingness={}\x1f",
        book.format_set(CodeList::Willingness, r.willingness)
    );
    let _ = write!(
        s,
        "channels={}\x1f",
        book.format_set(CodeList::Channel, r.channels)
    );
    let _ = write!(
        s,
        "languages={}\x1f",
        book.format_set(CodeList::Language, r.languages)
    );
    let _ = write!(s, "association_member={}", flag(r.association_member));
    if occurrence > 0 {
        let _ = write!(s, "\x1eoccurrence={occurrence}");
    }
    format!("sha256:{}", hex::encode(Sha256::digest(s.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn booleans_in_three_languages() {
        for yes in ["yes", "YES", "Oui", "wi", "true", "TRUE", "1", " y e s "] {
            assert_eq!(
                parse_bool(yes),
                if yes.contains(' ') { None } else { Some(true) },
                "{yes}"
            );
        }
        for no in ["no", "Non", "NON", "false", "0"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for bad in ["", "maybe", "2", "n", "si"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn code_index_agrees_with_the_codebook() {
        let book = Codebook::get();
        let index = CodeIndex::new(book);
        for list in CodeList::ALL {
            for (i, c) in book.codes(list).iter().enumerate() {
                assert_eq!(index.index(list, &c.code), Ok(i as u8));
                assert_eq!(
                    index.index(list, &format!(" {} ", c.code.to_uppercase())),
                    Ok(i as u8)
                );
            }
        }
        for bad in ["q", " q ", "", "ff", "é"] {
            assert_eq!(
                index.index(CodeList::Gender, bad),
                book.index(CodeList::Gender, bad)
            );
        }
        for set in [
            "whatsapp  church",
            "WhatsApp\u{a0}church ",
            "",
            "whatsapp pigeon",
        ] {
            assert_eq!(
                index.set(CodeList::Channel, set),
                book.parse_set(CodeList::Channel, set),
                "{set}"
            );
        }
        assert_eq!(trim(" a "), "a");
        assert_eq!(trim("\u{a0}a"), "a");
        assert_eq!(trim("a"), "a");
        assert_eq!(trim(" "), "");
    }

    #[test]
    fn amounts_are_exact_cents() {
        assert_eq!(parse_cents("150"), Ok(15_000));
        assert_eq!(parse_cents("150.25"), Ok(15_025));
        assert_eq!(parse_cents("150.2"), Ok(15_020));
        assert_eq!(parse_cents("0.1"), Ok(10));
        assert_eq!(parse_cents(".5"), Ok(50));
        assert_eq!(parse_cents("12."), Ok(1_200));
        assert_eq!(parse_cents("+7.50"), Ok(750));
        assert_eq!(parse_cents("19.990"), Ok(1_999));
        assert_eq!(parse_cents("0"), Ok(0));
        assert_eq!(parse_cents("-0"), Ok(0));
        assert_eq!(parse_cents("000123.45"), Ok(12_345));
        assert_eq!(parse_cents("1000000"), Ok(100_000_000));
        assert_eq!(parse_cents("1000000.00"), Ok(100_000_000));
        // 0.1 + 0.2 is not 0.3 in floating point; in cents it is.
        assert_eq!(
            parse_cents("0.1").unwrap() + parse_cents("0.2").unwrap(),
            parse_cents("0.3").unwrap()
        );
        assert_eq!(
            parse_cents("1000000.01").unwrap_err(),
            "more than USD 1,000,000"
        );
        assert_eq!(
            parse_cents("99999999999999999999").unwrap_err(),
            "more than USD 1,000,000"
        );
        assert_eq!(parse_cents("-5").unwrap_err(), "must not be negative");
        assert_eq!(
            parse_cents("1.234").unwrap_err(),
            "more than 2 decimals (amounts are kept to the cent)"
        );
        assert_eq!(parse_cents("NaN").unwrap_err(), "not a finite number");
        assert_eq!(parse_cents("-inf").unwrap_err(), "not a finite number");
        assert_eq!(parse_cents("Infinity").unwrap_err(), "not a finite number");
        for bad in ["", ".", "$150", "1,500", "1e3", "12.5.1", "abc", "1 000"] {
            assert!(
                parse_cents(bad)
                    .unwrap_err()
                    .starts_with("expected an amount"),
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_and_kobo_datetimes() {
        assert_eq!(parse_date("2024-03-05"), Ok(date!(2024 - 03 - 05)));
        assert_eq!(parse_date(" 2024-03-05 "), Ok(date!(2024 - 03 - 05)));
        for dt in [
            "2024-03-05T14:22:10.123-05:00",
            "2024-03-05T23:59:59.999+01:00",
            "2024-03-05T14:22:10",
            "2024-03-05T14:22:10Z",
            "2024-03-05 14:22",
            "2024-03-05T14:22:10-0500",
            "2024-03-05T14:22:10+05",
        ] {
            // The calendar date as written, not converted to UTC.
            assert_eq!(parse_date(dt), Ok(date!(2024 - 03 - 05)), "{dt}");
        }
        assert_eq!(
            parse_date("2024-02-30").unwrap_err(),
            "no such day: 2024-02-30"
        );
        assert_eq!(parse_date("2024-13-01").unwrap_err(), "no month 13");
        for bad in [
            "05/03/2024",
            "2024-3-5",
            "20240305",
            "2024-03-05T25:00",
            "2024-03-05T14:22:10+5",
            "2024-03-05x",
            "",
        ] {
            assert!(
                parse_date(bad)
                    .unwrap_err()
                    .starts_with("expected an ISO date"),
                "{bad}"
            );
        }
        let today = date!(2025 - 06 - 30);
        assert_eq!(
            check_date(date!(2025 - 06 - 30), today),
            Ok(date!(2025 - 06 - 30))
        );
        assert_eq!(
            check_date(date!(2000 - 01 - 01), today),
            Ok(date!(2000 - 01 - 01))
        );
        assert_eq!(
            check_date(date!(2025 - 07 - 01), today).unwrap_err(),
            "in the future (today is 2025-06-30)"
        );
        assert_eq!(
            check_date(date!(1999 - 12 - 31), today).unwrap_err(),
            "before 2000-01-01"
        );
    }

    #[test]
    fn zip_forms() {
        assert_eq!(normalise_zip("02126").unwrap(), "02126");
        assert_eq!(normalise_zip(" 33138 ").unwrap(), "33138");
        assert_eq!(normalise_zip("02126-1234").unwrap(), "02126");
        assert_eq!(normalise_zip("021261234").unwrap(), "02126");
        assert_eq!(normalise_zip("2126").unwrap(), "02126");
        assert_eq!(normalise_zip("2126-1234").unwrap(), "02126");
        assert_eq!(normalise_zip("601").unwrap(), "00601");
        for bad in [
            "1234567", "12", "abcde", "12345-12", "12 345", "-1234", "33138.0",
        ] {
            assert!(normalise_zip(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn degrees_are_finite_and_in_range() {
        assert_eq!(parse_degrees("25.83", "latitude", 90.0), Ok(25.83));
        assert_eq!(parse_degrees("-80.19", "longitude", 180.0), Ok(-80.19));
        assert_eq!(
            parse_degrees("91", "latitude", 90.0).unwrap_err(),
            "latitude out of range (−90…90 degrees)"
        );
        assert_eq!(
            parse_degrees("NaN", "latitude", 90.0).unwrap_err(),
            "latitude is not a finite number"
        );
        assert_eq!(
            parse_degrees("inf", "longitude", 180.0).unwrap_err(),
            "longitude is not a finite number"
        );
        assert_eq!(
            parse_degrees("25,83", "latitude", 90.0).unwrap_err(),
            "latitude is not a number"
        );
    }
}
