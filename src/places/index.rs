//! The spatial index of places: an immutable [`PlaceSet`] (the places plus their R-trees),
//! held by a [`PlaceIndex`] that swaps in a new set whenever the stored places change, so a
//! query in flight always sees one consistent set.
//!
//! Two kinds of R-tree (rstar) are kept:
//! - one over (lon, lat) degrees, for bounding-box queries (boxes are given in degrees);
//! - for distance queries, trees over points on the unit sphere in 3-D (see
//!   [`super::distance`]): one per `place_kind` plus one per common union (consular posts,
//!   associations, everything), so a query filtered by kind searches only matching places.
//!
//! Every distance returned is the haversine great-circle distance in kilometres.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

use super::distance::{haversine_km, km_to_chord, unit_vector};
use super::{Category, Place, CONSULAR_KINDS};
use crate::codes::{CodeList, CodeSet, Codebook, UnknownCode};
use crate::geodata::Geodata;
use crate::store::{Store, StoreError};

type Flat = GeomWithData<[f64; 2], u32>;
type Sphere = GeomWithData<[f64; 3], u32>;

/// A set of `place_kind` codes (bit i = the i-th code of the list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KindFilter(pub CodeSet);

impl KindFilter {
    /// Every kind.
    pub fn all() -> KindFilter {
        let n = Codebook::get().len(CodeList::PlaceKind);
        KindFilter(CodeSet(if n >= 32 { u32::MAX } else { (1u32 << n) - 1 }))
    }

    pub fn category(category: Category) -> KindFilter {
        let book = Codebook::get();
        let mut set = CodeSet::default();
        for (i, code) in book.codes(CodeList::PlaceKind).iter().enumerate() {
            if Category::of_kind(&code.code) == category {
                set.insert(i as u8);
            }
        }
        KindFilter(set)
    }

    /// Parses a comma-separated list of `place_kind` codes.
    ///
    /// # Errors
    /// A code that is not a `place_kind`.
    pub fn parse(list: &str) -> Result<KindFilter, UnknownCode> {
        let book = Codebook::get();
        let mut set = CodeSet::default();
        for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            set.insert(book.index(CodeList::PlaceKind, code)?);
        }
        Ok(KindFilter(set))
    }

    pub fn and(self, other: KindFilter) -> KindFilter {
        KindFilter(CodeSet(self.0 .0 & other.0 .0))
    }

    pub fn contains(self, kind: u8) -> bool {
        self.0.contains(kind)
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// The codes of the set, in codebook order.
    pub fn codes(self) -> Vec<&'static str> {
        let book = Codebook::get();
        self.0
            .iter()
            .map(|i| book.code(CodeList::PlaceKind, i))
            .collect()
    }
}

/// A place found by a distance query: its index in the set and its distance in km.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub distance_km: f64,
}

/// The places at one moment, with their R-trees. Immutable: changes build a new set.
pub struct PlaceSet {
    /// Consular posts first (in geodata order), then the associations by id.
    places: Vec<Place>,
    /// `place_kind` index of each place.
    kinds: Vec<u8>,
    by_id: HashMap<String, usize>,
    flat: RTree<Flat>,
    /// Distance trees, each with the kinds it holds; singles first, then unions.
    spheres: Vec<(KindFilter, RTree<Sphere>)>,
    /// The stored places this set was built from, sorted by id (to detect changes).
    source: Vec<Place>,
}

