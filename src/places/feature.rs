//! A place as published: one GeoJSON feature shape for every route that serves places (the
//! places API, OGC API – Features, the places tiles, outreach plans), and the consular posts'
//! names in French and Haitian Creole.
//!
//! The properties are flat (strings, numbers, booleans; lists space-separated), and every
//! place has every property (empty strings where a field does not apply), as OGC clients and
//! QGIS expect: a client reading the first feature sees every column.

use geojson::feature::Id;
use geojson::{Feature, Geometry, JsonObject};
use serde::Serialize;

use super::{Category, Place};

/// The published properties of a place.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PlaceProperties {
    /// The place id (`HT-…` for consular posts).
    pub id: String,
    /// A `place_kind` code.
    pub kind: String,
    /// `consular` or `association`.
    #[schema(value_type = String)]
    pub category: Category,
    /// The name as the data give it (consular posts: in English).
    pub name: String,
    /// The name in French (associations: their own name).
    pub name_fr: String,
    /// The name in Haitian Creole (associations: their own name).
    pub name_ht: String,
    pub city: String,
    /// USPS state code.
    pub state: String,
    /// Street address (consular posts; empty for associations).
    pub address: String,
    /// ZIP code (consular posts).
    pub zip: String,
    /// How sure the address is: `high`, `medium` or `low` (consular posts).
    pub address_confidence: String,
    /// USPS codes of the states a consular post serves, space-separated.
    pub served_states: String,
    /// What the sources say of a consular post's jurisdiction.
    pub jurisdiction_note: String,
    /// ISIC sections, space-separated (associations).
    pub sectors: String,
    /// `language` codes, space-separated.
    pub languages: String,
    /// Synthetic demo data, never to be mistaken for a real organisation.
    pub is_demo: bool,
    /// Great-circle kilometres from the query point (nearest and radius queries only),
    /// rounded to the metre.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// A place's names: as given, in French, in Haitian Creole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Names {
    pub name: String,
    pub name_fr: String,
    pub name_ht: String,
}

/// The consular posts' names in French and Haitian Creole by kind (`{city}` is the post's
/// city): the one copy of these translations; the web page shows the names the server gives.
const POST_NAMES: [(&str, &str, &str); 2] = [
    (
        "embassy",
        "Ambassade de la République d’Haïti",
        "Anbasad Repiblik Ayiti",
    ),
    (
        "consulate_general",
        "Consulat général d’Haïti à {city}",
        "Konsila jeneral Ayiti nan {city}",
    ),
];

impl Place {
    /// The place's names: consular posts translated by [`POST_NAMES`]; an association's
    /// name is its own in every language.
    pub fn names(&self) -> Names {
        let (fr, ht) = POST_NAMES
            .iter()
            .find(|(kind, _, _)| *kind == self.kind)
            .map_or_else(
                || (self.name.clone(), self.name.clone()),
                |(_, fr, ht)| {
                    (
                        fr.replace("{city}", &self.city),
                        ht.replace("{city}", &self.city),
                    )
                },
            );
        Names {
            name: self.name.clone(),
            name_fr: fr,
            name_ht: ht,
        }
    }

    /// The published properties; `distance_km` from a query point when given.
    pub fn properties(&self, distance_km: Option<f64>) -> PlaceProperties {
        let post = self.post();
        let text = |f: fn(&crate::geodata::ConsularPost) -> String| post.map(f).unwrap_or_default();
        let Names {
            name,
            name_fr,
            name_ht,
        } = self.names();
        PlaceProperties {
            id: self.id.clone(),
            kind: self.kind.clone(),
            category: self.category(),
            name,
            name_fr,
            name_ht,
            city: self.city.clone(),
            state: self.state.clone(),
            address: text(|p| p.address.clone()),
            zip: text(|p| p.zip.clone()),
            address_confidence: text(|p| p.confidence.clone()),
            served_states: text(|p| p.states.join(" ")),
            jurisdiction_note: text(|p| p.jurisdiction_note.clone()),
            sectors: self.sectors.join(" "),
            languages: self.languages.join(" "),
            is_demo: self.is_demo,
            distance_km: distance_km.map(round_km),
        }
    }

    /// The place as a GeoJSON point feature (id, WGS84 longitude/latitude, the
    /// [`PlaceProperties`]).
    pub fn feature(&self, distance_km: Option<f64>) -> Feature {
        Feature {
            bbox: None,
            geometry: Some(Geometry::new_point([self.lon, self.lat])),
            id: Some(Id::String(self.id.clone())),
            properties: Some(to_object(&self.properties(distance_km))),
            foreign_members: None,
        }
    }
}

/// A flat serde struct as a JSON object (what `geojson::Feature` holds).
pub fn to_object<T: Serialize>(value: &T) -> JsonObject {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => JsonObject::new(),
    }
}

/// Kilometres rounded to the metre.
pub fn round_km(d: f64) -> f64 {
    (d * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(kind: &str, name: &str, city: &str) -> Place {
        Place {
            id: "X".into(),
            kind: kind.into(),
            name: name.into(),
            city: city.into(),
            state: "FL".into(),
            lat: 25.8,
            lon: -80.2,
            sectors: vec!["Q".into(), "P".into()],
            languages: vec!["ht".into()],
            is_demo: true,
        }
    }

    #[test]
    fn consular_posts_are_named_in_french_and_creole_and_associations_keep_their_name() {
        let n = place(
            "consulate_general",
            "Consulate General of Haiti in Miami",
            "Miami",
        )
        .names();
        assert_eq!(n.name_fr, "Consulat général d’Haïti à Miami");
        assert_eq!(n.name_ht, "Konsila jeneral Ayiti nan Miami");
        let n = place("embassy", "Embassy of the Republic of Haiti", "Washington").names();
        assert_eq!(n.name_ht, "Anbasad Repiblik Ayiti");
        let n = place("womens", "Fanm Vanyan", "Miami").names();
        assert_eq!(
            (n.name_fr.as_str(), n.name_ht.as_str()),
            ("Fanm Vanyan", "Fanm Vanyan")
        );
    }

    #[test]
    fn a_feature_is_a_point_with_flat_properties() {
        let f =
            serde_json::to_value(place("womens", "Fanm", "Miami").feature(Some(1.23456))).unwrap();
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["id"], "X");
        assert_eq!(
            f["geometry"]["coordinates"],
            serde_json::json!([-80.2, 25.8])
        );
        let p = f["properties"].as_object().unwrap();
        assert!(p.values().all(|v| !v.is_array() && !v.is_object()), "{p:?}");
        assert_eq!(p["sectors"], "Q P");
        assert_eq!(p["category"], "association");
        assert_eq!(p["address"], "");
        assert_eq!(p["distance_km"], 1.235);
    }
}
