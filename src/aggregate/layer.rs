//! A published layer: the units of one query with their privacy-checked figures, ready to be
//! written as GeoJSON, CSV, vector tiles or OGC API items.

use serde_json::{Map, Value};

use super::group::RemitStats;
use super::privacy::{is_visible, remit_sum_publishable};
use super::tally::*;
use crate::codes::{CodeList, Codebook};
use crate::geodata::Geodata;

/// The geography a layer is grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    H3(u8),
    State,
    County,
}

impl Unit {
    pub fn name(self) -> String {
        match self {
            Unit::H3(r) => format!("h3_res{r}"),
            Unit::State => "state".into(),
            Unit::County => "county".into(),
        }
    }
}

/// Groups of metrics a client may ask for (`metrics=` parameter); `core` is always there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricGroup {
    Occupation,
    Sector,
    Need,
    Difficulty,
    Willingness,
    Channel,
    Language,
}

impl MetricGroup {
    pub const ALL: [MetricGroup; 7] = [
        MetricGroup::Occupation,
        MetricGroup::Sector,
        MetricGroup::Need,
        MetricGroup::Difficulty,
        MetricGroup::Willingness,
        MetricGroup::Channel,
        MetricGroup::Language,
    ];

    pub fn parse(s: &str) -> Option<MetricGroup> {
        MetricGroup::ALL.into_iter().find(|g| g.prefix() == s)
    }

    /// Property-name prefix and the query name of the group.
    pub fn prefix(self) -> &'static str {
        match self {
            MetricGroup::Occupation => "occupation",
            MetricGroup::Sector => "sector",
            MetricGroup::Need => "need",
            MetricGroup::Difficulty => "difficulty",
            MetricGroup::Willingness => "willingness",
            MetricGroup::Channel => "channel",
            MetricGroup::Language => "language",
        }
    }

    pub fn list(self) -> CodeList {
        match self {
            MetricGroup::Occupation => CodeList::Occupation,
            MetricGroup::Sector => CodeList::Sector,
            MetricGroup::Need => CodeList::Need,
            MetricGroup::Difficulty => CodeList::Difficulty,
            MetricGroup::Willingness => CodeList::Willingness,
            MetricGroup::Channel => CodeList::Channel,
            MetricGroup::Language => CodeList::Language,
        }
    }

    pub fn dims(self) -> std::ops::Range<usize> {
        match self {
            MetricGroup::Occupation => OCCUPATION,
            MetricGroup::Sector => SECTOR,
            MetricGroup::Need => NEED,
            MetricGroup::Difficulty => DIFFICULTY,
            MetricGroup::Willingness => WILLINGNESS,
            MetricGroup::Channel => CHANNEL,
            MetricGroup::Language => LANGUAGE,
        }
    }
}

/// A skill chosen for the share and location-quotient metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Skill {
    pub group: MetricGroup,
    pub index: u8,
}

impl Skill {
    pub fn dim(self) -> usize {
        self.group.dims().start + self.index as usize
    }
}

/// One unit's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitId {
    Cell(u64),
    /// Index into `Geodata::states` or `Geodata::counties`.
    Area(usize),
}

/// The privacy-checked content of a layer.
#[derive(Clone, Debug)]
pub struct Layer {
    pub unit: Unit,
    pub data_version: u64,
    /// The minimum published count.
    pub k: u32,
    /// Whether the figures are perturbed (public) or exact (admins).
    pub perturbed: bool,
    pub ids: Vec<UnitId>,
    pub tallies: Vec<Tally>,
    pub masks: Vec<DimMask>,
    pub remit: Vec<RemitStats>,
    pub national: Tally,
    pub national_mask: DimMask,
    pub national_remit: RemitStats,
}

impl Layer {
    /// The layer without the units that publish no count above zero, but for states: every
    /// state is always listed, while a listed county or hexagon would say that someone
    /// matches (and one with nobody says nothing worth its bytes).
    pub fn published_only(mut self) -> Layer {
        let shown = |t: &Tally, m: DimMask| is_visible(m, N) && t.d[N] > 0;
        let keep: Vec<bool> = (0..self.ids.len())
            .map(|i| self.unit == Unit::State || shown(&self.tallies[i], self.masks[i]))
            .collect();
        if keep.iter().all(|&k| k) {
            return self;
        }
        retain_flagged(&mut self.ids, &keep);
        retain_flagged(&mut self.tallies, &keep);
        retain_flagged(&mut self.remit, &keep);
        retain_flagged(&mut self.masks, &keep);
        self
    }