impl PlaceSet {
    /// The consular posts of the geodata plus `associations` (places with a consular kind,
    /// a post's id, or an unknown kind are skipped with a warning: posts come from geodata).
    pub fn build(mut associations: Vec<Place>) -> PlaceSet {
        let book = Codebook::get();
        let mut places: Vec<Place> = Geodata::get().posts.iter().map(Place::from_post).collect();
        associations.sort_by(|a, b| a.id.cmp(&b.id));
        let source = associations.clone();
        for p in associations {
            if CONSULAR_KINDS.contains(&p.kind.as_str()) || super::is_post_id(&p.id) {
                tracing::warn!(id = %p.id, "stored place skipped: consular posts come from geodata");
            } else if book.index(CodeList::PlaceKind, &p.kind).is_err() {
                tracing::warn!(id = %p.id, kind = %p.kind, "stored place skipped: unknown place_kind");
            } else if !(p.lat.is_finite() && p.lon.is_finite()) {
                tracing::warn!(id = %p.id, "stored place skipped: coordinates are not numbers");
            } else {
                places.push(p);
            }
        }
        let kinds: Vec<u8> = places
            .iter()
            .map(|p| {
                book.index(CodeList::PlaceKind, &p.kind)
                    .expect("consular kinds are place_kind codes")
            })
            .collect();
        let by_id = places
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let flat = RTree::bulk_load(
            places
                .iter()
                .enumerate()
                .map(|(i, p)| Flat::new([p.lon, p.lat], i as u32))
                .collect(),
        );
        let mut filters: Vec<KindFilter> = (0..book.len(CodeList::PlaceKind) as u8)
            .map(|k| KindFilter(CodeSet(1 << k)))
            .collect();
        filters.extend([
            KindFilter::category(Category::Consular),
            KindFilter::category(Category::Association),
            KindFilter::all(),
        ]);
        let spheres = filters
            .into_iter()
            .map(|f| {
                let points = (0..places.len())
                    .filter(|&i| f.contains(kinds[i]))
                    .map(|i| Sphere::new(unit_vector(places[i].lon, places[i].lat), i as u32))
                    .collect();
                (f, RTree::bulk_load(points))
            })
            .collect();
        PlaceSet {
            places,
            kinds,
            by_id,
            flat,
            spheres,
            source,
        }
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }

    pub fn place(&self, index: usize) -> &Place {
        &self.places[index]
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Place> {
        self.index_of(id).map(|i| &self.places[i])
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The `place_kind` index of place `index`.
    pub fn kind(&self, index: usize) -> u8 {
        self.kinds[index]
    }

    /// Indexes of the consular posts, in geodata order.
    pub fn posts(&self) -> std::ops::Range<usize> {
        0..Geodata::get().posts.len()
    }

    /// The stored associations (everything but the posts).
    pub fn associations(&self) -> &[Place] {
        &self.places[self.posts().end..]
    }

    /// Whether this is the synthetic demo set: its associations are flagged demo, and they
    /// come with the demo records (the web page decides the same way).
    pub fn is_demo(&self) -> bool {
        self.associations().iter().any(|p| p.is_demo)
    }

    /// Places of the kinds in `filter` inside `bbox` (minLon, minLat, maxLon, maxLat in
    /// degrees, edges included), in set order.
    pub fn in_bbox(&self, bbox: [f64; 4], filter: KindFilter) -> Vec<usize> {
        let envelope = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut out: Vec<usize> = self
            .flat
            .locate_in_envelope(&envelope)
            .map(|p| p.data as usize)
            .filter(|&i| filter.contains(self.kinds[i]))
            .collect();
        out.sort_unstable();
        out
    }

    /// The trees whose union is exactly the kinds of `filter` (one tree when a single kind
    /// or a precomputed union matches).
    fn trees(&self, filter: KindFilter) -> Vec<&RTree<Sphere>> {
        if let Some((_, t)) = self.spheres.iter().find(|(f, _)| *f == filter) {
            return vec![t];
        }
        filter
            .0
            .iter()
            .filter_map(|k| self.spheres.get(k as usize))
            .map(|(_, t)| t)
            .collect()
    }

    fn hit(&self, index: usize, lon: f64, lat: f64) -> Hit {
        let p = &self.places[index];
        Hit {
            index,
            distance_km: haversine_km(lon, lat, p.lon, p.lat),
        }
    }

    /// The nearest place of the kinds in `filter` to (lon, lat) in degrees.
    pub fn nearest_one(&self, lon: f64, lat: f64, filter: KindFilter) -> Option<Hit> {
        let q = unit_vector(lon, lat);
        self.trees(filter)
            .into_iter()
            .filter_map(|t| t.nearest_neighbor(&q))
            .map(|p| self.hit(p.data as usize, lon, lat))
            .min_by(|a, b| {
                a.distance_km
                    .total_cmp(&b.distance_km)
                    .then(a.index.cmp(&b.index))
            })
    }

    /// The `k` nearest places of the kinds in `filter`, nearest first (ties by set order).
    pub fn nearest(&self, lon: f64, lat: f64, k: usize, filter: KindFilter) -> Vec<Hit> {
        let q = unit_vector(lon, lat);
        let mut hits: Vec<Hit> = self
            .trees(filter)
            .into_iter()
            .flat_map(|t| t.nearest_neighbor_iter(&q).take(k))
            .map(|p| self.hit(p.data as usize, lon, lat))
            .collect();
        sort_hits(&mut hits);
        hits.truncate(k);
        hits
    }

    /// Places of the kinds in `filter` within `radius_km` of (lon, lat), nearest first.
    pub fn within(&self, lon: f64, lat: f64, radius_km: f64, filter: KindFilter) -> Vec<Hit> {
        let q = unit_vector(lon, lat);
        // A hair wider than the radius, so rounding never drops a place on the edge; the
        // exact haversine test below decides.
        let chord = km_to_chord(radius_km) + 1e-12;
        let mut hits: Vec<Hit> = self
            .trees(filter)
            .into_iter()
            .flat_map(|t| t.locate_within_distance(q, chord * chord))
            .map(|p| self.hit(p.data as usize, lon, lat))
            .filter(|h| h.distance_km <= radius_km)
            .collect();
        sort_hits(&mut hits);
        hits
    }
}

fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then(a.index.cmp(&b.index))
    });
}

