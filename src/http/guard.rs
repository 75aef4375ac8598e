//! The guard every request passes, applied once around the router (see [`super::router`]):
//!
//! 1. the request id (`x-request-id`, set by tower-http's `SetRequestIdLayer` outside the
//!    guard — a client's own id is kept when it is short and plain, see [`request_id_of`] —
//!    and a tracing span, so internal errors are logged with it);
//! 2. the route's role from [`super::access::table`], derived from the router the route is
//!    mounted on (a matched route missing there is denied and logged as a bug), then the bearer token: 401 without a valid one, 403 with too
//!    small a role;
//! 3. the per-client rate limit of the expensive routes (`governor`, GCRA keyed by client),
//!    and for anonymous callers the budget of distinct filtered layers of every route that
//!    computes figures ([`super::budget`]) (429 with `Retry-After`);
//! 4. the route class's tower stack: tower-http's `TimeoutLayer` (503; uploads get
//!    [`UPLOAD_TIMEOUT_FACTOR`] times longer), tower's `GlobalConcurrencyLimitLayer`
//!    (requests beyond the bound wait, within their timeout) and tower-http's
//!    `RequestBodyLimitLayer` (1 MiB, or the import limit: 413 on `Content-Length`, and on
//!    the stream);
//! 5. on the way out: every 4xx/5xx becomes `application/problem+json` (a 5xx carries only
//!    the request id, never the cause; a 413 names the limit, a timeout its length), and the
//!    security headers are set, with a Content-Security-Policy that allows nothing outside
//!    the origin on the web page.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use super::problem::Problem;
use crate::auth::{token, Class, Principal, Role, Rule, Verdict};
use crate::config::ServeArgs;
use crate::http::AppState;

/// Body limit of every route but imports: places and other JSON bodies are small.
pub const SMALL_BODY_BYTES: usize = 1 << 20;
/// Imports may take this many times the request timeout (large files, slow links).
const UPLOAD_TIMEOUT_FACTOR: u32 = 10;
/// Most characters of a plain-text error body kept as a problem's detail.
const MAX_DETAIL: usize = 2048;

/// The web page may load its own scripts, styles, images and data, and nothing else.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{basemap}; \
    font-src 'self'; connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The OGC API's HTML description carries its style inline and loads nothing.
const DOC_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Data (JSON, tiles, CSV) is never a document that may run or load anything (`base-uri`
/// and `form-action`, which `default-src` does not cover, need a document to apply to).
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// State of the guard shared by all requests.
pub struct Guard {
    limiter: Option<RateLimiter>,
    /// Distinct filtered layers per anonymous client ([`super::budget`]).
    pub layers: Option<super::budget::LayerBudget>,
    permits: Arc<Semaphore>,
    timeout: Duration,
    /// Largest import body, bytes.
    pub max_import_bytes: usize,
    /// Imports run one at a time (each holds its whole file in memory).
    pub imports: tokio::sync::Mutex<()>,
    page_csp: HeaderValue,
}

impl Guard {
    pub fn new(config: &ServeArgs) -> Guard {
        let basemap = config
            .basemap_url
            .as_deref()
            .and_then(origin_of)
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let page_csp = HeaderValue::from_str(&PAGE_CSP.replace("{basemap}", &basemap))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
        Guard {
            limiter: (config.rate_limit > 0).then(|| RateLimiter::new(config.rate_limit)),
            layers: super::budget::LayerBudget::of(config),
            permits: Arc::new(Semaphore::new(config.max_concurrency.max(1))),
            timeout: Duration::from_secs(config.request_timeout.max(1)),
            max_import_bytes: config.max_import_mb.saturating_mul(1 << 20),
            imports: tokio::sync::Mutex::new(()),
            page_csp,
        }
    }
}

/// `scheme://host[:port]` of a URL (template), for the page's `img-src`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The guard middleware; see the module documentation.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id_of(req.headers());
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let is_ogc = req.uri().path().starts_with("/ogc");
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let class = route_class(&req);
    let limits = Limits::of(&state.guard, class);
    let response = check_and_run(&state, req, next)
        .instrument(span.clone())
        .await;
    finish(
        &state.guard,
        response,
        &id,
        is_ogc,
        matched.as_deref(),
        limits,
    )
    .instrument(span)
    .await
}

/// The class of the matched route (uploads have their own limits).
fn route_class(req: &Request) -> Class {
    match req.extensions().get::<MatchedPath>() {
        Some(path) => match super::access::table().rule(req.method(), path.as_str()) {
            Rule::Declared(_, class) => class,
            _ => Class::Light,
        },
        None => Class::Light,
    }
}

