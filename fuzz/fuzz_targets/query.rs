//! Any bytes as a query string, decoded the way axum's `Query` decodes it, then parsed as a
//! layer request (aggregates, tiles, OGC items, outreach share it), a tile request and a
//! box: an error or a request, never a panic; a parsed box is always finite and ordered.
#![no_main]

use dyaspora::publish::{parse_bbox, LayerRequest};
use dyaspora::tiles::{aggregate_request, TileLayer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    if let Ok(req) = LayerRequest::from_pairs(&pairs, &[]) {
        if let Some(b) = req.bbox {
            assert!(
                b.iter().all(|x| x.is_finite()) && b[0] <= b[2] && b[1] <= b[3],
                "{b:?}"
            );
        }
        let _ = req.filter.canonical();
    }
    for layer in [TileLayer::Hexagons, TileLayer::States, TileLayer::Counties] {
        let z = data.first().copied().unwrap_or(0) % 16;
        let _ = aggregate_request(layer, z, &pairs, &["v", "format"]);
    }
    for (_, v) in &pairs {
        if let Ok(b) = parse_bbox(v) {
            assert!(
                b.iter().all(|x| x.is_finite()) && b[0] <= b[2] && b[1] <= b[3],
                "{b:?}"
            );
        }
    }
});
