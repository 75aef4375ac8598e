//! The attack suite of issue #18: every attack the outside review ran, run again as an
//! outsider would (anonymous HTTP against the real server, no token) and scored against the
//! database. For each attack: over every unit where its arithmetic gives a number for a
//! hidden value that is truly small (1 to k−1, or one person's remittance), how often that
//! number is the true value.
//!
//! The truth is read from the SQLite file (read-only) and decoded with the file's own
//! `code_values`; it is tallied here, record by record, never through the service's
//! aggregation code. H3 ancestors come from h3o (`CellIndex::parent`).
//!
//! With suppression alone (before cell-key perturbation) the arithmetic attacks were exact in
//! 72–100 % of their attempts; with the default perturbation table a difference of two
//! published counts is exact 22.8 % of the time by design, of three 18.6 % (PRIVACY.md), and
//! [`assert_scores`] holds the suite to that.
//!
//! Run with `cargo test --test api attacks -- --nocapture` to see the score table.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dyaspora::auth::{token, Role};
use dyaspora::config::ServeArgs;
use dyaspora::geodata::Geodata;
use dyaspora::store::SqliteStore;
use reqwest::Method;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::helpers::TestApp;

/// The disclosure threshold: counts from 1 to `K − 1` are what the rules hide.
const K: i64 = 11;
/// Demo records of the attacked server, as in the issue. (At 50,000 the run takes 15 s
/// instead of 40, but four of the sibling attacks find fewer than [`MIN_ATTEMPTS`] small
/// values to attack, so their share would say nothing.)
const DEMO_RECORDS: usize = 200_000;
/// Once enforced: no attack with at least [`MIN_ATTEMPTS`] attempts recovers more than this
/// share of its hidden values exactly.
const MAX_EXACT_SHARE: f64 = 0.5;
/// Fewer attempts than this say too little for a share: such rows are printed, not asserted.
const MIN_ATTEMPTS: usize = 20;
/// Off, the table only documents how well the attacks work and says NOT ENFORCED (for
/// measuring an experimental table); on in the suite.
const ENFORCE: bool = true;
/// Over every count-differencing attack together (thousands of attempts, so the share is
/// within about a point of its expectation), the exact share may not exceed this: the
/// default table's design allows 22.8 % for two figures and 18.6 % for three.
const MAX_POOLED_EXACT_SHARE: f64 = 0.28;
/// Requests in flight at once (the machine has two cores).
const IN_FLIGHT: usize = 3;
/// Collection months of the demo set (`src/demo/people.rs`, `ROUNDS`): 2025-R1 from
/// February to May 2025, 2026-R1 from February to June 2026. Checked against the database.
const DEMO_MONTHS: [&str; 9] = [
    "2025-02", "2025-03", "2025-04", "2025-05", "2026-02", "2026-03", "2026-04", "2026-05",
    "2026-06",
];
/// Every unit an attack may difference: states, counties and H3 resolutions 2 to 7.
const ALL_UNITS: [U; 8] = [
    U::State,
    U::County,
    U::H3(2),
    U::H3(3),
    U::H3(4),
    U::H3(5),
    U::H3(6),
    U::H3(7),
];

/// The one place the attacked servers are configured. `rate_limited`: keep the default rate
/// limit (attack 8 is about it); otherwise none, since the other attacks are about
/// arithmetic, not volume. Every change is released at once (the most an attacker can
/// watch: with the default interval, figures move at most every 90 days).
fn server_config(args: &mut ServeArgs, rate_limited: bool) {
    args.release_interval_hours = 0;
    if !rate_limited {
        args.rate_limit = 0;
    }
}

/// Makes the imports and erasures made so far reach the public figures. With a release
/// interval of 0 the service cuts a release as soon as it writes them, so there is nothing
/// to do; the call marks where the attacker waits for the next release.
async fn cut_release(_app: &TestApp) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_of_issue_18_scored_against_the_database() {
    let started = Instant::now();
    let app = TestApp::spawn_with(DEMO_RECORDS, |a| server_config(a, false)).await;
    let records = load_records(&app.db_path());
    let spawned = started.elapsed();
    let mut ctx = Ctx {
        app,
        records,
        layers: HashMap::new(),
        requests: 0,
        csv_500: 0,
    };
    let mut scores = Vec::new();
    let mut timing = Vec::new();
    let mut lap = Instant::now();
    let mut mark = |attack: &str| {
        timing.push(format!("{attack} {:.1} s", lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };
    scores.push(another_gender(&mut ctx).await);
    mark("1");
    scores.extend(sibling_codes(&mut ctx).await);
    mark("2");
    scores.push(list_minus_code(&mut ctx).await);
    mark("3");
    scores.push(overlapping_periods(&mut ctx).await);
    mark("4");
    scores.push(one_remittance(&mut ctx).await);
    mark("5");
    scores.extend(presence(&mut ctx).await);
    mark("6");
    scores.push(county_minus_hexagons(&mut ctx).await);
    mark("9");
    // Last on this server: it imports and erases records.
    scores.extend(time_attack(&mut ctx).await);
    mark("7");
    scores.push(rate_limit_through_tiles().await);
    mark("8");
    print_table(&scores);
    println!(
        "{DEMO_RECORDS} demo records; server up and truth read in {:.1} s; {} requests \
         ({} empty layers answered 500 as CSV and were read as GeoJSON, issue #18 item 7); \
         total {:.1} s (by attack: {})",
        spawned.as_secs_f64(),
        ctx.requests,
        ctx.csv_500,
        started.elapsed().as_secs_f64(),
        timing.join(", ")
    );
    assert_scores(&scores);
}

// ---------------------------------------------------------------------------------------
// Scores

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Recovery of hidden values: `exact` of `attempts` recovered exactly.
    Recovery,
    /// Something that must never happen: `exact` counts the occurrences.
    Leak,
}

#[derive(Debug)]
struct Score {
    attack: &'static str,
    attempts: usize,
    exact: usize,
    kind: Kind,
    /// Attempts and exact recoveries by unit (state, county, res2 …).
    by_unit: BTreeMap<String, (usize, usize)>,
    /// The first exact recovery, as the arithmetic an attacker would write.
    example: Option<String>,
    note: String,
}

impl Score {
    fn new(attack: &'static str, kind: Kind) -> Score {
        Score {
            attack,
            attempts: 0,
            exact: 0,
            kind,
            by_unit: BTreeMap::new(),
            example: None,
            note: String::new(),
        }
    }

    /// One case where the arithmetic gave `estimate` for a hidden value whose truth is
    /// `truth`: an attempt when the truth is small (1 to k−1).
    fn count(&mut self, unit: U, truth: i64, estimate: f64, example: impl FnOnce() -> String) {
        if truth > 0 && truth < K {
            self.attempt(unit.label(), estimate == truth as f64, example);
        }
    }

    fn attempt(&mut self, unit: String, exact: bool, example: impl FnOnce() -> String) {
        self.attempts += 1;
        let e = self.by_unit.entry(unit).or_default();
        e.0 += 1;
        if exact {
            e.1 += 1;
            self.exact += 1;
            if self.example.is_none() {
                self.example = Some(example());
            }
        }
    }

    fn share(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.exact as f64 / self.attempts as f64
        }
    }
}

