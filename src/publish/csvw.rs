//! The CSVW metadata of a CSV layer (W3C "Metadata Vocabulary for Tabular Data",
//! `application/csvm+json`): the CSV body stays plain for pandas, GDAL and spreadsheets, and
//! what it holds — title, filters, extent, source, survey rounds and period, sample size,
//! demo flag, data version, and each column's datatype — is in this document, which the CSV
//! response links to (`Link: <…csv-metadata.json?…>; rel="describedby"`).
//!
//! Identifiers (FIPS codes, H3 indexes) are strings: a FIPS code keeps its leading zero
//! (`01001`) when a reader follows the datatypes.

use serde_json::{json, Value};

use super::csv::{columns, hxl_tag};
use super::meta::{filters_in_words, measure_title, Provenance};
use super::LayerRequest;
use crate::aggregate::{Layer, Unit};

/// The CSVW datatype of a published column, and its format or pattern where one helps.
fn datatype(column: &str, unit: Unit) -> Value {
    match column {
        "id" => match unit {
            Unit::State => json!({"base": "string", "format": "^[0-9]{2}$"}),
            Unit::County => json!({"base": "string", "format": "^[0-9]{5}$"}),
            Unit::H3(_) => json!({"base": "string", "format": "^[0-9a-f]{15}$"}),
        },
        "name" | "suppressed" => json!("string"),
        c if c.starts_with("dominant_") => json!("string"),
        "lon" | "lat" | "density_km2" | "skill_lq" => json!("double"),
        c if c.ends_with("_share") || c.ends_with("_usd") => json!("double"),
        _ => json!("integer"),
    }
}

/// What a column holds, in English.
fn description(column: &str, unit: Unit) -> Option<&'static str> {
    Some(match column {
        "id" => match unit {
            Unit::State => "State FIPS code (2 digits, keep the leading zero)",
            Unit::County => "County FIPS code (5 digits, keep the leading zero)",
            Unit::H3(_) => "H3 cell index (hexadecimal)",
        },
        "name" => "Name of the area",
        "lon" => "Longitude of the area's centre (degrees, CRS84)",
        "lat" => "Latitude of the area's centre (degrees, CRS84)",
        "count" => "Respondents (perturbed count)",
        "density_km2" => "Respondents per square kilometre",
        "female" => "Women respondents",
        "female_share" => "Share of women (0 to 1)",
        "remitters" => "Respondents who send money home",
        "remit_share" => "Share of respondents who send money home (0 to 1)",
        "female_remitters" => "Women who send money home",
        "remit_total_usd" => "Remittances sent, total (US dollars a year)",
        "remit_mean_usd" => "Remittances sent, mean per sender (US dollars a year)",
        "remit_median_usd" => "Remittances sent, median per sender (US dollars a year)",
        "dominant_occupation" => "Most frequent occupation (ISCO-08 major group)",
        "dominant_sector" => "Most frequent sector (ISIC Rev.4 section)",
        "skill_count" => "Respondents with the skill asked for",
        "skill_share" => "Share of respondents with the skill (0 to 1)",
        "skill_lq" => "Location quotient of the skill (1 = as in the nation)",
        "suppressed" => "Columns of this row withheld by the privacy rules (space-separated)",
        "class" => "Legend class of the classified measure",
        _ => return None,
    })
}

/// A column name as CSVW allows it (letters, digits, `_`, percent-encoded otherwise).
fn column_name(c: &str) -> String {
    c.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '_' {
                ch.to_string()
            } else {
                format!("%{:02X}", ch as u32 & 0xff)
            }
        })
        .collect()
}

/// The CSVW metadata document of the CSV of `units` of `layer` (as [`super::csv::layer_csv`]
/// writes it, with or without its HXL row). `url` is the CSV's: its download name when it
/// was saved as a file (processors look for `{file}-metadata.json` beside it), or the
/// route that made it.
pub fn metadata(
    layer: &Layer,
    units: &[usize],
    req: &LayerRequest,
    prov: &Provenance,
    url: &str,
    hxl: bool,
) -> Value {
    let national = layer.national_properties(&[], None);
    let columns: Vec<Value> = columns(layer, units, req)
        .iter()
        .map(|c| {
            let mut col = json!({
                "name": column_name(c),
                "titles": if hxl { json!([c, hxl_tag(c, layer.unit)]) } else { json!(c) },
                "datatype": datatype(c, layer.unit),
                "required": matches!(c.as_str(), "id" | "name" | "lon" | "lat"),
            });
            if let Some(d) = description(c, layer.unit) {
                col["dc:description"] = json!(d);
            }
            if c == "suppressed" {
                col["separator"] = json!(" ");
            }
            if matches!(c.as_str(), "id") {
                col["propertyUrl"] = json!("schema:identifier");
            }
            col
        })
        .collect();
    let filters: serde_json::Map<String, Value> = req
        .filter_params
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let title = format!(
        "{} — {} — by {}",
        measure_title(req),
        filters_in_words(&req.filter_params),
        layer.unit.name()
    );
    json!({
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": url,
        "dc:title": if prov.demo { format!("{title} (DEMONSTRATION DATA)") } else { title },
        "dc:description": "Perturbed and suppressed aggregates of the dyaspora survey (see PRIVACY.md): an empty cell is a value withheld by the privacy rules, never a zero; counties and hexagons with too few respondents are left out.",
        "dc:source": prov.source(),
        "dc:publisher": "dyaspora",
        "dc:license": "https://creativecommons.org/licenses/by/4.0/",
        "dc:created": super::today(),
        "dc:spatial": req.bbox.map(|b| json!({
            "bbox": b,
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        })),
        "dc:temporal": { "from": prov.period.0, "to": prov.period.1 },
        "dyaspora:measure": req.metric,
        "dyaspora:unit": layer.unit.name(),
        "dyaspora:filters": filters,
        "dyaspora:rounds": prov.rounds,
        "dyaspora:sample": {
            "respondents": prov.respondents,
            "matching_filters": national.get("count").cloned().unwrap_or(Value::Null),
        },
        "dyaspora:demo": prov.demo,
        "dyaspora:data_version": layer.data_version,
        "dyaspora:min_count": layer.k,
        "dyaspora:perturbed": layer.perturbed,
        "dialect": {
            "header": true,
            "headerRowCount": if hxl { 2 } else { 1 },
            "encoding": "utf-8",
        },
        "tableSchema": {
            "columns": columns,
            "primaryKey": "id",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_codes_are_strings_and_counts_integers() {
        assert_eq!(datatype("id", Unit::County)["base"], "string");
        assert_eq!(datatype("count", Unit::County), json!("integer"));
        assert_eq!(datatype("female_share", Unit::State), json!("double"));
        assert_eq!(datatype("remit_median_usd", Unit::State), json!("double"));
        assert_eq!(datatype("need_03", Unit::H3(6)), json!("integer"));
        assert_eq!(column_name("sector_Q"), "sector_Q");
        assert_eq!(column_name("a-b"), "a%2Db");
    }
}
