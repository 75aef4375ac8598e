//! Editors' changes to the associations, shared by the CLI and the API: parse and validate
//! the input at the boundary, then write through the store. Consular posts come from
//! geodata and are read-only here.
//!
//! Who may edit is decided by the caller (the API's editor role); nothing here trusts the
//! input: codes are checked against the codebook, coordinates must be finite, in range and
//! in (or next to) a US state, text is trimmed and bounded.

use geo::BoundingRect;
use serde::Deserialize;

use super::{is_post_id, Category, Place};
use crate::codes::{CodeList, Codebook};
use crate::geodata::Geodata;
use crate::store::{Store, StoreError};

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest city accepted, in characters.
pub const MAX_CITY_CHARS: usize = 100;
/// How far (degrees) outside its state's bounding box a point given with an explicit
/// `state` may lie: the 1:10m state outlines cut some piers, keys and barrier islands.
const STATE_SLACK_DEG: f64 = 0.25;

/// An editor's description of an association, before validation. Every field is optional
/// here so that a missing one is reported by name, like an invalid one.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    pub id: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub city: Option<String>,
    /// USPS code; derived from the coordinates when absent.
    pub state: Option<String>,
    /// Degrees north, −90 to 90.
    pub lat: Option<f64>,
    /// Degrees east, −180 to 180 (US places are negative).
    pub lon: Option<f64>,
    #[serde(default)]
    pub sectors: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub is_demo: bool,
}

impl From<&Place> for PlaceInput {
    fn from(p: &Place) -> PlaceInput {
        PlaceInput {
            id: Some(p.id.clone()),
            kind: Some(p.kind.clone()),
            name: Some(p.name.clone()),
            city: Some(p.city.clone()),
            state: Some(p.state.clone()),
            lat: Some(p.lat),
            lon: Some(p.lon),
            sectors: p.sectors.clone(),
            languages: p.languages.clone(),
            is_demo: p.is_demo,
        }
    }
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// 422, naming the field (and the valid codes when it is a code).
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: String,
        valid: Option<Vec<String>>,
    },
    /// 409: consular posts are read-only.
    #[error("{0} is a consular post; posts come from geodata and cannot be changed here")]
    ReadOnly(String),
    /// 409.
    #[error("a place with id {0:?} already exists")]
    Exists(String),
    /// 404.
    #[error("place {0:?} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PlaceError {
    PlaceError::Invalid {
        field,
        reason: reason.into(),
        valid: None,
    }
}

/// Checks an association and returns it in canonical form, with id `id`.
///
/// # Errors
/// [`PlaceError::Invalid`] naming the first offending field.
pub fn validate(input: &PlaceInput, id: &str) -> Result<Place, PlaceError> {
    let book = Codebook::get();
    check_id(id)?;
    let kind = input
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid("kind", "required"))?;
    let association_kinds = || {
        book.codes(CodeList::PlaceKind)
            .iter()
            .filter(|c| Category::of_kind(&c.code) == Category::Association)
            .map(|c| c.code.clone())
            .collect::<Vec<_>>()
    };
    let kind = match book.index(CodeList::PlaceKind, kind) {
        Ok(i) if Category::of_kind(book.code(CodeList::PlaceKind, i)) == Category::Association => {
            book.code(CodeList::PlaceKind, i).to_string()
        }
        Ok(_) => {
            return Err(PlaceError::Invalid {
                field: "kind",
                reason: "consular posts come from geodata; give an association kind".into(),
                valid: Some(association_kinds()),
            })
        }
        Err(_) => {
            return Err(PlaceError::Invalid {
                field: "kind",
                reason: format!("{kind:?} is not a place_kind code"),
                valid: Some(association_kinds()),
            })
        }
    };
    let name = text("name", input.name.as_deref().unwrap_or(""), MAX_NAME_CHARS)?;
    if name.is_empty() {
        return Err(invalid("name", "required, and not blank"));
    }
    let city = text("city", input.city.as_deref().unwrap_or(""), MAX_CITY_CHARS)?;
    let lat = input
        .lat
        .ok_or_else(|| invalid("lat", "required (degrees north, −90 to 90)"))?;
    let lon = input
        .lon
        .ok_or_else(|| invalid("lon", "required (degrees east, −180 to 180)"))?;
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            "lat",
            format!("{lat} is not a latitude (−90 to 90)"),
        ));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            "lon",
            format!("{lon} is not a longitude (−180 to 180)"),
        ));
    }
    let state = locate_state(input.state.as_deref(), lon, lat)?;
    let sectors = codes("sectors", CodeList::Sector, &input.sectors)?;
    let languages = codes("languages", CodeList::Language, &input.languages)?;
    Ok(Place {
        id: id.to_string(),
        kind,
        name,
        city,
        state,
        lat,
        lon,
        sectors,
        languages,
        is_demo: input.is_demo,
    })
}

