//! The diaspora record: minimal and gender-sensitive. No names, no immigration status, no
//! contact details. Codes are indexes into their [`CodeList`](crate::codes::CodeList)s and
//! multi-select answers are [`CodeSet`] bitsets, so a record is a few dozen bytes.

use time::Date;

use crate::codes::CodeSet;

/// The H3 resolution computed once per record at import; coarser cells derive by `parent()`.
pub const FINEST_RES: h3o::Resolution = h3o::Resolution::Nine;

/// How a record's position was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocationSource {
    /// The centroid of the record's ZIP code.
    ZipCentroid,
    /// Coordinates given with the record (e.g. a Kobo geopoint).
    Point,
}

impl LocationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationSource::ZipCentroid => "zip",
            LocationSource::Point => "point",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zip" => Some(Self::ZipCentroid),
            "point" => Some(Self::Point),
            _ => None,
        }
    }
}

/// One validated, geocoded record. Single-select codes are `u8` indexes into their lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Stable id from the source (Kobo `_uuid`), the key of idempotent re-import.
    pub external_id: String,
    pub survey_round: String,
    pub collected_on: Date,
    pub collection_mode: Option<u8>,
    pub zip: Option<String>,
    /// WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
    pub location_source: LocationSource,
    /// 2-digit state FIPS.
    pub state_fips: String,
    /// 5-digit county FIPS, when known.
    pub county_fips: Option<String>,
    /// H3 cell at [`FINEST_RES`], as its `u64` index.
    pub h3_cell: u64,
    pub gender: u8,
    pub age_band: u8,
    pub education: Option<u8>,
    pub years_in_us: Option<u8>,
    pub generation: Option<u8>,
    /// ISCO-08 major group.
    pub occupation: Option<u8>,
    /// ISIC Rev.4 sections of expertise.
    pub sectors: CodeSet,
    /// ISO 3166-2:HT department of origin.
    pub department: Option<u8>,
    /// ISIC sections in Haiti the person would like to support.
    pub support_sectors: CodeSet,
    pub remits: Option<bool>,
    /// Annual remittances in US cents (exact sums).
    pub remit_amount_cents: Option<i64>,
    pub remit_frequency: Option<u8>,
    pub remit_channel: Option<u8>,
    pub needs: CodeSet,
    pub difficulties: CodeSet,
    pub willingness: CodeSet,
    pub channels: CodeSet,
    pub languages: CodeSet,
    pub association_member: Option<bool>,
}

/// The canonical import/export column names of a record (the documented column mapping of
/// `docs/IMPORT.md` maps Kobo headers onto these). Multi-select fields are marked `true`.
pub const FIELDS: &[(&str, Option<crate::codes::CodeList>, bool)] = {
    use crate::codes::CodeList as L;
    &[
        ("external_id", None, false),
        ("survey_round", None, false),
        ("collection_date", None, false),
        ("collection_mode", Some(L::CollectionMode), false),
        ("zip", None, false),
        ("latitude", None, false),
        ("longitude", None, false),
        ("gender", Some(L::Gender), false),
        ("age_band", Some(L::AgeBand), false),
        ("education", Some(L::Education), false),
        ("years_in_us", Some(L::YearsInUs), false),
        ("generation", Some(L::Generation), false),
        ("occupation", Some(L::Occupation), false),
        ("sectors", Some(L::Sector), true),
        ("department", Some(L::Department), false),
        ("support_sectors", Some(L::Sector), true),
        ("remits", None, false),
        ("remit_amount_usd", None, false),
        ("remit_frequency", Some(L::RemitFrequency), false),
        ("remit_channel", Some(L::RemitChannel), false),
        ("needs", Some(L::Need), true),
        ("difficulties", Some(L::Difficulty), true),
        ("willingness", Some(L::Willingness), true),
        ("channels", Some(L::Channel), true),
        ("languages", Some(L::Language), true),
        ("association_member", None, false),
        ("consent", None, false),
    ]
};
