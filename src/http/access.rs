//! Who may call what, and how it is metered, said by the router a route is added to.
//!
//! Every route of the service is a `#[utoipa::path]`-annotated handler added with
//! `utoipa_axum::routes!` to one of the routers below, one per (least role, meter class):
//!
//! | router | role | class |
//! |---|---|---|
//! | [`public_router`] | public | light |
//! | [`public_heavy_router`] | public | heavy |
//! | [`editor_router`] | editor | light |
//! | [`editor_upload_router`] | editor | upload |
//! | [`admin_router`] | admin | light |
//! | [`admin_heavy_router`] | admin | heavy |
//!
//! [`compose`] mounts them: the editor and admin routers behind a `route_layer` that requires
//! the role ([`require`]), and from the paths each router collected it derives the
//! [`Table`] of `(method, path) → (role, class)` that the guard consults before routing
//! finishes (authentication, 401/403 before any body is read, limits by class), and the
//! `security` and error responses of each operation in the OpenAPI document. There is no
//! other list of routes: a route is declared by being added, and its role is the router's.
//!
//! What the roles may do is promised in PRIVACY.md ("Who sees what"); `tests/api/roles.rs`
//! holds the routers to that promise with an expectation table written from it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;

use super::{admin, codes, health, imports, layers, ogc, openapi, outreach, places, tiles, web};
use crate::auth::{Class, Principal, Role, Rule};
use crate::http::AppState;

/// Cheap or cached reads open to all: the service, the page, the tiles; and, through `data`,
/// [`public_data_router`].
pub fn public_router(data: DataLayer<'_>) -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(health::router())
        .merge(openapi::router())
        .merge(web::router())
        .merge(tiles::router())
        .merge(data(public_data_router()))
}

/// Cheap or cached data open to all: codes, methodology, tile metadata, places, OGC metadata.
pub fn public_data_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(codes::router())
        .merge(web::methodology_router())
        .merge(tiles::data_router())
        .merge(places::router())
        .merge(ogc::router())
}

/// Reads open to all that compute figures per request: counted against the rate limit. The
/// aggregates make their own ETag; the rest is [`public_heavy_data_router`], through `data`.
pub fn public_heavy_router(data: DataLayer<'_>) -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(layers::router())
        .merge(data(public_heavy_data_router()))
}

/// Data computed per request: outreach, the OGC items and the CSVW metadata of the layers.
pub fn public_heavy_data_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(layers::csv_metadata_router())
        .merge(outreach::router())
        .merge(ogc::items_router())
}

/// How [`compose`] wraps the data routers: in the data layer when serving, unchanged when
/// only the routes' table or description is wanted.
pub type DataLayer<'a> = &'a dyn Fn(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>;

/// Editors: places management.
pub fn editor_router() -> OpenApiRouter<AppState> {
    places::write_router()
}

/// Editors: imports (the import body limit and a long timeout).
pub fn editor_upload_router() -> OpenApiRouter<AppState> {
    imports::router()
}

/// Admins: erasure, tokens, the audit log.
pub fn admin_router() -> OpenApiRouter<AppState> {
    admin::router()
}

/// Admins, metered as expensive: the record export and the exact figures.
pub fn admin_heavy_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(admin::export_router())
        .merge(layers::admin_router())
}

/// The routers with their role and class; see the module documentation.
fn groups(data: DataLayer<'_>) -> [(Role, Class, OpenApiRouter<AppState>); 6] {
    [
        (Role::Public, Class::Light, public_router(data)),
        (Role::Public, Class::Heavy, public_heavy_router(data)),
        (Role::Editor, Class::Light, editor_router()),
        (Role::Editor, Class::Upload, editor_upload_router()),
        (Role::Admin, Class::Light, admin_router()),
        (Role::Admin, Class::Heavy, admin_heavy_router()),
    ]
}

/// `(method, axum path pattern) → (least role, class)`, derived from the routers.
#[derive(Debug, Default)]
pub struct Table {
    routes: BTreeMap<(String, Method), (Role, Class)>,
}

/// The HTTP methods an OpenAPI path item may hold that axum routes.
const METHODS: [(&str, Method); 5] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("patch", Method::PATCH),
];

impl Table {
    /// Looks up `method` on the axum path pattern `path` (the router's `MatchedPath`).
    /// `HEAD` follows `GET`.
    pub fn rule(&self, method: &Method, path: &str) -> Rule {
        let method = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        if let Some((role, class)) = self.routes.get(&(path.to_string(), method)) {
            return Rule::Declared(*role, *class);
        }
        if self.routes.keys().any(|(p, _)| p == path) {
            Rule::OtherMethod
        } else {
            Rule::Undeclared
        }
    }