fn check_id(id: &str) -> Result<(), PlaceError> {
    let ok = (1..=64).contains(&id.len())
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "id",
            "1 to 64 characters: letters, digits, '-', '_' or '.', starting with a letter or digit",
        ))
    }
}

/// Trimmed text of at most `max` characters, without control characters.
fn text(field: &'static str, s: &str, max: usize) -> Result<String, PlaceError> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "control characters (line breaks, tabs…) are not allowed",
        ));
    }
    Ok(s.to_string())
}

/// Canonical codes of `list`, without repeats, in the order given.
fn codes(field: &'static str, list: CodeList, given: &[String]) -> Result<Vec<String>, PlaceError> {
    let book = Codebook::get();
    let mut out: Vec<String> = Vec::new();
    for code in given.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let i = book.index(list, code).map_err(|e| PlaceError::Invalid {
            field,
            reason: format!("{code:?} is not a {list} code"),
            valid: Some(e.valid),
        })?;
        let canonical = book.code(list, i).to_string();
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out)
}

/// The USPS code of the place: the state containing the point, which must agree with the
/// `state` given; a point in no state outline is accepted only with an explicit `state`
/// whose bounding box (plus a small margin) holds it.
fn locate_state(given: Option<&str>, lon: f64, lat: f64) -> Result<String, PlaceError> {
    let geo = Geodata::get();
    let given = given
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty());
    let given_area = match &given {
        None => None,
        Some(s) => Some(geo.state_by_postal(s).ok_or_else(|| PlaceError::Invalid {
            field: "state",
            reason: format!("{s:?} is not a USPS state code of the geodata"),
            valid: Some(geo.states.iter().map(|a| a.parent.clone()).collect()),
        })?),
    };
    match (geo.state_at(lon, lat), given_area) {
        (Some(found), None) => Ok(found.parent.clone()),
        (Some(found), Some(g)) if found.parent == g.parent => Ok(found.parent.clone()),
        (Some(found), Some(g)) => Err(invalid(
            "state",
            format!("the point (lon {lon}, lat {lat}) lies in {}, not {}; check the state or the coordinates", found.parent, g.parent),
        )),
        (None, Some(g)) => {
            let near = g.geometry.bounding_rect().is_some_and(|r| {
                lon >= r.min().x - STATE_SLACK_DEG
                    && lon <= r.max().x + STATE_SLACK_DEG
                    && lat >= r.min().y - STATE_SLACK_DEG
                    && lat <= r.max().y + STATE_SLACK_DEG
            });
            if near {
                Ok(g.parent.clone())
            } else {
                Err(invalid("lat", format!("the point (lon {lon}, lat {lat}) is far from {}", g.parent)))
            }
        }
        (None, None) => Err(invalid(
            "lat",
            format!(
                "the point (lon {lon}, lat {lat}) is in no US state; check the order and signs \
                 (US longitudes are negative), or give `state` for a point on the coast"
            ),
        )),
    }
}

