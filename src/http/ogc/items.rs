//! `/ogc/collections/{id}/items` and `/items/{fid}`: the features of a collection, paged by
//! `limit`/`offset` over a stable order (ascending id), filtered by `bbox` (CRS84, features
//! whose geometry intersects the box), `datetime` and dyaspora's own filters.
//!
//! Aggregate features are exactly the units the Engine's layer publishes for the query,
//! with its privacy-checked properties; an H3 cell or a county with a suppressed count is
//! not a feature
//! (`/items/{fid}` answers 404 for it, as for an id that does not exist).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    base_url, json_response, link, only_params, param, query_pairs, refuse_format, Collection,
    GEOJSON, JSON,
};
use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::aggregate::filter::Field;
use crate::aggregate::{Figures, Layer, Unit};
use crate::error::Error;
use crate::http::AppState;
use crate::places::{FilterParams, Place, PlaceFilter, PlaceSet};
use crate::publish::{parse_bbox, selected_units, LayerRequest};

/// Parameters of every items request.
const PAGING: [&str; 5] = ["limit", "offset", "bbox", "datetime", "f"];
/// Extra parameters of the aggregate collections besides the filters of [`Field::PARAMS`].
const AGGREGATE_EXTRA: [&str; 2] = ["metrics", "skill"];
/// Filters of the places collection.
pub const PLACE_FILTERS: [&str; 4] = ["kind", "sector", "language", "state"];

/// Every query parameter accepted by `collection`'s items (`single`: of one feature, which
/// has no paging nor bbox).
pub fn accepted_params(c: Collection, single: bool) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = if single {
        vec!["datetime", "f"]
    } else {
        PAGING.to_vec()
    };
    match c {
        Collection::Aggregate(_) => {
            v.extend(AGGREGATE_EXTRA);
            v.extend(Field::PARAMS);
        }
        Collection::Places if single => v.retain(|p| *p == "f"),
        Collection::Places => v.extend(PLACE_FILTERS),
    }
    v
}

