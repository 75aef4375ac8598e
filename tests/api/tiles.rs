//! Tiles over HTTP on demo data: vector and raster tiles, the basemap, TileJSON, legends,
//! content negotiation, ETags and 304, empty tiles, clear errors, and no stale tile after an
//! import. The independent decoding (mapbox-vector-tile, Shapely, Pillow) is in
//! tests/py/test_tiles.py.

use std::io::Read;
use std::time::{Duration, Instant};

use dyaspora::tiles::hexagon_res;
use dyaspora::tiles::mercator::{to_world, MAX_ZOOM};
use serde_json::Value;

use crate::helpers::{assert_problem, TestApp};

/// The tile at zoom `z` containing a lon/lat point.
fn tile_at(lon: f64, lat: f64, z: u8) -> (u8, u32, u32) {
    let w = to_world(lon, lat);
    let n = f64::from(1u32 << z);
    (z, (w[0] * n) as u32, (w[1] * n) as u32)
}

const MIAMI: (f64, f64) = (-80.19, 25.83);

fn path(layer: &str, (z, x, y): (u8, u32, u32), ext: &str) -> String {
    format!("/tiles/{layer}/{z}/{x}/{y}.{ext}")
}

/// Minimal protobuf reading: the length-delimited fields `want` of a message.
fn fields(b: &[u8], want: u64) -> Vec<&[u8]> {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let (mut v, mut s) = (0u64, 0);
        loop {
            let x = b[*i];
            *i += 1;
            v |= u64::from(x & 0x7f) << s;
            if x < 0x80 {
                return v;
            }
            s += 7;
        }
    }
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        let key = varint(b, &mut i);
        match key & 7 {
            0 => {
                varint(b, &mut i);
            }
            1 => i += 8,
            5 => i += 4,
            2 => {
                let n = varint(b, &mut i) as usize;
                if key >> 3 == want {
                    out.push(&b[i..i + n]);
                }
                i += n;
            }
            t => panic!("wire type {t}"),
        }
    }
    out
}

