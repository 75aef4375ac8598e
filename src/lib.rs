//! dyaspora maps where the Haitian diaspora in the United States lives, what it sends home
//! and what skills it holds, without ever exposing a person.
//!
//! Coordinates are WGS84 longitude/latitude in degrees (EPSG:4326, RFC 7946 order in
//! GeoJSON); distances are great-circle kilometres; money is US dollars (stored in cents).
//! See `ARCHITECTURE.md` for the code map.
//!
//! # The public surface
//!
//! Modules are private, or their insides `pub(crate)`, unless the binary (`src/main.rs`), the
//! integration tests (`tests/`), the benchmarks (`benches/`), the examples (`examples/`) or
//! the fuzz targets (`fuzz/`) use them; that use is the public surface:
//!
//! - [`App`] (bind, build, serve; `App::router`, the router over a store without a listener,
//!   for the fuzz targets) and [`Config`], [`config::ServeArgs`]; [`routes`], the route
//!   table and which routes the OpenAPI document covers; [`Error`];
//! - [`store`]: [`store::SqliteStore`] and the [`store::Store`] trait; [`auth`]: roles and
//!   tokens (`auth::token::issue`, the `token` command); [`ingest`]: `import_bytes`,
//!   `validate_bytes`, `ImportOptions`, `write_kobo_csv`, the `import` command; [`demo`]:
//!   `generate`, `load_into`, the `demo` command; [`record`], [`codes`], [`geodata`];
//! - [`aggregate`]: the snapshot, grouping, tallies, privacy rules and perturbation the
//!   benchmarks and examples time and probe, and the [`aggregate::Engine`];
//! - [`publish`]: the query model ([`publish::LayerRequest`]) and the GeoJSON layer;
//!   [`places`]: the place index types, `haversine_km` and `places::outreach`; the `places`
//!   command;
//! - [`tiles`]: Web Mercator, the MVT and PNG encoders, the sources and the tile cache (the
//!   tile benchmarks).
//!
//! The HTTP edge (`http`), start-up (`app`), the audit log and every submodule not named above
//! are private to the crate.

#![recursion_limit = "256"]
// Unit tests and their helpers may unwrap (Cargo.toml's lints warn about it elsewhere).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aggregate;
mod app;
mod audit;
pub mod auth;
pub mod codes;
pub mod config;
pub mod demo;
mod error;
pub mod geodata;
mod http;
pub mod ingest;
pub mod places;
pub mod publish;
pub mod record;
pub mod store;
pub mod tiles;

/// The routes the service answers with each one's least role and meter class, as the routers
/// declare them, and which of them the OpenAPI document covers: what the tests hold against
/// PRIVACY.md's table.
pub mod routes {
    pub use crate::http::access::{table, Table};
    pub use crate::http::openapi::is_documented;
}

pub use app::App;
pub use config::Config;
pub use error::Error;