/// The body limit and timeout of a route class.
#[derive(Clone, Copy, Debug)]
struct Limits {
    body_bytes: usize,
    timeout: Duration,
}

impl Limits {
    fn of(guard: &Guard, class: Class) -> Limits {
        if class == Class::Upload {
            Limits {
                body_bytes: guard.max_import_bytes,
                timeout: guard.timeout * UPLOAD_TIMEOUT_FACTOR,
            }
        } else {
            Limits {
                body_bytes: SMALL_BODY_BYTES,
                timeout: guard.timeout,
            }
        }
    }
}

async fn check_and_run(state: &AppState, mut req: Request, next: Next) -> Response {
    if !state.is_ready() && !req.uri().path().starts_with("/health") {
        let mut r = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is loading its data; retry in a few seconds",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let (role, class) = match req.extensions().get::<MatchedPath>() {
        None => (Role::Public, Class::Light), // no route: the router answers 404
        Some(path) => match super::access::table().rule(req.method(), path.as_str()) {
            Rule::Declared(role, class) => (role, class),
            Rule::OtherMethod => (Role::Public, Class::Light), // the router answers 405
            Rule::Undeclared => {
                tracing::error!(
                    route = path.as_str(),
                    "route missing from the access table (http::access): denied"
                );
                return Problem::new(
                    StatusCode::FORBIDDEN,
                    "this endpoint has no declared access rule",
                )
                .into_response();
            }
        },
    };

    let principal = match authenticate(state, req.headers()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(denied) = denial(role, principal.as_ref()) {
        return denied;
    }
    let authenticated = principal.is_some();
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }

    let guard = &state.guard;
    if class != Class::Light {
        if let Some(limiter) = &guard.limiter {
            let client = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            if let Err(wait) = limiter.check(client) {
                let secs = wait.as_secs() + 1;
                let mut r = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many requests to expensive endpoints from this client; retry in {secs} s"),
                )
                .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return r;
            }
        }
    }

    if !authenticated {
        if let Some(r) = super::budget::over_budget(guard.layers.as_ref(), &req) {
            return r;
        }
    }

    // The route class's stack: the timeout covers the wait for a permit; the timeout's
    // 503 and the body limit's 413 become problems in `finish`.
    let limits = Limits::of(guard, class);
    let stack = tower::ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.timeout,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            guard.permits.clone(),
        ))
        .map_response(|r: axum::http::Response<_>| r.map(Body::new))
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .map_request(|r: axum::http::Request<_>| r.map(Body::new))
        .service(next);
    match stack.oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
}

/// The caller named by the `Authorization` header: `None` without one; an error response
/// for anything but a valid bearer token.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not ASCII", true))?;
    let (scheme, credential) = text.trim().split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized("use Authorization: Bearer <token>", true));
    }
    let (_, digest) = token::parse(credential.trim())
        .map_err(|_| unauthorized("invalid or revoked token", true))?;
    let auth = &state.auth;
    if auth.is_stale() {
        reload(state).await;
    }
    let mut verdict = auth.check(&digest);
    if verdict == Verdict::Unknown && auth.take_miss_reload() {
        // Perhaps created by the CLI a moment ago.
        reload(state).await;
        verdict = auth.check(&digest);
    }
    match verdict {
        Verdict::Valid(p) => Ok(Some(p)),
        Verdict::Revoked | Verdict::Unknown => Err(unauthorized("invalid or revoked token", true)),
    }
}

/// Reloads the tokens on a blocking thread; on failure the tokens in memory stay in use.
pub async fn reload(state: &AppState) {
    let (auth, store) = (state.auth.clone(), state.store.clone());
    match tokio::task::spawn_blocking(move || auth.reload(store.as_ref())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "tokens could not be reloaded"),
        Err(e) => tracing::error!(error = %e, "token reload panicked"),
    }
}

/// 401 (no token) or 403 (a lesser role) when `principal` may not call a route that needs
/// `role`; `None` when it may.
pub(super) fn denial(role: Role, principal: Option<&Principal>) -> Option<Response> {
    let granted = principal.map_or(Role::Public, |p| p.role);
    if granted >= role {
        return None;
    }
    Some(match principal {
        None => unauthorized(
            &format!("this endpoint needs an {role} token (Authorization: Bearer …)"),
            false,
        ),
        Some(p) => Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "this endpoint needs the {role} role; token {} has the {} role",
                p.token_id, p.role
            ),
        )
        .into_response(),
    })
}

