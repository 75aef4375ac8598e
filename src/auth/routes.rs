//! The route × role table: every route the service answers, the least role that may call it
//! and how the guard meters it. It is the one place access is declared; the guard denies a
//! matched route that is missing here, and `tests/api/access.rs` checks the table against
//! the routers' source and walks it with every kind of caller.

use axum::http::Method;

use super::Role;

/// How the guard meters a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Cheap or cached: only the global concurrency bound applies.
    Light,
    /// Computes per request (aggregation, outreach, feature pages, exports): counted against
    /// the caller's rate limit.
    Heavy,
    /// Takes a large body (imports): rate-limited, the import body limit and a long timeout.
    Upload,
}

use Class::{Heavy, Light, Upload};
use Role::{Admin, Editor, Public};

/// `(method, axum path pattern, least role, class)`. `HEAD` follows `GET`.
pub const ROUTES: &[(Method, &str, Role, Class)] = &[
    // Service
    (Method::GET, "/health", Public, Light),
    (Method::GET, "/health/ready", Public, Light),
    (Method::GET, "/api/v1/codes", Public, Light),
    (Method::GET, "/api/v1/openapi.json", Public, Light),
    (Method::GET, "/api/v1/methodology", Public, Light),
    // Aggregates
    (Method::GET, "/api/v1/aggregates", Public, Heavy),
    // Web page
    (Method::GET, "/", Public, Light),
    (Method::GET, "/index.html", Public, Light),
    (Method::GET, "/favicon.svg", Public, Light),
    (Method::GET, "/assets/{*path}", Public, Light),
    // Tiles (cached; the concurrency bound covers misses)
    (Method::GET, "/tiles", Public, Light),
    (Method::GET, "/tiles/{file}", Public, Light),
    (Method::GET, "/tiles/{layer}/legend.json", Public, Light),
    (Method::GET, "/tiles/{layer}/{z}/{x}/{file}", Public, Light),
    // OGC API – Features
    (Method::GET, "/ogc", Public, Light),
    (Method::GET, "/ogc/", Public, Light),
    (Method::GET, "/ogc/conformance", Public, Light),
    (Method::GET, "/ogc/api", Public, Light),
    (Method::GET, "/ogc/api.html", Public, Light),
    (Method::GET, "/ogc/collections", Public, Light),
    (Method::GET, "/ogc/collections/{collection}", Public, Light),
    (
        Method::GET,
        "/ogc/collections/{collection}/items",
        Public,
        Heavy,
    ),
    (
        Method::GET,
        "/ogc/collections/{collection}/items/{feature}",
        Public,
        Heavy,
    ),
    // Places: read by all, written by editors
    (Method::GET, "/api/v1/places", Public, Light),
    (Method::GET, "/api/v1/places/nearest", Public, Light),
    (Method::GET, "/api/v1/places/within", Public, Light),
    (Method::GET, "/api/v1/places/{id}", Public, Light),
    (Method::POST, "/api/v1/places", Editor, Light),
    (Method::PUT, "/api/v1/places/{id}", Editor, Light),
    (Method::DELETE, "/api/v1/places/{id}", Editor, Light),
    // Outreach
    (Method::GET, "/api/v1/outreach/posts", Public, Heavy),
    (Method::GET, "/api/v1/outreach/catchments", Public, Heavy),
    (Method::GET, "/api/v1/outreach/gaps", Public, Heavy),
    (Method::GET, "/api/v1/outreach/plan/{post}", Public, Heavy),
    // Imports
    (Method::POST, "/api/v1/imports", Editor, Upload),
    // Records, audit, tokens
    (Method::GET, "/api/v1/records", Admin, Heavy),
    (Method::GET, "/api/v1/admin/aggregates", Admin, Heavy),
    (
        Method::DELETE,
        "/api/v1/records/{external_id}",
        Admin,
        Light,
    ),
    (Method::GET, "/api/v1/audit", Admin, Light),
    (Method::GET, "/api/v1/tokens", Admin, Light),
    (Method::DELETE, "/api/v1/tokens/{id}", Admin, Light),
];

/// What the table says about a matched route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Declared: who may call it and how it is metered.
    Declared(Role, Class),
    /// The path is declared for other methods only: the router answers (405, or a CORS
    /// preflight) without running a handler.
    OtherMethod,
    /// The path is not in the table at all: a route was registered without declaring it.
    Undeclared,
}

/// Looks up `method` on the axum path pattern `path` (the router's `MatchedPath`).
pub fn rule(method: &Method, path: &str) -> Rule {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let mut path_known = false;
    for (m, p, role, class) in ROUTES {
        if *p == path {
            if m == method {
                return Rule::Declared(*role, *class);
            }
            path_known = true;
        }
    }
    if path_known {
        Rule::OtherMethod
    } else {
        Rule::Undeclared
    }
}

/// The methods declared for a path pattern (`HEAD` with `GET`), for a 405's `Allow`.
pub fn methods(path: &str) -> Vec<Method> {
    let mut out: Vec<Method> = ROUTES
        .iter()
        .filter(|r| r.1 == path)
        .map(|r| r.0.clone())
        .collect();
    if out.contains(&Method::GET) {
        out.push(Method::HEAD);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_follows_get_and_other_methods_fall_to_the_router() {
        assert_eq!(
            rule(&Method::HEAD, "/health"),
            Rule::Declared(Public, Light)
        );
        assert_eq!(
            rule(&Method::POST, "/api/v1/imports"),
            Rule::Declared(Editor, Upload)
        );
        assert_eq!(rule(&Method::GET, "/api/v1/imports"), Rule::OtherMethod);
        assert_eq!(rule(&Method::GET, "/api/v1/secret"), Rule::Undeclared);
    }

    #[test]
    fn the_methods_of_a_path_include_head_with_get() {
        assert_eq!(
            methods("/api/v1/places/{id}"),
            [Method::GET, Method::PUT, Method::DELETE, Method::HEAD]
        );
        assert_eq!(methods("/api/v1/imports"), [Method::POST]);
    }

    #[test]
    fn every_route_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, _, _) in ROUTES {
            assert!(seen.insert((m.clone(), *p)), "{m} {p} is declared twice");
            assert!(p.starts_with('/'), "{p}");
        }
    }

    #[test]
    fn writes_need_a_token() {
        for (m, p, role, _) in ROUTES {
            if *m != Method::GET {
                assert!(*role >= Editor, "{m} {p} is open to the public");
            }
        }
    }
}