    /// The methods of a path pattern (`HEAD` with `GET`), for a 405's `Allow`.
    pub fn methods(&self, path: &str) -> Vec<Method> {
        let mut out: Vec<Method> = self
            .routes
            .keys()
            .filter(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .collect();
        if out.contains(&Method::GET) {
            out.push(Method::HEAD);
        }
        out
    }

    /// Every route: `(method, path pattern, least role, class)`, by path then method.
    pub fn routes(&self) -> impl Iterator<Item = (&Method, &str, Role, Class)> {
        self.routes
            .iter()
            .map(|((p, m), (role, class))| (m, p.as_str(), *role, *class))
    }
}

/// The service's routes, their table and their OpenAPI description (every route, the web
/// page and OGC included; [`super::openapi`] publishes the API's part).
pub struct Composed {
    pub router: axum::Router<AppState>,
    pub table: Table,
    pub api: Value,
}

/// Mounts the routers; see the module documentation. With `state` (serving), the data
/// routers are wrapped in the data layer; without, only the table and the description are
/// of use.
///
/// # Panics
/// When a route is added to two routers (two roles for one operation): a bug, found by
/// every test that starts the service.
pub fn compose(state: Option<&AppState>) -> Composed {
    let layered = |r: OpenApiRouter<AppState>| match state {
        Some(state) => r.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::conditional::middleware,
        )),
        None => r,
    };
    let mut router = axum::Router::new();
    let mut table = Table::default();
    let mut api: Option<Value> = None;
    for (role, class, group) in groups(&layered) {
        let (group_router, group_api) = group.split_for_parts();
        let mut doc = serde_json::to_value(&group_api).unwrap_or_default();
        if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
            for (path, item) in paths.iter_mut() {
                for (name, method) in &METHODS {
                    let Some(op) = item.get_mut(*name) else {
                        continue;
                    };
                    let previous = table
                        .routes
                        .insert((path.clone(), method.clone()), (role, class));
                    assert!(
                        previous.is_none(),
                        "{method} {path} is added to two routers"
                    );
                    describe_access(op, role, class);
                }
            }
        }
        router = router.merge(if role > Role::Public {
            group_router.route_layer(axum::middleware::from_fn(move |req, next| {
                require(role, req, next)
            }))
        } else {
            group_router
        });
        api = Some(match api {
            None => doc,
            Some(mut all) => {
                merge_paths(&mut all, doc);
                all
            }
        });
    }
    Composed {
        router,
        table,
        api: api.unwrap_or_default(),
    }
}

/// The route table, derived once from the routers.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| compose(None).table)
}

/// Adds `doc`'s paths and component schemas to `all`.
fn merge_paths(all: &mut Value, doc: Value) {
    for key in ["paths"] {
        if let (Some(into), Some(from)) = (
            all.get_mut(key).and_then(Value::as_object_mut),
            doc.get(key).and_then(Value::as_object),
        ) {
            for (path, item) in from {
                match into.get_mut(path).and_then(Value::as_object_mut) {
                    Some(existing) => {
                        if let Some(ops) = item.as_object() {
                            existing.extend(ops.clone());
                        }
                    }
                    None => {
                        into.insert(path.clone(), item.clone());
                    }
                }
            }
        }
    }
    if let Some(from) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        let into = all
            .as_object_mut()
            .map(|o| o.entry("components").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
            .map(|o| o.entry("schemas").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut);
        if let Some(into) = into {
            into.extend(from.clone());
        }
    }
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

/// The OpenAPI `security` of an operation and the error responses its role and class add.
fn describe_access(op: &mut Value, role: Role, class: Class) {
    let Some(op) = op.as_object_mut() else {
        return;
    };
    op.insert("x-role".into(), json!(role.as_str()));
    op.insert(
        "x-meter".into(),
        json!(match class {
            Class::Light => "light",
            Class::Heavy => "heavy",
            Class::Upload => "upload",
        }),
    );
    // OpenAPI 3.1: for schemes other than OAuth2/OpenID Connect, the array lists role names.
    let security = match role {
        // No token needed; a token changes nothing but `/health`'s detail.
        Role::Public => json!([{}, {"bearer": []}]),
        _ => json!([{"bearer": [role.as_str()]}]),
    };
    op.insert("security".into(), security);
    let has_body = op.contains_key("requestBody");
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| problem(description));
    };
    add(
        "400",
        "A parameter is unknown or invalid (`parameter` names it; `valid` lists the valid codes)",
    );
    add(
        "401",
        match role {
            Role::Public => "The Authorization header is not a valid bearer token",
            _ => "No valid bearer token",
        },
    );
    if role > Role::Public {
        add(
            "403",
            "The token's role is below the one this operation needs",
        );
    }
    if class != Class::Light {
        add(
            "429",
            "Too many expensive requests, or distinct filtered layers, from this client (`Retry-After`)",
        );
    }
    if class == Class::Upload {
        add("413", "The body is larger than the import limit");
    } else if has_body {
        add("413", "The body is larger than 1 MiB");
    }
    add(
        "500",
        "Internal error (logged with the request id, which the body carries)",
    );
    add(
        "503",
        "The request took too long, or the database cannot be written (`Retry-After`)",
    );
}

/// The route layer of the editor and admin routers: the guard has authenticated the caller
/// and checked the role from the [`Table`] already; this repeats the check where the route
/// is mounted, so that a route's role holds even if the table were bypassed.
pub async fn require(role: Role, req: Request, next: Next) -> Response {
    match super::guard::denial(role, req.extensions().get::<Principal>()) {
        Some(denied) => denied,
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_follows_get_and_other_methods_fall_to_the_router() {
        let t = table();
        assert_eq!(
            t.rule(&Method::HEAD, "/health"),
            Rule::Declared(Role::Public, Class::Light)
        );
        assert_eq!(
            t.rule(&Method::POST, "/api/v1/imports"),
            Rule::Declared(Role::Editor, Class::Upload)
        );
        assert_eq!(t.rule(&Method::GET, "/api/v1/imports"), Rule::OtherMethod);
        assert_eq!(t.rule(&Method::GET, "/api/v1/secret"), Rule::Undeclared);
    }

    #[test]
    fn the_methods_of_a_path_include_head_with_get() {
        let mut m = table().methods("/api/v1/places/{id}");
        m.sort_by_key(|m| m.to_string());
        assert_eq!(m, [Method::DELETE, Method::GET, Method::HEAD, Method::PUT]);
        assert_eq!(table().methods("/api/v1/imports"), [Method::POST]);
    }

    #[test]
    fn writes_need_a_token() {
        for (m, p, role, _) in table().routes() {
            if *m != Method::GET {
                assert!(role >= Role::Editor, "{m} {p} is open to the public");
            }
        }
    }
}
