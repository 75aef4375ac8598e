//! Command-line configuration (`clap`), each flag with an environment-variable fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::demo::DemoArgs;
pub use crate::ingest::{ImportArgs, OnError};

/// dyaspora: where the Haitian diaspora lives, what it sends home, what skills it holds.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Config {
    /// SQLite database file (created if missing).
    #[arg(
        long,
        env = "DYASPORA_DB",
        default_value = "dyaspora.db",
        global = true
    )]
    pub db: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (map, layers, API).
    Serve(ServeArgs),
    /// Import survey records from a CSV or XLSX file (KoboToolbox exports accepted).
    Import(ImportArgs),
    /// Generate the synthetic demo data set (records and associations).
    Demo(DemoArgs),
    /// List, add, update or remove associations (consular posts come from geodata).
    Places(crate::places::PlacesArgs),
    /// Create, list or revoke API tokens (editor, admin).
    Token(crate::auth::cli::TokenArgs),
    /// Print the perturbation table (`pcv,ckey,pvalue`, the ONS package's layout) and,
    /// with `--summary`, its mean and variance per count.
    NoiseTable(NoiseTableArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DYASPORA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Do not load the demo data set into an empty database (production).
    #[arg(long, env = "DYASPORA_NO_DEMO")]
    pub no_demo: bool,
    /// Number of demo records loaded into an empty database.
    #[arg(long, env = "DYASPORA_DEMO_RECORDS", default_value_t = 200_000)]
    pub demo_records: usize,
    /// Seed of the demo data set.
    #[arg(long, env = "DYASPORA_DEMO_SEED", default_value_t = 1)]
    pub demo_seed: u64,
    /// Smallest count published (k): counts from 1 to k−1 are suppressed.
    #[arg(long, env = "DYASPORA_MIN_COUNT", default_value_t = 11)]
    pub min_count: u32,
    /// Least time between two public releases, in hours: imports reach the public figures
    /// with the next release (each release draws fresh perturbation keys, so fewer releases
    /// leave less to average). 0 releases every change at once.
    #[arg(long, env = "DYASPORA_RELEASE_INTERVAL_HOURS", default_value_t = 2160)]
    pub release_interval_hours: u64,
    /// The perturbation of the public figures.
    #[command(flatten)]
    pub noise: NoiseArgs,
    /// Memory for finished map tiles, in MiB; 0 disables the tile cache.
    #[arg(long, env = "DYASPORA_TILE_CACHE_MB", default_value_t = 256)]
    pub tile_cache_mb: usize,
    /// External raster basemap URL template ({z}/{x}/{y}) for online deployments; by
    /// default the built-in offline basemap (/tiles/basemap) is used.
    #[arg(long, env = "DYASPORA_BASEMAP_URL")]
    pub basemap_url: Option<String>,
    /// Origins allowed to call the API from a browser (CORS), comma-separated, or `*`; by
    /// default none (same origin only).
    #[arg(
        long = "cors-origin",
        env = "DYASPORA_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Requests per minute each client (IP address) may make to the expensive endpoints
    /// (aggregates, OGC items, outreach, imports, exports); 0 disables the limit.
    #[arg(long, env = "DYASPORA_RATE_LIMIT", default_value_t = 600)]
    pub rate_limit: u32,
    /// Distinct filtered layers (a filter and a unit, e.g. `gender=f` by county) each client
    /// without a token may ask for per `--layer-window`, across every route that computes
    /// figures (aggregates, tiles, TileJSON, legends, OGC items, outreach); repeats and
    /// unfiltered layers are free; 0 disables the budget.
    #[arg(long, env = "DYASPORA_LAYER_BUDGET", default_value_t = 100)]
    pub layer_budget: u32,
    /// The window of `--layer-budget`, in seconds.
    #[arg(long, env = "DYASPORA_LAYER_WINDOW", default_value_t = 600)]
    pub layer_window: u64,
    /// Requests handled at once; more wait their turn.
    #[arg(long, env = "DYASPORA_MAX_CONCURRENCY", default_value_t = 512)]
    pub max_concurrency: usize,
    /// Seconds a request may take (imports: ten times as long) before a 503.
    #[arg(long, env = "DYASPORA_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout: u64,
    /// Largest import upload, in MiB.
    #[arg(long, env = "DYASPORA_MAX_IMPORT_MB", default_value_t = 64)]
    pub max_import_mb: usize,
    /// Seconds a client has to send a request's head, from its first byte (or from the
    /// connection's start) before the connection is closed.
    #[arg(long, env = "DYASPORA_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a connection may stay open with no request in progress and nothing sent or
    /// received (a keep-alive connection between requests).
    #[arg(long, env = "DYASPORA_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            no_demo: false,
            demo_records: 200_000,
            demo_seed: 1,
            min_count: 11,
            // Tests see every change published at once; the command line's default is 90 days.
            release_interval_hours: 0,
            noise: NoiseArgs::default(),
            tile_cache_mb: 256,
            basemap_url: None,
            cors_origins: Vec::new(),
            rate_limit: 600,
            layer_budget: 100,
            layer_window: 600,
            max_concurrency: 512,
            request_timeout: 60,
            max_import_mb: 64,
            header_timeout: 10,
            idle_timeout: 60,
        }
    }
}

/// The cell-key perturbation's parameters (`PRIVACY.md`).
#[derive(Debug, Clone, Args)]
pub struct NoiseArgs {
    /// Largest perturbation of a published count (D).
    #[arg(long, env = "DYASPORA_NOISE_MAX", default_value_t = 3)]
    pub noise_max: u32,
    /// Variance of the perturbation of published counts (V).
    #[arg(long, env = "DYASPORA_NOISE_VARIANCE", default_value_t = 1.5)]
    pub noise_variance: f64,
    /// Published counts never take the values 1 to this.
    #[arg(long, env = "DYASPORA_NOISE_SMALL", default_value_t = 2)]
    pub noise_small: u32,
    /// Noise on remittance totals, as a share of the cell's largest amount (half to all of it).
    #[arg(long, env = "DYASPORA_NOISE_MAGNITUDE", default_value_t = 0.1)]
    pub noise_magnitude: f64,
    /// Noise on remittance medians, as a share of the median (half to all of it).
    #[arg(long, env = "DYASPORA_NOISE_MEDIAN", default_value_t = 0.05)]
    pub noise_median: f64,
}

impl NoiseArgs {
    /// The perturbation's parameters.
    pub fn params(&self) -> crate::aggregate::perturb::NoiseParams {
        crate::aggregate::perturb::NoiseParams {
            max: self.noise_max,
            variance: self.noise_variance,
            small: self.noise_small,
            magnitude: self.noise_magnitude,
            median: self.noise_median,
        }
    }
}

impl Default for NoiseArgs {
    fn default() -> Self {
        let p = crate::aggregate::perturb::NoiseParams::default();
        NoiseArgs {
            noise_max: p.max,
            noise_variance: p.variance,
            noise_small: p.small,
            noise_magnitude: p.magnitude,
            noise_median: p.median,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct NoiseTableArgs {
    #[command(flatten)]
    pub noise: NoiseArgs,
    /// Print each count's noise mean and variance instead of the table.
    #[arg(long)]
    pub summary: bool,
}
