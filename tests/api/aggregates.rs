//! The aggregate layers over HTTP on demo data: formats, classification, caching headers,
//! clear errors, and the differencing attacks of PRIVACY.md tried by hand.

use std::collections::HashMap;

use dyaspora::aggregate::group::{MAX_RES, MIN_RES};
use serde_json::Value;

use crate::helpers::{assert_problem, TestApp};

const K: i64 = 11;

fn small(x: i64) -> bool {
    x > 0 && x < K
}

/// unit id → count, for features whose count is published.
fn counts(fc: &Value, property: &str) -> HashMap<String, i64> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["properties"]["id"].as_str()?.to_string(),
                f["properties"][property].as_i64()?,
            ))
        })
        .collect()
}

fn h3_parent(id: &str, res: u8) -> String {
    let cell: h3o::CellIndex = id.parse().unwrap();
    cell.parent(h3o::Resolution::try_from(res).unwrap())
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn hexagon_layer_is_geojson_with_a_legend_and_no_small_counts() {
    let app = TestApp::spawn(30_000).await;
    let r = app
        .get("/api/v1/aggregates?unit=h3&res=6&metric=female_share")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["privacy"]["min_count"], K);
    let cls = &fc["classification"];
    assert_eq!(cls["metric"], "female_share");
    assert_eq!(
        cls["colors"].as_array().unwrap().len(),
        cls["breaks"].as_array().unwrap().len() + 1
    );
    let features = fc["features"].as_array().unwrap();
    assert!(features.len() > 50, "{} hexagons", features.len());
    for f in features {
        let p = &f["properties"];
        let count = p["count"]
            .as_i64()
            .expect("hexagons with a hidden count are left out");
        assert!(count >= K);
        assert_eq!(f["geometry"]["type"], "Polygon");
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.first(), ring.last(), "closed ring");
        for name in p["suppressed"].as_array().unwrap() {
            assert!(
                p[name.as_str().unwrap()].is_null(),
                "suppressed values are null, never 0"
            );
        }
    }
    // Unchanged data: 304.
    let again = app
        .client
        .get(format!(
            "{}/api/v1/aggregates?unit=h3&res=6&metric=female_share",
            app.base
        ))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn csv_download_has_an_hxl_row_and_an_attachment_name() {
    let app = TestApp::spawn(20_000).await;
    let r = app
        .get("/api/v1/aggregates?unit=state&format=csv&download=1&metrics=sector")
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"dyaspora-state"));
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let hxl: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), hxl.len());
    assert!(hxl.iter().all(|t| t.starts_with('#')), "{hxl:?}");
    assert_eq!(header[..5], ["id", "name", "lon", "lat", "count"]);
    assert!(header.contains(&"sector_Q"));
    assert_eq!(lines.count(), 52, "every state, DC and Puerto Rico");

    // A filtered download says what it holds, in its name and (GeoJSON) in its metadata.
    let q = "unit=county&gender=f&sector=Q&download=1&bbox=-82,24,-79,28";
    let r = app.get(&format!("/api/v1/aggregates?{q}")).await;
    let name = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        name.contains("dyaspora-county-gender-f_sector-Q-r1-20")
            && name.ends_with("-demo.geojson\""),
        "{name}"
    );
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["filters"]["gender"], "f");
    assert_eq!(fc["filters"]["sector"], "Q");
    assert_eq!(fc["bbox"], serde_json::json!([-82.0, 24.0, -79.0, 28.0]));
    assert_eq!(fc["totals_scope"], "nation");
    assert!(fc["generated_on"].as_str().unwrap().starts_with("20"));
}

