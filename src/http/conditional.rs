//! Conditional requests and content negotiation, once for every handler:
//!
//! - [`etag_matches`] / [`not_modified`]: `If-None-Match` with the weak comparison RFC 9110
//!   §13.1.2 prescribes (`W/"x"` matches `"x"`), `*`, and lists;
//! - [`AcceptEncoding`]: one `Accept-Encoding` parser with q-values (`q=0` refuses a coding,
//!   any other weight accepts it) and [`negotiate`], the encoding of a cached body;
//! - [`base_url`]: the service's address as the client sees it (`X-Forwarded-Proto` and
//!   `X-Forwarded-Host` behind a proxy), for every absolute link (OGC API, TileJSON);
//! - [`middleware`]: ETag, 304 and `Cache-Control` for the data routes whose handlers do
//!   not make their own (see [`DATA_ROUTES`]).

use std::hash::{Hash, Hasher};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;
use crate::tiles::cache::Encoding;

/// Whether `If-None-Match` (every such header) matches `etag` (a quoted entity tag, weak or
/// strong) by weak comparison: the opaque tags are equal, `W/` or not; `*` matches any.
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let ours = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| list_matches(v, ours))
}

/// The opaque part of an entity tag (`"x"` of `W/"x"`), quotes included.
fn opaque(etag: &str) -> &str {
    let t = etag.trim();
    t.strip_prefix("W/").unwrap_or(t)
}

/// Whether one `If-None-Match` value (`*` or a list of entity tags) matches `ours`.
fn list_matches(value: &str, ours: &str) -> bool {
    if value.trim() == "*" {
        return true;
    }
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        // An entity tag is a quoted string without inner quotes (commas allowed).
        let Some(body) = tag.strip_prefix('"') else {
            return false; // malformed: nothing after it can be trusted
        };
        let Some(end) = body.find('"') else {
            return false;
        };
        if &tag[..end + 2] == ours {
            return true;
        }
        rest = &body[end + 1..];
    }
}

/// 304 with the tag when `If-None-Match` matches it.
pub fn not_modified(headers: &HeaderMap, tag: &str) -> Option<Response> {
    etag_matches(headers, tag).then(|| {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(tag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    })
}

/// An `Accept-Encoding` header, parsed: each coding with its weight (`None` when the
/// header is absent: only the identity is sent then).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AcceptEncoding {
    present: bool,
    codings: Vec<(String, f32)>,
}

impl AcceptEncoding {
    pub fn of(headers: &HeaderMap) -> AcceptEncoding {
        let mut present = false;
        let mut codings = Vec::new();
        for v in headers.get_all(header::ACCEPT_ENCODING) {
            present = true;
            let Ok(v) = v.to_str() else { continue };
            codings.extend(Self::parse(v).codings);
        }
        AcceptEncoding { present, codings }
    }

