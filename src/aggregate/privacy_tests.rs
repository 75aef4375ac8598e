//! The privacy property test: on random records and random filter combinations, no published
//! figure of any aggregate layer — nor any difference of published figures an attacker can
//! form across units, resolutions, geographies and filters — is between 1 and k−1.
//! These checks read only what the layers publish (their properties), never the masks.

use std::collections::HashMap;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::group::{MAX_RES, MIN_RES};
use super::layer::{Layer, MetricGroup, Unit};
use super::{compute, Filter, Snapshot};
use crate::codes::CodeSet;
use crate::geodata::Geodata;
use crate::record::{LocationSource, Record, FINEST_RES};

/// Records clustered around a few real ZIP centroids, so that many units are small.
fn random_records(seed: u64, n: usize) -> Vec<Record> {
    let geo = Geodata::get();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut zips: Vec<&crate::geodata::Zip> = geo
        .zips
        .values()
        .filter(|z| z.county_fips.is_some())
        .collect();
    zips.sort_by(|a, b| a.zip.cmp(&b.zip));
    let centres: Vec<&crate::geodata::Zip> = (0..rng.random_range(2..6))
        .map(|_| zips[rng.random_range(0..zips.len())])
        .collect();
    (0..n)
        .map(|i| {
            let z = centres[rng.random_range(0..centres.len())];
            // Spread over ~60 km, ~6 km or ~600 m, so that cells of every served resolution
            // down to 9 (~0.1 km²) hold from one to a few dozen records: the rules have
            // work to do at each level, not only at the coarse ones.
            let spread = [0.3, 0.03, 0.003][rng.random_range(0..3)];
            let lat = z.lat + rng.random_range(-spread..spread);
            let lon = z.lon + rng.random_range(-spread..spread);
            let cell = h3o::LatLng::new(lat, lon).unwrap().to_cell(FINEST_RES);
            let state = geo.state_by_postal(&z.state).unwrap();
            let remits = rng.random_bool(0.7);
            let set = |rng: &mut ChaCha8Rng, n: u32| {
                CodeSet(rng.random_range(0..(1u32 << n)) & rng.random_range(0..(1u32 << n)))
            };
            Record {
                external_id: format!("p-{i}"),
                survey_round: if rng.random_bool(0.5) {
                    "R1".into()
                } else {
                    "R2".into()
                },
                collected_on: time::Date::from_calendar_date(
                    2025,
                    time::Month::try_from(rng.random_range(1..=12u8)).unwrap(),
                    1,
                )
                .unwrap(),
                collection_mode: Some(0),
                zip: Some(z.zip.clone()),
                lat,
                lon,
                location_source: LocationSource::Point,
                state_fips: state.fips.clone(),
                county_fips: z.county_fips.clone(),
                h3_cell: u64::from(cell),
                gender: if rng.random_bool(0.03) {
                    2
                } else {
                    rng.random_range(0..2)
                },
                age_band: rng.random_range(0..6),
                education: None,
                years_in_us: None,
                generation: Some(rng.random_range(0..2)),
                occupation: rng.random_bool(0.8).then(|| rng.random_range(0..10)),
                sectors: set(&mut rng, 21),
                department: Some(rng.random_range(0..10)),
                support_sectors: CodeSet::default(),
                remits: Some(remits),
                // Heavy-tailed amounts so the dominance rule has work to do.
                remit_amount_cents: remits.then(|| {
                    if rng.random_bool(0.05) {
                        rng.random_range(5_000_000..50_000_000)
                    } else {
                        rng.random_range(10_000..500_000)
                    }
                }),
                remit_frequency: None,
                remit_channel: None,
                needs: set(&mut rng, 10),
                difficulties: set(&mut rng, 8),
                willingness: set(&mut rng, 8),
                channels: set(&mut rng, 10),
                languages: set(&mut rng, 4),
                association_member: None,
            }
        })
        .collect()
}