#[utoipa::path(get, path = "/ogc/collections/{collection}/items", tag = "ogc", params(("collection" = String, Path)), responses((status = 200, description = "See /ogc/api")))]
pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let c = Collection::parse(&id).ok_or_else(|| Error::NotFound(format!("collection {id:?}")))?;
    let pairs = query_pairs(query)?;
    only_params(&pairs, &accepted_params(c, false))?;
    if let Some(r) = refuse_format(&pairs, &headers, &["json", "geojson"], &[GEOJSON, JSON]) {
        return Ok(r);
    }
    let (limit, offset) = (parse_limit(&pairs)?, parse_count(&pairs, "offset", 0)?);
    let bbox = param(&pairs, "bbox").map(parse_bbox).transpose()?;
    // An aggregate page says what it shows, as the aggregates' GeoJSON does (#20).
    let mut map_member = None;
    let (matched, features) = match c {
        Collection::Aggregate(unit) => {
            let req = layer_request(&pairs, unit)?;
            let layer = crate::publish::layer(&state.engine, &req, Figures::Public).await?;
            let prov = crate::http::layers::provenance(&state).await?;
            map_member = Some(crate::publish::meta::map_member(&layer, &req, &prov));
            run_blocking(move || {
                let units = matching_units(&layer, bbox);
                let page = window(&units, offset, limit);
                (
                    units.len(),
                    page.iter()
                        .map(|&i| unit_feature(&layer, i, &req))
                        .collect::<Vec<_>>(),
                )
            })
            .await?
        }
        Collection::Places => {
            let filter = place_filter(&pairs)?;
            if let Some(d) = param(&pairs, "datetime") {
                datetime_months(d)?; // validated; places carry no time and are not filtered by it
            }
            let set = state.places.get();
            let hits: Vec<usize> = place_order(&set)
                .into_iter()
                .filter(|&i| filter.keeps(&set, i) && place_within(set.place(i), bbox))
                .collect();
            let page = window(&hits, offset, limit);
            (
                hits.len(),
                page.iter().map(|&i| place_item(set.place(i))).collect(),
            )
        }
    };
    let base = base_url(&headers, &state);
    let page_url = |offset: usize| {
        format!(
            "{base}/collections/{id}/items?{}",
            page_query(&pairs, limit, offset)
        )
    };
    let returned = features.len();
    let mut links = vec![
        link(page_url(offset), "self", GEOJSON, "This page"),
        link(
            format!("{base}/collections/{id}"),
            "collection",
            JSON,
            "The collection",
        ),
    ];
    if offset.saturating_add(returned) < matched {
        links.push(link(
            page_url(offset + returned),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            page_url(offset.min(matched).saturating_sub(limit)),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    let mut body = json!({
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": now(),
        "links": links,
        "features": features,
    });
    if let Some(m) = map_member {
        body["dyaspora:map"] = m;
    }
    Ok(json_response(&body, GEOJSON))
}

#[utoipa::path(get, path = "/ogc/collections/{collection}/items/{feature}", tag = "ogc", params(("collection" = String, Path), ("feature" = String, Path)), responses((status = 200, description = "See /ogc/api")))]
pub async fn item(
    State(state): State<AppState>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Error> {
    let c = Collection::parse(&id).ok_or_else(|| Error::NotFound(format!("collection {id:?}")))?;
    let pairs = query_pairs(query)?;
    only_params(&pairs, &accepted_params(c, true))?;
    if let Some(r) = refuse_format(&pairs, &headers, &["json", "geojson"], &[GEOJSON, JSON]) {
        return Ok(r);
    }
    let absent = || Error::NotFound(format!("feature {fid:?} in collection {id}"));
    let mut feature = match c {
        Collection::Aggregate(unit) => {
            let req = layer_request(&pairs, unit)?;
            let layer = crate::publish::layer(&state.engine, &req, Figures::Public).await?;
            let wanted = fid.clone();
            run_blocking(move || {
                // Only what the items list publishes: a suppressed cell is as absent as a made-up id.
                let i = published_units(&layer, None)
                    .into_iter()
                    .find(|&i| layer.id_string(i) == wanted)?;
                Some(unit_feature(&layer, i, &req))
            })
            .await?
            .ok_or_else(absent)?
        }
        Collection::Places => {
            let set = state.places.get();
            let found = (0..set.len()).find(|&i| set.place(i).id == fid);
            place_item(set.place(found.ok_or_else(absent)?))
        }
    };
    let base = base_url(&headers, &state);
    let query = page_query(&pairs, 0, 0);
    let self_href = format!(
        "{base}/collections/{id}/items/{}{}",
        encode(&fid),
        if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        }
    );
    feature["links"] = json!([
        link(self_href, "self", GEOJSON, "This feature"),
        link(
            format!("{base}/collections/{id}"),
            "collection",
            JSON,
            "The collection"
        ),
    ]);
    Ok(json_response(&feature, GEOJSON))
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The layer request of an aggregate collection: its unit, and the filters, `metrics` and
/// `skill` of the query, with `datetime` turned into the month range `from`/`to`.
pub(super) fn layer_request(pairs: &[(String, String)], unit: Unit) -> Result<LayerRequest, Error> {
    let mut forwarded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "datetime" | "bbox"))
        .cloned()
        .collect();
    if let Some(d) = param(pairs, "datetime") {
        if param(pairs, "from").is_some() || param(pairs, "to").is_some() {
            return Err(Error::invalid(
                "datetime",
                "give either datetime or from/to, not both",
            ));
        }
        let (from, to) = datetime_months(d)?;
        forwarded.extend(from.map(|m| ("from".to_string(), m)));
        forwarded.extend(to.map(|m| ("to".to_string(), m)));
    }
    let mut req = LayerRequest::from_pairs(&forwarded, &["limit", "offset", "f"])?;
    req.unit = unit;
    Ok(req)
}

/// The units that are features: those [`selected_units`] publishes, less the counties
/// whose count is suppressed. Every state is listed (the list is fixed), but counties are
/// listed only where the query has respondents, so a listed county with a hidden count
/// would say that someone matching the filters lives there: like a suppressed hexagon, it
/// is left out.
pub fn published_units(layer: &Layer, bbox: Option<[f64; 4]>) -> Vec<usize> {
    selected_units(layer, bbox)
        .into_iter()
        .filter(|&i| layer.unit == Unit::State || layer.is_published(i))
        .collect()
}

/// The published units of the layer whose geometry intersects `bbox`, in ascending id.
fn matching_units(layer: &Layer, bbox: Option<[f64; 4]>) -> Vec<usize> {
    use geo::Intersects;
    let rect = bbox.map(|b| {
        geo::Rect::new(
            geo::coord! { x: b[0], y: b[1] },
            geo::coord! { x: b[2], y: b[3] },
        )
    });
    let mut units: Vec<(String, usize)> = published_units(layer, bbox)
        .into_iter()
        .filter(|&i| rect.is_none_or(|r| layer.geometry(i).intersects(&r)))
        .map(|i| (layer.id_string(i), i))
        .collect();
    units.sort_unstable();
    units.into_iter().map(|(_, i)| i).collect()
}

fn unit_feature(layer: &Layer, i: usize, req: &LayerRequest) -> Value {
    serde_json::to_value(crate::publish::geojson::unit_feature(layer, i, req, None))
        .unwrap_or_default()
}

/// The bounding box of a unit's geometry.
pub fn unit_bbox(layer: &Layer, i: usize) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    layer
        .geometry(i)
        .bounding_rect()
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

/// The box covering all the given boxes; `None` when there are none.
pub fn union_bbox(boxes: impl Iterator<Item = Option<[f64; 4]>>) -> Option<[f64; 4]> {
    boxes.flatten().reduce(|a, b| {
        [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]
    })
}

/// The page `[offset, offset + limit)` of `all`.
fn window<T>(all: &[T], offset: usize, limit: usize) -> &[T] {
    let start = offset.min(all.len());
    &all[start..start.saturating_add(limit).min(all.len())]
}

/// `limit`: an integer ≥ 1, capped at [`MAX_LIMIT`].
fn parse_limit(pairs: &[(String, String)]) -> Result<usize, Error> {
    let limit = parse_count(pairs, "limit", DEFAULT_LIMIT)?;
    if limit == 0 {
        return Err(Error::invalid(
            "limit",
            format!("give an integer from 1 to {MAX_LIMIT} (larger values are capped)"),
        ));
    }
    Ok(limit.min(MAX_LIMIT))
}

/// A non-negative integer parameter; digits beyond `usize` saturate (a huge `limit` is
/// capped, a huge `offset` is past the end), anything else is a 400.
fn parse_count(pairs: &[(String, String)], name: &str, default: usize) -> Result<usize, Error> {
    match param(pairs, name) {
        None => Ok(default),
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(s.parse().unwrap_or(usize::MAX))
        }
        Some(s) => Err(Error::invalid(
            name,
            format!("{s:?} is not a non-negative integer"),
        )),
    }
}

