//! Outreach planning for the consular posts: who each post serves (catchments), where the
//! diaspora lives far from any association (coverage gaps), and a post's plan (its top gap
//! areas with the associations nearest to each).
//!
//! # Privacy
//! Everything here is computed from privacy-checked [`Layer`]s, never from records: only
//! *published* units take part, and only their *published* values are summed. A sum of
//! published values discloses nothing a reader of the published layer could not add up
//! themselves. Distances and rankings use place coordinates, which are public.
//!
//! # Catchments
//! - `nearest` (default): each published hexagon goes to the consular post nearest to its
//!   centre (great-circle distance, see [`super::distance`]).
//! - `jurisdiction`: each published hexagon goes to the post whose `states` list (in
//!   `geodata/consular_posts.csv`) holds the state containing the hexagon's centre; a centre
//!   in no state (offshore) falls back to the nearest post. Jurisdiction is by *state*:
//!   Orlando lists no state of its own (Miami covers Florida), so its jurisdiction
//!   catchment is empty; use `nearest` to see the people closest to Orlando.
//!
//! A post's figures: in `jurisdiction` mode, the sums of the published figures of its states
//! (the state layer; states whose figures are suppressed are listed); in `nearest` mode, the
//! sums of the published figures of the hexagons of its catchment. People in hexagons too
//! small to publish are in no hexagon sum; nationally they number
//! `national count − Σ published hexagon counts` (both public), reported as
//! `outside_published_hexagons`.
//!
//! # Gap ranking
//! For each published hexagon with a visible value `v` (the `count`, or the `female` count
//! for women's reach) and `d` the great-circle distance in km from its centre to the
//! nearest association of the kinds considered:
//!
//! `score = v × min(d, D) / D`, with `D` the saturation distance (default 50 km).
//!
//! A hexagon with an association next door scores 0; one `D` km or more from any scores
//! its whole value. With no association of those kinds at all, `d` is infinite and the
//! factor is 1. Optionally, hexagons with such an association within `R` km
//! (`beyond_km=R`) are left out. Ties are broken by the larger value, then the hexagon id.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::distance::EARTH_RADIUS_KM;
use super::index::{Hit, KindFilter, PlaceSet};
use super::Category;
use crate::aggregate::{Layer, MetricGroup, Unit, UnitId};
use crate::geodata::Geodata;

/// Default saturation distance `D` of the gap score, km.
pub const DEFAULT_SATURATION_KM: f64 = 50.0;

/// How hexagons are given to posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Nearest,
    Jurisdiction,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "nearest" => Some(Mode::Nearest),
            "jurisdiction" => Some(Mode::Jurisdiction),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Nearest => "nearest",
            Mode::Jurisdiction => "jurisdiction",
        }
    }

    /// The rule, in words, for responses.
    pub fn rule(self) -> &'static str {
        match self {
            Mode::Nearest => "each published hexagon is assigned to the consular post nearest to its centre (great-circle distance)",
            Mode::Jurisdiction => "each published hexagon is assigned to the consular post whose jurisdiction (states list) holds the state containing its centre; a centre in no state falls back to the nearest post. Jurisdiction is by state: Orlando lists no state (Miami covers Florida), so its catchment is empty in this mode",
        }
    }
}

/// Why a hexagon went to its post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignedBy {
    Nearest,
    Jurisdiction,
    /// Jurisdiction mode, but the centre is in no state: nearest post.
    NearestFallback,
}

impl AssignedBy {
    pub fn name(self) -> &'static str {
        match self {
            AssignedBy::Nearest => "nearest",
            AssignedBy::Jurisdiction => "jurisdiction",
            AssignedBy::NearestFallback => "nearest_fallback",
        }
    }
}

/// One published hexagon of a catchment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assignment {
    /// The unit's index in the layer.
    pub unit: usize,
    /// The post's index in the place set.
    pub post: usize,
    /// Great-circle distance from the hexagon's centre to the post, km.
    pub distance_km: f64,
    pub by: AssignedBy,
}

/// The published units of a layer.
pub fn published_units(layer: &Layer) -> Vec<usize> {
    (0..layer.ids.len())
        .filter(|&i| layer.is_published(i))
        .collect()
}