fn print_table(scores: &[Score]) {
    println!();
    println!(
        "{:<52} {:>8} {:>8} {:>7}  by unit (exact/attempts); first exact case",
        "attack (k = 11)", "attempts", "exact", "share"
    );
    for s in scores {
        let by_unit: Vec<String> = s
            .by_unit
            .iter()
            .map(|(u, (a, e))| format!("{u} {e}/{a}"))
            .collect();
        let exact = match s.kind {
            Kind::Recovery => s.exact.to_string(),
            Kind::Leak => format!("{} !", s.exact),
        };
        println!(
            "{:<52} {:>8} {:>8} {:>6.1}%  {}{}{}",
            s.attack,
            s.attempts,
            exact,
            100.0 * s.share(),
            by_unit.join(", "),
            s.example
                .as_ref()
                .map(|e| format!("; e.g. {e}"))
                .unwrap_or_default(),
            if s.note.is_empty() {
                String::new()
            } else {
                format!(" [{}]", s.note)
            },
        );
    }
    println!("('!': occurrences of something that must never happen, not exact recoveries)");
}

/// What must hold once the perturbation is merged: every attack with at least
/// [`MIN_ATTEMPTS`] attempts recovers at most [`MAX_EXACT_SHARE`] of its hidden values
/// exactly, and none is certain; no presence leak, the formats agree on which units are
/// present, and the rate limit cannot be bypassed through tiles.
fn assert_scores(scores: &[Score]) {
    if !ENFORCE {
        println!(
            "NOT ENFORCED: the assertions (exact share ≤ {MAX_EXACT_SHARE} and never all \
             exact from {MIN_ATTEMPTS} attempts; no leaks) are switched on by ENFORCE"
        );
        return;
    }
    let mut failures = Vec::new();
    let counts: Vec<&Score> = scores
        .iter()
        .filter(|s| s.kind == Kind::Recovery && !s.attack.contains("remittance"))
        .collect();
    let (attempts, exact) = counts
        .iter()
        .fold((0, 0), |(a, e), s| (a + s.attempts, e + s.exact));
    let pooled = exact as f64 / attempts.max(1) as f64;
    println!(
        "count differences pooled: {exact} of {attempts} exact ({:.1} %)",
        100.0 * pooled
    );
    if attempts >= 1_000 && pooled > MAX_POOLED_EXACT_SHARE {
        failures.push(format!(
            "count differences pooled: {exact} of {attempts} exact ({:.1}% > {:.0}%)",
            100.0 * pooled,
            100.0 * MAX_POOLED_EXACT_SHARE
        ));
    }
    for s in scores {
        match s.kind {
            Kind::Recovery if s.attempts >= MIN_ATTEMPTS => {
                if s.share() > MAX_EXACT_SHARE {
                    failures.push(format!(
                        "{}: {} of {} exact ({:.1}% > {:.0}%)",
                        s.attack,
                        s.exact,
                        s.attempts,
                        100.0 * s.share(),
                        100.0 * MAX_EXACT_SHARE
                    ));
                }
                if s.exact == s.attempts {
                    failures.push(format!(
                        "{}: certain ({} of {})",
                        s.attack, s.exact, s.attempts
                    ));
                }
            }
            Kind::Recovery => {}
            Kind::Leak => {
                if s.exact > 0 {
                    failures.push(format!(
                        "{}: {} of {}{}",
                        s.attack,
                        s.exact,
                        s.attempts,
                        s.example
                            .as_ref()
                            .map(|e| format!(", e.g. {e}"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "attacks that still work:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The truth, from the database

/// A unit kind of the published layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum U {
    State,
    County,
    H3(u8),
}

impl U {
    fn query(self) -> String {
        match self {
            U::State => "unit=state".into(),
            U::County => "unit=county".into(),
            U::H3(r) => format!("unit=h3&res={r}"),
        }
    }

    fn label(self) -> String {
        match self {
            U::State => "state".into(),
            U::County => "county".into(),
            U::H3(r) => format!("res{r}"),
        }
    }
}

/// One record as stored, decoded.
struct Rec {
    state: String,
    /// The county, when the county layer has it and it lies in the record's state (a
    /// county counts only inside its own state, so that a state is the sum of its counties).
    county: Option<String>,
    /// The record's H3 cell (resolution 9) and its ancestors, by resolution (0, 1 unused).
    cells: [u64; 10],
    gender: String,
    age_band: String,
    generation: Option<String>,
    occupation: Option<String>,
    department: Option<String>,
    /// Collection month, `YYYY-MM`.
    month: String,
    /// The amount of a remitter who gave one, in cents.
    amount: Option<i64>,
}

impl Rec {
    fn unit(&self, u: U) -> Option<String> {
        match u {
            U::State => Some(self.state.clone()),
            U::County => self.county.clone(),
            U::H3(r) => Some(format!("{:x}", self.cells[usize::from(r)])),
        }
    }
}

fn read_only(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("database opens")
}

/// The records of the database, decoded with its own `code_values`.
fn load_records(db: &Path) -> Vec<Rec> {
    // The county layer's counties (the public 2017 boundaries) and their states: a record
    // whose county is not one of them (Connecticut's 2022 planning regions, see
    // geodata/README.md) is in no county of the layer.
    let counties: HashMap<&str, &str> = Geodata::get()
        .counties
        .iter()
        .map(|c| (c.fips.as_str(), c.parent.as_str()))
        .collect();
    let conn = read_only(db);
    let codes: HashMap<(String, i64), String> = conn
        .prepare("SELECT list, position, code FROM code_values")
        .unwrap()
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let code = |list: &str, v: Option<i64>| v.map(|p| codes[&(list.to_string(), p)].clone());
    let mut stmt = conn
        .prepare(
            "SELECT state_fips, county_fips, h3_cell, gender, age_band, generation, occupation, \
             department, collected_on, remits, remit_amount_cents FROM records",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                [
                    r.get::<_, Option<i64>>(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ],
                r.get::<_, String>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, Option<i64>>(10)?,
            ))
        })
        .unwrap();
    let mut out = Vec::new();
    for row in rows {
        let (state, county, cell, coded, date, remits, cents) = row.unwrap();
        let cell = h3o::CellIndex::try_from(cell as u64).expect("an H3 cell");
        assert_eq!(cell.resolution(), h3o::Resolution::Nine);
        let mut cells = [0u64; 10];
        for (r, c) in cells.iter_mut().enumerate().skip(2) {
            let res = h3o::Resolution::try_from(r as u8).unwrap();
            *c = u64::from(cell.parent(res).unwrap());
        }
        let [gender, age_band, generation, occupation, department] = coded;
        out.push(Rec {
            county: county.filter(|c| counties.get(c.as_str()) == Some(&state.as_str())),
            state,
            cells,
            gender: code("gender", gender).expect("gender"),
            age_band: code("age_band", age_band).expect("age band"),
            generation: code("generation", generation),
            occupation: code("occupation", occupation),
            department: code("department", department),
            month: date[..7].to_string(),
            amount: cents.filter(|c| remits == Some(1) && *c >= 0),
        });
    }
    assert!(!out.is_empty());
    let months: BTreeSet<&str> = out.iter().map(|r| r.month.as_str()).collect();
    assert!(
        months.iter().all(|m| DEMO_MONTHS.contains(m)),
        "the demo's collection months changed: {months:?}"
    );
    out
}

/// The codes of a list, in order, as the database names them.
fn code_list(db: &Path, list: &str) -> Vec<String> {
    read_only(db)
        .prepare("SELECT code FROM code_values WHERE list = ?1 ORDER BY position")
        .unwrap()
        .query_map([list], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Records matching `pred`, per unit of kind `u`.
fn tally(records: &[Rec], u: U, pred: impl Fn(&Rec) -> bool) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for r in records.iter().filter(|r| pred(r)) {
        if let Some(id) = r.unit(u) {
            *out.entry(id).or_default() += 1;
        }
    }
    out
}

fn get(m: &HashMap<String, i64>, id: &str) -> i64 {
    m.get(id).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The published layers, as an outsider reads them

/// A published layer: per unit, its figures (`None` where suppressed).
struct Published {
    rows: BTreeMap<String, BTreeMap<String, Option<f64>>>,
    /// Each unit's whole published row, for telling which units changed.
    raw: BTreeMap<String, String>,
    names: HashMap<String, String>,
    /// Label points (CSV `lon`, `lat`).
    centers: HashMap<String, (f64, f64)>,
}

impl Published {
    /// A figure as an attacker reads it: the published value; `None` when suppressed or when
    /// the layer leaves the unit out (a county or hexagon is listed only when its count is
    /// published: absent means zero or too few, which the attacker cannot tell apart). Every
    /// state is always listed.
    fn val(&self, id: &str, column: &str) -> Option<f64> {
        self.rows.get(id)?.get(column).copied().flatten()
    }

    fn cents(&self, id: &str, column: &str) -> Option<i64> {
        self.val(id, column).map(|v| (v * 100.0).round() as i64)
    }

    fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

fn parse_csv(text: &str) -> Published {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let mut p = Published {
        rows: BTreeMap::new(),
        raw: BTreeMap::new(),
        names: HashMap::new(),
        centers: HashMap::new(),
    };
    for record in reader.records() {
        let record = record.unwrap();
        if record[0].starts_with('#') {
            continue; // the HXL row
        }
        let id = record[0].to_string();
        let mut row = BTreeMap::new();
        for (column, v) in header.iter().zip(record.iter()).skip(4) {
            if v.is_empty() {
                row.insert(column.to_string(), None);
            } else if let Ok(x) = v.parse::<f64>() {
                row.insert(column.to_string(), Some(x));
            }
        }
        p.names.insert(id.clone(), record[1].to_string());
        p.centers.insert(
            id.clone(),
            (record[2].parse().unwrap(), record[3].parse().unwrap()),
        );
        p.raw
            .insert(id.clone(), record.iter().collect::<Vec<_>>().join("\u{1f}"));
        p.rows.insert(id, row);
    }
    p
}

fn parse_geojson(fc: &Value) -> Published {
    let mut p = Published {
        rows: BTreeMap::new(),
        raw: BTreeMap::new(),
        names: HashMap::new(),
        centers: HashMap::new(),
    };
    for f in fc["features"].as_array().expect("features") {
        let props = f["properties"].as_object().unwrap();
        let id = props["id"].as_str().unwrap().to_string();
        let mut row = BTreeMap::new();
        for (k, v) in props {
            match v {
                Value::Null => {
                    row.insert(k.clone(), None);
                }
                Value::Number(n) => {
                    row.insert(k.clone(), n.as_f64());
                }
                _ => {}
            }
        }
        p.names
            .insert(id.clone(), props["name"].as_str().unwrap_or("").to_string());
        p.raw
            .insert(id.clone(), Value::Object(props.clone()).to_string());
        p.rows.insert(id, row);
    }
    p
}

/// `a&b&c` without empty parts.
fn query(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("&")
}

/// A code as a query value (`65+` would read as `65 `).
fn enc(code: &str) -> String {
    code.replace('+', "%2B")
}

async fn get_text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.expect("request sent");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// A layer as CSV (all metric groups). An empty layer's CSV answers 500 on today's main
/// (issue #18, item 7): its GeoJSON is read instead.
async fn fetch_layer(
    client: &reqwest::Client,
    base: &str,
    u: U,
    filter: &str,
) -> (Published, usize) {
    let q = query(&[&u.query(), filter, "metrics=all"]);
    let (status, text) =
        get_text(client, &format!("{base}/api/v1/aggregates?{q}&format=csv")).await;
    match status {
        200 => (parse_csv(&text), 1),
        500 => {
            let (status, text) = get_text(client, &format!("{base}/api/v1/aggregates?{q}")).await;
            assert_eq!(status, 200, "{q}: {text}");
            let fc: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                fc["numberReturned"], 0,
                "{q}: a CSV 500 on a layer with units"
            );
            (parse_geojson(&fc), 2)
        }
        _ => panic!("{q}: {status} {text}"),
    }
}

/// The attacked server, the truth, and the layers fetched so far.
struct Ctx {
    app: TestApp,
    records: Vec<Rec>,
    layers: HashMap<(U, String), Arc<Published>>,
    requests: usize,
    /// Empty layers whose CSV answered 500 (read as GeoJSON instead).
    csv_500: usize,
}

impl Ctx {
    /// Fetches the layers not fetched yet, a few at a time.
    async fn fetch(&mut self, wanted: &[(U, String)]) {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut set = JoinSet::new();
        let mut asked = BTreeSet::new();
        for (u, f) in wanted {
            if self.layers.contains_key(&(*u, f.clone())) || !asked.insert((*u, f.clone())) {
                continue;
            }
            let (client, base) = (self.app.client.clone(), self.app.base.clone());
            let (u, f, permits) = (*u, f.clone(), permits.clone());
            set.spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let (p, n) = fetch_layer(&client, &base, u, &f).await;
                ((u, f), p, n)
            });
        }
        while let Some(done) = set.join_next().await {
            let (key, p, n) = done.unwrap();
            self.requests += n;
            self.csv_500 += n - 1;
            self.layers.insert(key, Arc::new(p));
        }
    }

    fn layer(&self, u: U, filter: &str) -> Arc<Published> {
        self.layers[&(u, filter.to_string())].clone()
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, String) {
        self.requests += 1;
        let mut r = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.base));
        if let Some(t) = bearer {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            r = r.body(b);
        }
        let r = r.send().await.expect("request sent");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }
}

fn with_units(units: &[U], filters: &[String]) -> Vec<(U, String)> {
    units
        .iter()
        .flat_map(|&u| filters.iter().map(move |f| (u, f.clone())))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Another gender

/// `count − female − count[gender=m]`: people of another gender, per unit.
async fn another_gender(ctx: &mut Ctx) -> Score {
    ctx.fetch(&with_units(&ALL_UNITS, &[String::new(), "gender=m".into()]))
        .await;
    let mut s = Score::new(
        "1 another gender: count − female − count[m]",
        Kind::Recovery,
    );
    for u in ALL_UNITS {
        let truth = tally(&ctx.records, u, |r| r.gender != "f" && r.gender != "m");
        let (all, men) = (ctx.layer(u, ""), ctx.layer(u, "gender=m"));
        for id in all.rows.keys() {
            let (Some(c), Some(f), Some(m)) = (
                all.val(id, "count"),
                all.val(id, "female"),
                men.val(id, "count"),
            ) else {
                continue;
            };
            s.count(u, get(&truth, id), c - f - m, || {
                format!("{} {c} − {f} − {m} = {}", all.name(id), c - f - m)
            });
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// 9. A county minus its visible hexagons

/// `count(county) − Σ count(hexagon)` over the published hexagons whose centre lies in the
/// county (resolutions 5 to 7): the people of the county the hexagons leave out (plus those
/// of straddling hexagons outside it). The truth is the same arithmetic on exact counts.
async fn county_minus_hexagons(ctx: &mut Ctx) -> Score {
    use geo::Contains;
    const RES: [U; 3] = [U::H3(5), U::H3(6), U::H3(7)];
    let units: Vec<U> = std::iter::once(U::County).chain(RES).collect();
    ctx.fetch(&with_units(&units, &[String::new()])).await;
    let mut s = Score::new("9 county − Σ its published hexagons", Kind::Recovery);
    let geo = Geodata::get();
    let counties = ctx.layer(U::County, "");
    let county_truth = tally(&ctx.records, U::County, |_| true);
    for u in RES {
        let hexagons = ctx.layer(u, "");
        let hex_truth = tally(&ctx.records, u, |_| true);
        for county in geo.counties.iter() {
            let Some(c) = counties.val(&county.fips, "count") else {
                continue;
            };
            let inside: Vec<&String> = hexagons
                .centers
                .iter()
                .filter(|(_, &(lon, lat))| county.geometry.contains(&geo::Point::new(lon, lat)))
                .map(|(id, _)| id)
                .collect();
            let shown: Vec<f64> = inside
                .iter()
                .filter_map(|id| hexagons.val(id, "count"))
                .collect();
            if shown.is_empty() {
                continue;
            }
            let estimate = c - shown.iter().sum::<f64>();
            let truth = get(&county_truth, &county.fips)
                - inside
                    .iter()
                    .filter(|id| hexagons.val(id, "count").is_some())
                    .map(|id| get(&hex_truth, id))
                    .sum::<i64>();
            s.count(u, truth, estimate, || {
                let hexes = shown.len();
                format!(
                    "{} at {}: {c} − (sum of {hexes} hexagons) = {estimate}",
                    county.name,
                    u.label()
                )
            });
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// 2. A total minus its published sibling codes

/// A coded field as siblings: its codes as filters, and how a record answers it.
struct Siblings {
    attack: &'static str,
    /// (code, filter selecting it).
    codes: Vec<(String, String)>,
    /// For a question a record may leave unanswered: the filter of every code (the
    /// answered), whose count is the base of the difference when it is published.
    answered: Option<String>,
    of: fn(&Rec) -> Option<&str>,
}

/// `count − Σ count[field=other codes]` (or `count[field=any code] − Σ …`): the one hidden
/// code; and the unanswered remainder, `count − Σ count[field=code]` when every code is
/// published, else `count − count[field=any code]`.
async fn sibling_codes(ctx: &mut Ctx) -> Vec<Score> {
    let db = ctx.app.db_path();
    let coded = |list: &str| -> Vec<(String, String)> {
        code_list(&db, list)
            .into_iter()
            .map(|c| {
                let f = format!("{list}={}", enc(&c));
                (c, f)
            })
            .collect()
    };
    let any = |list: &str| -> Option<String> {
        let codes: Vec<String> = code_list(&db, list).iter().map(|c| enc(c)).collect();
        Some(format!("{list}={}", codes.join(",")))
    };
    let fields = [
        Siblings {
            attack: "2 total − Σ published age bands",
            codes: coded("age_band"),
            answered: None,
            of: |r| Some(&r.age_band),
        },
        Siblings {
            attack: "2 total − Σ published departments",
            codes: coded("department"),
            answered: any("department"),
            of: |r| r.department.as_deref(),
        },
        Siblings {
            attack: "2 total − Σ published occupations",
            codes: coded("occupation"),
            answered: any("occupation"),
            of: |r| r.occupation.as_deref(),
        },
        Siblings {
            attack: "2 total − Σ published collection months",
            codes: DEMO_MONTHS
                .iter()
                .map(|m| (m.to_string(), format!("from={m}&to={m}")))
                .collect(),
            answered: None,
            of: |r| Some(&r.month),
        },
        Siblings {
            attack: "2 total − Σ published generations",
            codes: coded("generation"),
            answered: any("generation"),
            of: |r| r.generation.as_deref(),
        },
    ];
    let mut scores = Vec::new();
    for field in fields {
        let mut filters = vec![String::new()];
        filters.extend(field.codes.iter().map(|(_, f)| f.clone()));
        filters.extend(field.answered.clone());
        ctx.fetch(&with_units(&ALL_UNITS, &filters)).await;
        let mut s = Score::new(field.attack, Kind::Recovery);
        for u in ALL_UNITS {
            let of = field.of;
            let truths: Vec<HashMap<String, i64>> = field
                .codes
                .iter()
                .map(|(c, _)| tally(&ctx.records, u, |r| of(r) == Some(c.as_str())))
                .collect();
            let unanswered = tally(&ctx.records, u, |r| of(r).is_none());
            let all = ctx.layer(u, "");
            let answered = field.answered.as_ref().map(|f| ctx.layer(u, f));
            let layers: Vec<Arc<Published>> =
                field.codes.iter().map(|(_, f)| ctx.layer(u, f)).collect();
            for id in all.rows.keys() {
                let Some(total) = all.val(id, "count") else {
                    continue;
                };
                let values: Vec<Option<f64>> = layers.iter().map(|l| l.val(id, "count")).collect();
                let hidden: Vec<usize> =
                    (0..values.len()).filter(|&i| values[i].is_none()).collect();
                let known: f64 = values.iter().flatten().sum();
                let answered = answered.as_ref().and_then(|a| a.val(id, "count"));
                let name = all.name(id);
                if let [j] = hidden[..] {
                    let (code, base) = (&field.codes[j].0, answered.unwrap_or(total));
                    s.count(u, get(&truths[j], id), base - known, || {
                        format!("{name} {code}: {base} − {known} = {}", base - known)
                    });
                }
                if field.answered.is_some() {
                    let base = if hidden.is_empty() {
                        Some(known)
                    } else {
                        answered
                    };
                    if let Some(base) = base {
                        s.count(u, get(&unanswered, id), total - base, || {
                            format!("{name} unanswered: {total} − {base} = {}", total - base)
                        });
                    }
                }
            }
        }
        scores.push(s);
    }
    scores
}

// ---------------------------------------------------------------------------------------
// 3. A list filter minus one of its codes

/// `count[department=A,B] − count[department=A]` = count of B (and the same with genders).
async fn list_minus_code(ctx: &mut Ctx) -> Score {
    let units = [U::State, U::County, U::H3(5), U::H3(7)];
    let departments = code_list(&ctx.app.db_path(), "department");
    // (list filter, filter of the code taken away, the remaining code's field and code)
    let mut cases: Vec<(String, String, &str, String)> = Vec::new();
    for a in ["HT-OU", "HT-AR"] {
        for b in departments.iter().filter(|b| b.as_str() != a) {
            cases.push((
                format!("department={a},{b}"),
                format!("department={a}"),
                "department",
                b.clone(),
            ));
        }
    }
    for a in ["f", "m"] {
        cases.push((
            format!("gender={a},x"),
            format!("gender={a}"),
            "gender",
            "x".into(),
        ));
    }
    let filters: Vec<String> = cases
        .iter()
        .flat_map(|c| [c.0.clone(), c.1.clone()])
        .collect();
    ctx.fetch(&with_units(&units, &filters)).await;
    let mut s = Score::new("3 list filter minus one of its codes", Kind::Recovery);
    for u in units {
        for (list, single, field, code) in &cases {
            let truth = tally(&ctx.records, u, |r| match *field {
                "department" => r.department.as_deref() == Some(code.as_str()),
                _ => r.gender == *code,
            });
            let (both, one) = (ctx.layer(u, list), ctx.layer(u, single));
            for id in both.rows.keys() {
                let (Some(a), Some(b)) = (both.val(id, "count"), one.val(id, "count")) else {
                    continue;
                };
                s.count(u, get(&truth, id), a - b, || {
                    format!(
                        "{} [{list}] {a} − [{single}] {b} = {}",
                        both.name(id),
                        a - b
                    )
                });
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// 4. Overlapping periods

fn next_month(m: &str) -> String {
    let (y, mo): (u32, u32) = (m[..4].parse().unwrap(), m[5..].parse().unwrap());
    if mo == 12 {
        format!("{}-01", y + 1)
    } else {
        format!("{y}-{:02}", mo + 1)
    }
}

/// `count[from=M&to=last] − count[from=M+1&to=last]` = the records of month M.
async fn overlapping_periods(ctx: &mut Ctx) -> Score {
    let units = [U::State, U::County, U::H3(5), U::H3(7)];
    let last = DEMO_MONTHS[DEMO_MONTHS.len() - 1];
    let months = &DEMO_MONTHS[..DEMO_MONTHS.len() - 1];
    let period = |m: &str| format!("from={m}&to={last}");
    let filters: Vec<String> = months
        .iter()
        .flat_map(|m| [period(m), period(&next_month(m))])
        .collect();
    ctx.fetch(&with_units(&units, &filters)).await;
    let mut s = Score::new("4 overlapping periods: [M..] − [M+1..]", Kind::Recovery);
    for u in units {
        for m in months {
            let truth = tally(&ctx.records, u, |r| r.month == *m);
            let (from_m, from_next) = (
                ctx.layer(u, &period(m)),
                ctx.layer(u, &period(&next_month(m))),
            );
            for id in from_m.rows.keys() {
                let (Some(a), Some(b)) = (from_m.val(id, "count"), from_next.val(id, "count"))
                else {
                    continue;
                };
                s.count(u, get(&truth, id), a - b, || {
                    format!("{} {m}: {a} − {b} = {}", from_m.name(id), a - b)
                });
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// 5. One person's remittance

/// `remit_total − total[gender=f] − total[gender=m]` where one remitter of another gender
/// gave an amount: that person's amount, to the cent.
async fn one_remittance(ctx: &mut Ctx) -> Score {
    let filters = [String::new(), "gender=f".into(), "gender=m".into()];
    ctx.fetch(&with_units(&ALL_UNITS, &filters)).await;
    let mut s = Score::new(
        "5 one person's remittance: total − Σ[f] − Σ[m]",
        Kind::Recovery,
    );
    for u in ALL_UNITS {
        let mut others: HashMap<String, Vec<i64>> = HashMap::new();
        for r in &ctx.records {
            if let (Some(a), Some(id)) = (r.amount, r.unit(u)) {
                if r.gender != "f" && r.gender != "m" {
                    others.entry(id).or_default().push(a);
                }
            }
        }
        let (all, f, m) = (
            ctx.layer(u, ""),
            ctx.layer(u, "gender=f"),
            ctx.layer(u, "gender=m"),
        );
        const TOTAL: &str = "remit_total_usd";
        for id in all.rows.keys() {
            let (Some(t), Some(tf), Some(tm)) =
                (all.cents(id, TOTAL), f.cents(id, TOTAL), m.cents(id, TOTAL))
            else {
                continue;
            };
            let [one] = others.get(id).map(Vec::as_slice).unwrap_or(&[])[..] else {
                continue;
            };
            let estimate = t - tf - tm;
            s.attempt(u.label(), estimate == one, || {
                format!(
                    "{} ${:.2} − ${:.2} − ${:.2} = ${:.2} (true: {one} cents)",
                    all.name(id),
                    t as f64 / 100.0,
                    tf as f64 / 100.0,
                    tm as f64 / 100.0,
                    estimate as f64 / 100.0
                )
            });
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// 6. Presence

/// The feature ids of a vector tile (protobuf read by hand: `Tile.layers` = 3,
/// `Layer.features` = 2, `Feature.id` = 1).
fn mvt_ids(tile: &[u8]) -> Vec<u64> {
    let mut ids = Vec::new();
    for (n, layer) in pb_fields(tile) {
        let Pb::Bytes(layer) = layer else { continue };
        if n != 3 {
            continue;
        }
        for (n, feature) in pb_fields(layer) {
            let Pb::Bytes(feature) = feature else {
                continue;
            };
            if n != 2 {
                continue;
            }
            for (n, v) in pb_fields(feature) {
                if let (1, Pb::Varint(id)) = (n, v) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

enum Pb<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of a protobuf message: (field number, value).
fn pb_fields(b: &[u8]) -> Vec<(u64, Pb<'_>)> {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let x = b[*i];
            *i += 1;
            v |= u64::from(x & 0x7f) << shift;
            if x < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        let key = varint(b, &mut i);
        let value = match key & 7 {
            0 => Pb::Varint(varint(b, &mut i)),
            1 => {
                i += 8;
                Pb::Fixed
            }
            5 => {
                i += 4;
                Pb::Fixed
            }
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Pb::Bytes(&b[i - n..i])
            }
            t => panic!("protobuf wire type {t}"),
        };
        out.push((key >> 3, value));
    }
    out
}

/// A published id as the number vector tiles carry: FIPS as a decimal, H3 cells as hex.
fn numeric_id(u: U, id: &str) -> u64 {
    match u {
        U::H3(_) => u64::from_str_radix(id, 16).unwrap(),
        _ => id.parse().unwrap(),
    }
}

/// Rare filter combinations (a handful of people in most places where they exist).
const RARE: [&str; 4] = [
    "gender=x&age_band=65%2B",
    "gender=x&generation=born_abroad",
    "occupation=0&age_band=18-24",
    "department=HT-CE&age_band=55-64",
];

/// Tiles of zoom 3: the whole world in 64 tiles.
const PRESENCE_ZOOM: u8 = 3;

/// Which units a filtered layer lists, in GeoJSON, CSV, vector tiles and PNG tiles: a unit
/// listed with a hidden count while its true count is 1 to k−1 says that someone matching
/// the filter lives there (when the listing depends on the filter at all).
async fn presence(ctx: &mut Ctx) -> Vec<Score> {
    let units = [U::County, U::H3(5)];
    ctx.fetch(&with_units(&units, &[String::new()])).await;
    let mut leaks = Score::new("6 presence: listed with a hidden count 1..k−1", Kind::Leak);
    let mut formats = Score::new("6 formats disagree on which units are listed", Kind::Leak);
    let (client, base) = (ctx.app.client.clone(), ctx.app.base.clone());
    for u in units {
        let unfiltered: BTreeSet<String> = ctx.layer(u, "").rows.keys().cloned().collect();
        let (tile_layer, res) = match u {
            U::H3(r) => ("hexagons", format!("res={r}")),
            _ => ("counties", String::new()),
        };
        for filter in RARE {
            let truth = tally(&ctx.records, u, |r| matches_rare(r, filter));
            let q = query(&[&u.query(), filter]);
            let (status, text) = get_text(&client, &format!("{base}/api/v1/aggregates?{q}")).await;
            assert_eq!(status, 200, "{q}: {text}");
            let geo = parse_geojson(&serde_json::from_str(&text).unwrap());
            let (csv_status, text) =
                get_text(&client, &format!("{base}/api/v1/aggregates?{q}&format=csv")).await;
            ctx.requests += 2;
            let csv = (csv_status == 200).then(|| parse_csv(&text));

            // The leak, scored on the GeoJSON listing.
            let listed: BTreeSet<String> = geo.rows.keys().cloned().collect();
            let depends = !unfiltered.is_subset(&listed);
            for id in &listed {
                let t = get(&truth, id);
                let leak = depends && geo.val(id, "count").is_none() && t > 0 && t < K;
                leaks.attempt(u.label(), leak, || {
                    format!("{} listed for {filter} (true: {t})", geo.name(id))
                });
            }

            // The same listing in every format.
            let tq = query(&[&res, filter]);
            let tiles: Vec<(u32, u32)> = (0..1u32 << PRESENCE_ZOOM)
                .flat_map(|x| (0..1u32 << PRESENCE_ZOOM).map(move |y| (x, y)))
                .collect();
            let mut mvt: BTreeSet<u64> = BTreeSet::new();
            let mut problems: Vec<String> = Vec::new();
            let permits = Arc::new(Semaphore::new(IN_FLIGHT));
            let mut set = JoinSet::new();
            for &(x, y) in &tiles {
                for ext in ["mvt", "png"] {
                    let url =
                        format!("{base}/tiles/{tile_layer}/{PRESENCE_ZOOM}/{x}/{y}.{ext}?{tq}");
                    let (client, permits) = (client.clone(), permits.clone());
                    set.spawn(async move {
                        let _p = permits.acquire_owned().await.unwrap();
                        let r = client.get(&url).send().await.unwrap();
                        let status = r.status().as_u16();
                        ((x, y, ext), status, r.bytes().await.unwrap().to_vec())
                    });
                }
            }
            let mut tile_status: HashMap<(u32, u32, &str), u16> = HashMap::new();
            while let Some(done) = set.join_next().await {
                let ((x, y, ext), s, body) = done.unwrap();
                ctx.requests += 1;
                assert!(s == 200 || s == 204, "{tile_layer}/{x}/{y}.{ext}?{tq}: {s}");
                if ext == "mvt" && s == 200 {
                    mvt.extend(mvt_ids(&body));
                }
                tile_status.insert((x, y, ext), s);
            }
            for &(x, y) in &tiles {
                let (m, p) = (tile_status[&(x, y, "mvt")], tile_status[&(x, y, "png")]);
                if m != p {
                    problems.push(format!("tile {PRESENCE_ZOOM}/{x}/{y}: MVT {m}, PNG {p}"));
                }
            }
            let geo_ids: BTreeSet<u64> = listed.iter().map(|id| numeric_id(u, id)).collect();
            match &csv {
                None => problems.push(format!("CSV answers {csv_status}")),
                Some(csv) => {
                    let csv_ids: BTreeSet<u64> =
                        csv.rows.keys().map(|id| numeric_id(u, id)).collect();
                    if csv_ids != geo_ids {
                        problems.push(format!(
                            "CSV lists {} units, GeoJSON {}",
                            csv_ids.len(),
                            geo_ids.len()
                        ));
                    }
                    // Units too small to draw at zoom 3: looked up in the zoom-10 tile of
                    // their label point.
                    for id in geo_ids.difference(&mvt.clone()) {
                        let key = listed.iter().find(|s| numeric_id(u, s) == *id).unwrap();
                        let Some(&(lon, lat)) = csv.centers.get(key) else {
                            continue;
                        };
                        let w = dyaspora::tiles::mercator::to_world(lon, lat);
                        let n = f64::from(1u32 << 10);
                        let (x, y) = ((w[0] * n) as u32, (w[1] * n) as u32);
                        let url = format!("{base}/tiles/{tile_layer}/10/{x}/{y}.mvt?{tq}");
                        let r = client.get(&url).send().await.unwrap();
                        ctx.requests += 1;
                        if r.status() == 200 {
                            mvt.extend(mvt_ids(&r.bytes().await.unwrap()));
                        }
                    }
                }
            }
            if mvt != geo_ids {
                problems.push(format!(
                    "vector tiles list {} units ({} not in the GeoJSON), GeoJSON {}",
                    mvt.len(),
                    mvt.difference(&geo_ids).count(),
                    geo_ids.len()
                ));
            }
            let agree = problems.is_empty();
            formats.attempt(u.label(), !agree, || {
                format!("{} {filter}: {}", u.label(), problems.join("; "))
            });
        }
    }
    vec![leaks, formats]
}

/// Whether a record matches one of the [`RARE`] filters (written out, not parsed).
fn matches_rare(r: &Rec, filter: &str) -> bool {
    match filter {
        "gender=x&age_band=65%2B" => r.gender == "x" && r.age_band == "65+",
        "gender=x&generation=born_abroad" => {
            r.gender == "x" && r.generation.as_deref() == Some("born_abroad")
        }
        "occupation=0&age_band=18-24" => {
            r.occupation.as_deref() == Some("0") && r.age_band == "18-24"
        }
        "department=HT-CE&age_band=55-64" => {
            r.department.as_deref() == Some("HT-CE") && r.age_band == "55-64"
        }
        other => panic!("no truth for {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// 7. Time

/// Every public figure of the state, county and res-5 layers, and the national totals.
struct Snapshot {
    layers: Vec<Published>,
    national: BTreeMap<String, Option<f64>>,
}

const WATCHED: [U; 3] = [U::State, U::County, U::H3(5)];

async fn snapshot(ctx: &mut Ctx) -> Snapshot {
    let (client, base) = (ctx.app.client.clone(), ctx.app.base.clone());
    let mut layers = Vec::new();
    for u in WATCHED {
        let (p, n) = fetch_layer(&client, &base, u, "").await;
        ctx.requests += n;
        layers.push(p);
    }
    // A box with no state in it: no features, the national totals alone.
    let (status, text) = get_text(
        &client,
        &format!("{base}/api/v1/aggregates?unit=state&bbox=0,0,1,1"),
    )
    .await;
    ctx.requests += 1;
    assert_eq!(status, 200, "{text}");
    let fc: Value = serde_json::from_str(&text).unwrap();
    let national = fc["totals"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Null => Some((k.clone(), None)),
            Value::Number(n) => Some((k.clone(), n.as_f64())),
            _ => None,
        })
        .collect();
    Snapshot { layers, national }
}

/// The units of a layer whose published row changed (or appeared, or went away).
fn changed(before: &Published, after: &Published) -> BTreeSet<String> {
    let ids: BTreeSet<&String> = before.raw.keys().chain(after.raw.keys()).collect();
    ids.into_iter()
        .filter(|id| before.raw.get(*id) != after.raw.get(*id))
        .cloned()
        .collect()
}

/// Trials of attack 7: one record imported, watched, erased, watched.
const TIME_TRIALS: usize = 6;
/// The remittance of each trial's record, in cents (one of them dominates its state).
const TIME_AMOUNTS: [i64; TIME_TRIALS] = [77_777, 100_000_000, 15_025, 234_567, 9_999, 50_000];

/// Importing one record, then erasing it: do exactly the units that hold it change, and by
/// exactly its answers?
async fn time_attack(ctx: &mut Ctx) -> Vec<Score> {
    let db = ctx.app.db_path();
    let (editor, admin) = {
        let store = SqliteStore::open(&db).unwrap();
        let (_, editor) = token::issue(&store, Role::Editor, "attack editor", "test").unwrap();
        let (_, admin) = token::issue(&store, Role::Admin, "attack admin", "test").unwrap();
        (editor, admin)
    };
    // A ZIP in each of the most populous counties, one county per state, whose own county
    // (where an import by ZIP puts the record) is that county.
    let zips: Vec<String> = {
        let conn = read_only(&db);
        let mut stmt = conn
            .prepare(
                "SELECT county_fips, zip FROM records WHERE zip IS NOT NULL AND county_fips IS NOT NULL \
                 GROUP BY county_fips, zip ORDER BY count(*) DESC",
            )
            .unwrap();
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let zips = &Geodata::get().zips;
        let mut states = BTreeSet::new();
        rows.into_iter()
            .filter(|(county, zip)| {
                zips.get(zip).and_then(|z| z.county_fips.as_ref()) == Some(county)
            })
            .filter(|(county, _)| states.insert(county[..2].to_string()))
            .map(|(_, zip)| zip)
            .take(TIME_TRIALS)
            .collect()
    };
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kobo_sample.csv"
    ))
    .unwrap();
    let mut lines = fixture.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let template: Vec<&str> = lines.next().unwrap().split(';').collect();

    let mut moved = Score::new("7 time: exactly the record's units change", Kind::Recovery);
    let mut by = Score::new(
        "7 time: a unit moves by exactly its answers",
        Kind::Recovery,
    );
    let mut reversed = 0;
    let mut before = snapshot(ctx).await;
    for (trial, (zip, &cents)) in zips.iter().zip(&TIME_AMOUNTS).enumerate() {
        let uuid = format!("a77ac4ed-0000-4000-8000-{trial:012}");
        let mut row: Vec<String> = template.iter().map(|s| s.to_string()).collect();
        let mut set = |column: &str, value: String| {
            let i = header.iter().position(|h| *h == column).unwrap();
            row[i] = value;
        };
        set("respondent/gender", "f".into());
        set("residence/zip", zip.clone());
        set("remittances/remits", "yes".into());
        set(
            "remittances/remit_amount_usd",
            format!("{}.{:02}", cents / 100, cents % 100),
        );
        set("_uuid", uuid.clone());
        set("_id", format!("{}", 770_000 + trial));
        let csv = format!("{}\n{}\n", header.join(";"), row.join(";"));

        let path = format!("/api/v1/imports?name=attack-{trial}.csv");
        let (status, text) = ctx
            .send(Method::POST, &path, Some(&editor), Some(csv.into_bytes()))
            .await;
        assert_eq!(status, 200, "{text}");
        let report: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(report["outcome"]["inserted"], 1, "{report}");
        cut_release(&ctx.app).await;
        let after = snapshot(ctx).await;
        // The units holding the record, from the database.
        let (state, county, cell): (String, Option<String>, i64) = read_only(&db)
            .query_row(
                "SELECT state_fips, county_fips, h3_cell FROM records WHERE external_id = ?1",
                [&uuid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let res5 = h3o::CellIndex::try_from(cell as u64)
            .unwrap()
            .parent(h3o::Resolution::Five)
            .unwrap();
        let holders = [Some(state.clone()), county.clone(), Some(res5.to_string())];

        let (status, text) = ctx
            .send(
                Method::DELETE,
                &format!("/api/v1/records/{uuid}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        cut_release(&ctx.app).await;
        let erased = snapshot(ctx).await;
        if before
            .layers
            .iter()
            .zip(&erased.layers)
            .all(|(a, b)| a.raw == b.raw)
            && before.national == erased.national
        {
            reversed += 1;
        }

        for (sign, from, to) in [(1, &before, &after), (-1, &after, &erased)] {
            let what = if sign > 0 { "import" } else { "erasure" };
            for ((u, a), b) in WATCHED.iter().zip(&from.layers).zip(&to.layers) {
                let changed = changed(a, b);
                let expected: BTreeSet<String> = holders
                    [WATCHED.iter().position(|w| w == u).unwrap()]
                .iter()
                .cloned()
                .collect();
                moved.attempt(u.label(), changed == expected, || {
                    format!(
                        "{what} of a record in {}: only {changed:?} changed",
                        u.label()
                    )
                });
            }
            // County, state and nation: count, remitters, remittance total.
            let mut deltas = Vec::new();
            for (i, id) in [(1, county.clone()), (0, Some(state.clone()))] {
                let Some(id) = id else { continue };
                let (a, b) = (&from.layers[i], &to.layers[i]);
                let figures = |p: &Published| {
                    Some((
                        p.val(&id, "count")?,
                        p.val(&id, "remitters")?,
                        p.cents(&id, "remit_total_usd")?,
                    ))
                };
                deltas.push((WATCHED[i].label(), a.name(&id), figures(a), figures(b)));
            }
            let national = |s: &Snapshot| {
                let v = |k: &str| s.national.get(k).copied().flatten();
                Some((
                    v("count")?,
                    v("remitters")?,
                    (v("remit_total_usd")? * 100.0).round() as i64,
                ))
            };
            deltas.push((
                "nation".into(),
                "the nation".into(),
                national(from),
                national(to),
            ));
            for (unit, name, a, b) in deltas {
                let (Some(a), Some(b)) = (a, b) else { continue };
                let d = (b.0 - a.0, b.1 - a.1, b.2 - a.2);
                let exact = d == (f64::from(sign), f64::from(sign), i64::from(sign) * cents);
                by.attempt(unit, exact, || {
                    format!(
                        "{what}: {name} count {:+}, remitters {:+}, total {:+.2} $",
                        d.0,
                        d.1,
                        d.2 as f64 / 100.0
                    )
                });
            }
        }
        before = erased;
    }
    by.note = format!("the erasure restored every figure in {reversed} of {TIME_TRIALS} trials");
    vec![moved, by]
}

// ---------------------------------------------------------------------------------------
// 8. The rate limit, through tiles

/// Filtered aggregates until 429, then 40 distinct filtered layers as vector tiles. A
/// limit that covers tiles lets through only what its bucket refilled meanwhile.
/// Many distinct filtered layers are what differencing needs, so each client has a budget of
/// them across every route that computes figures (`--layer-budget`). The volume limit of the
/// heavy routes (`--rate-limit`) is switched off here: it refuses floods, not new layers, and
/// would answer the aggregates' 429 before the budget is spent.
async fn rate_limit_through_tiles() -> Score {
    let budget = ServeArgs::default().layer_budget;
    let app = TestApp::spawn_with(2_000, |a| {
        server_config(a, true);
        a.rate_limit = 0;
        a.layer_budget = budget; // the default (the tests' helper switches it off)
    })
    .await;
    let budget = budget as usize;
    // Distinct filtered layers: what differencing needs, and what the budget counts.
    let genders = ["f", "m", "x", "f,m", "f,x", "m,x", "f,m,x"];
    let bands = ["18-24", "25-34", "35-44", "45-54", "55-64", "65%2B"];
    let departments: [&str; 10] = [
        "HT-AR", "HT-CE", "HT-GA", "HT-ND", "HT-NE", "HT-NI", "HT-NO", "HT-OU", "HT-SD", "HT-SE",
    ];
    let mut all = Vec::new();
    for g in genders {
        for b in bands {
            for d in departments {
                all.push(format!("gender={g}&age_band={b}&department={d}"));
            }
        }
    }
    let mut filters = all.into_iter();
    // Through the aggregates until they refuse…
    let mut refused = false;
    let mut answered = 0;
    for f in filters.by_ref().take(1_000) {
        if app
            .get(&format!("/api/v1/aggregates?unit=state&{f}"))
            .await
            .status()
            == 429
        {
            refused = true;
            break;
        }
        answered += 1;
    }
    assert!(refused, "the aggregates never answered 429");
    assert_eq!(answered, budget, "the aggregates refused at the budget");
    // …then 40 new layers through the tiles.
    let tiles: Vec<String> = filters.take(40).collect();
    assert_eq!(tiles.len(), 40);
    let mut served = 0usize;
    for f in &tiles {
        let s = app
            .get(&format!("/tiles/states/0/0/0.mvt?{f}"))
            .await
            .status();
        if s != 429 {
            assert!(s == 200 || s == 204, "{f}: {s}");
            served += 1;
        }
    }
    let mut s = Score::new("8 rate limit bypassed through tiles", Kind::Leak);
    s.attempts = tiles.len();
    s.exact = served;
    s.by_unit.insert("served".into(), (tiles.len(), served));
    s.note = "after the aggregates refused a new filtered layer".into();
    s
}