/// The query string of a page: the request's parameters in their order, without `limit`
/// and `offset`, then those of the page (omitted when 0, for single features).
fn page_query(pairs: &[(String, String)], limit: usize, offset: usize) -> String {
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "limit" && k != "offset")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if limit > 0 {
        parts.push(format!("limit={limit}"));
        parts.push(format!("offset={offset}"));
    }
    parts.join("&")
}

/// Percent-encodes a query component (RFC 3986 unreserved characters, `,` and `:` kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Turns an OGC `datetime` (an RFC 3339 date or date-time, or an interval `start/end` with
/// `..` or nothing for an open end) into the months `YYYY-MM` of dyaspora's `from`/`to`:
/// records are dated by collection month, so a record matches when its month touches the
/// interval.
pub fn datetime_months(value: &str) -> Result<(Option<String>, Option<String>), Error> {
    let bad = |why: &str| Error::invalid("datetime", format!("{value:?}: {why}"));
    let month = |s: &str| -> Result<Option<(i32, u8)>, Error> {
        let s = s.trim();
        if s.is_empty() || s == ".." {
            return Ok(None);
        }
        let date = if s.len() == 10 {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
        } else {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.date())
        }
        .ok_or_else(|| {
            bad("not an RFC 3339 date (2024-05-31) or date-time (2024-05-31T12:00:00Z)")
        })?;
        if !(1900..=2200).contains(&date.year()) {
            return Err(bad("years must be 1900 to 2200"));
        }
        Ok(Some((date.year(), u8::from(date.month()))))
    };
    let text = |m: Option<(i32, u8)>| m.map(|(y, m)| format!("{y:04}-{m:02}"));
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [instant] => {
            let m = month(instant)?
                .ok_or_else(|| bad("give a date, a date-time or an interval start/end"))?;
            Ok((text(Some(m)), text(Some(m))))
        }
        [start, end] => {
            let (a, b) = (month(start)?, month(end)?);
            if let (Some(a), Some(b)) = (a, b) {
                if a > b {
                    return Err(bad("the interval starts after it ends"));
                }
            }
            Ok((text(a), text(b)))
        }
        _ => Err(bad("give a date, a date-time or one interval start/end")),
    }
}

