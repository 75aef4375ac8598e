//! The column plan: a file's header row (a KoboToolbox export or plain canonical names) is
//! mapped once onto the record's fields ([`record::FIELDS`](crate::record::FIELDS)), so that
//! rows are then read by column index. The mapping is documented in `docs/IMPORT.md`.
//!
//! Rules, in order, for each header (trimmed, case-insensitive):
//! 1. group prefixes are stripped: `respondent/gender` and `a/b/gender` are `gender`;
//! 2. the last segment is a canonical field name or one of its aliases ([`ALIASES`]);
//! 3. `_<name>_latitude` / `_<name>_longitude` (any geopoint name) are a Kobo geopoint;
//! 4. `<field>/<option>` (after any group prefix) where `<field>` is a multi-select field is
//!    one 0/1 column of that option (Kobo's "one column per option" shape);
//! 5. anything else is ignored and listed in the report.
//!
//! When several columns map to the same field, the earlier alias in [`ALIASES`] wins and the
//! others are ignored; two columns with the same priority are an error (ambiguous file).

use std::collections::HashMap;

use super::IngestError;
use crate::codes::{CodeList, Codebook};
use crate::record::FIELDS;

/// Accepted names for a field, in priority order (the canonical name first). Fields not
/// listed here are matched by their canonical name only.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("external_id", &["external_id", "_uuid", "uuid"]),
    ("survey_round", &["survey_round", "round"]),
    ("collection_date", &["collection_date", "today"]),
    (
        "zip",
        &["zip", "zip_code", "zipcode", "postal_code", "postcode"],
    ),
    ("latitude", &["latitude", "lat"]),
    ("longitude", &["longitude", "lon", "lng", "long"]),
];

/// Fallback for an empty or missing collection date (Kobo's server-side timestamp).
pub const SUBMISSION_TIME_ALIASES: &[&str] = &["_submission_time", "submission_time"];

/// A column of the file: its index and its header as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Col {
    pub idx: usize,
    pub header: String,
}

/// One 0/1 column of a multi-select option (`needs/transfer_costs`).
#[derive(Clone, Debug, PartialEq)]
pub struct OptionCol {
    pub col: Col,
    /// The option as written in the header.
    pub option: String,
    /// Its index in the code list; `None` when the form has an option the codebook lacks
    /// (a row that ticks it is reported).
    pub code: Option<u8>,
}

/// The columns of one multi-select field: the space-separated summary and/or option columns.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiCols {
    pub list: CodeList,
    pub summary: Option<Col>,
    pub options: Vec<OptionCol>,
}

impl MultiCols {
    fn new(list: CodeList) -> Self {
        MultiCols {
            list,
            summary: None,
            options: Vec::new(),
        }
    }
}

/// The mapping of a header row onto the record's fields.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Number of columns of the header.
    pub width: usize,
    pub external_id: Option<Col>,
    pub survey_round: Option<Col>,
    pub collection_date: Option<Col>,
    pub submission_time: Option<Col>,
    pub collection_mode: Option<Col>,
    pub zip: Option<Col>,
    pub latitude: Option<Col>,
    pub longitude: Option<Col>,
    pub gender: Col,
    pub age_band: Col,
    pub education: Option<Col>,
    pub years_in_us: Option<Col>,
    pub generation: Option<Col>,
    pub occupation: Option<Col>,
    pub sectors: MultiCols,
    pub department: Option<Col>,
    pub support_sectors: MultiCols,
    pub remits: Option<Col>,
    pub remit_amount_usd: Option<Col>,
    pub remit_frequency: Option<Col>,
    pub remit_channel: Option<Col>,
    pub needs: MultiCols,
    pub difficulties: MultiCols,
    pub willingness: MultiCols,
    pub channels: MultiCols,
    pub languages: MultiCols,
    pub association_member: Option<Col>,
    pub consent: Col,
    /// Headers (as written) that map to no field, or lost to a higher-priority alias.
    pub ignored: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Field(&'static str),
    SubmissionTime,
    Option(&'static str, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Lat,
    Lon,
}

/// Normalises a header for matching: trimmed, lower case, without a byte-order mark.
fn normalise(header: &str) -> String {
    header.trim_start_matches('\u{feff}').trim().to_lowercase()
}

/// The canonical field a (prefix-stripped) name denotes, with its alias priority.
fn field_of(name: &str) -> Option<(&'static str, usize)> {
    for (field, aliases) in ALIASES {
        if let Some(p) = aliases.iter().position(|a| *a == name) {
            return Some((field, p));
        }
    }
    FIELDS
        .iter()
        .find(|(f, _, _)| *f == name && !ALIASES.iter().any(|(a, _)| a == f))
        .map(|(f, _, _)| (*f, 0))
}

fn multi_field(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|(f, _, multi)| *multi && *f == name)
        .map(|(f, _, _)| *f)
}