    /// Parses one header value: `gzip, br;q=0.5, *;q=0`. A weight that is not a number
    /// from 0 to 1 makes the item count as refused (q=0), the safe reading.
    pub fn parse(value: &str) -> AcceptEncoding {
        let codings = value
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next().filter(|n| !n.is_empty())?.to_ascii_lowercase();
                let mut q = 1.0;
                for p in parts {
                    if let Some(w) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                        q = w
                            .trim()
                            .parse::<f32>()
                            .ok()
                            .filter(|q| (0.0..=1.0).contains(q))
                            .unwrap_or(0.0);
                    }
                }
                Some((name, q))
            })
            .collect();
        AcceptEncoding {
            present: true,
            codings,
        }
    }

    /// The weight of `coding`: its own item, else `*`'s; the identity is acceptable unless
    /// refused; anything else is not acceptable when not listed.
    pub fn q(&self, coding: &str) -> f32 {
        let find = |name: &str| {
            self.codings
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, q)| *q)
                .reduce(f32::min)
        };
        if let Some(q) = find(coding) {
            return q;
        }
        if coding == "identity" {
            return match find("*") {
                Some(q) if q <= 0.0 => 0.0,
                _ => 1.0,
            };
        }
        if !self.present {
            return 0.0;
        }
        find("*").unwrap_or(0.0)
    }

    /// Whether `coding` may be sent.
    pub fn accepts(&self, coding: &str) -> bool {
        self.q(coding) > 0.0
    }

    /// Whether the client refuses some coding outright (`q=0`): then the compression layer
    /// decides (the edge's fast path steps aside).
    pub fn refuses_any(&self) -> bool {
        self.codings.iter().any(|(_, q)| *q <= 0.0)
    }

    /// The encoding of a body compressed by the service: of Brotli and gzip the acceptable
    /// one with the higher weight (Brotli on equal weights), else none.
    pub fn best(&self) -> Encoding {
        let (br, gzip) = (self.q("br"), self.q("gzip"));
        if br > 0.0 && br >= gzip {
            Encoding::Brotli
        } else if gzip > 0.0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// The encoding of a body compressed by the service for this request; see
/// [`AcceptEncoding::best`].
pub fn negotiate(headers: &HeaderMap) -> Encoding {
    AcceptEncoding::of(headers).best()
}

/// The service's own address as the client sees it, `proto://host[:port]`: the
/// `X-Forwarded-Host` (first of a list) or `Host`, and `X-Forwarded-Proto` (`http` or
/// `https`); `fallback` (the listening address) when neither host is usable.
pub fn base_url(headers: &HeaderMap, fallback: &std::net::SocketAddr) -> String {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.split(',').next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let clean = |s: &&str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
    };
    let host = h("x-forwarded-host")
        .filter(clean)
        .or_else(|| h("host").filter(clean))
        .map_or_else(|| fallback.to_string(), str::to_string);
    let proto = h("x-forwarded-proto")
        .map(str::to_ascii_lowercase)
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| "http".into());
    format!("{proto}://{host}")
}

/// Routes whose responses are data that change only with a release or an edit of the
/// places, and whose handlers make no ETag of their own (the aggregates and the tiles do).
/// Matched route patterns; a pattern ending in `*` covers every route under it.
pub const DATA_ROUTES: &[&str] = &[
    "/api/v1/codes",
    "/api/v1/aggregates/csv-metadata.json",
    "/api/v1/methodology",
    "/api/v1/places",
    "/api/v1/places/nearest",
    "/api/v1/places/within",
    "/api/v1/places/{id}",
    "/api/v1/outreach/*",
    "/ogc*",
    "/tiles",
    "/tiles/{file}",
    "/tiles/{layer}/legend.json",
];

/// The default `Cache-Control` of a data response whose handler set none.
const DATA_CACHE: &str = "public, max-age=60, must-revalidate";

fn is_data_route(pattern: &str) -> bool {
    DATA_ROUTES.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => pattern.starts_with(prefix),
        None => pattern == *r,
    })
}

