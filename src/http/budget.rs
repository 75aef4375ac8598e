//! The per-caller budget of filtered layers.
//!
//! Recovering hidden figures takes many *different* filtered layers (a layer with a filter
//! minus its siblings, overlapping periods…), while the map asks for dozens of tiles of one
//! layer. So each client (IP address, an IPv6 client by its /64: see
//! [`super::guard::client_key`]) may ask for at most `--layer-budget` distinct filtered
//! layers — a canonical filter and a unit: `gender=f` by state, `gender=f` by H3 resolution
//! 6, … — per `--layer-window`, counted across every route that computes figures: the
//! aggregates (GeoJSON and CSV), vector and PNG tiles (the fast path of [`super::edge`]
//! included, cache hits too), TileJSON and legends, OGC API items, and outreach. A request
//! without a filter, or for a layer the client already asked for in the window, costs
//! nothing. Over the budget, every such route answers the same 429 problem with
//! `Retry-After` (when the client's oldest layer leaves the window). Callers with an editor
//! or admin token are not counted.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::aggregate::filter::Field;
use crate::aggregate::{Filter, Unit};
use crate::config::ServeArgs;

/// Above this many clients remembered, those whose layers have all left the window are
/// forgotten, then the longest idle.
const MAX_CLIENTS: usize = 10_000;

/// The filtered layers each client asked for in the window.
pub struct LayerBudget {
    budget: usize,
    window: Duration,
    hasher: std::hash::RandomState,
    /// Per client: (layer key, when first asked) in the window, oldest first.
    clients: Mutex<HashMap<IpAddr, Vec<(u64, Instant)>>>,
}

impl LayerBudget {
    /// The configured budget; `None` when switched off (`--layer-budget 0`).
    pub fn of(config: &ServeArgs) -> Option<LayerBudget> {
        (config.layer_budget > 0).then(|| {
            LayerBudget::new(
                config.layer_budget as usize,
                Duration::from_secs(config.layer_window.max(1)),
            )
        })
    }

    fn new(budget: usize, window: Duration) -> LayerBudget {
        LayerBudget {
            budget,
            window,
            hasher: std::hash::RandomState::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The key of a layer: its unit and its filter in canonical form (codes as sets, the
    /// period as a month range), hashed.
    fn key(&self, unit: Unit, filter: &Filter) -> u64 {
        let mut h = self.hasher.build_hasher();
        unit.hash(&mut h);
        filter.canonical().hash(&mut h);
        h.finish()
    }

    /// Counts layer `key` for `client` at `now`, or says how long until it could be.
    fn charge(&self, client: IpAddr, key: u64, now: Instant) -> Result<(), Duration> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            let window = self.window;
            clients.retain(|_, layers| {
                layers
                    .last()
                    .is_some_and(|(_, at)| now.duration_since(*at) < window)
            });
            if clients.len() >= MAX_CLIENTS {
                let idlest = clients
                    .iter()
                    .min_by_key(|(_, layers)| layers.last().map(|(_, at)| *at))
                    .map(|(ip, _)| *ip);
                if let Some(ip) = idlest {
                    clients.remove(&ip);
                }
            }
        }
        let layers = clients.entry(client).or_default();
        layers.retain(|(_, at)| now.duration_since(*at) < self.window);
        if layers.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        if layers.len() >= self.budget {
            let oldest = layers[0].1;
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        layers.push((key, now));
        Ok(())
    }

    /// The 429 of every route over the budget.
    fn refusal(&self, wait: Duration) -> Response {
        let secs = wait.as_secs() + 1;
        let mut r = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many different filtered layers from this client: at most {} filter and unit combinations in {} s; retry in {secs} s, or use the layers already asked for",
                self.budget,
                self.window.as_secs()
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        r
    }
}

/// Charges an anonymous request for the filtered layer it computes, if any; the 429 to send
/// when the client is over its budget.
pub fn over_budget(budget: Option<&LayerBudget>, req: &axum::extract::Request) -> Option<Response> {
    let budget = budget?;
    let (unit, filter) = requested_layer(req.uri())?;
    let client = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let key = budget.key(unit, &filter);
    budget
        .charge(super::guard::client_key(client), key, Instant::now())
        .err()
        .map(|wait| budget.refusal(wait))
}

/// The filtered layer a request computes — its unit and non-empty filter — parsed as the
/// route's handler parses it; `None` for other routes, unfiltered or invalid requests.
pub fn requested_layer(uri: &Uri) -> Option<(Unit, Filter)> {
    if !uri.query().is_some_and(may_filter) {
        return None;
    }
    let path = percent_decode(uri.path())?;
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?.0;
    let (unit, filter) =
        if path == "/api/v1/aggregates" || path == "/api/v1/aggregates/csv-metadata.json" {
            let req = crate::publish::LayerRequest::from_pairs(&pairs, &["hxl"]).ok()?;
            (req.unit, req.filter)
        } else if path.starts_with("/tiles/") {
            super::tiles::requested_layer(&path, &pairs)?
        } else if path.starts_with("/ogc/collections/") {
            super::ogc::requested_layer(&path, &pairs)?
        } else if path.starts_with("/api/v1/outreach/") {
            super::outreach::requested_layer(&pairs)?
        } else {
            return None;
        };
    (!filter.is_empty()).then_some((unit, filter))
}

/// Whether a query string may hold a filter: a filter parameter (or OGC's `datetime`), or an
/// encoded name that could be one. Spares the tiles of unfiltered layers a parse.
fn may_filter(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        name.contains(['%', '+']) || name == "datetime" || Field::PARAMS.contains(&name)
    })
}