/// Every download made straight from the API says what it holds (#20): the GeoJSON in its
/// `dyaspora:map` member, the CSV (kept plain: no comment lines) in the CSVW metadata its
/// `Link` header points to, and every file name states the layer, filters, date and demo.
#[tokio::test]
async fn api_downloads_carry_their_metadata_and_the_demo_flag() {
    let app = TestApp::spawn(20_000).await;
    let (_, methodology) = app.get_json("/api/v1/methodology").await;
    let q = "unit=county&gender=f&bbox=-82,24,-79,28&download=1";

    // GeoJSON: the member, as the page's own downloads have it.
    let r = app.get(&format!("/api/v1/aggregates?{q}")).await;
    assert_eq!(r.status(), 200);
    let name = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(name.contains("dyaspora-county-gender-f-r1-20"), "{name}");
    assert!(name.ends_with("-demo.geojson\""), "{name}");
    assert!(
        r.headers().get("link").is_none(),
        "the GeoJSON carries its own metadata"
    );
    let fc: Value = r.json().await.unwrap();
    let m = &fc["dyaspora:map"];
    assert_eq!(m["title"], "Respondents");
    assert_eq!(m["measure"], "count");
    assert_eq!(m["filters"], "Gender: Female");
    assert_eq!(m["filter_params"]["gender"], "f");
    assert_eq!(m["extent"], serde_json::json!([-82.0, 24.0, -79.0, 28.0]));
    assert!(m["source"].as_str().unwrap().starts_with("dyaspora survey"));
    assert_eq!(m["rounds"], methodology["rounds"]);
    let first = methodology["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["first_month"].as_str())
        .min()
        .unwrap();
    assert_eq!(
        m["period"]["from"], first,
        "the earliest month of any round"
    );
    assert_eq!(m["sample"]["respondents"], methodology["records"]);
    assert_eq!(m["sample"]["matching_filters"], fc["totals"]["count"]);
    assert_eq!(m["demo"], true);
    assert_eq!(m["data_version"], fc["data_version"]);

    // CSV: plain rows under the header (and the HXL row unless hxl=0), the metadata linked.
    for (hxl, rows) in [("", 2), ("&hxl=0", 1)] {
        let r = app
            .get(&format!("/api/v1/aggregates?{q}&format=csv{hxl}"))
            .await;
        assert_eq!(r.status(), 200);
        let name = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        let ending = if rows == 1 {
            "-plain-demo.csv\""
        } else {
            "-demo.csv\""
        };
        assert!(name.ends_with(ending), "{name}");
        let link = r.headers()["link"].to_str().unwrap().to_string();
        assert!(
            link.starts_with("</api/v1/aggregates/csv-metadata.json?")
                && link.ends_with(r#">; rel="describedby"; type="application/csvm+json""#),
            "{link}"
        );
        let text = r.text().await.unwrap();
        assert!(
            text.lines().all(|l| !l.starts_with("# ")),
            "no comment lines"
        );
        let second = text.lines().nth(1).unwrap();
        assert_eq!(second.starts_with("#adm2"), rows == 2, "{second}");
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();

        // The metadata at the linked address.
        let target = link[1..link.find('>').unwrap()].to_string();
        let r = app.get(&target).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/csvm+json");
        let saved = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(saved.ends_with("-demo.csv-metadata.json\""), "{saved}");
        assert!(r.headers().contains_key("etag"));
        let meta: Value = r.json().await.unwrap();
        let file = name.split('"').nth(1).unwrap();
        assert_eq!(
            meta["url"], file,
            "the saved CSV's name: CSVW finds the metadata beside it"
        );
        assert_eq!(meta["dialect"]["headerRowCount"], rows);
        assert_eq!(meta["dyaspora:demo"], true);
        assert_eq!(meta["dyaspora:filters"]["gender"], "f");
        assert_eq!(
            meta["dyaspora:sample"]["respondents"],
            methodology["records"]
        );
        assert_eq!(meta["dyaspora:data_version"], fc["data_version"]);
        assert_eq!(
            meta["dc:spatial"]["bbox"],
            serde_json::json!([-82.0, 24.0, -79.0, 28.0])
        );
        assert!(meta["dc:title"].as_str().unwrap().contains("DEMONSTRATION"));
        assert!(meta["dc:source"]
            .as_str()
            .unwrap()
            .contains(methodology["rounds"][0]["name"].as_str().unwrap()));
        let columns = meta["tableSchema"]["columns"].as_array().unwrap();
        let names: Vec<&str> = columns
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names, header,
            "one column description per CSV column, in order"
        );
        assert_eq!(
            columns[0]["datatype"]["base"], "string",
            "FIPS codes are text"
        );
        assert_eq!(columns[0]["datatype"]["format"], "^[0-9]{5}$");
        let count = columns.iter().find(|c| c["name"] == "count").unwrap();
        assert_eq!(count["datatype"], "integer");
    }

    // Without `download`, the metadata's url is the route that makes the CSV.
    let (status, meta) = app
        .get_json("/api/v1/aggregates/csv-metadata.json?unit=state")
        .await;
    assert_eq!(status, 200);
    assert_eq!(meta["url"], "/api/v1/aggregates?unit=state&format=csv");
    assert_eq!(meta["dc:spatial"], Value::Null);
    let (status, _) = app
        .get_json("/api/v1/aggregates/csv-metadata.json?unit=nowhere")
        .await;
    assert_eq!(status, 400);

    // An empty service holds no demo data: no `-demo`, and the flag says so.
    let empty = TestApp::spawn(0).await;
    let r = empty
        .get("/api/v1/aggregates?unit=state&download=1&format=csv")
        .await;
    let name = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!name.contains("-demo"), "{name}");
    let (_, meta) = empty
        .get_json("/api/v1/aggregates/csv-metadata.json?unit=state")
        .await;
    assert_eq!(meta["dyaspora:demo"], false);
}