/// `_location_latitude` → ("location", Lat).
fn geopoint_of(name: &str) -> Option<(String, Axis)> {
    for (suffix, axis) in [("_latitude", Axis::Lat), ("_longitude", Axis::Lon)] {
        if let Some(base) = name.strip_suffix(suffix) {
            let base = base.trim_start_matches('_');
            if !base.is_empty() {
                return Some((base.to_string(), axis));
            }
        }
    }
    None
}

impl Plan {
    /// Maps a header row. Fails when a required column is missing or two columns claim the
    /// same field with the same priority.
    pub fn new(name: &str, headers: &[String], book: &Codebook) -> Result<Plan, IngestError> {
        // Target → (priority, column); losers go to `ignored`.
        let mut chosen: HashMap<Target, (usize, Col)> = HashMap::new();
        let mut ignored: Vec<(usize, String)> = Vec::new();
        // Geopoint name → (lat, lon) columns, in order of first appearance.
        let mut geopoints: Vec<(String, Option<Col>, Option<Col>)> = Vec::new();

        for (idx, header) in headers.iter().enumerate() {
            let header = header.trim_start_matches('\u{feff}').to_string();
            let norm = normalise(&header);
            if norm.is_empty() {
                continue;
            }
            let segments: Vec<&str> = norm.split('/').collect();
            let last = segments[segments.len() - 1];
            let col = Col {
                idx,
                header: header.clone(),
            };
            let claim = if let Some((field, prio)) = field_of(last) {
                Some((Target::Field(field), prio))
            } else if SUBMISSION_TIME_ALIASES.contains(&last) {
                Some((Target::SubmissionTime, 0))
            } else if let Some((point, axis)) = geopoint_of(last) {
                let slot = match geopoints.iter().position(|g| g.0 == point) {
                    Some(i) => i,
                    None => {
                        geopoints.push((point, None, None));
                        geopoints.len() - 1
                    }
                };
                let g = &mut geopoints[slot];
                let place = if axis == Axis::Lat {
                    &mut g.1
                } else {
                    &mut g.2
                };
                if place.is_some() {
                    ignored.push((idx, header));
                } else {
                    *place = Some(col);
                }
                continue;
            } else if segments.len() >= 2 {
                multi_field(segments[segments.len() - 2])
                    .map(|f| (Target::Option(f, last.to_string()), 0))
            } else {
                None
            };
            let Some((target, prio)) = claim else {
                ignored.push((idx, header));
                continue;
            };
            match chosen.get(&target) {
                Some((p, _)) if *p < prio => ignored.push((idx, header)),
                Some((p, other)) if *p == prio => {
                    return Err(IngestError::Unreadable {
                        name: name.to_string(),
                        reason: format!(
                            "columns {:?} and {:?} both map to {}; keep one",
                            other.header,
                            header,
                            describe(&target)
                        ),
                    });
                }
                Some(_) => {
                    let (_, loser) = chosen.insert(target, (prio, col)).expect("present");
                    ignored.push((loser.idx, loser.header));
                }
                None => {
                    chosen.insert(target, (prio, col));
                }
            }
        }

        let mut take = |field: &'static str| chosen.remove(&Target::Field(field)).map(|(_, c)| c);
        let missing = |column: &str| IngestError::MissingColumn {
            column: column.to_string(),
        };

        let mut latitude = take("latitude");
        let mut longitude = take("longitude");
        match (&latitude, &longitude) {
            (Some(_), None) => return Err(missing("longitude")),
            (None, Some(_)) => return Err(missing("latitude")),
            _ => {}
        }
        // A Kobo geopoint (the first complete one) when no explicit coordinate columns.
        for (_, lat, lon) in geopoints {
            match (lat, lon) {
                (Some(lat), Some(lon)) if latitude.is_none() => {
                    latitude = Some(lat);
                    longitude = Some(lon);
                }
                (lat, lon) => {
                    ignored.extend(lat.into_iter().chain(lon).map(|c| (c.idx, c.header)));
                }
            }
        }

        let mut plan = Plan {
            width: headers.len(),
            external_id: take("external_id"),
            survey_round: take("survey_round"),
            collection_date: take("collection_date"),
            submission_time: None,
            collection_mode: take("collection_mode"),
            zip: take("zip"),
            latitude,
            longitude,
            gender: take("gender").ok_or_else(|| missing("gender"))?,
            age_band: take("age_band").ok_or_else(|| missing("age_band"))?,
            education: take("education"),
            years_in_us: take("years_in_us"),
            generation: take("generation"),
            occupation: take("occupation"),
            sectors: MultiCols::new(CodeList::Sector),
            department: take("department"),
            support_sectors: MultiCols::new(CodeList::Sector),
            remits: take("remits"),
            remit_amount_usd: take("remit_amount_usd"),
            remit_frequency: take("remit_frequency"),
            remit_channel: take("remit_channel"),
            needs: MultiCols::new(CodeList::Need),
            difficulties: MultiCols::new(CodeList::Difficulty),
            willingness: MultiCols::new(CodeList::Willingness),
            channels: MultiCols::new(CodeList::Channel),
            languages: MultiCols::new(CodeList::Language),
            association_member: take("association_member"),
            consent: take("consent").ok_or_else(|| missing("consent"))?,
            ignored: Vec::new(),
        };
        plan.submission_time = chosen.remove(&Target::SubmissionTime).map(|(_, c)| c);
        if plan.collection_date.is_none() && plan.submission_time.is_none() {
            return Err(missing("collection_date"));
        }
        if plan.zip.is_none() && plan.latitude.is_none() {
            return Err(missing("zip (or latitude/longitude, or a Kobo geopoint)"));
        }

        // Multi-select summaries and option columns.
        let mut options: Vec<(Target, Col)> = Vec::new();
        for (target, (_, col)) in chosen {
            match target {
                Target::Field(field) => {
                    let multi = plan
                        .multi_mut(field)
                        .expect("only multi-select fields remain");
                    multi.summary = Some(col);
                }
                t @ Target::Option(..) => options.push((t, col)),
                Target::SubmissionTime => unreachable!("taken above"),
            }
        }
        options.sort_by_key(|(_, c)| c.idx);
        for (target, col) in options {
            let Target::Option(field, option) = target else {
                unreachable!()
            };
            let multi = plan
                .multi_mut(field)
                .expect("option of a multi-select field");
            let code = book.index(multi.list, &option).ok();
            let option = col
                .header
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            multi.options.push(OptionCol { col, option, code });
        }

        ignored.sort();
        plan.ignored = ignored.into_iter().map(|(_, h)| h).collect();
        Ok(plan)
    }

