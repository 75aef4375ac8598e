//! What a download says about itself, whatever route made it: the map's title (the measure
//! and the filters), the extent, the source (survey rounds and period), the sample size, the
//! demo flag and the data version. The GeoJSON carries it as its `dyaspora:map` member
//! ([`map_member`]); a CSV in its CSVW metadata document ([`super::csvw`]); every file name
//! says the layer, the filters, the date and `-demo` ([`super::download_name`]).
//!
//! Everything here is already published: the methodology's figures (national counts of
//! privacy-checked layers) and the request's own parameters.

use serde_json::{json, Map, Value};

use super::LayerRequest;
use crate::aggregate::filter::Field;
use crate::aggregate::Layer;
use crate::codes::Codebook;

/// The survey behind the figures, from the methodology's published figures, and whether
/// the data are the synthetic demo set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    /// The survey rounds: `{name, count, first_month, last_month}` as the methodology says.
    pub rounds: Vec<Value>,
    /// The first and last months (`YYYY-MM`) with a published count, over every round.
    pub period: (Option<String>, Option<String>),
    /// The published national count of all respondents (`None` when suppressed).
    pub respondents: Option<u64>,
    /// Synthetic demo data (the demo places come with the demo records): file names end in
    /// `-demo` and the metadata says `"demo": true`.
    pub demo: bool,
}

impl Provenance {
    /// Reads the methodology document (`/api/v1/methodology`'s body).
    pub fn from_methodology(m: &Value, demo: bool) -> Provenance {
        let rounds: Vec<Value> = m["rounds"].as_array().cloned().unwrap_or_default();
        let mut months: Vec<&str> = rounds
            .iter()
            .flat_map(|r| [r["first_month"].as_str(), r["last_month"].as_str()])
            .flatten()
            .collect();
        months.sort_unstable();
        Provenance {
            period: (
                months.first().map(|s| s.to_string()),
                months.last().map(|s| s.to_string()),
            ),
            rounds,
            respondents: m["records"].as_u64(),
            demo,
        }
    }

    /// "dyaspora survey (2025-R1, 2026-R2), 2025-02 – 2026-11".
    pub fn source(&self) -> String {
        let names: Vec<&str> = self
            .rounds
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        let mut s = "dyaspora survey of the Haitian diaspora in the United States".to_string();
        if !names.is_empty() {
            s.push_str(&format!(" ({})", names.join(", ")));
        }
        if let (Some(a), Some(b)) = &self.period {
            s.push_str(&format!(", {a} – {b}"));
        }
        if self.demo {
            s.push_str(" — DEMONSTRATION DATA (synthetic), not survey results");
        }
        s
    }
}

/// The measure in English words (the map's title without its filters).
pub fn measure_title(req: &LayerRequest) -> String {
    let skill = req.skill.map(|s| {
        let list = crate::codes::CodeList::from_name(s.group.prefix());
        let label = list.map_or_else(
            || format!("{}", s.index),
            |l| Codebook::get().codes(l)[s.index as usize].en.clone(),
        );
        format!("{}: {label}", s.group.prefix())
    });
    match req.metric.as_str() {
        "count" => "Respondents".into(),
        "density_km2" => "Respondents per km²".into(),
        "female" => "Women respondents".into(),
        "female_share" => "Share of women among respondents".into(),
        "remitters" => "Respondents who send money home".into(),
        "remit_share" => "Share of respondents who send money home".into(),
        "female_remitters" => "Women who send money home".into(),
        "remit_total_usd" => "Remittances sent, total (US dollars a year)".into(),
        "remit_mean_usd" => "Remittances sent, mean per sender (US dollars a year)".into(),
        "remit_median_usd" => "Remittances sent, median per sender (US dollars a year)".into(),
        "skill_count" => format!("Respondents with the skill ({})", skill.unwrap_or_default()),
        "skill_share" => format!(
            "Share of respondents with the skill ({})",
            skill.unwrap_or_default()
        ),
        "skill_lq" => format!(
            "Location quotient of the skill ({})",
            skill.unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

/// The active filters in English words ("Gender: Female · Sector: Human health…"), or
/// "No filter: everyone".
pub fn filters_in_words(filters: &[(String, String)]) -> String {
    let book = Codebook::get();
    let parts: Vec<String> = filters
        .iter()
        .map(|(k, v)| {
            let coded = Field::CODED.iter().find(|(_, name, _)| name == k);
            let value = match coded {
                Some((_, _, list)) => v
                    .split(',')
                    .map(|c| {
                        book.codes(*list)
                            .iter()
                            .find(|code| code.code == c.trim())
                            .map_or_else(|| c.trim().to_string(), |code| code.en.clone())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                None => v.clone(),
            };
            let name = match k.as_str() {
                "age_band" => "Age band".to_string(),
                "from" => "From".to_string(),
                "to" => "To".to_string(),
                "round" => "Survey round".to_string(),
                other => {
                    let mut c = other.chars();
                    c.next().map_or_else(String::new, |f| {
                        f.to_uppercase().collect::<String>() + c.as_str()
                    })
                }
            };
            format!("{name}: {value}")
        })
        .collect();
    if parts.is_empty() {
        "No filter: everyone".into()
    } else {
        parts.join(" · ")
    }
}

/// The `dyaspora:map` member of a layer's GeoJSON: what the layer shows, where, from which
/// survey, how many respondents, and whether it is demo data. The web page's downloads add
/// its own texts (the headline and caption in the page's language) over these.
pub fn map_member(layer: &Layer, req: &LayerRequest, prov: &Provenance) -> Value {
    let national = layer.national_properties(&[], None);
    let filters: Map<String, Value> = req
        .filter_params
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({
        "title": measure_title(req),
        "measure": req.metric,
        "unit": layer.unit.name(),
        "filters": filters_in_words(&req.filter_params),
        "filter_params": filters,
        "extent": req.bbox,
        "source": prov.source(),
        "rounds": prov.rounds,
        "period": { "from": prov.period.0, "to": prov.period.1 },
        "sample": {
            "respondents": prov.respondents,
            "matching_filters": national.get("count").cloned().unwrap_or(Value::Null),
        },
        "demo": prov.demo,
        "data_version": layer.data_version,
        "perturbed": layer.perturbed,
        "min_count": layer.k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provenance_reads_the_methodology() {
        let m = json!({
            "records": 5000,
            "rounds": [
                {"name": "2025-R1", "count": 3000, "first_month": "2025-02", "last_month": "2025-11"},
                {"name": "2026-R2", "count": 2000, "first_month": "2026-01", "last_month": "2026-06"},
            ],
        });
        let p = Provenance::from_methodology(&m, true);
        assert_eq!(p.respondents, Some(5000));
        assert_eq!(p.period, (Some("2025-02".into()), Some("2026-06".into())));
        let s = p.source();
        assert!(s.contains("(2025-R1, 2026-R2), 2025-02 – 2026-06"), "{s}");
        assert!(s.contains("DEMONSTRATION"));
    }

    #[test]
    fn filters_read_as_words() {
        assert_eq!(filters_in_words(&[]), "No filter: everyone");
        let f = [
            ("gender".to_string(), "f".to_string()),
            ("from".to_string(), "2025-03".to_string()),
        ];
        let words = filters_in_words(&f);
        assert!(words.starts_with("Gender: Female"), "{words}");
        assert!(words.ends_with("From: 2025-03"), "{words}");
    }
}
