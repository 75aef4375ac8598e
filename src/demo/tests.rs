use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::associations::TARGET;
use super::geography::{Sites, STATES};
use super::*;
use crate::codes::{CodeList, CodeSet};
use crate::record::{LocationSource, FINEST_RES};
use crate::store::SqliteStore;

/// One shared set of 100,000 records (seed 1) for the distribution tests.
fn big() -> &'static DemoSet {
    static SET: OnceLock<DemoSet> = OnceLock::new();
    SET.get_or_init(|| generate(100_000, 1))
}

fn postal_of(fips: &str) -> &'static str {
    &Geodata::get().state_by_fips(fips).expect("a state").parent
}

/// The share of all records whose answer `f` satisfies `keep`.
fn share<T: Copy>(
    records: &[Record],
    f: impl Fn(&Record) -> Option<T>,
    keep: impl Fn(T) -> bool,
) -> f64 {
    records.iter().filter_map(f).filter(|v| keep(*v)).count() as f64 / records.len() as f64
}

fn code(list: CodeList, code: &str) -> u8 {
    Codebook::get().index(list, code).unwrap()
}

fn set_rate(records: &[Record], f: impl Fn(&Record) -> CodeSet, list: CodeList, c: &str) -> f64 {
    let i = code(list, c);
    records.iter().filter(|r| f(r).contains(i)).count() as f64 / records.len() as f64
}

#[test]
fn the_same_seed_gives_the_same_set_and_another_seed_another() {
    let a = generate(3_000, 7);
    let b = generate(3_000, 7);
    assert!(a.records == b.records, "records differ for the same seed");
    assert_eq!(a.associations, b.associations);
    let c = generate(3_000, 8);
    assert_ne!(
        a.records.iter().map(|r| r.h3_cell).collect::<Vec<_>>(),
        c.records.iter().map(|r| r.h3_cell).collect::<Vec<_>>()
    );
    assert_ne!(a.associations, c.associations);
    // A smaller set is the start of a larger one.
    assert!(generate(500, 7).records[..] == a.records[..500]);
    assert_eq!(a.records[42].external_id, "demo-7-42");
}

#[test]
fn state_shares_follow_the_haiti_born_population() {
    let records = &big().records;
    let mut by_state: HashMap<&str, usize> = HashMap::new();
    for r in records {
        *by_state.entry(postal_of(&r.state_fips)).or_default() += 1;
    }
    let pct = |s: &str| 100.0 * by_state.get(s).copied().unwrap_or(0) as f64 / records.len() as f64;
    let mut ranked: Vec<(&str, usize)> = by_state.iter().map(|(s, n)| (*s, *n)).collect();
    ranked.sort_by_key(|x| std::cmp::Reverse(x.1));
    eprintln!(
        "state shares: {:?}",
        ranked
            .iter()
            .take(12)
            .map(|(s, n)| format!("{s} {:.1}%", *n as f64 / 1000.0))
            .collect::<Vec<_>>()
    );
    assert!((45.0..=55.0).contains(&pct("FL")), "FL {:.1}%", pct("FL"));
    let top: Vec<&str> = ranked.iter().take(6).map(|r| r.0).collect();
    assert_eq!(top, ["FL", "NY", "MA", "NJ", "GA", "CT"]);
    // A thin tail everywhere: every consular post's jurisdiction has people.
    for post in &Geodata::get().posts {
        let n: usize = post
            .states
            .iter()
            .map(|s| by_state.get(s.as_str()).copied().unwrap_or(0))
            .sum();
        assert!(
            post.states.is_empty() || n >= 50,
            "{} serves {n} records",
            post.id
        );
    }
    for s in ["IL", "TX", "PA", "MD", "OH", "CA", "NC"] {
        assert!(pct(s) > 0.2, "{s} {:.2}%", pct(s));
    }
}