fn unauthorized(detail: &str, invalid_token: bool) -> Response {
    let mut r = Problem::new(StatusCode::UNAUTHORIZED, detail).into_response();
    let challenge = if invalid_token {
        r#"Bearer realm="dyaspora", error="invalid_token""#
    } else {
        r#"Bearer realm="dyaspora""#
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// 413 for a body above `limit` bytes.
pub fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than this endpoint accepts ({})",
            human_bytes(limit)
        ),
    )
    .with("limit_bytes", limit)
    .into_response()
}

fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Makes every error a problem document, adds the request id and the security headers.
async fn finish(
    guard: &Guard,
    mut response: Response,
    id: &str,
    is_ogc: bool,
    matched: Option<&str>,
    limits: Limits,
) -> Response {
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::ALLOW) {
        let allow: Vec<String> = matched
            .map(|p| super::access::table().methods(p))
            .unwrap_or_default()
            .iter()
            .map(Method::to_string)
            .collect();
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            response.headers_mut().insert(header::ALLOW, v);
        }
    }
    let mut response = if status.is_client_error() || status.is_server_error() {
        as_problem(response, id, limits).await
    } else {
        response
    };
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), "answered with a server error");
    }
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    let document_csp = match (html, is_ogc) {
        (true, false) => Some(guard.page_csp.clone()),
        (true, true) => Some(HeaderValue::from_static(DOC_CSP)),
        (false, _) => None,
    };
    set_edge_headers(response.headers_mut(), id, document_csp);
    response
}

/// The request id and the security headers of every response. A document (HTML, with
/// its `csp`) gets the policies that govern documents: what it may load and where it may
/// be framed, the referrer its links send, its browsing-context group, the browser
/// features it may use. Data (`None`: JSON, CSV, tiles, scripts) gets what keeps a browser
/// from ever treating it as a document — `nosniff`, no framing, a CSP that allows nothing —
/// and not the document-only headers, which change nothing on a tile but cost ~190 bytes
/// on each of the dozens a map view asks for (BENCHMARKS.md, tiles).
pub fn set_edge_headers(h: &mut HeaderMap, id: &str, document_csp: Option<HeaderValue>) {
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let Some(csp) = document_csp else {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DATA_CSP),
        );
        return;
    };
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
}

/// A fresh request id: 16 hex digits.
pub fn request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Whether a client's (or a proxy's) `x-request-id` is kept: at most 64 characters of
/// letters, digits, `-`, `_`, `.`; anything else is replaced by a fresh id.
pub fn is_plain_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The request's id: its `x-request-id` when plain, else a fresh one.
pub fn request_id_of(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .filter(|v| is_plain_request_id(v))
        .and_then(|v| v.to_str().ok())
        .map_or_else(request_id, str::to_string)
}

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes the ids of tower-http's `SetRequestIdLayer`: [`request_id`]. A request that already
/// carries one keeps it (the edge drops ids that are not plain, [`is_plain_request_id`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&request_id())
            .ok()
            .map(RequestId::new)
    }
}

/// An error response as `application/problem+json`: a problem from a handler is kept (a 5xx
/// gains the request id); anything else (axum's rejections, 405) is rewritten, keeping a
/// 4xx's plain-text reason as the detail; the body limit's 413 names the route's limit and
/// the timeout's bare 503 its length.
async fn as_problem(response: Response, id: &str, limits: Limits) -> Response {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_problem = content_type.starts_with("application/problem+json");
    if is_problem && status.is_client_error() {
        return response;
    }
    if !is_problem && status == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limits.body_bytes);
    }
    if !is_problem && status == StatusCode::SERVICE_UNAVAILABLE && content_type.is_empty() {
        let secs = limits.timeout.as_secs();
        tracing::warn!(seconds = secs, "request timed out");
        let mut r = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request took longer than {secs} s; try again later"),
        )
        .with("request_id", id)
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut problem = if is_problem {
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).ok()
    } else {
        None
    }
    .unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&bytes);
        let detail = if status.is_client_error()
            && content_type.starts_with("text/plain")
            && !text.trim().is_empty()
        {
            text.trim().chars().take(MAX_DETAIL).collect()
        } else {
            default_detail(status, &parts.headers)
        };
        match serde_json::to_value(Problem::new(status, detail)) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    });
    if status.is_server_error() {
        problem.insert("request_id".into(), id.into());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}

fn default_detail(status: StatusCode, headers: &HeaderMap) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("this endpoint does not take this method; it takes {allow}")
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large for this endpoint".into(),
        s if s.is_server_error() => "internal error; it has been logged with the request id".into(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

/// The response to a handler that panicked (the panic message is logged, not sent).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; it has been logged with the request id",
    )
    .into_response()
}