/// Assigns every published hexagon of an H3 layer to exactly one post.
pub fn assign(layer: &Layer, set: &PlaceSet, mode: Mode) -> Vec<Assignment> {
    let geo = Geodata::get();
    let posts = KindFilter::category(Category::Consular);
    // USPS code → post index in the set.
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, post) in geo.posts.iter().enumerate() {
        for s in &post.states {
            by_state.insert(s.as_str(), set.posts().start + i);
        }
    }
    published_units(layer)
        .into_iter()
        .filter_map(|unit| {
            let (lon, lat) = layer.center(unit);
            let nearest = set.nearest_one(lon, lat, posts)?;
            let assigned = match mode {
                Mode::Nearest => Assignment {
                    unit,
                    post: nearest.index,
                    distance_km: nearest.distance_km,
                    by: AssignedBy::Nearest,
                },
                Mode::Jurisdiction => match geo
                    .state_at(lon, lat)
                    .and_then(|s| by_state.get(s.parent.as_str()))
                {
                    Some(&post) => {
                        let p = set.place(post);
                        let d = super::distance::haversine_km(lon, lat, p.lon, p.lat);
                        Assignment {
                            unit,
                            post,
                            distance_km: d,
                            by: AssignedBy::Jurisdiction,
                        }
                    }
                    None => Assignment {
                        unit,
                        post: nearest.index,
                        distance_km: nearest.distance_km,
                        by: AssignedBy::NearestFallback,
                    },
                },
            };
            Some(assigned)
        })
        .collect()
}

/// The figures summed per post: core counts and the remittance total.
const SUMMED: [&str; 5] = [
    "count",
    "female",
    "remitters",
    "female_remitters",
    "remit_total_usd",
];
/// How many top sectors and occupations are listed per post.
const TOP_SKILLS: usize = 5;

/// Sums the published figures of `units` of `layer`: the core counts, the remittance total,
/// and the top sectors and occupations. A figure suppressed in some unit is summed over the
/// others and named in `incomplete`; a count sum from 1 to k−1 (impossible with published
/// inputs, which are 0 or ≥ k, but checked) is published as null.
pub fn sum_published(layer: &Layer, units: &[usize]) -> Map<String, Value> {
    let groups = [MetricGroup::Sector, MetricGroup::Occupation];
    let mut sums: BTreeMap<String, (f64, bool)> = BTreeMap::new();
    let mut incomplete: Vec<String> = Vec::new();
    // The respondents of the units that publish women: the base of the women's share, so
    // that units hiding women do not pull it down.
    let mut women_base = 0.0;
    for &i in units.iter().filter(|&&i| layer.is_published(i)) {
        let props = layer.properties(i, &groups, None);
        if let (Some(_), Some(count)) = (
            props.get("female").and_then(Value::as_f64),
            props.get("count").and_then(Value::as_f64),
        ) {
            women_base += count;
        }
        for (name, value) in props {
            let counted = SUMMED.contains(&name.as_str())
                || name.starts_with("sector_")
                || name.starts_with("occupation_");
            if !counted {
                continue;
            }
            let entry = sums.entry(name.clone()).or_insert((0.0, false));
            match value.as_f64() {
                Some(v) => entry.0 += v,
                None => {
                    entry.1 = true;
                    if !incomplete.contains(&name) {
                        incomplete.push(name);
                    }
                }
            }
        }
    }
    let k = f64::from(layer.k);
    let value = |name: &str| -> Value {
        match sums.get(name) {
            None => Value::from(0),
            Some((v, _)) if name == "remit_total_usd" => Value::from((v * 100.0).round() / 100.0),
            Some((v, _)) if *v > 0.0 && *v < k => Value::Null,
            Some((v, _)) => Value::from(v.round() as u64),
        }
    };
    let mut out = Map::new();
    for name in SUMMED {
        out.insert(name.into(), value(name));
    }
    for (key, prefix) in [
        ("top_sectors", "sector_"),
        ("top_occupations", "occupation_"),
    ] {
        let mut skills: Vec<(&str, f64)> = sums
            .iter()
            .filter_map(|(n, (v, _))| n.strip_prefix(prefix).map(|code| (code, *v)))
            .filter(|(_, v)| *v >= k)
            .collect();
        skills.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let list: Vec<Value> = skills
            .into_iter()
            .take(TOP_SKILLS)
            .map(|(code, v)| json!({"code": code, "count": v.round() as u64}))
            .collect();
        out.insert(key.into(), Value::from(list));
    }
    let women = sums.get("female").map_or(0.0, |(v, _)| *v);
    out.insert(
        "female_share".into(),
        if women_base > 0.0 && women >= k {
            Value::from(((women / women_base).min(1.0) * 10_000.0).round() / 10_000.0)
        } else {
            Value::Null
        },
    );
    out.insert(
        "units_summed".into(),
        Value::from(units.iter().filter(|&&i| layer.is_published(i)).count()),
    );
    out.insert("incomplete".into(), Value::from(incomplete));
    out
}