/// Decodes `%XX` escapes (as the router does for path parameters); `None` if the result is
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(uri: &str) -> Option<(Unit, Filter)> {
        requested_layer(&uri.parse().unwrap())
    }

    #[test]
    fn repeats_are_free_and_new_layers_wait_for_the_window() {
        let budget = LayerBudget::new(2, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(budget.charge(ip, 1, t0).is_ok());
        assert!(budget.charge(ip, 2, t0 + Duration::from_secs(10)).is_ok());
        for _ in 0..100 {
            assert!(budget.charge(ip, 1, t0 + Duration::from_secs(20)).is_ok());
        }
        let wait = budget
            .charge(ip, 3, t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(40),
            "until the first layer leaves"
        );
        assert!(
            budget.charge("10.0.0.2".parse().unwrap(), 3, t0).is_ok(),
            "other clients are not affected"
        );
        assert!(budget.charge(ip, 3, t0 + Duration::from_secs(60)).is_ok());
        assert!(budget.charge(ip, 4, t0 + Duration::from_secs(61)).is_err());
    }

    #[test]
    fn clients_are_forgotten_when_too_many() {
        let budget = LayerBudget::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS as u32 + 10 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            assert!(budget.charge(ip, 1, t0).is_ok());
        }
        assert!(budget.clients.lock().unwrap().len() <= MAX_CLIENTS);
    }

    #[test]
    fn the_layer_is_read_from_every_route_that_computes_figures() {
        let state = |f: &str| Some((Unit::State, Filter::from_params([("gender", f)]).unwrap()));
        assert_eq!(layer("/api/v1/aggregates?unit=state&gender=f"), state("f"));
        assert_eq!(
            layer("/api/v1/aggregates?gender=m,f&unit=state&metric=female"),
            state("f,m"),
            "a filter's canonical form"
        );
        assert_eq!(layer("/tiles/states/0/0/0.mvt?gender=f"), state("f"));
        assert_eq!(layer("/tiles/states/2/1/1@2x.png?gender=f&v=3"), state("f"));
        assert_eq!(layer("/tiles/states.json?gender=f&format=png"), state("f"));
        assert_eq!(layer("/tiles/states/legend.json?z=3&gender=f"), state("f"));
        assert_eq!(layer("/ogc/collections/states/items?gender=f"), state("f"));
        assert_eq!(
            layer("/ogc/collections/%73tates/items/12?gender=f"),
            state("f")
        );
        assert_eq!(
            layer("/api/v1/aggregates?unit=state&%67ender=f"),
            state("f")
        );
        let h3 = layer("/tiles/hexagons/6/17/27.mvt?age_band=65%2B").unwrap();
        assert!(matches!(h3.0, Unit::H3(_)) && !h3.1.is_empty(), "{h3:?}");
        let ogc = layer("/ogc/collections/h3-res5/items?datetime=2025-03-01/2025-05-31").unwrap();
        assert_eq!(ogc.0, Unit::H3(5));
        assert!(!ogc.1.is_empty());
        let outreach = layer("/api/v1/outreach/plan/x?res=7&gender=f&top=3").unwrap();
        assert_eq!(outreach.0, Unit::H3(7));
        // Not filtered, not a figure route, or invalid: nothing to count.
        for uri in [
            "/api/v1/aggregates?unit=state",
            "/api/v1/aggregates?unit=state&metric=female&v=3",
            "/tiles/hexagons/3/2/3.mvt",
            "/tiles/places/3/2/3.mvt?kind=embassy",
            "/api/v1/places?sector=Q",
            "/ogc/collections/places/items?sector=Q",
            "/api/v1/aggregates?gender=q",
            "/api/v1/methodology",
        ] {
            assert_eq!(layer(uri), None, "{uri}");
        }
    }
}