/// The places of the shared index (consular posts of the geodata, associations of the
/// store, as the places API serves them), as indexes into `set`, ordered by id.
pub fn place_order(set: &PlaceSet) -> Vec<usize> {
    let mut order: Vec<usize> = (0..set.len()).collect();
    order.sort_by(|&a, &b| set.place(a).id.cmp(&set.place(b).id));
    order
}

/// The filters of the places collection.
fn place_filter(pairs: &[(String, String)]) -> Result<PlaceFilter, Error> {
    PlaceFilter::parse(&FilterParams {
        kind: param(pairs, "kind"),
        sector: param(pairs, "sector"),
        language: param(pairs, "language"),
        state: param(pairs, "state"),
        ..FilterParams::default()
    })
}

/// Whether a place lies in `bbox` (CRS84), edges included.
fn place_within(place: &Place, bbox: Option<[f64; 4]>) -> bool {
    bbox.is_none_or(|b| {
        place.lon >= b[0] && place.lon <= b[2] && place.lat >= b[1] && place.lat <= b[3]
    })
}

/// A place as an OGC item: [`Place::feature`], the one shape of a place everywhere.
fn place_item(place: &Place) -> Value {
    serde_json::to_value(place.feature(None)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::publish::request::pairs_of as pairs;

    #[test]
    fn a_limit_above_the_maximum_is_capped_and_zero_or_words_are_refused() {
        assert_eq!(parse_limit(&pairs(&[])).unwrap(), DEFAULT_LIMIT);
        assert_eq!(
            parse_limit(&pairs(&[("limit", "20000")])).unwrap(),
            MAX_LIMIT
        );
        assert_eq!(
            parse_limit(&pairs(&[("limit", "99999999999999999999999")])).unwrap(),
            MAX_LIMIT
        );
        assert!(parse_limit(&pairs(&[("limit", "0")])).is_err());
        assert!(parse_limit(&pairs(&[("limit", "-1")])).is_err());
        assert!(parse_limit(&pairs(&[("limit", "ten")])).is_err());
        assert!(parse_count(&pairs(&[("offset", "1.5")]), "offset", 0).is_err());
    }

    #[test]
    fn a_window_past_the_end_is_empty() {
        let all = [1, 2, 3, 4, 5];
        assert_eq!(window(&all, 0, 2), &[1, 2]);
        assert_eq!(window(&all, 4, 2), &[5]);
        assert!(window(&all, 9, 2).is_empty());
        assert!(window(&all, usize::MAX, usize::MAX).is_empty());
    }

    #[test]
    fn datetime_instants_and_intervals_become_month_ranges() {
        let m = |s: &str| datetime_months(s).unwrap();
        assert_eq!(
            m("2024-03-15"),
            (Some("2024-03".into()), Some("2024-03".into()))
        );
        assert_eq!(
            m("2024-03-15T23:00:00Z"),
            (Some("2024-03".into()), Some("2024-03".into()))
        );
        assert_eq!(
            m("2023-11-01/2024-02-29"),
            (Some("2023-11".into()), Some("2024-02".into()))
        );
        assert_eq!(m("../2024-02-29"), (None, Some("2024-02".into())));
        assert_eq!(m("2024-01-01/"), (Some("2024-01".into()), None));
        assert!(datetime_months("2024-02-30").is_err());
        assert!(datetime_months("2024-05-01/2024-01-01").is_err());
        assert!(datetime_months("yesterday").is_err());
        assert!(datetime_months("a/b/c").is_err());
    }

    #[test]
    fn page_links_keep_the_query_and_encode_it() {
        let q = pairs(&[
            ("gender", "f,x"),
            ("limit", "5"),
            ("offset", "10"),
            ("round", "a b&c"),
        ]);
        assert_eq!(
            page_query(&q, 5, 15),
            "gender=f,x&round=a%20b%26c&limit=5&offset=15"
        );
        assert_eq!(page_query(&pairs(&[("f", "json")]), 0, 0), "f=json");
    }

    #[test]
    fn the_places_collection_refuses_aggregate_parameters() {
        let p = accepted_params(Collection::Places, false);
        assert!(p.contains(&"kind") && !p.contains(&"gender") && !p.contains(&"unit"));
        let a = accepted_params(Collection::Aggregate(Unit::State), false);
        assert!(
            a.contains(&"gender")
                && a.contains(&"bbox")
                && !a.contains(&"unit")
                && !a.contains(&"res")
        );
        assert_eq!(accepted_params(Collection::Places, true), vec!["f"]);
    }
}
