//! Service start-up: bind the port (first, so that a port in use fails at once), open the
//! store, then load demo data into an empty database and the snapshot. `App::build` →
//! `local_addr` → `run_until_stopped`, so tests start the service exactly as `main` does (on
//! port 0). `main` uses [`App::bind`] instead, which leaves the loading to
//! `run_until_stopped`: the service answers `/health` (live) and `/health/ready` (503 until
//! the snapshot is loaded) at once, and every other route 503 until then.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;

use tokio::net::TcpListener;

use crate::aggregate::Engine;
use crate::config::ServeArgs;
use crate::http::AppState;
use crate::store::{SqliteStore, Store};
use crate::{demo, http};

/// How often the service checks the store for data written by another process.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    /// Binds, opens the database at `db`, seeds it with demo data when empty (unless
    /// `no_demo`) and loads the snapshot: the app returned is ready.
    ///
    /// # Errors
    /// The port is taken (at once, before anything is loaded), the database cannot be opened
    /// or read, the demo data cannot be written.
    pub async fn build(db: &Path, config: ServeArgs) -> anyhow::Result<App> {
        let app = App::bind(db, config).await?;
        load(app.state.clone()).await?;
        Ok(app)
    }

    /// Binds the port, then opens the database at `db`; the data are loaded by
    /// [`App::run_until_stopped`] while the service already answers its health checks.
    ///
    /// # Errors
    /// The port is taken (before the database is even opened), or the database cannot be
    /// opened.
    pub async fn bind(db: &Path, config: ServeArgs) -> anyhow::Result<App> {
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db)?);
        let state = state(store, config)?;
        Ok(App { listener, state })
    }

    /// The service's router over `store` without a listener, the snapshot loaded (and the
    /// demo data seeded first when the store is empty, unless `config.no_demo`): requests go
    /// through `tower::ServiceExt::oneshot`. For in-process drivers such as the fuzz target
    /// `fuzz/fuzz_targets/http_query.rs`; it is the router `serve` runs, without the tile
    /// edge in front of it and without the connection deadlines.
    ///
    /// # Errors
    /// The store cannot be read, the demo data cannot be written, the noise parameters are
    /// invalid.
    pub async fn router(store: Arc<dyn Store>, config: ServeArgs) -> anyhow::Result<axum::Router> {
        let state = state(store, config)?;
        load(state.clone()).await?;
        Ok(http::router(state))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. Loads the data
    /// first if [`App::bind`] left them (serving the health checks meanwhile); a failure to
    /// load stops the service with that error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "dyaspora listening");
        let (failed_tx, failed) = tokio::sync::oneshot::channel::<anyhow::Error>();
        if self.state.is_ready() {
            warm(&self.state);
            tokio::spawn(refresh_loop(self.state.clone()));
        } else {
            let state = self.state.clone();
            tokio::spawn(async move {
                match load(state.clone()).await {
                    Ok(()) => {
                        warm(&state);
                        refresh_loop(state).await
                    }
                    Err(e) => {
                        let _ = failed_tx.send(e);
                    }
                }
            });
        }
        tokio::spawn(crate::places::index::watch(
            self.state.places.clone(),
            self.state.store.clone(),
        ));
        // Each connection has its deadlines (http::conn); the peer address keys the
        // per-client limits.
        let timeouts = http::conn::Timeouts::of(&self.state.config);
        let service = http::service(self.state).await;
        let listener = http::conn::Listener::new(self.listener, timeouts);
        let load_failure = Arc::new(std::sync::Mutex::new(None));
        let stop = {
            let load_failure = load_failure.clone();
            async move {
                tokio::select! {
                    () = shutdown_signal() => {},
                    Ok(e) = failed => {
                        tracing::error!(error = %e, "the data could not be loaded: stopping");
                        *load_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    }
                }
            }
        };
        axum::serve(listener, http::conn::PerConnection::new(service))
            .with_graceful_shutdown(stop)
            .await?;
        let failure = load_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match failure {
            Some(e) => Err(std::io::Error::other(format!("{e:#}"))),
            None => Ok(()),
        }
    }
}