#[test]
fn hotspot_neighbourhoods_are_dense() {
    let records = &big().records;
    let mut by_county: HashMap<&str, usize> = HashMap::new();
    for r in records {
        *by_county
            .entry(r.county_fips.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    let pct =
        |c: &str| 100.0 * by_county.get(c).copied().unwrap_or(0) as f64 / records.len() as f64;
    // Miami-Dade, Broward, Palm Beach, Kings, Queens, Suffolk MA, Essex NJ, Orange FL.
    for (county, low) in [
        ("12086", 10.0),
        ("12011", 10.0),
        ("12099", 8.0),
        ("36047", 5.0),
        ("36081", 2.0),
        ("25025", 2.0),
        ("34013", 1.5),
        ("12095", 2.5),
    ] {
        assert!(
            pct(county) >= low,
            "county {county} has {:.2}%",
            pct(county)
        );
    }
    let flatbush = records
        .iter()
        .filter(|r| r.zip.as_deref() == Some("11226"))
        .count();
    assert!(flatbush > 700, "11226 has {flatbush} records");
}

#[test]
fn every_hotspot_and_association_zip_is_usable() {
    let sites = Sites::get();
    for state in STATES {
        assert!(
            Geodata::get().state_by_postal(state.state).is_some(),
            "{}",
            state.state
        );
        for (zip, _) in state.hotspots {
            let site = sites
                .by_zip(zip)
                .unwrap_or_else(|| panic!("hotspot ZIP {zip} is not usable"));
            assert_eq!(
                postal_of(&site.state_fips),
                state.state,
                "hotspot ZIP {zip}"
            );
        }
    }
    let total: f64 = STATES.iter().map(|s| s.thousands).sum();
    assert!((700.0..760.0).contains(&total), "{total}k in all");
}

#[test]
fn every_record_lies_in_its_state_and_county_or_off_the_polygons_in_its_zips() {
    let geo = Geodata::get();
    for r in &big().records {
        assert_eq!(r.location_source, LocationSource::Point);
        let zip = &geo.zips[r.zip.as_deref().expect("a ZIP")];
        let zip_state = geo.state_by_postal(&zip.state).expect("the ZIP's state");
        assert_eq!(
            r.state_fips, zip_state.fips,
            "{} stays in its ZIP's state",
            r.external_id
        );
        match geo.state_at(r.lon, r.lat) {
            Some(state) => {
                assert_eq!(state.fips, r.state_fips, "{}", r.external_id);
                let county = geo
                    .county_at(r.lon, r.lat)
                    .filter(|c| c.parent == state.fips);
                let expected = county
                    .map(|c| c.fips.clone())
                    .or_else(|| zip.county_fips.clone());
                assert_eq!(
                    r.county_fips, expected,
                    "{} at ({}, {})",
                    r.external_id, r.lat, r.lon
                );
            }
            None => assert_eq!(
                r.county_fips, zip.county_fips,
                "{} off the polygons",
                r.external_id
            ),
        }
        // Within the jitter radius of the centroid.
        let dy = (r.lat - zip.lat) * 110.574;
        let dx = (r.lon - zip.lon) * 111.320 * zip.lat.to_radians().cos();
        assert!(
            (dx * dx + dy * dy).sqrt() <= geography::JITTER_KM + 0.01,
            "{}",
            r.external_id
        );
    }
}

#[test]
fn h3_cells_match_the_points() {
    for r in big().records.iter().step_by(7) {
        let cell = h3o::LatLng::new(r.lat, r.lon).unwrap().to_cell(FINEST_RES);
        assert_eq!(r.h3_cell, u64::from(cell));
    }
}

#[test]
fn remittances_look_like_the_diaspora() {
    let records = &big().records;
    let answered: Vec<bool> = records.iter().filter_map(|r| r.remits).collect();
    let remitting = answered.iter().filter(|b| **b).count() as f64 / answered.len() as f64;
    let mut amounts: Vec<i64> = records
        .iter()
        .filter_map(|r| r.remit_amount_cents)
        .collect();
    amounts.sort_unstable();
    let median = amounts[amounts.len() / 2] as f64 / 100.0;
    eprintln!(
        "remitting {:.1}%, median USD {median:.2}",
        100.0 * remitting
    );
    assert!((0.65..=0.85).contains(&remitting), "{remitting}");
    assert!((2_000.0..=3_500.0).contains(&median), "{median}");
    assert!(*amounts.last().unwrap() <= 3_000_000 && amounts[0] >= 5_000);
    for r in records {
        let remits = r.remits == Some(true);
        assert_eq!(r.remit_amount_cents.is_some(), remits);
        assert_eq!(r.remit_frequency.is_some(), remits);
        assert_eq!(r.remit_channel.is_some(), remits);
    }
    let mto = code(CodeList::RemitChannel, "money_transfer_operator");
    let monthly = code(CodeList::RemitFrequency, "monthly");
    assert!(share(records, |r| r.remit_channel, |c| c == mto) > 0.4);
    assert!(share(records, |r| r.remit_frequency, |f| f == monthly) > 0.3);
}

#[test]
fn attributes_have_plausible_mixes() {
    let records = &big().records;
    let book = Codebook::get();
    let f = code(CodeList::Gender, "f");
    let x = code(CodeList::Gender, "x");
    let women = share(records, |r| Some(r.gender), |g| g == f);
    assert!((0.49..0.55).contains(&women), "{women}");
    assert!((0.003..0.02).contains(&share(records, |r| Some(r.gender), |g| g == x)));
    let haiti = code(CodeList::Generation, "born_haiti");
    assert!(share(records, |r| r.generation, |g| g == haiti) > 0.75);

    // Occupations: service and sales first, professionals second.
    let mut occupations = vec![0usize; book.len(CodeList::Occupation)];
    records
        .iter()
        .filter_map(|r| r.occupation)
        .for_each(|o| occupations[o as usize] += 1);
    let mut ranked: Vec<usize> = (0..occupations.len()).collect();
    ranked.sort_by(|a, b| occupations[*b].cmp(&occupations[*a]));
    let top: Vec<&str> = ranked
        .iter()
        .take(2)
        .map(|&i| book.code(CodeList::Occupation, i as u8))
        .collect();
    assert_eq!(top, ["5", "2"], "{occupations:?}");
    // Health is the most common sector, and more so among women.
    let q = code(CodeList::Sector, "Q");
    let health = |g: u8| {
        let people: Vec<&Record> = records.iter().filter(|r| r.gender == g).collect();
        people.iter().filter(|r| r.sectors.contains(q)).count() as f64 / people.len() as f64
    };
    assert!(health(f) > health(code(CodeList::Gender, "m")) + 0.1);
    let sectors = |c: &str| set_rate(records, |r| r.sectors, CodeList::Sector, c);
    assert!(["P", "G", "H", "F", "I"]
        .iter()
        .all(|s| sectors("Q") > sectors(s)));
    for r in records {
        assert!(
            (1..=3).contains(&r.sectors.iter().count()),
            "{}",
            r.external_id
        );
    }
    // Ouest is the first department of origin.
    let ouest = code(CodeList::Department, "HT-OU");
    let nord = code(CodeList::Department, "HT-ND");
    assert!(
        share(records, |r| r.department, |d| d == ouest)
            > 2.0 * share(records, |r| r.department, |d| d == nord)
    );
    // Kreyòl and English, WhatsApp and Facebook first.
    let lang = |c: &str| set_rate(records, |r| r.languages, CodeList::Language, c);
    assert!(
        lang("ht") > 0.8 && lang("en") > 0.6 && lang("fr") < lang("en") && lang("es") < lang("fr")
    );
    let chan = |c: &str| set_rate(records, |r| r.channels, CodeList::Channel, c);
    assert!([
        "church",
        "haitian_radio_tv",
        "association",
        "email",
        "tiktok"
    ]
    .iter()
    .all(|c| chan("facebook") > chan(c)));
    assert!(chan("whatsapp") > chan("facebook"));
    let members = share(records, |r| r.association_member, |m| m);
    assert!((0.18..=0.30).contains(&members), "{members}");
    assert!(records
        .iter()
        .all(|r| !r.languages.is_empty() && !r.channels.is_empty()));
}

#[test]
fn codes_rounds_and_dates_are_valid() {
    let book = Codebook::get();
    let last = time::macros::date!(2026 - 11 - 01);
    let within = |list: CodeList, v: Option<u8>| v.is_none_or(|i| (i as usize) < book.len(list));
    let set_within = |list: CodeList, s: CodeSet| s.0 >> book.len(list) == 0;
    let mut rounds = HashSet::new();
    for r in &big().records {
        rounds.insert(r.survey_round.as_str());
        assert!(r.collected_on < last);
        let year = if r.survey_round == "2025-R1" {
            2025
        } else {
            2026
        };
        assert_eq!(r.collected_on.year(), year);
        assert!(
            within(CodeList::Gender, Some(r.gender)) && within(CodeList::AgeBand, Some(r.age_band))
        );
        assert!(
            within(CodeList::Education, r.education) && within(CodeList::YearsInUs, r.years_in_us)
        );
        assert!(
            within(CodeList::Generation, r.generation)
                && within(CodeList::Occupation, r.occupation)
        );
        assert!(
            within(CodeList::Department, r.department)
                && within(CodeList::CollectionMode, r.collection_mode)
        );
        assert!(
            within(CodeList::RemitFrequency, r.remit_frequency)
                && within(CodeList::RemitChannel, r.remit_channel)
        );
        assert!(
            set_within(CodeList::Sector, r.sectors)
                && set_within(CodeList::Sector, r.support_sectors)
        );
        assert!(
            set_within(CodeList::Need, r.needs) && set_within(CodeList::Difficulty, r.difficulties)
        );
        assert!(
            set_within(CodeList::Willingness, r.willingness)
                && set_within(CodeList::Channel, r.channels)
        );
        assert!(set_within(CodeList::Language, r.languages));
        assert_eq!(r.state_fips.len(), 2);
        assert!(r
            .county_fips
            .as_ref()
            .is_some_and(|c| c.len() == 5 && c.starts_with(&r.state_fips)));
    }
    assert_eq!(rounds, HashSet::from(["2025-R1", "2026-R1"]));
}

#[test]
fn about_300_associations_all_marked_demo() {
    let places = &big().associations;
    assert!(
        (TARGET..TARGET + 8).contains(&places.len()),
        "{}",
        places.len()
    );
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for p in places {
        assert!(p.is_demo);
        assert!(
            p.name.ends_with("(demo)") || p.name.ends_with("(démo)"),
            "{}",
            p.name
        );
        assert!(p.id.starts_with("demo-assoc-") && ids.insert(p.id.as_str()));
        assert!(names.insert(p.name.as_str()), "duplicate name {}", p.name);
        // What an editor could have entered: the editors' validation keeps it as it is.
        let checked = crate::places::edit::validate(&p.into(), &p.id)
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(&checked, p);
        assert!(!crate::places::CONSULAR_KINDS.contains(&p.kind.as_str()));
        assert!(!p.sectors.is_empty() && !p.languages.is_empty());
        assert_eq!(
            Geodata::get()
                .state_at(p.lon, p.lat)
                .map(|s| s.parent.as_str()),
            Some(p.state.as_str()),
            "{}",
            p.name
        );
        *kinds.entry(p.kind.as_str()).or_default() += 1;
    }
    assert_eq!(places[0].id, "demo-assoc-001");
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    assert!(
        kinds
            .iter()
            .all(|(k, n)| *k == "hometown" || *n < kinds["hometown"]),
        "{kinds:?}"
    );
    for state in ["NY", "FL", "MA", "IL", "GA"] {
        assert!(
            places.iter().any(|p| p.state == state),
            "no association in {state}"
        );
    }
    // Proportional, not everywhere: Florida leads, and some listed cities have none.
    let fl = places.iter().filter(|p| p.state == "FL").count();
    assert!(fl > places.len() / 3, "{fl} in Florida");
}

#[test]
fn load_into_writes_one_batch_and_the_associations_once() {
    let store = SqliteStore::open_in_memory().unwrap();
    let first = load_into(&store, 1_000, 3).unwrap();
    assert_eq!((first.inserted, first.duplicates), (1_000, 0));
    assert_eq!(store.record_count().unwrap(), 1_000);
    let places = store.places().unwrap();
    assert!(places.iter().filter(|p| p.is_demo).count() >= TARGET);
    let again = load_into(&store, 1_000, 3).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 1_000));
    assert_eq!(store.places().unwrap().len(), places.len());
    assert_eq!(source_name(1_000, 3), "demo:seed=3:n=1000");
}

