//! The outermost service: answers tile-cache hits, and vector tiles cut from an already
//! prepared source, before routing and middleware.
//!
//! A map view asks for dozens of tiles at once, and a warm tile is a memory copy: the
//! router, the guard's span and timer, and the other layers cost more than the answer. A
//! request takes the fast path only when none of them could change the outcome:
//!
//! - `GET /tiles/…` of a tile already in the cache, or an `.mvt` of an aggregate layer whose
//!   source is ready (tiles are public and "light": no request rate limit — but a filtered
//!   layer counts against the client's budget of layers, [`super::budget`], here as on the
//!   full path; the concurrency bound and timeout are for long work, and cutting one vector
//!   tile from a prepared source is at most about a millisecond — building a source, PNGs
//!   and the basemap take the full path);
//! - no `Authorization` header (a token, even on a public route, must be checked: a bad one
//!   is a 401), no `Origin` (CORS decisions stay with the CORS layer), no body;
//! - no `q=0` in `Accept-Encoding` (the compression layer answers 406 when nothing is
//!   acceptable).
//!
//! The answer carries exactly the headers the full path adds: the guard's request id and
//! security headers, and the CORS layer's headers for a request without `Origin` (taken from
//! the real layer at start-up, so the two cannot drift). `tests/api/tiles.rs` compares a
//! miss and a hit header by header, with the cache on and off.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::response::Response;
use axum::Router;
use futures_util::future::Either;
use tower::{Service, ServiceExt};

use crate::http::AppState;

/// Cloned for every request (by the server), hence the one `Arc`.
#[derive(Clone)]
pub struct Edge {
    shared: Arc<Shared>,
    router: Router,
}

struct Shared {
    state: AppState,
    /// What the CORS layer adds to a response to a request without `Origin`.
    cors: HeaderMap,
}

impl Edge {
    pub async fn new(state: AppState, router: Router) -> Edge {
        let cors = cors_headers_without_origin(&state.config.cors_origins).await;
        Edge {
            shared: Arc::new(Shared { state, cors }),
            router,
        }
    }

    fn fast(&self, req: &Request) -> Option<Response> {
        let h = req.headers();
        let plain = self.shared.state.is_ready()
            && req.method() == Method::GET
            && req.uri().path().starts_with("/tiles/")
            && !h.contains_key(header::AUTHORIZATION)
            && !h.contains_key(header::ORIGIN)
            && !h.contains_key(header::CONTENT_LENGTH)
            && !h.contains_key(header::TRANSFER_ENCODING)
            && !refuses_an_encoding(h);
        if !plain {
            return None;
        }
        // A filtered layer the client may not ask for: the full path answers the 429.
        if super::budget::over_budget(self.shared.state.guard.layers.as_ref(), req).is_some() {
            return None;
        }
        let mut response = super::tiles::fast_tile(&self.shared.state, req.uri(), h)?;
        let headers = response.headers_mut();
        for (name, value) in &self.shared.cors {
            headers.append(name, value.clone());
        }
        let id = super::guard::request_id_of(h);
        super::guard::set_edge_headers(response.headers_mut(), &id, None);
        Some(response)
    }
}

/// A coding refused outright (`q=0`; `q=0.5` accepts): the compression layer decides.
fn refuses_an_encoding(h: &HeaderMap) -> bool {
    super::conditional::AcceptEncoding::of(h).refuses_any()
}

/// Runs the configured CORS layer once on a request without `Origin` and keeps the headers
/// it added (`Vary`, exposed headers, `Access-Control-Allow-Origin: *` when any origin is
/// allowed).
async fn cors_headers_without_origin(origins: &[String]) -> HeaderMap {
    let inner =
        tower::service_fn(|_: Request| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    let service = tower::ServiceBuilder::new()
        .layer(super::guard::cors(origins))
        .service(inner);
    let probe = Request::builder()
        .uri("/tiles/hexagons/0/0/0.mvt")
        .body(Body::empty())
        .expect("a static request");
    match service.oneshot(probe).await {
        Ok(r) => r.headers().clone(),
        Err(e) => match e {},
    }
}

impl Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, <Router as Service<Request>>::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // A client's request id is kept only when plain (the router's `SetRequestIdLayer`
        // keeps whatever it finds).
        if req
            .headers()
            .get(super::guard::REQUEST_ID)
            .is_some_and(|v| !super::guard::is_plain_request_id(v))
        {
            req.headers_mut().remove(super::guard::REQUEST_ID);
        }
        match self.fast(&req) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.router.call(req)),
        }
    }
}
