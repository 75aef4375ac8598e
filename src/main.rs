//! The `dyaspora` binary: parse the configuration, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use dyaspora::config::{Command, Config};
use dyaspora::store::SqliteStore;

/// mimalloc instead of glibc's malloc: the hot paths allocate many small short-lived
/// buffers (responses, headers, rows), and glibc's allocator was ~10 % of a warm tile's CPU
/// (BENCHMARKS.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Named workers (otherwise they take the name of whichever thread first used the pool),
    // so that `top -H` and profiles tell them apart. Fails only if already built: ignored.
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rayon-{i}"))
        .build_global();
    match run(config) {
        Ok(code) => code,
        Err(e) => {
            // One line that says what went wrong, without a backtrace: these are operator
            // errors (a read-only directory, a missing file), not crashes.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<ExitCode> {
    match config.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                // The port first: a port in use fails at once, before anything is loaded;
                // the data load while the health checks are answered.
                let app = dyaspora::App::bind(&config.db, args).await?;
                app.run_until_stopped().await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Import(args) => {
            let store = SqliteStore::open(&config.db)?;
            dyaspora::ingest::run_import_command(&store, &args)
        }
        Command::Demo(args) => {
            let store = SqliteStore::open(&config.db)?;
            dyaspora::demo::run_demo_command(&store, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Places(args) => dyaspora::places::cli::run(&SqliteStore::open(&config.db)?, &args),
        Command::Token(args) => dyaspora::auth::cli::run(&SqliteStore::open(&config.db)?, &args),
        Command::NoiseTable(args) => {
            let table = dyaspora::aggregate::perturb::PTable::new(args.noise.params())?;
            if args.summary {
                print!("{}", table.summary_csv());
            } else {
                print!("{}", table.to_csv());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
