#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
//! The ceiling of the tile benchmark: a bare axum server (no middleware, no cache logic)
//! answering each path with bytes held in a hash map. `scripts/bench-tiles.sh` fills it with
//! the very tiles dyaspora served and loads both the same way, so the ratio between the two
//! is what dyaspora's own work costs on top of the HTTP stack, the kernel and the load tool.
//!
//! Usage: `tile_ceiling LIST SOURCE PORT` — fetches every path of LIST from SOURCE
//! (e.g. `http://127.0.0.1:18181`), then serves them on 127.0.0.1:PORT. With
//! `CEILING_PER_CORE=1` it serves from one single-threaded runtime per core instead of
//! tokio's work-stealing runtime (an experiment recorded in BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

type Tiles = Arc<HashMap<String, Bytes>>;

async fn answer(State(tiles): State<Tiles>, req: Request) -> Response {
    let key = req.uri().path_and_query().map_or("", |p| p.as_str());
    match tiles.get(key) {
        Some(body) => (
            [(header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile")],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Runtime::new()?;
    let (app, port) = rt.block_on(load())?;
    if std::env::var("CEILING_PER_CORE").is_ok() {
        // Experiment: one single-threaded runtime per core, each accepting on its own
        // SO_REUSEPORT socket (no work stealing, no cross-thread wake-ups).
        let threads: Vec<_> = (0..std::thread::available_parallelism()?.get())
            .map(|_| {
                let (app, port) = (app.clone(), port.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    rt.block_on(async move {
                        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
                        socket.set_reuseport(true).expect("SO_REUSEPORT");
                        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
                        socket
                            .bind(format!("127.0.0.1:{port}").parse().expect("an address"))
                            .expect("bind");
                        let listener = socket.listen(1024).expect("listen");
                        axum::serve(listener, app).await.expect("serve");
                    })
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        return Ok(());
    }
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn load() -> Result<(Router, String), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, list, source, port] = args.as_slice() else {
        return Err("usage: tile_ceiling LIST SOURCE PORT".into());
    };
    let client = reqwest::Client::new();
    let mut tiles = HashMap::new();
    for path in std::fs::read_to_string(list)?
        .lines()
        .filter(|l| !l.is_empty())
    {
        let body = client
            .get(format!("{source}{path}"))
            .send()
            .await?
            .bytes()
            .await?;
        tiles.insert(path.to_string(), body);
    }
    eprintln!("tile_ceiling: {} tiles in memory", tiles.len());
    let app = Router::new().fallback(answer).with_state(Arc::new(tiles));
    Ok((app, port.clone()))
}