    /// The unit's id as published: H3 index in hex, or the FIPS code.
    pub fn id_string(&self, i: usize) -> String {
        let geo = Geodata::get();
        match (&self.ids[i], self.unit) {
            (UnitId::Cell(c), _) => format!("{c:x}"),
            (UnitId::Area(a), Unit::State) => geo.states[*a].fips.clone(),
            (UnitId::Area(a), _) => geo.counties[*a].fips.clone(),
        }
    }

    /// Area of the unit in km² (H3 cell area; land area for states and counties).
    pub fn area_km2(&self, i: usize) -> f64 {
        let geo = Geodata::get();
        match (&self.ids[i], self.unit) {
            (UnitId::Cell(c), _) => super::snapshot::cell_index(*c).area_km2(),
            (UnitId::Area(a), Unit::State) => geo.states[*a].land_km2,
            (UnitId::Area(a), _) => geo.counties[*a].land_km2,
        }
    }

    /// Whether the unit publishes anything (its record count is visible).
    pub fn is_published(&self, i: usize) -> bool {
        is_visible(self.masks[i], N)
    }

    /// The figures of unit `i` as flat properties (nulls for suppressed values, listed in
    /// `suppressed`). `groups` adds per-code counts; `skill` adds share and location quotient.
    pub fn properties(
        &self,
        i: usize,
        groups: &[MetricGroup],
        skill: Option<Skill>,
    ) -> Map<String, Value> {
        figures(
            &self.tallies[i],
            self.masks[i],
            &self.remit[i],
            Some(self.area_km2(i)),
            &self.national,
            self.national_mask,
            groups,
            skill,
        )
    }

    /// National totals of the query, under the same rules.
    pub fn national_properties(
        &self,
        groups: &[MetricGroup],
        skill: Option<Skill>,
    ) -> Map<String, Value> {
        figures(
            &self.national,
            self.national_mask,
            &self.national_remit,
            None,
            &self.national,
            self.national_mask,
            groups,
            skill,
        )
    }
}

/// Property names of the core metrics, in output order.
pub const CORE_PROPERTIES: &[&str] = &[
    "count",
    "density_km2",
    "female",
    "female_share",
    "remitters",
    "remit_share",
    "female_remitters",
    "remit_total_usd",
    "remit_mean_usd",
    "remit_median_usd",
    "dominant_occupation",
    "dominant_sector",
];

#[allow(clippy::too_many_arguments)]
fn figures(
    t: &Tally,
    mask: DimMask,
    stats: &RemitStats,
    area_km2: Option<f64>,
    national: &Tally,
    national_mask: DimMask,
    groups: &[MetricGroup],
    skill: Option<Skill>,
) -> Map<String, Value> {
    let book = Codebook::get();
    let mut p = Map::new();
    let mut suppressed: Vec<String> = Vec::new();
    let vis = |d: usize| is_visible(mask, d);
    let mut put = |p: &mut Map<String, Value>, name: &str, value: Option<Value>| match value {
        Some(v) => {
            p.insert(name.to_string(), v);
        }
        None => {
            p.insert(name.to_string(), Value::Null);
            suppressed.push(name.to_string());
        }
    };
    let count = |d: usize| vis(d).then(|| Value::from(t.d[d]));
    // Perturbed parts may exceed their perturbed whole by a unit or two: a share stays ≤ 1.
    let share = |num: usize, den: usize| {
        (vis(num) && vis(den) && t.d[den] > 0)
            .then(|| Value::from(round((t.d[num] as f64 / t.d[den] as f64).min(1.0), 4)))
    };
    put(&mut p, "count", count(N));
    if let Some(area) = area_km2 {
        put(
            &mut p,
            "density_km2",
            (vis(N) && area > 0.0).then(|| Value::from(round_density(t.d[N] as f64 / area))),
        );
    }
    put(&mut p, "female", count(F));
    put(&mut p, "female_share", share(F, N));
    put(&mut p, "remitters", count(RY));
    put(&mut p, "remit_share", share(RY, N));
    put(&mut p, "female_remitters", count(FRY));
    let sum_ok = remit_sum_publishable(t, mask, stats);
    put(
        &mut p,
        "remit_total_usd",
        sum_ok.then(|| Value::from(t.remit_cents as f64 / 100.0)),
    );
    put(
        &mut p,
        "remit_mean_usd",
        sum_ok.then(|| Value::from((t.remit_cents as f64 / t.d[RA] as f64 / 100.0).round())),
    );
    put(
        &mut p,
        "remit_median_usd",
        (vis(RA) && t.d[RA] > 0)
            .then_some(stats.median_cents)
            .flatten()
            .map(|c| Value::from((c as f64 / 100.0).round())),
    );
    let dominant = |range: std::ops::Range<usize>, list: CodeList| {
        range
            .clone()
            .filter(|&d| vis(d) && t.d[d] > 0)
            .max_by_key(|&d| (t.d[d], std::cmp::Reverse(d)))
            .map(|d| Value::from(book.code(list, (d - range.start) as u8)))
    };
    put(
        &mut p,
        "dominant_occupation",
        dominant(OCCUPATION, CodeList::Occupation),
    );
    put(
        &mut p,
        "dominant_sector",
        dominant(SECTOR, CodeList::Sector),
    );
    for g in groups {
        for d in g.dims() {
            let code = book.code(g.list(), (d - g.dims().start) as u8);
            put(&mut p, &format!("{}_{code}", g.prefix()), count(d));
        }
    }
    if let Some(s) = skill {
        let d = s.dim();
        put(&mut p, "skill_count", count(d));
        put(&mut p, "skill_share", share(d, N));
        let national_ok =
            is_visible(national_mask, d) && is_visible(national_mask, N) && national.d[d] > 0;
        let lq = (vis(d) && vis(N) && t.d[N] > 0 && national_ok).then(|| {
            let local = t.d[d] as f64 / t.d[N] as f64;
            let nat = national.d[d] as f64 / national.d[N] as f64;
            Value::from(round(local / nat, 3))
        });
        put(&mut p, "skill_lq", lq);
    }
    p.insert("suppressed".into(), Value::from(suppressed));
    p
}

