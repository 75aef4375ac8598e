//! [`AppState`], the one shared state of every handler (built by `App::build`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::aggregate::Engine;
use crate::config::ServeArgs;
use crate::store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub config: Arc<ServeArgs>,
    /// What the tile code needs: the engine, the tile cache and the places.
    pub tiles: crate::tiles::Tiles,
    pub places: Arc<crate::places::PlaceIndex>,
    /// Stored API tokens, held in memory.
    pub auth: Arc<crate::auth::Auth>,
    /// Rate limits, the concurrency bound and the import lock.
    pub guard: Arc<super::guard::Guard>,
    /// The methodology figures per data version (the current one and, for a moment, the
    /// one before).
    pub methodology: Arc<quick_cache::sync::Cache<u64, serde_json::Value>>,
    /// Finished aggregate responses (body compressed), per ETag and encoding.
    pub responses: Arc<super::responses::ResponseCache>,
    /// Set once the first snapshot is loaded: until then only `/health` and
    /// `/health/ready` are answered (every other route 503).
    pub ready: Arc<AtomicBool>,
}

impl AppState {
    /// Whether the snapshot is loaded and the service answers every route.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