/// The figures of every post. `hexagons` is an H3 layer with its assignments (nearest
/// mode), `states` the state layer of the same filter (jurisdiction mode).
pub fn post_figures(
    set: &PlaceSet,
    mode: Mode,
    hexagons: &Layer,
    assignments: &[Assignment],
    states: &Layer,
) -> Vec<Value> {
    let geo = Geodata::get();
    set.posts()
        .map(|post| {
            let place = set.place(post);
            let gp = &geo.posts[post - set.posts().start];
            let mine: Vec<usize> = assignments.iter().filter(|a| a.post == post).map(|a| a.unit).collect();
            let (figures, basis) = match mode {
                Mode::Nearest => (sum_published(hexagons, &mine), json!({"unit": hexagons.unit.name()})),
                Mode::Jurisdiction => {
                    let units: Vec<usize> = (0..states.ids.len())
                        .filter(|&i| matches!(states.ids[i], UnitId::Area(a) if gp.states.contains(&geo.states[a].parent)))
                        .collect();
                    let suppressed: Vec<String> =
                        units.iter().filter(|&&i| !states.is_published(i)).map(|&i| states.id_string(i)).collect();
                    (sum_published(states, &units), json!({"unit": "state", "states_suppressed": suppressed}))
                }
            };
            let names = place.names();
            json!({
                "id": place.id,
                "name": names.name,
                "name_fr": names.name_fr,
                "name_ht": names.name_ht,
                "kind": place.kind,
                "city": place.city,
                "state": place.state,
                "lon": place.lon,
                "lat": place.lat,
                "jurisdiction_states": gp.states,
                "jurisdiction_note": gp.jurisdiction_note,
                "hexagons": mine.len(),
                "basis": basis,
                "figures": figures,
            })
        })
        .collect()
}

/// National coverage of the published hexagons: the national count, the sum of the
/// published hexagon counts, and their difference (people in hexagons too small to publish).
pub fn hexagon_coverage(layer: &Layer) -> Value {
    let national = layer
        .national_properties(&[], None)
        .get("count")
        .and_then(Value::as_u64);
    let published: u64 = published_units(layer)
        .into_iter()
        .filter_map(|i| {
            layer
                .properties(i, &[], None)
                .get("count")
                .and_then(Value::as_u64)
        })
        .sum();
    json!({
        "national_count": national,
        "in_published_hexagons": published,
        "outside_published_hexagons": national.map(|n| n.saturating_sub(published)),
    })
}

/// What a gap ranking weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The published `count`.
    Count,
    /// The published `female` count (women's reach).
    Female,
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "count" => Some(Target::Count),
            "female" | "women" => Some(Target::Female),
            _ => None,
        }
    }

    pub fn property(self) -> &'static str {
        match self {
            Target::Count => "count",
            Target::Female => "female",
        }
    }

    /// The association kinds considered by default: every association kind, or for
    /// women's reach the women's organisations and community centres.
    pub fn default_kinds(self) -> KindFilter {
        match self {
            Target::Count => KindFilter::category(Category::Association),
            Target::Female => {
                KindFilter::parse("womens,community_centre").expect("codes of place_kind")
            }
        }
    }
}

/// A gap ranking's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GapQuery {
    pub target: Target,
    /// Kinds of association that count as reaching people.
    pub kinds: KindFilter,
    /// Saturation distance `D`, km (> 0).
    pub saturation_km: f64,
    /// Leave out hexagons with an association of `kinds` within this many km.
    pub beyond_km: Option<f64>,
}

impl GapQuery {
    pub fn new(target: Target) -> GapQuery {
        GapQuery {
            target,
            kinds: target.default_kinds(),
            saturation_km: DEFAULT_SATURATION_KM,
            beyond_km: None,
        }
    }

    /// The ranking stated as a formula, with every parameter's value.
    pub fn describe(&self) -> Value {
        let v = self.target.property();
        let d = self.saturation_km;
        let mut formula = format!(
            "score = {v} × min(d_km, {d}) / {d}, where {v} is the hexagon's published {v} count and d_km the great-circle (haversine, R = {EARTH_RADIUS_KM} km) distance from the hexagon's centre to the nearest association of kind {}; with none at all the factor is 1",
            self.kinds.codes().join(" or ")
        );
        if let Some(r) = self.beyond_km {
            formula.push_str(&format!(
                "; hexagons with such an association within {r} km are left out"
            ));
        }
        formula.push_str(&format!(
            "; only published hexagons with a visible {v}; ties: larger {v}, then hexagon id"
        ));
        json!({
            "formula": formula,
            "value": v,
            "saturation_km": d,
            "beyond_km": self.beyond_km,
            "kinds": self.kinds.codes(),
            "distance": "great-circle km (haversine, mean Earth radius 6371.0088 km) from the hexagon centre",
        })
    }
}