/// Keeps the items of `v` whose flag in `keep` is set (one flag per item).
fn retain_flagged<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    v.retain(|_| *flags.next().expect("one flag per item"));
}

/// A density with three decimals, or three significant digits when smaller than 0.1: 30
/// respondents over Alaska's 1.5 million km² are 0.0000200 a km², not 0.
fn round_density(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let decimals = (2 - x.log10().floor() as i32).max(3);
    round(x, decimals)
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

impl Layer {
    /// The unit's outline in lon/lat degrees: the H3 cell boundary (counter-clockwise), or the
    /// state or county polygon.
    pub fn geometry(&self, i: usize) -> geo::MultiPolygon<f64> {
        let geo = Geodata::get();
        match (&self.ids[i], self.unit) {
            (UnitId::Cell(c), _) => {
                let ring: Vec<(f64, f64)> = super::snapshot::cell_index(*c)
                    .boundary()
                    .iter()
                    .map(|ll| (ll.lng(), ll.lat()))
                    .collect();
                geo::MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])])
            }
            (UnitId::Area(a), Unit::State) => geo.states[*a].geometry.clone(),
            (UnitId::Area(a), _) => geo.counties[*a].geometry.clone(),
        }
    }

    /// The unit's name: the state or county name; for a cell, the city of the ZIP centroid
    /// nearest its centre, its county and state (`Hialeah, Miami-Dade, FL`).
    pub fn name(&self, i: usize) -> String {
        let geo = Geodata::get();
        match (&self.ids[i], self.unit) {
            (UnitId::Cell(_), _) => {
                let (lon, lat) = self.center(i);
                geo.place_name(lon, lat)
            }
            (UnitId::Area(a), Unit::State) => geo.states[*a].name.clone(),
            (UnitId::Area(a), _) => {
                let c = &geo.counties[*a];
                let state = geo
                    .state_by_fips(&c.parent)
                    .map_or("", |s| s.parent.as_str());
                format!("{}, {state}", c.name)
            }
        }
    }

    /// A representative point (lon, lat): the cell centre, or the area's label point.
    pub fn center(&self, i: usize) -> (f64, f64) {
        match &self.ids[i] {
            UnitId::Cell(c) => {
                let ll = h3o::LatLng::from(super::snapshot::cell_index(*c));
                (ll.lng(), ll.lat())
            }
            UnitId::Area(_) => {
                use geo::InteriorPoint;
                self.geometry(i)
                    .interior_point()
                    .map_or((0.0, 0.0), |p| (p.x(), p.y()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_density;

    #[test]
    fn small_densities_keep_three_significant_digits() {
        assert_eq!(round_density(30.0 / 1_477_953.0), 0.0000203);
        assert_eq!(round_density(0.0234567), 0.0235);
        assert_eq!(round_density(1.234567), 1.235);
        assert_eq!(round_density(1234.5678), 1234.568);
        assert_eq!(round_density(0.0), 0.0);
    }
}
