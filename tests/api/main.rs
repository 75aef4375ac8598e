#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
//! The one integration-test binary: every module starts the real service (or the real
//! binary) and talks to it over HTTP or the command line.

mod helpers;

mod access;
mod aggregates;
mod attacks;
mod budget;
mod conditional;
mod durability;
mod hostile;
mod import;
mod ogc;
mod openapi;
mod outreach;
mod params;
mod places;
mod roles;
mod service;
mod tiles;
mod web;