/// CORS: the configured origins may call the API from a browser; none by default.
pub fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::ACCEPT_LANGUAGE,
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600));
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.contains(&"*") {
        return base.allow_origin(AllowOrigin::any());
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(
                    origin = o,
                    "ignoring a CORS origin that is not a valid header value"
                );
                None
            }
        })
        .collect();
    if list.is_empty() {
        base
    } else {
        base.allow_origin(AllowOrigin::list(list))
    }
}

/// The client a limit counts a request against: its IP address (the peer of the TCP
/// connection; no proxy header is trusted), an IPv6 client by its /64, which one host
/// usually owns whole.
pub fn client_key(client: Option<IpAddr>) -> IpAddr {
    match client {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Some(IpAddr::V6(v6)) => IpAddr::V4(
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
        Some(ip) => ip,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// Per-client rate limits (`governor`'s GCRA, keyed by [`client_key`]): `per_minute`
/// requests a minute, bursts of a quarter of that.
struct RateLimiter {
    limiter: governor::DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// Above this many clients remembered, those whose limit is back to a full burst are
/// forgotten.
const MAX_CLIENTS: usize = 10_000;

impl RateLimiter {
    fn new(per_minute: u32) -> RateLimiter {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(per_minute / 4).unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::per_minute(rate).allow_burst(burst);
        let clock = DefaultClock::default();
        RateLimiter {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
        }
    }

    /// Takes one request for `client`, or says how long until one is allowed.
    fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        if self.limiter.len() >= MAX_CLIENTS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client_key(client))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_a_burst_then_waits() {
        let limiter = RateLimiter::new(60);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..15 {
            assert!(limiter.check(ip).is_ok());
        }
        let wait = limiter.check(ip).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(
            limiter.check(Some("10.0.0.2".parse().unwrap())).is_ok(),
            "other clients are not affected"
        );
    }

    async fn problem_of(response: Response, limits: Limits) -> (Response, serde_json::Value) {
        let r = as_problem(response, "0123456789abcdef", limits).await;
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap();
        (Response::from_parts(parts, Body::empty()), json)
    }

    /// What tower-http's layers answer (a bare 413, a bare 503) becomes a problem that says
    /// the limit or the timeout.
    #[tokio::test]
    async fn the_layers_refusals_become_problems_that_say_why() {
        let limits = Limits {
            body_bytes: 1 << 20,
            timeout: Duration::from_secs(30),
        };
        let bare = |status: StatusCode| {
            let mut r = Response::new(Body::from("length limit exceeded"));
            *r.status_mut() = status;
            r
        };
        let (r, p) = problem_of(bare(StatusCode::PAYLOAD_TOO_LARGE), limits).await;
        assert_eq!(r.status(), 413);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(p["detail"].as_str().unwrap().contains("1 MiB"), "{p}");
        assert_eq!(p["limit_bytes"], 1 << 20);

        let mut timeout = Response::new(Body::empty());
        *timeout.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let (r, p) = problem_of(timeout, limits).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        assert!(
            p["detail"].as_str().unwrap().contains("longer than 30 s"),
            "{p}"
        );
        assert_eq!(p["request_id"], "0123456789abcdef");
    }

    #[test]
    fn a_clients_own_request_id_is_kept_only_when_plain() {
        let mut h = HeaderMap::new();
        assert_eq!(request_id_of(&h).len(), 16);
        h.insert(REQUEST_ID, HeaderValue::from_static("proxy-42.a_b"));
        assert_eq!(request_id_of(&h), "proxy-42.a_b");
        h.insert(REQUEST_ID, HeaderValue::from_static("a b"));
        assert_eq!(request_id_of(&h).len(), 16);
        let long = "x".repeat(65);
        h.insert(REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id_of(&h).len(), 16);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = RateLimiter::new(4);
        assert!(limiter.check(Some("2001:db8::1".parse().unwrap())).is_ok());
        assert!(limiter.check(Some("2001:db8::2".parse().unwrap())).is_err());
        assert!(limiter
            .check(Some("2001:db8:0:1::1".parse().unwrap()))
            .is_ok());
    }

    #[test]
    fn basemap_origins_are_read_from_url_templates() {
        assert_eq!(
            origin_of("https://tile.example.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://tile.example.org")
        );
        assert_eq!(
            origin_of("http://localhost:8081/t/{z}/{x}/{y}").as_deref(),
            Some("http://localhost:8081")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://evil.org; script-src *"), None);
    }

    #[test]
    fn the_page_policy_allows_only_the_origin_by_default() {
        let g = Guard::new(&ServeArgs::default());
        let csp = g.page_csp.to_str().unwrap();
        assert!(csp.starts_with("default-src 'self';"), "{csp}");
        assert!(
            !csp.contains("http") && !csp.contains('*') && !csp.contains("unsafe"),
            "{csp}"
        );
    }
}