/// A fresh id for a new association: `assoc-` and 12 random hex digits.
pub fn new_id() -> String {
    format!("assoc-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Adds an association; its id is `input.id` or a fresh one.
///
/// # Errors
/// Invalid input, an id already taken (or a post's), a store failure.
pub fn create(store: &dyn Store, input: &PlaceInput) -> Result<Place, PlaceError> {
    let id = input
        .id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(new_id, str::to_string);
    let place = validate(input, &id)?;
    if is_post_id(&id) || store.places()?.iter().any(|p| p.id == id) {
        return Err(PlaceError::Exists(id));
    }
    store.upsert_places(std::slice::from_ref(&place))?;
    Ok(place)
}

/// Replaces association `id` whole with `input` (whose `id`, if given, must be `id`).
///
/// # Errors
/// A post's id, an unknown id, invalid input, a store failure.
pub fn replace(store: &dyn Store, id: &str, input: &PlaceInput) -> Result<Place, PlaceError> {
    if is_post_id(id) {
        return Err(PlaceError::ReadOnly(id.to_string()));
    }
    if input.id.as_deref().is_some_and(|given| given.trim() != id) {
        return Err(invalid(
            "id",
            "differs from the id in the path; ids cannot be changed",
        ));
    }
    if !store.places()?.iter().any(|p| p.id == id) {
        return Err(PlaceError::NotFound(id.to_string()));
    }
    let place = validate(input, id)?;
    store.upsert_places(std::slice::from_ref(&place))?;
    Ok(place)
}

/// Removes association `id`.
///
/// # Errors
/// A post's id, an unknown id, a store failure.
pub fn remove(store: &dyn Store, id: &str) -> Result<(), PlaceError> {
    if is_post_id(id) {
        return Err(PlaceError::ReadOnly(id.to_string()));
    }
    if store.delete_place(id)? {
        Ok(())
    } else {
        Err(PlaceError::NotFound(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn input() -> PlaceInput {
        PlaceInput {
            kind: Some("womens".into()),
            name: Some("  Fanm Vanyan Test  ".into()),
            city: Some("Miami".into()),
            lat: Some(25.83),
            lon: Some(-80.19),
            sectors: vec!["q".into(), "P".into(), "Q".into()],
            languages: vec!["ht".into()],
            ..PlaceInput::default()
        }
    }

    fn field_of(e: PlaceError) -> &'static str {
        match e {
            PlaceError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_association_is_trimmed_canonicalised_and_located() {
        let p = validate(&input(), "assoc-1").unwrap();
        assert_eq!(p.name, "Fanm Vanyan Test");
        assert_eq!(p.state, "FL");
        assert_eq!(p.sectors, ["Q", "P"]);
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases: Vec<(&str, PlaceInput, &str)> = vec![
            (
                "missing kind",
                PlaceInput {
                    kind: None,
                    ..input()
                },
                "kind",
            ),
            (
                "consular kind",
                PlaceInput {
                    kind: Some("embassy".into()),
                    ..input()
                },
                "kind",
            ),
            (
                "unknown kind",
                PlaceInput {
                    kind: Some("club".into()),
                    ..input()
                },
                "kind",
            ),
            (
                "blank name",
                PlaceInput {
                    name: Some("   ".into()),
                    ..input()
                },
                "name",
            ),
            (
                "long name",
                PlaceInput {
                    name: Some("x".repeat(201)),
                    ..input()
                },
                "name",
            ),
            (
                "latitude out of range",
                PlaceInput {
                    lat: Some(95.0),
                    ..input()
                },
                "lat",
            ),
            (
                "longitude not a number",
                PlaceInput {
                    lon: Some(f64::NAN),
                    ..input()
                },
                "lon",
            ),
            (
                "swapped coordinates",
                PlaceInput {
                    lat: Some(-80.19),
                    lon: Some(25.83),
                    ..input()
                },
                "lat",
            ),
            (
                "wrong state",
                PlaceInput {
                    state: Some("NY".into()),
                    ..input()
                },
                "state",
            ),
            (
                "unknown state",
                PlaceInput {
                    state: Some("ZZ".into()),
                    ..input()
                },
                "state",
            ),
            (
                "unknown sector",
                PlaceInput {
                    sectors: vec!["ZZ".into()],
                    ..input()
                },
                "sectors",
            ),
            (
                "unknown language",
                PlaceInput {
                    languages: vec!["xx".into()],
                    ..input()
                },
                "languages",
            ),
        ];
        for (what, case, field) in cases {
            assert_eq!(
                field_of(validate(&case, "assoc-1").unwrap_err()),
                field,
                "{what}"
            );
        }
        assert_eq!(field_of(validate(&input(), "bad id!").unwrap_err()), "id");
        assert!(validate(
            &PlaceInput {
                name: Some("é".repeat(200)),
                ..input()
            },
            "a"
        )
        .is_ok());
    }

    #[test]
    fn posts_are_read_only_and_ids_unique() {
        let store = SqliteStore::open_in_memory().unwrap();
        let p = create(&store, &input()).unwrap();
        assert!(p.id.starts_with("assoc-"));
        let again = PlaceInput {
            id: Some(p.id.clone()),
            ..input()
        };
        assert!(matches!(create(&store, &again), Err(PlaceError::Exists(_))));
        let post = PlaceInput {
            id: Some("HT-CON-MIA".into()),
            ..input()
        };
        assert!(matches!(create(&store, &post), Err(PlaceError::Exists(_))));
        assert!(matches!(
            replace(&store, "HT-CON-MIA", &input()),
            Err(PlaceError::ReadOnly(_))
        ));
        assert!(matches!(
            remove(&store, "HT-EMB-WAS"),
            Err(PlaceError::ReadOnly(_))
        ));
        assert!(matches!(
            replace(&store, "nope", &input()),
            Err(PlaceError::NotFound(_))
        ));
        let renamed = replace(
            &store,
            &p.id,
            &PlaceInput {
                name: Some("New".into()),
                ..input()
            },
        )
        .unwrap();
        assert_eq!(store.places().unwrap(), vec![renamed]);
        remove(&store, &p.id).unwrap();
        assert!(matches!(
            remove(&store, &p.id),
            Err(PlaceError::NotFound(_))
        ));
    }
}