/// Layer name and feature count of each layer of a tile.
fn layers(tile: &[u8]) -> Vec<(String, usize)> {
    fields(tile, 3)
        .into_iter()
        .map(|l| {
            (
                String::from_utf8(fields(l, 1)[0].to_vec()).unwrap(),
                fields(l, 2).len(),
            )
        })
        .collect()
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = app.client.get(format!("{}{path}", app.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_hexagon_tile_is_a_vector_tile_with_cache_headers_and_304() {
    let app = TestApp::spawn(20_000).await;
    let p = path("hexagons", tile_at(MIAMI.0, MIAMI.1, 7), "mvt");
    let r = app.get(&p).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type"),
        "application/vnd.mapbox-vector-tile"
    );
    assert_eq!(header(&r, "vary").to_ascii_lowercase(), "accept-encoding");
    assert!(header(&r, "cache-control").starts_with("public"));
    assert_eq!(
        header(&r, "content-encoding"),
        "",
        "identity when the client accepts no compression"
    );
    let etag = header(&r, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let body = r.bytes().await.unwrap();
    let l = layers(&body);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].0, "hexagons");
    assert!(l[0].1 > 5, "{} hexagons around Miami at zoom 7", l[0].1);

    let again = get_with(&app, &p, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    let same = app.get(&p).await;
    assert_eq!(
        header(&same, "etag"),
        etag,
        "the cached tile is the same tile"
    );
    assert_eq!(same.bytes().await.unwrap(), body);
}

#[tokio::test]
async fn gzip_and_brotli_are_negotiated_with_one_etag_per_encoding() {
    let app = TestApp::spawn(20_000).await;
    let p = path("hexagons", tile_at(MIAMI.0, MIAMI.1, 7), "mvt");
    let plain = app.get(&p).await;
    let plain_tag = header(&plain, "etag");
    let plain = plain.bytes().await.unwrap();

    let gz = get_with(&app, &p, &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    let gz_tag = header(&gz, "etag");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let br = get_with(&app, &p, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(header(&br, "content-encoding"), "br");
    let br_tag = header(&br, "etag");
    let mut out = Vec::new();
    brotli::Decompressor::new(&br.bytes().await.unwrap()[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    assert!(plain_tag != gz_tag && gz_tag != br_tag && plain_tag != br_tag);
    // A gzip ETag does not validate the brotli representation.
    let cross = get_with(
        &app,
        &p,
        &[("accept-encoding", "br"), ("if-none-match", &gz_tag)],
    )
    .await;
    assert_eq!(cross.status(), 200);
    let ok = get_with(
        &app,
        &p,
        &[("accept-encoding", "br"), ("if-none-match", &br_tag)],
    )
    .await;
    assert_eq!(ok.status(), 304);
}

#[tokio::test]
async fn an_empty_tile_is_204_and_bad_addresses_are_clear_4xx() {
    let app = TestApp::spawn(5_000).await;
    // Mid-Pacific: nobody there.
    let r = app
        .get(&path("hexagons", tile_at(-150.0, 0.0, 6), "mvt"))
        .await;
    assert_eq!(r.status(), 204);
    let r = app
        .get(&path("states", tile_at(-150.0, 0.0, 6), "png"))
        .await;
    assert_eq!(r.status(), 204);

    assert_problem(app.get("/tiles/rivers/3/2/3.mvt").await, 404).await;
    let b = assert_problem(app.get("/tiles/hexagons/3/8/3.mvt").await, 400).await;
    assert_eq!(b["parameter"], "x");
    let b = assert_problem(app.get("/tiles/hexagons/3/2/9.mvt").await, 400).await;
    assert_eq!(b["parameter"], "y");
    assert_problem(app.get("/tiles/hexagons/23/0/0.mvt").await, 400).await;
    assert_problem(app.get("/tiles/hexagons/3/2/3.gif").await, 400).await;
    assert_problem(app.get("/tiles/hexagons/3/-1/3.mvt").await, 400).await;
    assert_problem(app.get("/tiles/basemap/3/2/3.mvt").await, 400).await;
    assert_problem(app.get("/tiles/counties/1/0/0.mvt").await, 400).await;
    let b = assert_problem(
        app.get("/tiles/hexagons/3/2/3.mvt?metric=shoe_size").await,
        400,
    )
    .await;
    assert_eq!(b["parameter"], "metric");
    let b = assert_problem(app.get("/tiles/hexagons/3/2/3.mvt?gender=q").await, 400).await;
    assert!(b["valid"].is_array(), "the valid codes are listed");
    assert_problem(app.get("/tiles/hexagons/3/2/3.mvt?bbox=0,0,1,1").await, 400).await;
    assert_problem(app.get("/tiles/states/3/2/3.mvt?res=5").await, 400).await;
    assert_problem(app.get("/tiles/places/3/2/3.mvt?kind=castle").await, 400).await;
    assert_problem(app.get("/tiles/nothing.json").await, 404).await;
}

#[tokio::test]
async fn filters_change_the_tile_and_share_the_aggregates_parameters() {
    let app = TestApp::spawn(20_000).await;
    let p = path("states", tile_at(MIAMI.0, MIAMI.1, 4), "mvt");
    let all = app.get(&p).await.bytes().await.unwrap();
    let women = app.get(&format!("{p}?gender=f&metric=remit_share")).await;
    assert_eq!(women.status(), 200);
    let women = women.bytes().await.unwrap();
    assert_ne!(all, women);
    assert_eq!(layers(&women)[0].0, "states");
}

#[tokio::test]
async fn raster_tiles_are_pngs_at_one_and_two_times_the_pixels() {
    let app = TestApp::spawn(20_000).await;
    let t = tile_at(MIAMI.0, MIAMI.1, 6);
    for (suffix, side) in [("png", 256), ("@2x.png", 512)] {
        let p = format!(
            "/tiles/states/{}/{}/{}{}",
            t.0,
            t.1,
            t.2,
            if suffix == "png" { ".png" } else { suffix }
        );
        let r = app.get(&p).await;
        assert_eq!(r.status(), 200, "{p}");
        assert_eq!(header(&r, "content-type"), "image/png");
        let png = tiny_skia::Pixmap::decode_png(&r.bytes().await.unwrap()).unwrap();
        assert_eq!((png.width(), png.height()), (side, side));
    }
    let base = app
        .get(&format!("/tiles/basemap/{}/{}/{}.png", t.0, t.1, t.2))
        .await;
    assert_eq!(base.status(), 200);
    assert!(header(&base, "cache-control").contains("max-age=86400"));
}

#[tokio::test]
async fn the_served_basemap_puts_miami_beach_and_brooklyn_on_land_at_street_level() {
    let app = TestApp::spawn(2_000).await;
    // The basemap's colours (src/tiles/basemap.rs).
    let (water, land) = ([0xaa, 0xd3, 0xdf], [0xf2, 0xef, 0xe9]);
    let cases = [
        ((-80.1300, 25.7906), land, "Miami Beach city hall"),
        ((-73.9442, 40.6782), land, "Brooklyn"),
        ((-80.16, 25.80), water, "Biscayne Bay"),
    ];
    for z in [10, 13, 14] {
        for ((lon, lat), want, what) in cases {
            let t = tile_at(lon, lat, z);
            let r = app.get(&path("basemap", t, "png")).await;
            assert_eq!(r.status(), 200);
            assert!(!header(&r, "etag").is_empty(), "{what}: an ETag");
            let png = tiny_skia::Pixmap::decode_png(&r.bytes().await.unwrap()).unwrap();
            let w = to_world(lon, lat);
            let n = f64::from(1u32 << z);
            let (px, py) = (
                (w[0] * n - f64::from(t.1)) * 256.0,
                (w[1] * n - f64::from(t.2)) * 256.0,
            );
            let c = png.pixel(px as u32, py as u32).unwrap();
            assert_eq!([c.red(), c.green(), c.blue()], want, "{what} at z{z}");
        }
    }
}

#[tokio::test]
async fn tilejson_describes_each_layer_and_pins_the_data_version() {
    let app = TestApp::spawn(5_000).await;
    let health = app.health().await;
    let version = health["data_version"].as_u64().unwrap();
    let (status, tj) = app
        .get_json("/tiles/hexagons.json?metric=female_share&gender=f")
        .await;
    assert_eq!(status, 200);
    assert_eq!(tj["tilejson"], "3.0.0");
    let url = tj["tiles"][0].as_str().unwrap();
    assert!(url.starts_with(&app.base), "absolute URL: {url}");
    assert!(url.contains("/tiles/hexagons/{z}/{x}/{y}.mvt?"), "{url}");
    assert!(
        url.contains("gender=f")
            && url.contains("metric=female_share")
            && url.contains(&format!("v={version}")),
        "{url}"
    );
    let vl = &tj["vector_layers"][0];
    assert_eq!(vl["id"], "hexagons");
    for f in ["id", "name", "class", "count", "female_share"] {
        assert!(vl["fields"][f].is_string(), "field {f}: {vl}");
    }
    assert_eq!(tj["bounds"].as_array().unwrap().len(), 4);
    assert!(tj["dyaspora:resolutions"].as_array().unwrap().len() >= 6);

    let (_, png) = app.get_json("/tiles/states.json?format=png").await;
    assert!(png["tiles"][0].as_str().unwrap().contains(".png"));
    let (_, base) = app.get_json("/tiles/basemap.json").await;
    assert!(base["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with("/tiles/basemap/{z}/{x}/{y}.png"));
    let (_, cat) = app.get_json("/tiles").await;
    assert_eq!(cat["layers"].as_array().unwrap().len(), 5);

    // A tile URL from the TileJSON is cacheable for a day.
    let (z, x, y) = tile_at(MIAMI.0, MIAMI.1, 7);
    let tile = url
        .replace("{z}", &z.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
        .replace(&app.base, "");
    let r = app.get(&tile).await;
    assert!(
        header(&r, "cache-control").contains("immutable"),
        "{}",
        header(&r, "cache-control")
    );
}

#[tokio::test]
async fn the_legend_of_the_tiles_is_the_legend_of_the_geojson_layer() {
    let app = TestApp::spawn(20_000).await;
    for (layer, z, unit) in [
        ("hexagons", 7u8, "unit=h3&res=5"), // zoom 7 draws resolution 5
        ("states", 4, "unit=state"),
        ("counties", 8, "unit=county"),
    ] {
        let (status, legend) = app
            .get_json(&format!(
                "/tiles/{layer}/legend.json?z={z}&metric=remit_share"
            ))
            .await;
        assert_eq!(status, 200, "{legend}");
        let (_, fc) = app
            .get_json(&format!("/api/v1/aggregates?{unit}&metric=remit_share"))
            .await;
        assert_eq!(legend["classification"], fc["classification"], "{layer}");
    }
}

#[tokio::test]
async fn places_are_points_including_the_consulates() {
    let app = TestApp::spawn(0).await;
    let miami = dyaspora::geodata::Geodata::get()
        .posts
        .iter()
        .find(|p| p.id == "HT-CON-MIA")
        .unwrap();
    let at = tile_at(miami.lon, miami.lat, 8);
    let r = app.get(&path("places", at, "mvt")).await;
    assert_eq!(r.status(), 200);
    let l = layers(&r.bytes().await.unwrap());
    assert_eq!(l[0].0, "places");
    assert!(l[0].1 >= 1);
    let only_embassy = app
        .get(&format!("{}?kind=embassy", path("places", at, "mvt")))
        .await;
    assert_eq!(only_embassy.status(), 204, "the embassy is in Washington");
}

#[tokio::test]
async fn an_import_bumps_the_data_version_so_no_stale_tile_is_served() {
    let app = TestApp::spawn(5_000).await;
    let p = path("hexagons", tile_at(MIAMI.0, MIAMI.1, 5), "mvt");
    let before = app.get(&p).await;
    let tag = header(&before, "etag");
    let health = app.health().await;
    let v0 = health["data_version"].as_u64().unwrap();

    let db = app.db_path();
    tokio::task::spawn_blocking(move || {
        let store = dyaspora::store::SqliteStore::open(&db).unwrap();
        dyaspora::demo::load_into(&store, 20_000, 99).unwrap();
    })
    .await
    .unwrap();
    // The service polls the store's data version every 2 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get_with(&app, &p, &[("if-none-match", &tag)]).await;
        if r.status() == 200 {
            assert_ne!(header(&r, "etag"), tag);
            break;
        }
        assert_eq!(r.status(), 304);
        assert!(
            Instant::now() < deadline,
            "the tile never changed after the import"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let health = app.health().await;
    assert!(health["data_version"].as_u64().unwrap() > v0);
}

#[tokio::test]
async fn tiles_are_served_with_the_cache_disabled() {
    let app = TestApp::spawn_with(5_000, |a| a.tile_cache_mb = 0).await;
    let p = path("hexagons", tile_at(MIAMI.0, MIAMI.1, 5), "mvt");
    let a = app.get(&p).await;
    assert_eq!(a.status(), 200);
    let tag = header(&a, "etag");
    let b = get_with(&app, &p, &[("if-none-match", &tag)]).await;
    assert_eq!(
        b.status(),
        304,
        "ETags are content hashes: stable without the cache"
    );
    let _: Value = app.get_json("/tiles").await.1;
}

/// The headers of a response but the per-response ones (request id, date), sorted.
fn header_set(r: &reqwest::Response) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "x-request-id" | "date"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    v.sort();
    v
}

/// Requests `p` twice: the first through the full handler (nothing prepared or cached),
/// the second answered before routing (cache hit, or a vector tile cut from the prepared
/// source); both must say the same thing.
async fn same_answer_twice(
    app: &TestApp,
    p: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap) {
    let first = get_with(app, p, headers).await;
    let second = get_with(app, p, headers).await;
    assert_eq!(first.status(), second.status(), "{p} {headers:?}");
    assert_eq!(header_set(&first), header_set(&second), "{p} {headers:?}");
    assert_eq!(
        header(&second, "x-request-id").len(),
        16,
        "{p}: a request id"
    );
    let answer = (second.status().as_u16(), second.headers().clone());
    let (a, b) = (first.bytes().await.unwrap(), second.bytes().await.unwrap());
    assert_eq!(a, b, "{p} {headers:?}");
    answer
}

#[tokio::test]
async fn the_edge_fast_path_answers_exactly_as_the_full_handler() {
    for cache_mb in [64, 0] {
        let app = TestApp::spawn_with(5_000, |a| {
            a.tile_cache_mb = cache_mb;
            a.cors_origins = vec!["*".into()];
        })
        .await;
        let miami = |z| tile_at(MIAMI.0, MIAMI.1, z);
        for (p, headers) in [
            (path("hexagons", miami(6), "mvt"), vec![]),
            (
                path("hexagons", miami(7), "mvt"),
                vec![("accept-encoding", "gzip")],
            ),
            (
                path("hexagons", miami(8), "mvt"),
                vec![("accept-encoding", "br, gzip")],
            ),
            (path("states", miami(4), "mvt"), vec![]),
            (path("hexagons", miami(6), "png"), vec![]),
            (path("basemap", miami(6), "png"), vec![]),
            (path("hexagons", tile_at(-150.0, 0.0, 6), "mvt"), vec![]),
            (
                format!("{}?gender=f", path("hexagons", miami(6), "mvt")),
                vec![],
            ),
        ] {
            let (_, h) = same_answer_twice(&app, &p, &headers).await;
            assert_eq!(h["access-control-allow-origin"], "*", "{p}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{p}");
        }
        let p = path("hexagons", miami(6), "mvt");
        let tag = header(&app.get(&p).await, "etag");
        let (status, _) = same_answer_twice(&app, &p, &[("if-none-match", &tag)]).await;
        assert_eq!(status, 304);

        // What the fast path must leave to the full handler, now that the source is ready
        // and the tile cached: a bad token, a bad query, a refused encoding.
        let r = get_with(&app, &p, &[("authorization", "Bearer not-a-token")]).await;
        assert_problem(r, 401).await;
        let bad = format!("{p}?gender=q");
        assert_problem(app.get(&bad).await, 400).await;
        let r = get_with(&app, &p, &[("accept-encoding", "identity;q=0, *;q=0")]).await;
        assert_eq!(r.status(), 406, "nothing acceptable (cache {cache_mb} MiB)");
    }
}

/// The table `[{minzoom, maxzoom, res}]` as served, expanded to one resolution per zoom.
fn by_zoom(ranges: &Value) -> Vec<Option<u64>> {
    let mut table = vec![None; usize::from(MAX_ZOOM) + 1];
    for r in ranges.as_array().expect("an array of ranges") {
        let (a, b) = (
            r["minzoom"].as_u64().unwrap(),
            r["maxzoom"].as_u64().unwrap(),
        );
        for z in a..=b {
            assert!(table[z as usize].is_none(), "zoom {z} is in two ranges");
            table[z as usize] = r["res"].as_u64();
        }
    }
    table
}

#[tokio::test]
async fn the_map_and_the_tiles_share_one_zoom_to_resolution_table() {
    let app = TestApp::spawn(2_000).await;
    // The map reads `hexagon_resolutions` of the catalogue (web/src/layers.js): every zoom
    // the tiles serve must pick the resolution the tiles are cut at.
    let (status, cat) = app.get_json("/tiles").await;
    assert_eq!(status, 200);
    let served = by_zoom(&cat["hexagon_resolutions"]);
    for z in 0..=MAX_ZOOM {
        assert_eq!(
            served[usize::from(z)],
            Some(u64::from(hexagon_res(z))),
            "zoom {z}"
        );
    }
    // The hexagons' TileJSON says the same over the zooms it serves.
    let (_, tj) = app.get_json("/tiles/hexagons.json").await;
    let maxzoom = tj["maxzoom"].as_u64().unwrap() as usize;
    assert_eq!(
        by_zoom(&tj["dyaspora:resolutions"])[..=maxzoom],
        served[..=maxzoom]
    );
}