/// The shared state over `store`: the engine (with its noise and release interval), the
/// places, the tile cache, the tokens and the guard; not loaded yet (see [`load`]).
fn state(store: Arc<dyn Store>, config: ServeArgs) -> anyhow::Result<AppState> {
    let noise = crate::aggregate::perturb::PTable::new(config.noise.params())?;
    let engine = Arc::new(Engine::with_noise(config.min_count, noise).releasing_every(
        std::time::Duration::from_secs(config.release_interval_hours * 3600),
    ));
    let places = Arc::new(crate::places::PlaceIndex::load(store.as_ref())?);
    let tiles = crate::tiles::Tiles {
        engine: engine.clone(),
        cache: Arc::new(crate::tiles::TileCache::with_megabytes(
            config.tile_cache_mb,
            config.basemap_url.clone(),
        )),
        places: places.clone(),
    };
    let auth = Arc::new(crate::auth::Auth::new());
    let guard = Arc::new(crate::http::guard::Guard::new(&config));
    Ok(AppState {
        store,
        engine,
        config: Arc::new(config),
        tiles,
        places,
        auth,
        guard,
        methodology: Arc::new(quick_cache::sync::Cache::new(2)),
        responses: Arc::default(),
        ready: Arc::default(),
    })
}

/// Seeds an empty database with the demo data (unless `--no-demo`), loads the snapshot and
/// marks the service ready.
async fn load(state: AppState) -> anyhow::Result<()> {
    let (store, config) = (state.store.clone(), state.config.clone());
    if !config.no_demo && store.record_count()? == 0 {
        let (n, seed) = (config.demo_records, config.demo_seed);
        tracing::info!(
            records = n,
            seed,
            "empty database: loading the demo data set"
        );
        let s = store.clone();
        let outcome =
            tokio::task::spawn_blocking(move || demo::load_into(s.as_ref(), n, seed)).await??;
        tracing::info!(inserted = outcome.inserted, "demo data loaded");
        // The demo's associations are places.
        let (p, s) = (state.places.clone(), store.clone());
        tokio::task::spawn_blocking(move || p.reload(s.as_ref())).await??;
    }
    let (s, e) = (store.clone(), state.engine.clone());
    tokio::task::spawn_blocking(move || e.refresh(s.as_ref())).await??;
    tracing::info!(records = state.engine.snapshot().len(), "snapshot loaded");
    state.ready.store(true, Ordering::Release);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The unfiltered layers a first visit asks for, in that order: the hexagons of the map's
/// first views (resolution 3 for the whole US on a desktop and the East Coast on a phone,
/// 2 for the count of people in areas too small to show), then the closer zooms and states.
const WARM: [crate::aggregate::Unit; 6] = {
    use crate::aggregate::Unit::{State, H3};
    [H3(3), H3(2), H3(4), H3(5), H3(6), State]
};

/// Computes the [`WARM`] layers of the current release in the background, so that the first
/// visitor after a start or a release does not wait for them (slow-4G benchmark,
/// BENCHMARKS.md: the first layer's response was 0.5–1.7 s on a cold server). A request for
/// a layer being warmed waits for that one computation; nothing is computed twice.
fn warm(state: &AppState) {
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let filter = crate::aggregate::Filter::default();
        for unit in WARM {
            if let Err(e) = engine.layer(unit, &filter) {
                tracing::warn!(error = %e, "warming a layer failed");
            }
        }
    });
}

/// Picks up imports made by other processes (the CLI, another replica) by polling the
/// store's data version; the snapshot is rebuilt off the async threads and swapped whole.
async fn refresh_loop(state: AppState) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        let (store, engine) = (state.store.clone(), state.engine.clone());
        match tokio::task::spawn_blocking(move || engine.refresh(store.as_ref())).await {
            Ok(Ok(true)) => {
                tracing::info!(
                    version = state.engine.snapshot().data_version,
                    "snapshot reloaded"
                );
                warm(&state);
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "snapshot refresh failed"),
            Err(e) => tracing::error!(error = %e, "snapshot refresh panicked"),
        }
    }
}
