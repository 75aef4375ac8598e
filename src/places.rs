//! Places where the diaspora can be reached: consular posts (from geodata) and diaspora
//! associations (entered by editors; the demo ones are marked `is_demo`).

use serde::{Deserialize, Serialize};

/// A consular post or an association. Coordinates are WGS84 degrees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Stable id, e.g. `HT-CON-MIA` or `assoc-0042`.
    pub id: String,
    /// A `place_kind` code.
    pub kind: String,
    pub name: String,
    pub city: String,
    /// USPS state code.
    pub state: String,
    pub lat: f64,
    pub lon: f64,
    /// ISIC sections the place focuses on (associations).
    #[serde(default)]
    pub sectors: Vec<String>,
    /// `language` codes the place works in.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Synthetic demo data, never to be mistaken for a real organisation.
    #[serde(default)]
    pub is_demo: bool,
}