/// One ranked hexagon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gap {
    pub unit: usize,
    /// The published value weighed (count or female count).
    pub value: u64,
    /// The nearest association of the kinds considered.
    pub nearest: Option<Hit>,
    pub score: f64,
}

/// Ranks `units` (published hexagons of `layer`) by the gap score, highest first.
pub fn rank_gaps(layer: &Layer, set: &PlaceSet, units: &[usize], q: &GapQuery) -> Vec<Gap> {
    let mut gaps: Vec<Gap> = units
        .iter()
        .filter(|&&i| layer.is_published(i))
        .filter_map(|&unit| {
            let value = layer
                .properties(unit, &[], None)
                .get(q.target.property())
                .and_then(Value::as_u64)?;
            let (lon, lat) = layer.center(unit);
            let nearest = set.nearest_one(lon, lat, q.kinds);
            let d = nearest.map_or(f64::INFINITY, |h| h.distance_km);
            if q.beyond_km.is_some_and(|r| d <= r) {
                return None;
            }
            let score = value as f64 * d.min(q.saturation_km) / q.saturation_km;
            Some(Gap {
                unit,
                value,
                nearest,
                score,
            })
        })
        .collect();
    gaps.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.value.cmp(&a.value))
            .then_with(|| layer.id_string(a.unit).cmp(&layer.id_string(b.unit)))
    });
    gaps
}

/// One area of an outreach plan: a gap and the associations nearest to it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanArea {
    pub rank: usize,
    pub gap: Gap,
    pub associations: Vec<Hit>,
}

/// A post's outreach plan: the `top` gap areas of its catchment, each with its `near`
/// nearest associations of the kinds considered.
pub fn plan(
    layer: &Layer,
    set: &PlaceSet,
    post: usize,
    assignments: &[Assignment],
    q: &GapQuery,
    top: usize,
    near: usize,
) -> Vec<PlanArea> {
    let units: Vec<usize> = assignments
        .iter()
        .filter(|a| a.post == post)
        .map(|a| a.unit)
        .collect();
    rank_gaps(layer, set, &units, q)
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(i, gap)| {
            let (lon, lat) = layer.center(gap.unit);
            PlanArea {
                rank: i + 1,
                gap,
                associations: set.nearest(lon, lat, near, q.kinds),
            }
        })
        .collect()
}