/// `cargo test --release --lib demo::tests::a_million_records -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release"]
fn a_million_records() {
    let started = Instant::now();
    let _ = generate(1, 1);
    eprintln!(
        "geodata and ZIP table: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    for _ in 0..3 {
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let set = generate(1_000_000, 1);
        eprintln!(
            "1,000,000 records: {:.2} s wall, {:.2} s CPU on {} threads",
            started.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            rayon::current_num_threads()
        );
        assert_eq!(set.records.len(), 1_000_000);
    }
}

/// CPU time of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[test]
#[ignore = "diagnostic"]
fn zz_diagnostics() {
    let set = big();
    let book = Codebook::get();
    let rs = &set.records;
    let n = rs.len() as f64;
    let sites = Sites::get();
    eprintln!("sites {}", sites.sites.len());
    for (list, get) in [
        (
            CodeList::Gender,
            (|r: &Record| Some(r.gender)) as fn(&Record) -> Option<u8>,
        ),
        (CodeList::AgeBand, |r| Some(r.age_band)),
        (CodeList::Education, |r| r.education),
        (CodeList::YearsInUs, |r| r.years_in_us),
        (CodeList::Generation, |r| r.generation),
        (CodeList::Occupation, |r| r.occupation),
        (CodeList::Department, |r| r.department),
        (CodeList::RemitFrequency, |r| r.remit_frequency),
        (CodeList::RemitChannel, |r| r.remit_channel),
        (CodeList::CollectionMode, |r| r.collection_mode),
    ] {
        let mut c = vec![0usize; book.len(list)];
        let mut none = 0;
        for r in rs {
            match get(r) {
                Some(i) => c[i as usize] += 1,
                None => none += 1,
            }
        }
        let s: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{}={:.1}", book.code(list, i as u8), 100.0 * *k as f64 / n))
            .collect();
        eprintln!(
            "{list}: {} none={:.1}",
            s.join(" "),
            100.0 * none as f64 / n
        );
    }
    for (list, get) in [
        (
            CodeList::Sector,
            (|r: &Record| r.sectors) as fn(&Record) -> CodeSet,
        ),
        (CodeList::Sector, |r| r.support_sectors),
        (CodeList::Need, |r| r.needs),
        (CodeList::Difficulty, |r| r.difficulties),
        (CodeList::Willingness, |r| r.willingness),
        (CodeList::Channel, |r| r.channels),
        (CodeList::Language, |r| r.languages),
    ] {
        let s: Vec<String> = (0..book.len(list))
            .map(|i| {
                format!(
                    "{}={:.1}",
                    book.code(list, i as u8),
                    100.0 * rs.iter().filter(|r| get(r).contains(i as u8)).count() as f64 / n
                )
            })
            .collect();
        eprintln!("{list}: {}", s.join(" "));
    }
    let mut amounts: Vec<i64> = rs.iter().filter_map(|r| r.remit_amount_cents).collect();
    amounts.sort_unstable();
    let q = |p: f64| amounts[(p * (amounts.len() - 1) as f64) as usize] as f64 / 100.0;
    eprintln!(
        "amounts p10 {} p25 {} p50 {} p75 {} p90 {} p99 {} max {}",
        q(0.1),
        q(0.25),
        q(0.5),
        q(0.75),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    eprintln!(
        "member {:.1}",
        100.0
            * rs.iter()
                .filter(|r| r.association_member == Some(true))
                .count() as f64
            / n
    );
    let geo = Geodata::get();
    let off = rs
        .iter()
        .filter(|r| geo.state_at(r.lon, r.lat).is_none())
        .count();
    eprintln!("off-polygon records {off}");
    let mut by_state: HashMap<&str, usize> = HashMap::new();
    for p in &set.associations {
        *by_state.entry(p.state.as_str()).or_default() += 1;
    }
    let mut v: Vec<_> = by_state.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    eprintln!("assoc by state {v:?}");
    let mut by_kind: HashMap<&str, usize> = HashMap::new();
    for p in &set.associations {
        *by_kind.entry(p.kind.as_str()).or_default() += 1;
    }
    eprintln!("assoc by kind {by_kind:?}");
    for p in set.associations.iter().step_by(15) {
        eprintln!(
            "{} | {} | {} {} | {:?} {:?} | {} {}",
            p.id, p.name, p.city, p.state, p.sectors, p.languages, p.lat, p.lon
        );
    }
    let cities: HashSet<&str> = set.associations.iter().map(|p| p.city.as_str()).collect();
    eprintln!("{} cities", cities.len());
}
