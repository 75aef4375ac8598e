//! The one integration-test binary: every module starts the real service (or the real
//! binary) and talks to it over HTTP or the command line.

mod helpers;

mod aggregates;
mod service;