fn random_filter(rng: &mut ChaCha8Rng) -> Filter {
    let choices: [(&str, &[&str]); 6] = [
        ("gender", &["f", "m", "f,x"]),
        ("age_band", &["25-34", "35-44,45-54"]),
        ("occupation", &["2", "5", "2,3"]),
        ("sector", &["Q", "H,F"]),
        ("need", &["transfer_costs", "consular_documents"]),
        ("round", &["R1"]),
    ];
    let mut params: Vec<(&str, &str)> = Vec::new();
    for (key, values) in choices {
        if rng.random_bool(0.3) {
            params.push((key, values[rng.random_range(0..values.len())]));
        }
    }
    if rng.random_bool(0.2) {
        params.push(("from", "2025-03"));
        params.push(("to", "2025-09"));
    }
    Filter::from_params(params).unwrap()
}

/// The published counts of a layer: unit id → property → value (suppressed ones absent).
type Published = HashMap<String, HashMap<String, i64>>;

fn published(layer: &Layer) -> Published {
    (0..layer.ids.len())
        .map(|i| {
            let props = layer.properties(i, &MetricGroup::ALL, None);
            (layer.id_string(i), counts_of(&props))
        })
        .collect()
}

fn counts_of(props: &serde_json::Map<String, Value>) -> HashMap<String, i64> {
    props
        .iter()
        .filter(|(k, _)| is_count(k))
        .filter_map(|(k, v)| v.as_i64().map(|v| (k.clone(), v)))
        .collect()
}

fn is_count(name: &str) -> bool {
    matches!(name, "count" | "female" | "remitters" | "female_remitters")
        || MetricGroup::ALL
            .iter()
            .any(|g| name.starts_with(&format!("{}_", g.prefix())))
}

fn small(x: i64, k: u32) -> bool {
    x > 0 && x < i64::from(k)
}

fn check_unit_rules(p: &Published, k: u32, context: &str) {
    for (id, c) in p {
        for (name, &v) in c {
            assert!(
                !small(v, k),
                "{context}: {id} publishes {name} = {v} < k = {k}"
            );
        }
        let pairs: Vec<(&str, String)> = [
            ("count", "female"),
            ("count", "remitters"),
            ("remitters", "female_remitters"),
            ("female", "female_remitters"),
        ]
        .into_iter()
        .map(|(a, b)| (a, b.to_string()))
        .chain(
            c.keys()
                .filter(|n| MetricGroup::ALL.iter().any(|g| n.starts_with(g.prefix())))
                .map(|n| ("count", n.clone())),
        )
        .collect();
        for (total, part) in pairs {
            if let (Some(t), Some(v)) = (c.get(total), c.get(&part)) {
                assert!(
                    !small(t - v, k),
                    "{context}: {id} {total} − {part} = {} reveals a small group",
                    t - v
                );
            }
        }
    }
}

/// Parent minus its visible descendants, for every published count.
fn check_hierarchy(
    parents: &Published,
    children: &Published,
    parent_of: impl Fn(&str) -> Option<String>,
    k: u32,
    context: &str,
) {
    let mut sums: HashMap<(String, String), i64> = HashMap::new();
    for (id, c) in children {
        if let Some(p) = parent_of(id) {
            for (name, v) in c {
                *sums.entry((p.clone(), name.clone())).or_default() += v;
            }
        }
    }
    for (pid, c) in parents {
        for (name, v) in c {
            let shown = sums.get(&(pid.clone(), name.clone())).copied().unwrap_or(0);
            assert!(
                !small(v - shown, k),
                "{context}: {pid} {name} = {v} minus visible children {shown} = {}",
                v - shown
            );
        }
    }
}

fn h3_parent(id: &str, res: u8) -> Option<String> {
    let cell = u64::from_str_radix(id, 16).ok()?;
    Some(format!("{:x}", super::snapshot::parent(cell, res)))
}