/// A 64-bit hash with fixed keys: the same on every replica of a build.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// The ETag of a data response: the release, the places' version and the canonical request
/// (path, query pairs sorted by name — a repeated name keeps its order —, the base URL its
/// links use and the languages asked for). Weak: the body's bytes may differ (compression,
/// a time stamp) while the data are the same.
pub fn data_tag(release: u64, places: u64, req: &Request) -> String {
    let uri = req.uri();
    let mut pairs: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    pairs.sort_by_key(|p| p.split('=').next().unwrap_or(""));
    let query = pairs.join("&");
    let h = req.headers();
    let header = |n: header::HeaderName| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let base = base_url(h, &std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let lang = header(header::ACCEPT_LANGUAGE);
    let hash = stable_hash(&[uri.path(), &query, &base, &lang]);
    format!("W/\"r{release}-p{places:x}-{hash:016x}\"")
}

/// ETag, 304 and `Cache-Control` for [`DATA_ROUTES`]. The tag is computed *before* the
/// handler runs, from the versions current then: a release cut while the handler runs can
/// only make the tag older than the body (the next request then gets a 200), never newer.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let data = matches!(*req.method(), Method::GET | Method::HEAD)
        && req
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|p| is_data_route(p.as_str()));
    if !data {
        return next.run(req).await;
    }
    let release = state.engine.snapshot().data_version;
    let (_, places) = crate::tiles::place_set(&state.tiles);
    let tag = data_tag(release, places, &req);
    if let Some(mut r) = not_modified(req.headers(), &tag) {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(DATA_CACHE));
        return r;
    }
    let mut response = next.run(req).await;
    if response.status() == StatusCode::OK {
        let h = response.headers_mut();
        if !h.contains_key(header::ETAG) {
            if let Ok(v) = HeaderValue::from_str(&tag) {
                h.insert(header::ETAG, v);
            }
        }
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(DATA_CACHE));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inm(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists_and_stars() {
        let tag = "W/\"v3-abc\"";
        assert!(etag_matches(&inm("W/\"v3-abc\""), tag));
        assert!(etag_matches(&inm("\"v3-abc\""), tag), "strong form");
        assert!(etag_matches(&inm("\"x\", W/\"v3-abc\""), tag), "in a list");
        assert!(etag_matches(&inm("*"), tag));
        assert!(
            etag_matches(&inm("W/\"x\""), "\"x\""),
            "weak against strong"
        );
        assert!(!etag_matches(&inm("\"v3-ab\""), tag));
        assert!(!etag_matches(&inm("v3-abc"), tag), "unquoted is malformed");
        assert!(!etag_matches(&HeaderMap::new(), tag));
        assert!(
            etag_matches(&inm("\"a,b\", \"c\""), "\"a,b\""),
            "commas inside"
        );
        assert!(etag_matches(&inm("\"a,b\", \"c\""), "\"c\""));
        let mut two = inm("\"a\"");
        two.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"b\""));
        assert!(etag_matches(&two, "\"b\""), "several headers");
    }

    #[test]
    fn accept_encoding_honours_weights() {
        let ae = AcceptEncoding::parse;
        assert!(ae("gzip, deflate, br, zstd").accepts("br"));
        assert!(ae("gzip;q=1.0, br;q=0.5").accepts("br"), "q=0.5 accepts");
        assert!(!ae("gzip, br;q=0").accepts("br"), "q=0 refuses");
        assert!(!ae("gzip, br;q=0.0").accepts("br"));
        assert!(ae("*").accepts("gzip"));
        assert!(!ae("*;q=0, gzip").accepts("br"));
        assert!(!ae("*;q=0").accepts("identity"));
        assert!(!ae("identity;q=0").accepts("identity"));
        assert!(ae("gzip").accepts("identity"));
        assert!(!ae("").accepts("gzip"));
        assert!(!ae("identity").accepts("br"));
        assert!(!ae("br;q=0.5").refuses_any(), "0.5 is not 0");
        assert!(ae("br;q=0").refuses_any());
        assert!(
            !ae("br;q=2").accepts("br"),
            "out of range counts as refused"
        );
        assert!(ae("GZIP").accepts("gzip"), "codings are case-insensitive");
    }

    #[test]
    fn the_best_encoding_follows_the_weights_then_brotli_then_gzip() {
        let best = |v: &str| AcceptEncoding::parse(v).best();
        assert_eq!(best("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(best("gzip"), Encoding::Gzip);
        assert_eq!(best("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(best("gzip;q=1.0, br;q=0.5"), Encoding::Gzip);
        assert_eq!(best("identity"), Encoding::Identity);
        assert_eq!(best("*"), Encoding::Brotli);
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn the_base_url_honours_the_proxy_headers() {
        let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h, &addr), "http://127.0.0.1:8080");
        h.insert(header::HOST, HeaderValue::from_static("example.org:81"));
        assert_eq!(base_url(&h, &addr), "http://example.org:81");
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("map.ht, inner"),
        );
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert_eq!(base_url(&h, &addr), "https://map.ht");
        h.insert("x-forwarded-host", HeaderValue::from_static("evil/x?"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("javascript"));
        assert_eq!(
            base_url(&h, &addr),
            "http://example.org:81",
            "unusable: ignored"
        );
    }

    #[test]
    fn data_routes_are_matched_by_pattern() {
        assert!(is_data_route("/ogc/collections/{collection}/items"));
        assert!(is_data_route("/api/v1/outreach/plan/{post}"));
        assert!(is_data_route("/tiles/{file}"));
        assert!(
            !is_data_route("/tiles/{layer}/{z}/{x}/{file}"),
            "tiles make their own"
        );
        assert!(!is_data_route("/api/v1/aggregates"), "so do the aggregates");
        assert!(
            is_data_route("/api/v1/aggregates/csv-metadata.json"),
            "not their CSVW metadata (it follows the places' demo flag too)"
        );
        assert!(!is_data_route("/api/v1/records"));
    }

    #[test]
    fn the_data_tag_ignores_the_order_of_parameters_but_not_their_values() {
        let req = |uri: &str| {
            Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let a = data_tag(3, 7, &req("/api/v1/places?kind=embassy&sector=Q"));
        assert_eq!(
            a,
            data_tag(3, 7, &req("/api/v1/places?sector=Q&kind=embassy"))
        );
        assert_ne!(
            a,
            data_tag(3, 7, &req("/api/v1/places?sector=P&kind=embassy"))
        );
        assert_ne!(
            a,
            data_tag(4, 7, &req("/api/v1/places?kind=embassy&sector=Q"))
        );
        assert_ne!(
            a,
            data_tag(3, 8, &req("/api/v1/places?kind=embassy&sector=Q"))
        );
        assert!(a.starts_with("W/\"r3-p7-"), "{a}");
    }

    /// Characters of an opaque tag (RFC 9110 etagc, ASCII part).
    fn etagc() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just(0x21u8), 0x23u8..=0x7e], 0..12)
            .prop_map(|v| String::from_utf8(v).unwrap())
    }

    proptest! {
        /// A tag is found in any list that holds it, weak or strong, wherever it stands,
        /// and in none that does not.
        #[test]
        fn a_tag_is_found_in_a_list_iff_it_is_there(
            ours in etagc(),
            others in proptest::collection::vec(etagc(), 0..5),
            at in 0usize..6,
            weak_ours in any::<bool>(),
            weak_in_list in any::<bool>(),
            include in any::<bool>(),
        ) {
            let tag = format!("{}\"{ours}\"", if weak_ours { "W/" } else { "" });
            let mut list: Vec<String> = others
                .iter()
                .filter(|o| **o != ours)
                .map(|o| format!("\"{o}\""))
                .collect();
            if include {
                let item = format!("{}\"{ours}\"", if weak_in_list { "W/" } else { "" });
                list.insert(at.min(list.len()), item);
            }
            let value = list.join(", ");
            prop_assume!(!value.is_empty());
            prop_assert_eq!(etag_matches(&inm(&value), &tag), include);
        }

        /// Any weight above 0 accepts, 0 refuses, whatever its spelling.
        #[test]
        fn a_weight_accepts_iff_it_is_above_zero(milli in 0u32..=1000, pad in 0usize..3) {
            let q = format!("{}.{:03}", milli / 1000, milli % 1000);
            let q = &q[..q.len() - pad];
            let v = format!("br;q={q}, gzip");
            let want = q.parse::<f32>().unwrap() > 0.0;
            prop_assert_eq!(AcceptEncoding::parse(&v).accepts("br"), want);
            prop_assert_eq!(AcceptEncoding::parse(&v).refuses_any(), !want);
        }
    }
}
