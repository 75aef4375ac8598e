//! Writes records as a KoboToolbox-shaped CSV export (`;` delimiter, group-prefixed headers,
//! a `location` geopoint, select-multiple answers as a summary column plus 0/1 option
//! columns for `needs`), which [`import_bytes`](super::import_bytes) reads back to the same
//! records. `dyaspora demo --csv FILE` uses it.

use std::io::Write;

use crate::codes::{CodeList, CodeSet, Codebook};
use crate::record::{LocationSource, Record};

/// Header and the field it carries, in file order.
const HEADER_BEFORE_NEEDS: &[&str] = &[
    "survey/survey_round",
    "survey/collection_date",
    "survey/collection_mode",
    "consent",
    "residence/zip",
    "_location_latitude",
    "_location_longitude",
    "respondent/gender",
    "respondent/age_band",
    "respondent/education",
    "respondent/years_in_us",
    "respondent/generation",
    "respondent/department",
    "skills/occupation",
    "skills/sectors",
    "remittances/remits",
    "remittances/remit_amount_usd",
    "remittances/remit_frequency",
    "remittances/remit_channel",
    "support/needs",
];
const HEADER_AFTER_NEEDS: &[&str] = &[
    "support/difficulties",
    "support/willingness",
    "support/support_sectors",
    "community/channels",
    "community/languages",
    "community/association_member",
    "_id",
    "_uuid",
    "_submission_time",
];

/// Writes `records` as a Kobo-shaped CSV; see the module documentation.
///
/// Records are written as stored: a record located by its ZIP centroid gets its ZIP and no
/// coordinates, one located by a point gets its coordinates (in full precision, so that they
/// read back bit-identical) and its ZIP if any.
///
/// # Errors
/// When `w` fails.
pub fn write_kobo_csv(records: &[Record], w: impl Write) -> std::io::Result<()> {
    let book = Codebook::get();
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .buffer_capacity(1 << 16)
        .from_writer(w);
    let needs = book.codes(CodeList::Need);
    let needs_headers: Vec<String> = needs
        .iter()
        .map(|c| format!("support/needs/{}", c.code))
        .collect();
    out.write_record(
        HEADER_BEFORE_NEEDS
            .iter()
            .copied()
            .chain(needs_headers.iter().map(String::as_str))
            .chain(HEADER_AFTER_NEEDS.iter().copied()),
    )?;

    let mut buf = String::with_capacity(256);
    let one = |list, v: Option<u8>| v.map_or("", |i| book.code(list, i));
    let flag = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    for (i, r) in records.iter().enumerate() {
        let mut set = |out: &mut csv::Writer<_>, list, s: CodeSet| {
            buf.clear();
            for (k, code) in s.iter().enumerate() {
                if k > 0 {
                    buf.push(' ');
                }
                buf.push_str(book.code(list, code));
            }
            out.write_field(&buf)
        };
        out.write_field(&r.survey_round)?;
        out.write_field(r.collected_on.to_string())?;
        out.write_field(one(CodeList::CollectionMode, r.collection_mode))?;
        out.write_field("yes")?;
        out.write_field(r.zip.as_deref().unwrap_or(""))?;
        if r.location_source == LocationSource::Point {
            out.write_field(format!("{}", r.lat))?;
            out.write_field(format!("{}", r.lon))?;
        } else {
            out.write_field("")?;
            out.write_field("")?;
        }
        out.write_field(book.code(CodeList::Gender, r.gender))?;
        out.write_field(book.code(CodeList::AgeBand, r.age_band))?;
        out.write_field(one(CodeList::Education, r.education))?;
        out.write_field(one(CodeList::YearsInUs, r.years_in_us))?;
        out.write_field(one(CodeList::Generation, r.generation))?;
        out.write_field(one(CodeList::Department, r.department))?;
        out.write_field(one(CodeList::Occupation, r.occupation))?;
        set(&mut out, CodeList::Sector, r.sectors)?;
        out.write_field(flag(r.remits))?;
        match r.remit_amount_cents {
            Some(c) => out.write_field(format!("{}.{:02}", c / 100, c % 100))?,
            None => out.write_field("")?,
        }
        out.write_field(one(CodeList::RemitFrequency, r.remit_frequency))?;
        out.write_field(one(CodeList::RemitChannel, r.remit_channel))?;
        set(&mut out, CodeList::Need, r.needs)?;
        for k in 0..needs.len() {
            out.write_field(if r.needs.contains(k as u8) { "1" } else { "0" })?;
        }
        set(&mut out, CodeList::Difficulty, r.difficulties)?;
        set(&mut out, CodeList::Willingness, r.willingness)?;
        set(&mut out, CodeList::Sector, r.support_sectors)?;
        set(&mut out, CodeList::Channel, r.channels)?;
        set(&mut out, CodeList::Language, r.languages)?;
        out.write_field(flag(r.association_member))?;
        out.write_field((i + 1).to_string())?;
        out.write_field(&r.external_id)?;
        out.write_field(format!("{}T12:00:00", r.collected_on))?;
        out.write_record(std::iter::empty::<&[u8]>())?;
    }
    out.flush()?;
    Ok(())
}