/// The current [`PlaceSet`], replaced atomically when places change.
pub struct PlaceIndex {
    current: ArcSwap<PlaceSet>,
    /// Serialises reloads, so that the last set swapped in was read after every write that
    /// preceded it.
    reloading: Mutex<()>,
}

impl PlaceIndex {
    pub fn new(set: PlaceSet) -> PlaceIndex {
        PlaceIndex {
            current: ArcSwap::from_pointee(set),
            reloading: Mutex::new(()),
        }
    }

    /// The posts of the geodata and the associations of the store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn load(store: &dyn Store) -> Result<PlaceIndex, StoreError> {
        Ok(PlaceIndex::new(PlaceSet::build(store.places()?)))
    }

    /// The current set; it stays valid (and unchanged) for as long as the caller holds it.
    pub fn get(&self) -> Arc<PlaceSet> {
        self.current.load_full()
    }

    /// Re-reads the store and swaps in a new set when the associations differ; returns
    /// whether it did.
    ///
    /// # Errors
    /// When the store cannot be read (the current set then stays).
    pub fn reload(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let _guard = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let mut stored = store.places()?;
        stored.sort_by(|a, b| a.id.cmp(&b.id));
        if stored == self.get().source {
            return Ok(false);
        }
        self.current.store(Arc::new(PlaceSet::build(stored)));
        Ok(true)
    }
}

