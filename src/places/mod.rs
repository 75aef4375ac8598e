//! Places where the diaspora can be reached: consular posts (from geodata) and diaspora
//! associations (entered by editors; the demo ones are marked `is_demo`).
//!
//! - [`distance`]: great-circle distances (haversine, mean Earth radius 6371.0088 km);
//! - [`index`]: the R-tree over every place (bounding box, k-nearest, within a radius,
//!   filtered by kind), rebuilt from the store and swapped atomically after each change;
//! - [`feature`]: a place as published (one flat GeoJSON feature for every route) and the
//!   consular posts' names in French and Haitian Creole;
//! - [`filter`]: the filters of the places API and the OGC places collection;
//! - [`edit`]: validation of an editor's input, shared by the CLI and the API;
//! - [`outreach`]: catchments of the consular posts, coverage gaps and outreach plans, all
//!   computed from privacy-checked layers;
//! - [`cli`]: `dyaspora places list|add|update|remove`.

pub mod cli;
pub(crate) mod distance;
pub(crate) mod edit;
pub(crate) mod feature;
pub(crate) mod filter;
pub(crate) mod index;
pub mod outreach;

use serde::Serialize;

pub use cli::PlacesArgs;
pub use distance::haversine_km;
pub use feature::{round_km, Names, PlaceProperties};
pub use filter::{FilterParams, PlaceFilter};
pub use index::{Hit, KindFilter, PlaceIndex, PlaceSet};

use crate::geodata::{ConsularPost, Geodata};

pub use crate::store::Place;

/// The `place_kind` codes of consular posts; every other kind is an association.
pub const CONSULAR_KINDS: [&str; 2] = ["embassy", "consulate_general"];

/// Consular post or association: the `category` filter of the places layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Consular,
    Association,
}

impl Category {
    pub fn parse(s: &str) -> Option<Category> {
        match s {
            "consular" => Some(Category::Consular),
            "association" => Some(Category::Association),
            _ => None,
        }
    }

    pub fn of_kind(kind: &str) -> Category {
        if CONSULAR_KINDS.contains(&kind) {
            Category::Consular
        } else {
            Category::Association
        }
    }
}

impl Place {
    pub fn category(&self) -> Category {
        Category::of_kind(&self.kind)
    }

    /// A consular post of `geodata/consular_posts.csv` as a place (not editable).
    pub fn from_post(post: &ConsularPost) -> Place {
        Place {
            id: post.id.clone(),
            kind: post.kind.clone(),
            name: post.name.clone(),
            city: post.city.clone(),
            state: post.state.clone(),
            lat: post.lat,
            lon: post.lon,
            sectors: Vec::new(),
            languages: Vec::new(),
            is_demo: false,
        }
    }

    /// The geodata record of a consular post (address, jurisdiction); `None` for associations.
    pub fn post(&self) -> Option<&'static ConsularPost> {
        Geodata::get().posts.iter().find(|p| p.id == self.id)
    }
}

/// Whether `id` names a consular post of the geodata (read-only through the API and CLI).
pub fn is_post_id(id: &str) -> bool {
    Geodata::get()
        .posts
        .iter()
        .any(|p| p.id.eq_ignore_ascii_case(id))
}