fn check_all(snap: &Snapshot, filter: &Filter, k: u32, records: &[Record]) {
    let ctx = format!("filter {} k {k}", filter.canonical());
    let layer = |unit| compute(snap, unit, filter, k).unwrap();
    let national = counts_of(&layer(Unit::State).national_properties(&MetricGroup::ALL, None));
    let mut nat = Published::new();
    nat.insert("US".into(), national);
    check_unit_rules(&nat, k, &ctx);
    // H3: every pair of served resolutions, and the nation above them. All eight at the
    // full size of the cases: about 5 s for the whole test on 2 cores (3.4 s for 2–6).
    let levels: Vec<(u8, Published)> = (MIN_RES..=MAX_RES)
        .map(|r| (r, published(&layer(Unit::H3(r)))))
        .collect();
    for (r, p) in &levels {
        check_unit_rules(p, k, &format!("{ctx} res {r}"));
        check_hierarchy(
            &nat,
            p,
            |_| Some("US".into()),
            k,
            &format!("{ctx} US/res {r}"),
        );
    }
    for (i, (r, parents)) in levels.iter().enumerate() {
        for (r2, children) in &levels[i + 1..] {
            check_hierarchy(
                parents,
                children,
                |id| h3_parent(id, *r),
                k,
                &format!("{ctx} res {r}/{r2}"),
            );
        }
    }
    // States and counties.
    let geo = Geodata::get();
    let states = published(&layer(Unit::State));
    let counties = published(&layer(Unit::County));
    check_unit_rules(&states, k, &ctx);
    check_unit_rules(&counties, k, &ctx);
    check_hierarchy(
        &nat,
        &states,
        |_| Some("US".into()),
        k,
        &format!("{ctx} US/states"),
    );
    check_hierarchy(
        &states,
        &counties,
        |id| Some(id[..2].to_string()),
        k,
        &format!("{ctx} states/counties"),
    );
    // A state minus the hexagons whose records all lie in it.
    let state_of: HashMap<u64, std::collections::HashSet<String>> =
        records.iter().fold(HashMap::new(), |mut m, r| {
            m.entry(r.h3_cell).or_default().insert(r.state_fips.clone());
            m
        });
    for (r, hexes) in &levels {
        let mut inside: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        for (cell, st) in &state_of {
            inside
                .entry(format!("{:x}", super::snapshot::parent(*cell, *r)))
                .or_default()
                .extend(st.iter().cloned());
        }
        let only: Published = hexes
            .iter()
            .filter(|(id, _)| inside.get(*id).is_some_and(|s| s.len() == 1))
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect();
        check_hierarchy(
            &states,
            &only,
            |id| inside.get(id).and_then(|s| s.iter().next().cloned()),
            k,
            &format!("{ctx} states/res {r}"),
        );
    }
    // Filters: the same query without each filter, unit by unit.
    for field in filter.fields() {
        let wider = filter.without(field);
        for unit in [Unit::H3(5), Unit::State, Unit::County] {
            let a = published(&compute(snap, unit, &wider, k).unwrap());
            let b = published(&layer(unit));
            for (id, c) in &b {
                for (name, v) in c {
                    if let Some(w) = a.get(id).and_then(|x| x.get(name)) {
                        assert!(
                            !small(w - v, k),
                            "{ctx}: without {field:?}, {id} {name} {w} − {v}"
                        );
                    }
                }
            }
        }
    }
    let _ = geo;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn no_published_figure_or_difference_reveals_fewer_than_k_people(seed in 0u64..1_000_000, n in 40usize..600, k in prop::sample::select(vec![3u32, 5, 11])) {
        let records = random_records(seed, n);
        let snap = Snapshot::build(records.clone(), 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        check_all(&snap, &Filter::default(), k, &records);
        for _ in 0..2 {
            let filter = random_filter(&mut rng);
            check_all(&snap, &filter, k, &records);
        }
    }
}

/// The records above keep the hierarchy check of every served resolution at work: at each
/// one, some hexagons are published and some records lie in hexagons left out (were every
/// cell hidden, or every one published, the check would have nothing to find). With the
/// records spread over ~60 km only, nothing was published from resolution 6 on.
#[test]
fn random_records_publish_and_hide_hexagons_at_every_served_resolution() {
    let records = random_records(1, 300);
    let snap = Snapshot::build(records, 1);
    for res in MIN_RES..=MAX_RES {
        let p = published(&compute(&snap, Unit::H3(res), &Filter::default(), 5).unwrap());
        let counts: Vec<i64> = p.values().filter_map(|c| c.get("count").copied()).collect();
        assert!(!counts.is_empty(), "res {res}: no hexagon published");
        assert!(
            counts.iter().sum::<i64>() < 300,
            "res {res}: no record hidden"
        );
    }
}

#[test]
fn remittance_totals_are_never_dominated_by_one_or_two_senders() {
    let records = random_records(42, 3_000);
    let snap = Snapshot::build(records.clone(), 1);
    let layer = compute(&snap, Unit::State, &Filter::default(), 11).unwrap();
    let geo = Geodata::get();
    let mut checked = 0;
    for i in 0..layer.ids.len() {
        let p = layer.properties(i, &[], None);
        let Some(total) = p["remit_total_usd"].as_f64() else {
            continue;
        };
        let fips = layer.id_string(i);
        let mut amounts: Vec<i64> = records
            .iter()
            .filter(|r| r.state_fips == fips && r.remits == Some(true))
            .filter_map(|r| r.remit_amount_cents)
            .collect();
        amounts.sort_unstable_by(|a, b| b.cmp(a));
        let cents = (total * 100.0).round() as i64;
        assert_eq!(
            cents,
            amounts.iter().sum::<i64>(),
            "sum exact to the cent in {}",
            geo.state_by_fips(&fips).unwrap().name
        );
        assert!(amounts[0] as f64 <= 0.5 * cents as f64);
        assert!((amounts[0] + amounts.get(1).copied().unwrap_or(0)) as f64 <= 0.75 * cents as f64);
        checked += 1;
    }
    assert!(checked > 0);
}

/// Runs `check` on snapshots of random records (seeds `0..seeds`, `size(seed)` records
/// each) and `filters` random filters per snapshot, with the filter compiled.
fn for_random_queries(
    seeds: u64,
    size: impl Fn(u64) -> usize,
    filters: usize,
    mut check: impl FnMut(u64, &Snapshot, &Filter, &super::filter::Matcher),
) {
    for seed in 0..seeds {
        let snap = Snapshot::build(random_records(seed, size(seed)), 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..filters {
            let filter = random_filter(&mut rng);
            let m = filter.compile(&snap).unwrap();
            check(seed, &snap, &filter, &m);
        }
    }
}

/// The fused scan (cells and states tallied once per record) gives exactly the hexagon table
/// and the state tallies of the two separate scans, national remittance stats included; the
/// counts-only scan of the relaxed queries gives the same counts.
#[test]
fn one_scan_gives_the_hexagon_and_state_tallies_of_two() {
    use super::group::{area_table, h3_and_state_tallies, h3_counts_table_for, h3_table};
    for_random_queries(
        12,
        |seed| 300 + seed as usize * 40,
        3,
        |seed, snap, filter, m| {
            for res in [2u8, 6, 9] {
                let (fused, states) = h3_and_state_tallies(snap, m, res);
                let (alone, areas_alone) = (h3_table(snap, m, res), area_table(snap, m));
                // The counts-only table of the relaxed queries counts the same.
                let counts = h3_counts_table_for(snap, filter, m, res, 0);
                for ((a, b), c) in fused.levels.iter().zip(&alone.levels).zip(&counts.levels) {
                    assert_eq!(a.ids, b.ids, "seed {seed} res {res}");
                    assert_eq!(a.tallies, b.tallies, "seed {seed} res {res}");
                    assert_eq!(
                        (&a.ids, &a.tallies),
                        (&c.ids, &c.tallies),
                        "seed {seed} res {res}"
                    );
                }
                assert_eq!(fused.national, counts.national);
                assert_eq!(fused.remit, alone.remit);
                assert_eq!(fused.national_remit, alone.national_remit);
                assert_eq!(states, areas_alone.states, "seed {seed}");
            }
        },
    );
}

/// The column-wise selection used by the scans picks exactly the records the per-record
/// matcher accepts, over whole snapshots and over chunks that start anywhere.
#[test]
fn the_column_selection_picks_exactly_the_matching_records() {
    for_random_queries(
        12,
        |seed| 500 + seed as usize * 50,
        4,
        |seed, snap, filter, m| {
            for (from, to) in [
                (0, snap.len()),
                (7, snap.len() / 2),
                (snap.len() / 3, snap.len()),
            ] {
                let mut selected = Vec::new();
                m.select(snap, from, to, &mut selected);
                let expected: Vec<u32> = (from..to)
                    .filter(|&i| m.matches(snap, i))
                    .map(|i| i as u32)
                    .collect();
                assert_eq!(selected, expected, "seed {seed} {filter:?} {from}..{to}");
            }
        },
    );
}

/// Every level of an H3 table (the finest scanned in parallel chunks, the coarser ones
/// derived from it) equals the tallies built record by record, per cell of each resolution.
#[test]
fn every_level_of_a_hexagon_table_counts_its_records_once() {
    use super::group::{h3_table, RemitStats};
    use super::snapshot::parent;
    use super::tally::Tally;
    use std::collections::BTreeMap;
    for_random_queries(
        10,
        |seed| 200 + seed as usize * 120,
        3,
        |seed, snap, _, m| {
            let matching: Vec<usize> = (0..snap.len()).filter(|&i| m.matches(snap, i)).collect();
            for res in [3u8, 7, 9] {
                let table = h3_table(snap, m, res);
                assert_eq!(table.levels.len(), usize::from(res - MIN_RES + 1));
                for level in &table.levels {
                    let mut expected: BTreeMap<u64, Tally> = BTreeMap::new();
                    for &i in &matching {
                        let cell = parent(snap.cell[i], level.res);
                        expected.entry(cell).or_default().add_record(snap, i);
                    }
                    let ids: Vec<u64> = expected.keys().copied().collect();
                    let tallies: Vec<Tally> = expected.into_values().collect();
                    assert_eq!(level.ids, ids, "seed {seed} res {res} level {}", level.res);
                    assert_eq!(
                        level.tallies, tallies,
                        "seed {seed} res {res} level {}",
                        level.res
                    );
                }
                // The remittance stats of the finest cells, from each cell's own amounts.
                let expected_remit: Vec<RemitStats> = table
                    .finest()
                    .ids
                    .iter()
                    .map(|&cell| {
                        let mut amounts: Vec<i64> = matching
                            .iter()
                            .filter(|&&i| parent(snap.cell[i], res) == cell)
                            .filter_map(|&i| snap.remit_amount(i))
                            .collect();
                        RemitStats::from_amounts(&mut amounts)
                    })
                    .collect();
                assert_eq!(table.remit, expected_remit, "seed {seed} res {res}");
            }
        },
    );
}

/// Rules 2 and 3 decided on bitmasks (`unit_rules`) give the same masks as their definition:
/// every partition in turn, until none hides anything more.
#[test]
fn the_unit_rules_reach_the_same_masks_as_one_partition_after_another() {
    use super::privacy::{partition_rule, primary, unit_rules};
    use super::tally::*;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..20_000 {
        let k = rng.random_range(2..=15);
        // Small units, where the rules bite: categories never exceed their totals.
        let n = rng.random_range(0..3 * k);
        let mut t = Tally::default();
        t.d[N] = n;
        t.d[F] = rng.random_range(0..=n);
        t.d[RY] = rng.random_range(0..=n);
        t.d[RA] = rng.random_range(0..=t.d[RY]);
        t.d[FRY] = rng.random_range(0..=t.d[RY].min(t.d[F]));
        let mut left = n;
        for d in OCCUPATION {
            t.d[d] = rng.random_range(0..=left);
            left -= t.d[d];
        }
        for d in SECTOR.start..LANGUAGE.end {
            t.d[d] = rng.random_range(0..=n);
        }
        let start = primary(&t, k);
        let mut fast = start;
        unit_rules(&t, &mut fast, k);
        let mut slow = start;
        loop {
            let round = slow;
            if slow & 1 << N == 0 {
                slow = 0;
                break;
            }
            for p in partitions() {
                partition_rule(&t, p, &mut slow, k);
            }
            if slow == round {
                break;
            }
        }
        assert_eq!(fast, slow, "case {case} k {k} {:?}", t.d);
    }
}

/// A filtered table keeps at its resolution only the cells of at least k records, and
/// only their remittance stats; every coarser level, the national figures and the state
/// tallies are those of the table that keeps every cell.
#[test]
fn a_filtered_table_keeps_only_the_cells_that_can_be_published() {
    use super::group::{h3_and_state_tallies, h3_and_state_tallies_for, h3_counts_table_for};
    for_random_queries(
        12,
        |seed| 400 + seed as usize * 60,
        3,
        |seed, snap, filter, m| {
            let k = 2 + (seed % 5) as u32 * 3;
            for res in [2u8, 5, 9] {
                let (all, all_states) = h3_and_state_tallies(snap, m, res);
                let (kept, states) = h3_and_state_tallies_for(snap, filter, m, res, k);
                let counts = h3_counts_table_for(snap, filter, m, res, k);
                let context = format!("seed {seed} res {res} k {k} {filter:?}");
                let (all_fine, fine) = (all.finest(), kept.finest());
                let (last, coarser) = (all.levels.len() - 1, &all.levels[..all.levels.len() - 1]);
                if filter.is_empty() || res == 2 {
                    // The snapshot's memo (or no parent to hold the rest): every cell.
                    assert_eq!(fine.ids, all_fine.ids, "{context}");
                } else {
                    let big: Vec<usize> = (0..all_fine.ids.len())
                        .filter(|&i| all_fine.counts[i] >= k)
                        .collect();
                    let ids: Vec<u64> = big.iter().map(|&i| all_fine.ids[i]).collect();
                    assert_eq!(fine.ids, ids, "{context}");
                    assert_eq!(counts.finest().ids, ids, "{context}");
                    for (j, &i) in big.iter().enumerate() {
                        assert_eq!(fine.tallies[j], all_fine.tallies[i], "{context}");
                        assert_eq!(fine.counts[j], all_fine.counts[i], "{context}");
                        assert_eq!(kept.remit[j], all.remit[i], "{context}");
                        assert_eq!(counts.finest().tallies[j], all_fine.tallies[i]);
                    }
                }
                for (li, level) in coarser.iter().enumerate() {
                    assert_eq!(kept.levels[li].ids, level.ids, "{context} level {li}");
                    assert_eq!(kept.levels[li].tallies, level.tallies, "{context}");
                    assert_eq!(kept.levels[li].counts, level.counts, "{context}");
                    assert_eq!(counts.levels[li].tallies, level.tallies, "{context}");
                }
                assert_eq!(kept.levels.len(), last + 1);
                assert_eq!(kept.national, all.national, "{context}");
                assert_eq!(kept.national_remit, all.national_remit, "{context}");
                assert_eq!(states, all_states, "{context}");
            }
        },
    );
}