/// A layer nobody is in (a period before any collection) is an empty answer in every format
/// and unit, never a 500; its CSV has the same columns as a layer with units.
#[tokio::test]
async fn empty_layers_answer_in_every_unit_and_format() {
    let app = TestApp::spawn(2_000).await;
    let units = ["unit=state", "unit=county"]
        .map(String::from)
        .into_iter()
        .chain((2..=9).map(|r| format!("unit=h3&res={r}")));
    for unit in units {
        for format in ["geojson", "csv"] {
            let path = format!(
                "/api/v1/aggregates?{unit}&from=2000-01&to=2000-01&format={format}&metrics=need"
            );
            let r = app.get(&path).await;
            assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
            let text = r.text().await.unwrap();
            if format == "geojson" {
                let fc: Value = serde_json::from_str(&text).unwrap();
                let published = fc["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["properties"]["count"].as_u64().is_some_and(|n| n > 0))
                    .count();
                assert_eq!(published, 0, "nobody is in this period: {path}");
                continue;
            }
            let full = app
                .get(&format!(
                    "/api/v1/aggregates?{unit}&format=csv&metrics=need"
                ))
                .await
                .text()
                .await
                .unwrap();
            let head = |t: &str| t.lines().take(2).map(String::from).collect::<Vec<_>>();
            assert_eq!(head(&text), head(&full), "{path}");
        }
    }
}

#[tokio::test]
async fn bad_parameters_get_problem_bodies_that_say_what_is_wrong() {
    let app = TestApp::spawn(2_000).await;
    let body = assert_problem(app.get("/api/v1/aggregates?gender=q").await, 400).await;
    assert_eq!(body["parameter"], "gender");
    assert_eq!(body["valid"], serde_json::json!(["f", "m", "x"]));
    let body = assert_problem(app.get("/api/v1/aggregates?colour=red").await, 400).await;
    assert_eq!(body["parameter"], "colour");
    assert_problem(app.get("/api/v1/aggregates?unit=h3&res=12").await, 400).await;
    assert_problem(app.get("/api/v1/aggregates?bbox=1,2,3").await, 400).await;
    assert_problem(app.get("/api/v1/aggregates?bbox=-80,NaN,-70,40").await, 400).await;
    assert_problem(app.get("/api/v1/aggregates?from=2025-13").await, 400).await;
    assert_problem(app.get("/api/v1/aggregates?round=nope").await, 400).await;
}

#[tokio::test]
async fn a_filter_changes_the_figures_and_bbox_limits_the_features() {
    let app = TestApp::spawn(20_000).await;
    let (_, all) = app.get_json("/api/v1/aggregates?unit=state").await;
    let (_, women) = app.get_json("/api/v1/aggregates?unit=state&gender=f").await;
    let fl = |fc: &Value| counts(fc, "count")["12"];
    assert!(fl(&women) < fl(&all));
    let (_, florida) = app
        .get_json("/api/v1/aggregates?unit=h3&res=5&bbox=-81.0,25.0,-79.8,27.0")
        .await;
    let (_, us) = app.get_json("/api/v1/aggregates?unit=h3&res=5").await;
    let n = |fc: &Value| fc["features"].as_array().unwrap().len();
    assert!(n(&florida) > 0 && n(&florida) < n(&us));
}

/// The suppression rules of PRIVACY.md hold on the exact figures (admins'): no difference of
/// published values leaves a small group. (The public figures are perturbed besides; the
/// attacks on those are scored in `attacks.rs`.)
#[tokio::test]
async fn differencing_exact_figures_recovers_no_small_group() {
    let app = TestApp::spawn(20_000).await;
    let admin = app.admin_token();
    let get = |q: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let (status, body) = app
                .get_json_as(&format!("/api/v1/admin/aggregates?{q}&metrics=all"), admin)
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    // A parent hexagon minus its visible children, at every pair of resolutions.
    let mut by_res = HashMap::new();
    for res in 3..=7u8 {
        by_res.insert(res, get(format!("unit=h3&res={res}")).await);
    }
    for res in 3..7u8 {
        for finer in res + 1..=7 {
            for prop in [
                "count",
                "female",
                "remitters",
                "sector_Q",
                "need_transfer_costs",
            ] {
                let parents = counts(&by_res[&res], prop);
                let mut sums: HashMap<String, i64> = HashMap::new();
                for (id, v) in counts(&by_res[&finer], prop) {
                    *sums.entry(h3_parent(&id, res)).or_default() += v;
                }
                for (id, v) in &parents {
                    let rest = v - sums.get(id).copied().unwrap_or(0);
                    assert!(
                        !small(rest),
                        "{prop}: res-{res} {id} minus its res-{finer} children leaves {rest}"
                    );
                }
            }
        }
    }
    // A state minus its visible counties; the nation minus its visible states.
    let states = get("unit=state".into()).await;
    let counties = get("unit=county".into()).await;
    for prop in ["count", "female", "remitters"] {
        let mut sums: HashMap<String, i64> = HashMap::new();
        for (id, v) in counts(&counties, prop) {
            *sums.entry(id[..2].to_string()).or_default() += v;
        }
        for (id, v) in counts(&states, prop) {
            let rest = v - sums.get(&id).copied().unwrap_or(0);
            assert!(
                !small(rest),
                "{prop}: state {id} minus its counties leaves {rest}"
            );
        }
        let national = states["totals"][prop].as_i64().unwrap();
        let rest = national - counts(&states, prop).values().sum::<i64>();
        assert!(
            !small(rest),
            "{prop}: the nation minus its states leaves {rest}"
        );
    }
    // A total minus its visible categories, and a query minus the same query for women.
    for fc in [&states, &counties, &by_res[&6]] {
        let all = counts(fc, "count");
        for (id, f) in counts(fc, "female") {
            assert!(!small(all[&id] - f), "count − female in {id}");
        }
    }
    for (q, unit) in [("unit=county", &counties), ("unit=h3&res=6", &by_res[&6])] {
        let women = get(format!("{q}&gender=f")).await;
        let all = counts(unit, "count");
        for (id, w) in counts(&women, "count") {
            if let Some(a) = all.get(&id) {
                assert!(!small(a - w), "{q}: {id} all − women = {}", a - w);
            }
        }
    }
}

/// The perturbation is consistent: the same people give the same published figure however,
/// wherever and however often it is asked — repeated, in GeoJSON and CSV, spelled with the
/// filter's codes in another order, and as a filtered count or a category of the unfiltered
/// layer (women counted by `gender=f`, or as `female`).
#[tokio::test]
async fn the_same_people_give_the_same_published_figure_everywhere() {
    let app = TestApp::spawn(20_000).await;
    let geojson = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get_json(&format!("/api/v1/aggregates?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            body
        }
    };
    assert!(geojson("unit=county").await["privacy"]["perturbed"] == true);
    for q in [
        "unit=county",
        "unit=h3&res=6",
        "unit=state&gender=f&age_band=25-34",
    ] {
        assert_eq!(geojson(q).await, geojson(q).await, "{q} asked twice");
    }
    // CSV and GeoJSON.
    let csv = app
        .get("/api/v1/aggregates?unit=county&format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, count) = (column("id"), column("count"));
    let from_csv: HashMap<String, i64> = rows
        .records()
        .skip(1) // the HXL row
        .map(Result::unwrap)
        .filter(|r| !r[count].is_empty())
        .map(|r| (r[id].to_string(), r[count].parse().unwrap()))
        .collect();
    let counties = geojson("unit=county").await;
    assert_eq!(from_csv, counts(&counties, "count"));
    // The order of a list filter's codes does not matter.
    assert_eq!(
        geojson("unit=state&department=HT-AR,HT-CE").await["features"],
        geojson("unit=state&department=HT-CE,HT-AR").await["features"]
    );
    // Women: one set of people, one figure.
    let women = counts(&geojson("unit=county&gender=f").await, "count");
    let female = counts(&counties, "female");
    let mut compared = 0;
    for (county, n) in &women {
        if let Some(f) = female.get(county) {
            assert_eq!(n, f, "county {county}: gender=f count against female");
            compared += 1;
        }
    }
    assert!(compared > 50, "{compared} counties compared");
}

/// A record as stored (`src/store/sqlite/coded.rs`), read with plain SQL: where it lies and
/// its remittance amount when it remits and gave one.
struct Stored {
    state: String,
    county: Option<String>,
    cell: h3o::CellIndex,
    gender: i64,
    amount_cents: Option<i64>,
}

fn stored_records(db: &std::path::Path) -> (Vec<Stored>, i64) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    // Coded answers are positions in their code list; the file says which position is what.
    let female: i64 = conn
        .query_row(
            "SELECT position FROM code_values WHERE list = 'gender' AND code = 'f'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT state_fips, county_fips, h3_cell, gender, remits, remit_amount_cents FROM records",
        )
        .unwrap();
    let records = stmt
        .query_map([], |r| {
            let cell: i64 = r.get(2)?;
            let remits: Option<i64> = r.get(4)?;
            let amount: Option<i64> = r.get(5)?;
            Ok(Stored {
                state: r.get(0)?,
                county: r.get(1)?,
                cell: h3o::CellIndex::try_from(cell as u64).unwrap(),
                gender: r.get(3)?,
                amount_cents: amount.filter(|_| remits == Some(1)),
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (records, female)
}

/// PRIVACY.md rule 7 done by hand: sort the known amounts, take the middle one (or the mean
/// of the two middle ones), round to whole dollars (half a dollar up). Integer cents
/// throughout, so nothing is lost to floating point.
fn plain_median_usd(amounts_cents: &[i64]) -> i64 {
    let mut sorted = amounts_cents.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    // Twice the median, in cents: the mean of the two middle amounts may end in half a cent.
    let twice = if n % 2 == 1 {
        2 * sorted[n / 2]
    } else {
        sorted[n / 2 - 1] + sorted[n / 2]
    };
    (twice + 100).div_euclid(200)
}

/// The one comparison of an exact (admins') median with the independent one: equal. The
/// public median is checked against the exact one, within its noise, by the caller.
fn assert_median_agrees(published_usd: f64, amounts_cents: &[i64], context: &str) {
    const TOLERANCE_USD: f64 = 0.0;
    assert!(
        !amounts_cents.is_empty(),
        "{context}: a median of {published_usd} is published but no amount is known"
    );
    let expected = plain_median_usd(amounts_cents);
    assert!(
        (published_usd - expected as f64).abs() <= TOLERANCE_USD,
        "{context}: published median ${published_usd}, but the {} known amounts' median is ${expected}",
        amounts_cents.len()
    );
}

#[test]
fn the_plain_median_is_the_middle_amount_rounded_to_whole_dollars() {
    assert_eq!(plain_median_usd(&[300, 100, 200]), 2);
    assert_eq!(plain_median_usd(&[100, 149]), 1); // $1.245
    assert_eq!(plain_median_usd(&[100, 200]), 2); // $1.50: half a dollar up
    assert_eq!(plain_median_usd(&[149, 150]), 1); // $1.495
    assert_eq!(plain_median_usd(&[5_000, 1, 7_049, 9_999_999]), 60); // ($50 + $70.49) / 2
}

/// Every exact `remit_median_usd` (nation, states, counties, hexagons of every served
/// resolution, unfiltered and for women) equals the median of that unit's known amounts
/// computed from the stored records by hand, not by the service's own function; the public
/// median is within its documented noise of it.
#[tokio::test]
async fn published_medians_equal_the_median_of_the_stored_amounts() {
    let app = TestApp::spawn(20_000).await;
    let admin = app.admin_token();
    let (records, female) = stored_records(&app.db_path());
    let unit_of = |unit: &str, r: &Stored| -> Option<String> {
        match unit {
            "state" => Some(r.state.clone()),
            "county" => r.county.clone(),
            res => {
                let res = h3o::Resolution::try_from(res.parse::<u8>().unwrap()).unwrap();
                Some(r.cell.parent(res).unwrap().to_string())
            }
        }
    };
    let mut checked = 0;
    for women in [false, true] {
        let wanted = |r: &&Stored| !women || r.gender == female;
        let filter = if women { "&gender=f" } else { "" };
        let units = ["state".to_string(), "county".to_string()]
            .into_iter()
            .chain((MIN_RES..=MAX_RES).map(|res| res.to_string()));
        for unit in units {
            let query = match unit.as_str() {
                "state" | "county" => format!("unit={unit}{filter}"),
                res => format!("unit=h3&res={res}{filter}"),
            };
            // The exact medians (admins'), then the public ones: within the median's noise.
            let (status, fc) = app
                .get_json_as(&format!("/api/v1/admin/aggregates?{query}"), &admin)
                .await;
            assert_eq!(status, 200, "{query}");
            let (status, public) = app.get_json(&format!("/api/v1/aggregates?{query}")).await;
            assert_eq!(status, 200, "{query}");
            let public: HashMap<&str, f64> = public["features"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| {
                    let p = &f["properties"];
                    Some((p["id"].as_str()?, p["remit_median_usd"].as_f64()?))
                })
                .collect();
            let mut amounts: HashMap<String, Vec<i64>> = HashMap::new();
            for r in records.iter().filter(wanted) {
                if let (Some(id), Some(a)) = (unit_of(&unit, r), r.amount_cents) {
                    amounts.entry(id).or_default().push(a);
                }
            }
            let mut published = 0;
            for f in fc["features"].as_array().unwrap() {
                let p = &f["properties"];
                if let Some(median) = p["remit_median_usd"].as_f64() {
                    let id = p["id"].as_str().unwrap();
                    let known = amounts.get(id).map_or(&[][..], |a| &a[..]);
                    assert_median_agrees(median, known, &format!("{query}: {id}"));
                    if let Some(&noisy) = public.get(id) {
                        // Moved by at most 5 % of itself (PRIVACY.md), then to whole dollars.
                        assert!(
                            (noisy - median).abs() <= 0.05 * median + 1.0,
                            "{query}: {id}: public median {noisy} against {median}"
                        );
                    }
                    published += 1;
                }
            }
            eprintln!("{query}: {published} medians checked");
            if unit == "state" {
                assert!(
                    published >= 10,
                    "{query}: only {published} medians published"
                );
                let all: Vec<i64> = records
                    .iter()
                    .filter(wanted)
                    .filter_map(|r| r.amount_cents)
                    .collect();
                let national = fc["totals"]["remit_median_usd"].as_f64().unwrap();
                assert_median_agrees(national, &all, &format!("{query}: nation"));
            }
            checked += published;
        }
    }
    assert!(checked >= 300, "only {checked} medians checked");
}
