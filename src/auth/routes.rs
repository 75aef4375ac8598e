//! What the route table says about a route: how the guard meters it ([`Class`]) and the
//! outcome of a lookup ([`Rule`]). The table itself is derived from the routers a route is
//! mounted on (`http::access`), one router per least role and class.

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