/// How often the service re-reads the places (changes made by the CLI in another process).
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Polls the store for changes made by other processes and swaps in new sets; runs forever.
pub async fn watch(index: Arc<PlaceIndex>, store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tick.tick().await;
        let (index, store) = (index.clone(), store.clone());
        match tokio::task::spawn_blocking(move || index.reload(store.as_ref())).await {
            Ok(Ok(true)) => tracing::info!("places reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "places reload failed"),
            Err(e) => tracing::error!(error = %e, "places reload panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ASSOCIATION_KINDS: [&str; 7] = [
        "hometown",
        "faith_based",
        "professional",
        "community_centre",
        "student_youth",
        "womens",
        "cultural_alumni",
    ];

    fn association(i: usize, kind: &str, lon: f64, lat: f64) -> Place {
        Place {
            id: format!("t-{i:04}"),
            kind: kind.into(),
            name: format!("Test {i}"),
            city: String::new(),
            state: String::new(),
            lat,
            lon,
            sectors: vec![],
            languages: vec![],
            is_demo: true,
        }
    }

    /// Random associations anywhere on Earth (the index must not care where).
    fn places_strategy() -> impl Strategy<Value = Vec<Place>> {
        prop::collection::vec(
            (0..ASSOCIATION_KINDS.len(), -180.0..180.0f64, -90.0..90.0f64),
            0..120,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (k, lon, lat))| association(i, ASSOCIATION_KINDS[k], lon, lat))
                .collect()
        })
    }

    fn filter_strategy() -> impl Strategy<Value = KindFilter> {
        prop_oneof![
            Just(KindFilter::all()),
            Just(KindFilter::category(Category::Association)),
            Just(KindFilter::category(Category::Consular)),
            (1u32..(1 << 9)).prop_map(|m| KindFilter(CodeSet(m))),
        ]
    }

    /// Every place of the filter with its distance, nearest first: the brute-force answer.
    fn scan(set: &PlaceSet, lon: f64, lat: f64, filter: KindFilter) -> Vec<Hit> {
        let mut hits: Vec<Hit> = (0..set.len())
            .filter(|&i| filter.contains(set.kind(i)))
            .map(|i| set.hit(i, lon, lat))
            .collect();
        sort_hits(&mut hits);
        hits
    }

    fn distances(hits: &[Hit]) -> Vec<f64> {
        hits.iter().map(|h| h.distance_km).collect()
    }

    fn same_distances(a: &[Hit], b: &[Hit]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.distance_km - y.distance_km).abs() < 1e-9)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn k_nearest_equals_a_brute_force_scan(
            places in places_strategy(), lon in -180.0..180.0f64, lat in -90.0..90.0f64,
            k in 0usize..20, filter in filter_strategy(),
        ) {
            let set = PlaceSet::build(places);
            let got = set.nearest(lon, lat, k, filter);
            let all = scan(&set, lon, lat, filter);
            let want: Vec<Hit> = all.iter().copied().take(k).collect();
            prop_assert!(same_distances(&got, &want), "{:?} vs {:?}", distances(&got), distances(&want));
            let one = set.nearest_one(lon, lat, filter);
            prop_assert_eq!(one.is_some(), !all.is_empty());
            if let (Some(one), Some(first)) = (one, all.first()) {
                prop_assert!((one.distance_km - first.distance_km).abs() < 1e-9);
            }
        }

        #[test]
        fn within_radius_equals_a_brute_force_scan(
            places in places_strategy(), lon in -180.0..180.0f64, lat in -90.0..90.0f64,
            radius in 0.0..25_000.0f64, filter in filter_strategy(),
        ) {
            let set = PlaceSet::build(places);
            let got = set.within(lon, lat, radius, filter);
            let want: Vec<Hit> = scan(&set, lon, lat, filter).into_iter().filter(|h| h.distance_km <= radius).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn bounding_box_equals_a_brute_force_scan(
            places in places_strategy(), a in -180.0..180.0f64, b in -180.0..180.0f64,
            c in -90.0..90.0f64, d in -90.0..90.0f64, filter in filter_strategy(),
        ) {
            let set = PlaceSet::build(places);
            let bbox = [a.min(b), c.min(d), a.max(b), c.max(d)];
            let got = set.in_bbox(bbox, filter);
            let want: Vec<usize> = (0..set.len())
                .filter(|&i| filter.contains(set.kind(i)))
                .filter(|&i| {
                    let p = set.place(i);
                    p.lon >= bbox[0] && p.lon <= bbox[2] && p.lat >= bbox[1] && p.lat <= bbox[3]
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn the_posts_come_first_and_stored_consular_places_are_ignored() {
        let mut fake = association(1, "consulate_general", -80.0, 26.0);
        fake.id = "x".into();
        let set = PlaceSet::build(vec![association(2, "womens", -80.1, 26.1), fake]);
        assert_eq!(set.posts().len(), Geodata::get().posts.len());
        assert!(set.get("HT-CON-MIA").is_some());
        assert_eq!(set.associations().len(), 1);
        assert!(set.get("x").is_none());
    }

    #[test]
    fn the_nearest_post_to_little_haiti_is_miami() {
        let set = PlaceSet::build(vec![]);
        let hit = set
            .nearest_one(-80.19, 25.83, KindFilter::category(Category::Consular))
            .unwrap();
        assert_eq!(set.place(hit.index).id, "HT-CON-MIA");
        assert!(
            hit.distance_km > 5.0 && hit.distance_km < 10.0,
            "{}",
            hit.distance_km
        );
    }

    #[test]
    fn reload_swaps_in_a_new_set_only_when_places_change() {
        let store = crate::store::SqliteStore::open_in_memory().unwrap();
        let index = PlaceIndex::load(&store).unwrap();
        let before = index.get();
        assert!(!index.reload(&store).unwrap());
        store
            .upsert_places(&[association(1, "hometown", -73.95, 40.65)])
            .unwrap();
        assert!(index.reload(&store).unwrap());
        assert_eq!(index.get().associations().len(), 1);
        // A reader holding the old set still sees it whole.
        assert!(before.associations().is_empty());
        assert!(!index.reload(&store).unwrap());
    }
}