/// The nearest place of `kinds` to every published hexagon's centre.
pub fn nearest_of(layer: &Layer, set: &PlaceSet, kinds: KindFilter) -> Vec<Option<Hit>> {
    debug_assert!(matches!(layer.unit, Unit::H3(_)));
    published_units(layer)
        .into_iter()
        .map(|i| {
            let (lon, lat) = layer.center(i);
            set.nearest_one(lon, lat, kinds)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{compute, Filter, Snapshot};
    use crate::places::Place;

    fn demo() -> (Snapshot, PlaceSet) {
        let set = crate::demo::generate(20_000, 3);
        let places = PlaceSet::build(set.associations);
        (Snapshot::build(set.records, 1), places)
    }

    #[test]
    fn every_published_hexagon_is_assigned_exactly_once_in_both_modes() {
        let (snap, set) = demo();
        let layer = compute(&snap, Unit::H3(6), &Filter::default(), 11).unwrap();
        let published = published_units(&layer);
        assert!(!published.is_empty());
        for mode in [Mode::Nearest, Mode::Jurisdiction] {
            let a = assign(&layer, &set, mode);
            let units: Vec<usize> = a.iter().map(|a| a.unit).collect();
            assert_eq!(units, published, "{mode:?}");
        }
    }

    #[test]
    fn jurisdiction_sends_florida_to_miami_and_nearest_splits_it_with_orlando() {
        let (snap, set) = demo();
        let layer = compute(&snap, Unit::H3(6), &Filter::default(), 11).unwrap();
        let orlando = set.index_of("HT-CON-ORL").unwrap();
        let by_j = assign(&layer, &set, Mode::Jurisdiction);
        assert!(by_j
            .iter()
            .all(|a| a.post != orlando || a.by == AssignedBy::NearestFallback));
        let by_n = assign(&layer, &set, Mode::Nearest);
        assert!(by_n.iter().any(|a| a.post == orlando));
        for a in &by_n {
            let (lon, lat) = layer.center(a.unit);
            let p = set.place(a.post);
            assert!(
                (super::super::distance::haversine_km(lon, lat, p.lon, p.lat) - a.distance_km)
                    .abs()
                    < 1e-9
            );
        }
    }

    #[test]
    fn post_sums_never_show_a_count_below_k_and_add_up_to_published_values() {
        let (snap, set) = demo();
        let hex = compute(&snap, Unit::H3(6), &Filter::default(), 11).unwrap();
        let states = compute(&snap, Unit::State, &Filter::default(), 11).unwrap();
        let a = assign(&hex, &set, Mode::Nearest);
        let total: u64 = post_figures(&set, Mode::Nearest, &hex, &a, &states)
            .iter()
            .map(|p| p["figures"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            Some(total),
            hexagon_coverage(&hex)["in_published_hexagons"].as_u64()
        );
        for p in post_figures(&set, Mode::Jurisdiction, &hex, &a, &states) {
            for name in ["count", "female", "remitters", "female_remitters"] {
                let v = &p["figures"][name];
                assert!(
                    v.is_null() || v.as_u64().is_some_and(|v| v == 0 || v >= 11),
                    "{name} = {v}"
                );
            }
        }
    }

    #[test]
    fn the_women_share_is_taken_over_the_units_that_publish_women() {
        let (snap, _) = demo();
        let hex = compute(&snap, Unit::H3(7), &Filter::default(), 11).unwrap();
        let units = published_units(&hex);
        let (mut women, mut base, mut hiding) = (0.0, 0.0, 0);
        for &i in &units {
            let p = hex.properties(i, &[], None);
            match (p["female"].as_f64(), p["count"].as_f64()) {
                (Some(f), Some(c)) => (women, base) = (women + f, base + c),
                _ => hiding += 1,
            }
        }
        assert!(hiding > 0, "some hexagons hide women");
        let share = sum_published(&hex, &units)["female_share"]
            .as_f64()
            .unwrap();
        assert!(
            (share - women / base).abs() < 1e-4,
            "{share} against {}",
            women / base
        );
    }

    #[test]
    fn gap_scores_follow_the_stated_formula_and_are_ranked() {
        let (snap, set) = demo();
        let layer = compute(&snap, Unit::H3(6), &Filter::default(), 11).unwrap();
        let q = GapQuery::new(Target::Count);
        let gaps = rank_gaps(&layer, &set, &published_units(&layer), &q);
        assert!(!gaps.is_empty());
        for w in gaps.windows(2) {
            assert!(w[0].score >= w[1].score);
        }
        for g in &gaps {
            let d = g.nearest.unwrap().distance_km;
            assert!((g.score - g.value as f64 * d.min(50.0) / 50.0).abs() < 1e-9);
            assert!(g.value >= 11);
        }
        let far = GapQuery {
            beyond_km: Some(20.0),
            ..q
        };
        assert!(rank_gaps(&layer, &set, &published_units(&layer), &far)
            .iter()
            .all(|g| g.nearest.unwrap().distance_km > 20.0));
    }

    #[test]
    fn without_any_association_of_the_kinds_the_whole_value_counts() {
        let (snap, _) = demo();
        let set = PlaceSet::build(Vec::<Place>::new());
        let layer = compute(&snap, Unit::H3(5), &Filter::default(), 11).unwrap();
        let gaps = rank_gaps(
            &layer,
            &set,
            &published_units(&layer),
            &GapQuery::new(Target::Female),
        );
        assert!(gaps
            .iter()
            .all(|g| g.nearest.is_none() && g.score == g.value as f64));
    }

    #[test]
    fn a_plan_takes_the_top_gaps_of_the_posts_catchment() {
        let (snap, set) = demo();
        let layer = compute(&snap, Unit::H3(6), &Filter::default(), 11).unwrap();
        let a = assign(&layer, &set, Mode::Nearest);
        let nyc = set.index_of("HT-CON-NYC").unwrap();
        let areas = plan(&layer, &set, nyc, &a, &GapQuery::new(Target::Count), 5, 3);
        assert!(!areas.is_empty() && areas.len() <= 5);
        for area in &areas {
            assert!(a.iter().any(|x| x.unit == area.gap.unit && x.post == nyc));
            assert!(area.associations.len() <= 3);
            assert_eq!(area.associations.first().copied(), area.gap.nearest);
        }
    }
}
