//! The release policy of [`Engine::refresh`]: public figures move only when a release is cut,
//! each release draws fresh record keys, and an erasure that a release can no longer rebuild
//! is released at once.

use std::time::Duration;

use super::{Engine, Figures, Filter, Unit};
use crate::store::{SqliteStore, Store};

const DAY: Duration = Duration::from_secs(86_400);

fn national_count(engine: &Engine, figures: Figures) -> u64 {
    let layer = engine
        .layer_of(Unit::State, &Filter::default(), figures)
        .unwrap();
    layer.national_properties(&[], None)["count"]
        .as_u64()
        .unwrap()
}

fn store_with(n: usize, seed: u64) -> SqliteStore {
    let store = SqliteStore::open_in_memory().unwrap();
    crate::demo::load_into(&store, n, seed).unwrap();
    store
}

#[test]
fn the_first_refresh_cuts_the_first_release_and_later_imports_wait_for_the_interval() {
    let store = store_with(2_000, 1);
    let engine = Engine::new(11).releasing_every(30 * DAY);
    assert!(engine.refresh(&store).unwrap());
    let first = store.latest_release().unwrap().unwrap();
    assert_eq!(
        (first.id, first.records, first.reason.as_str()),
        (1, 2_000, "first")
    );
    assert_eq!(engine.snapshot().data_version, 1);
    let public = national_count(&engine, Figures::Public);
    assert_eq!(national_count(&engine, Figures::Exact), 2_000);

    // More records: stored at once, published only with the next release.
    crate::demo::load_into(&store, 500, 2).unwrap();
    assert!(!engine.refresh(&store).unwrap());
    assert_eq!(store.latest_release().unwrap().unwrap().id, 1);
    assert_eq!(national_count(&engine, Figures::Public), public);
    assert_eq!(national_count(&engine, Figures::Exact), 2_000);

    // A restarted service rebuilds the same release, figure for figure.
    let restarted = Engine::new(11).releasing_every(30 * DAY);
    assert!(restarted.refresh(&store).unwrap());
    assert_eq!(restarted.snapshot().data_version, 1);
    assert_eq!(national_count(&restarted, Figures::Public), public);
}

#[test]
fn a_due_release_takes_every_record_with_fresh_keys() {
    let store = store_with(2_000, 3);
    let engine = Engine::new(11);
    engine.refresh(&store).unwrap();
    crate::demo::load_into(&store, 300, 4).unwrap();
    assert!(engine.refresh(&store).unwrap());
    let release = store.latest_release().unwrap().unwrap();
    assert_eq!((release.id, release.records), (2, 2_300));
    assert_eq!(national_count(&engine, Figures::Exact), 2_300);
    // Fresh keys: the release's number goes into every record key (`perturb::record_key`,
    // whose own test shows keys independent across releases; `tests/py/test_perturbation.py`
    // derives them independently from the database and the release).
    let secret = store.perturbation_secret().unwrap();
    let fresh = (1..=2_000)
        .filter(|&id| {
            super::perturb::record_key(&secret, id, 1) != super::perturb::record_key(&secret, id, 2)
        })
        .count();
    assert!(fresh > 1_900, "{fresh} of 2000 keys changed");
    assert_eq!(engine.snapshot().rkey.len(), 2_300);
}

#[test]
fn an_erasure_is_released_at_once_when_the_release_must_be_rebuilt() {
    let store = store_with(2_000, 5);
    let engine = Engine::new(11).releasing_every(30 * DAY);
    engine.refresh(&store).unwrap();
    let victim: String = {
        let mut first = None;
        store
            .load_records(&mut |r| {
                first.get_or_insert(r.external_id);
            })
            .unwrap();
        first.unwrap()
    };
    store.erase_record(&victim, "test").unwrap();
    // The running service keeps its release until the next one is due…
    assert!(!engine.refresh(&store).unwrap());
    assert_eq!(national_count(&engine, Figures::Exact), 2_000);
    // …but a restart cannot rebuild it without the erased record: a new release is cut.
    let restarted = Engine::new(11).releasing_every(30 * DAY);
    assert!(restarted.refresh(&store).unwrap());
    let release = store.latest_release().unwrap().unwrap();
    assert_eq!((release.id, release.reason.as_str()), (2, "erasure"));
    assert_eq!(national_count(&restarted, Figures::Exact), 1_999);
}
