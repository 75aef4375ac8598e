//! CSV of the published layers, with an HXL hashtag row (Humanitarian Exchange Language)
//! under the header unless asked without (`hxl=0`); cells are neutralised against formula
//! injection. No comment lines: what a file holds is said by its CSVW metadata
//! ([`super::csvw`]).

use serde_json::Value;

use super::LayerRequest;
use crate::aggregate::{Layer, Unit};

/// HXL hashtag of a published column.
pub(super) fn hxl_tag(column: &str, unit: Unit) -> String {
    match column {
        "id" => match unit {
            Unit::H3(_) => "#geo+h3".into(),
            Unit::State => "#adm1+code".into(),
            Unit::County => "#adm2+code".into(),
        },
        "name" => match unit {
            Unit::H3(_) => "#geo+name".into(),
            Unit::State => "#adm1+name".into(),
            Unit::County => "#adm2+name".into(),
        },
        "lon" => "#geo+lon".into(),
        "lat" => "#geo+lat".into(),
        "count" => "#population+total".into(),
        "density_km2" => "#population+density".into(),
        "female" => "#population+f".into(),
        "female_share" => "#indicator+pct+f".into(),
        "remitters" => "#population+remitters".into(),
        "remit_share" => "#indicator+pct+remitters".into(),
        "female_remitters" => "#population+remitters+f".into(),
        "remit_total_usd" => "#value+remittances+usd+total".into(),
        "remit_mean_usd" => "#value+remittances+usd+mean".into(),
        "remit_median_usd" => "#value+remittances+usd+median".into(),
        "dominant_occupation" => "#sector+occupation+dominant".into(),
        "dominant_sector" => "#sector+isic+dominant".into(),
        "suppressed" => "#meta+suppressed".into(),
        "class" => "#meta+class".into(),
        other => {
            let (group, code) = other.split_once('_').unwrap_or((other, ""));
            let code: String = code
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("#population+{group}+code_{code}")
        }
    }
}

/// A CSV cell, neutralised against formula injection in spreadsheets.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The figure columns of a unit, in output order. An empty layer (a period or a filter that
/// nobody matches, a box with no unit) has no unit to read them from: they are those of the
/// national totals, which are the same but for the density.
fn figure_columns(layer: &Layer, units: &[usize], req: &LayerRequest) -> Vec<String> {
    if let Some(&first) = units.first() {
        return layer
            .properties(first, &req.groups, req.skill)
            .keys()
            .cloned()
            .collect();
    }
    let mut columns: Vec<String> = layer
        .national_properties(&req.groups, req.skill)
        .keys()
        .cloned()
        .collect();
    let at = columns
        .iter()
        .position(|c| c == "count")
        .map_or(0, |i| i + 1);
    columns.insert(at, "density_km2".into());
    columns
}

/// Every column of the CSV of `units`, in output order: the id, name and centre, then the
/// figures.
pub fn columns(layer: &Layer, units: &[usize], req: &LayerRequest) -> Vec<String> {
    let mut columns: Vec<String> = vec!["id".into(), "name".into(), "lon".into(), "lat".into()];
    columns.extend(figure_columns(layer, units, req));
    columns
}

/// The layer's `units` as CSV: a header row, an HXL hashtag row (when `hxl`), then one row
/// per unit (its centre in degrees, then its figures).
pub fn layer_csv(layer: &Layer, units: &[usize], req: &LayerRequest, hxl: bool) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let columns = columns(layer, units, req);
    let _ = w.write_record(&columns);
    if hxl {
        let _ = w.write_record(columns.iter().map(|c| hxl_tag(c, layer.unit)));
    }
    for &i in units {
        let p = layer.properties(i, &req.groups, req.skill);
        let (lon, lat) = layer.center(i);
        let mut row = vec![
            layer.id_string(i),
            csv_text(&layer.name(i)),
            format!("{lon:.6}"),
            format!("{lat:.6}"),
        ];
        for c in &columns[4..] {
            row.push(match p.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_text(s),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(v) => v.to_string(),
            });
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