    fn multi_mut(&mut self, field: &str) -> Option<&mut MultiCols> {
        Some(match field {
            "sectors" => &mut self.sectors,
            "support_sectors" => &mut self.support_sectors,
            "needs" => &mut self.needs,
            "difficulties" => &mut self.difficulties,
            "willingness" => &mut self.willingness,
            "channels" => &mut self.channels,
            "languages" => &mut self.languages,
            _ => return None,
        })
    }
}

fn describe(target: &Target) -> String {
    match target {
        Target::Field(f) => format!("field {f}"),
        Target::SubmissionTime => "_submission_time".to_string(),
        Target::Option(f, o) => format!("option {o} of {f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(headers: &[&str]) -> Result<Plan, IngestError> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        Plan::new("test.csv", &headers, Codebook::get())
    }

    const BASE: &[&str] = &["consent", "gender", "age_band", "collection_date", "zip"];

    #[test]
    fn kobo_headers_map_with_group_prefixes_stripped() {
        let p = plan(&[
            "\u{feff}start",
            "consent",
            "respondent/gender",
            "grp_a/grp_b/Age_Band",
            "today",
            "residence/zip_code",
            "_location_latitude",
            "_location_longitude",
            "_location_altitude",
            "support/needs",
            "support/needs/transfer_costs",
            "support/needs/Housing",
            "support/needs/astrology",
            "needs/legal_advice",
            "_uuid",
            "_id",
            "_submission_time",
        ])
        .unwrap();
        assert_eq!(
            p.gender,
            Col {
                idx: 2,
                header: "respondent/gender".into()
            }
        );
        assert_eq!(p.age_band.idx, 3);
        assert_eq!(p.collection_date.as_ref().unwrap().header, "today");
        assert_eq!(p.zip.as_ref().unwrap().idx, 5);
        assert_eq!(p.latitude.as_ref().unwrap().header, "_location_latitude");
        assert_eq!(p.longitude.as_ref().unwrap().header, "_location_longitude");
        assert_eq!(p.needs.summary.as_ref().unwrap().idx, 9);
        let opts: Vec<(&str, Option<u8>)> = p
            .needs
            .options
            .iter()
            .map(|o| (o.option.as_str(), o.code))
            .collect();
        let book = Codebook::get();
        let ix = |c| Some(book.index(CodeList::Need, c).unwrap());
        assert_eq!(
            opts,
            vec![
                ("transfer_costs", ix("transfer_costs")),
                ("Housing", ix("housing")),
                ("astrology", None),
                ("legal_advice", ix("legal_advice"))
            ]
        );
        assert_eq!(p.external_id.as_ref().unwrap().header, "_uuid");
        assert_eq!(p.submission_time.as_ref().unwrap().idx, 16);
        assert_eq!(p.ignored, vec!["start", "_location_altitude", "_id"]);
    }

    #[test]
    fn canonical_names_beat_aliases_and_equal_claims_are_ambiguous() {
        let mut h = BASE.to_vec();
        h.extend([
            "_uuid",
            "external_id",
            "lat",
            "longitude",
            "latitude",
            "lng",
        ]);
        let p = plan(&h).unwrap();
        assert_eq!(p.external_id.unwrap().header, "external_id");
        assert_eq!(p.latitude.unwrap().header, "latitude");
        assert_eq!(p.longitude.unwrap().header, "longitude");
        assert_eq!(p.ignored, vec!["_uuid", "lat", "lng"]);

        let mut h = BASE.to_vec();
        h.push("other/gender");
        let err = plan(&h).unwrap_err().to_string();
        assert!(
            err.contains("\"gender\" and \"other/gender\" both map to field gender"),
            "{err}"
        );
    }

    #[test]
    fn explicit_coordinates_win_over_geopoints() {
        let mut h = BASE.to_vec();
        h.extend([
            "_home_latitude",
            "_home_longitude",
            "lat",
            "lon",
            "_work_latitude",
        ]);
        let p = plan(&h).unwrap();
        assert_eq!(p.latitude.unwrap().header, "lat");
        assert_eq!(
            p.ignored,
            vec!["_home_latitude", "_home_longitude", "_work_latitude"]
        );
    }

    #[test]
    fn missing_required_columns_are_named() {
        let missing = |h: &[&str]| match plan(h) {
            Err(IngestError::MissingColumn { column }) => column,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            missing(&["gender", "age_band", "collection_date", "zip"]),
            "consent"
        );
        assert_eq!(
            missing(&["consent", "age_band", "collection_date", "zip"]),
            "gender"
        );
        assert_eq!(
            missing(&["consent", "gender", "age_band", "zip"]),
            "collection_date"
        );
        assert!(missing(&["consent", "gender", "age_band", "today"]).starts_with("zip"));
        assert_eq!(
            missing(&["consent", "gender", "age_band", "today", "lat"]),
            "longitude"
        );
        // `_submission_time` alone is enough for the date; a geopoint alone for the place.
        let p = plan(&[
            "consent",
            "gender",
            "age_band",
            "_submission_time",
            "_gps_latitude",
            "_gps_longitude",
        ])
        .unwrap();
        assert!(p.collection_date.is_none() && p.submission_time.is_some());
    }
}
