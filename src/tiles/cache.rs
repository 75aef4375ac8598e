//! [`TileCache`]: finished tiles (encoded and compressed, as sent) in memory under a byte
//! bound, plus the prepared [`Source`]s they are cut from.
//!
//! A tile's key is the request as received (path and query string: layer, filters, metric,
//! z/x/y, format), the content encoding, and the version of the data it was cut from. An
//! import bumps the data version, so no stale tile can be served; the first request that
//! sees a new version also empties the cache so old tiles do not hold memory.
//!
//! Both are [`quick_cache`] caches (CLOCK-Pro eviction): the tiles weighed in bytes (body,
//! key, ETag and bookkeeping); the sources by count, each created once however many requests
//! ask at once (`get_or_insert_with`), then filled once through its slot. quick_cache rather
//! than moka because a hit is a shard read lock and a flag, where moka records every read
//! for its admission policy: ~1 µs of server CPU per warm tile (BENCHMARKS.md, #19). A lookup does
//! not allocate: tiles are filed under a keyed hash of their key, and the full key, kept in
//! the entry, is compared on a hit (a colliding key is a miss).

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderValue;

use super::source::{places_version, Source};
use crate::places::PlaceSet;

/// How a cached body is encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value (`None` for identity).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// The suffix that makes each encoding's ETag distinct.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gz",
            Encoding::Brotli => "-br",
        }
    }

    /// Compresses `raw` for this encoding (gzip level 6; brotli quality 5, window 22: within
    /// a few percent of the best sizes for tiles at a fraction of quality 11's time).
    pub fn compress(self, raw: &[u8]) -> Vec<u8> {
        use std::io::Write;
        match self {
            Encoding::Identity => raw.to_vec(),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw.len() / 2),
                    flate2::Compression::new(6),
                );
                e.write_all(raw).expect("writing to a Vec cannot fail");
                e.finish().expect("writing to a Vec cannot fail")
            }
            Encoding::Brotli => {
                let mut out = Vec::with_capacity(raw.len() / 2);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 5,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut std::io::Cursor::new(raw), &mut out, &params)
                    .expect("compressing into a Vec cannot fail");
                out
            }
        }
    }
}

/// The identity of a cached tile. `path` and `query` are the request's, verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileKey<'a> {
    pub version: u64,
    pub encoding: Encoding,
    pub path: &'a str,
    pub query: &'a str,
}

/// A cached response body: `None` for an empty tile (served as 204).
#[derive(Clone, Debug)]
pub struct Cached {
    pub body: Option<Bytes>,
    /// The strong ETag, quoted, specific to the encoding (a header value, so a hit does not
    /// validate it again).
    pub etag: HeaderValue,
}

/// A stored tile with its full key.
struct Entry {
    version: u64,
    encoding: Encoding,
    path: Box<str>,
    query: Box<str>,
    value: Cached,
}

impl Entry {
    fn is(&self, k: &TileKey<'_>) -> bool {
        self.version == k.version
            && self.encoding == k.encoding
            && *self.path == *k.path
            && *self.query == *k.query
    }

    /// Bytes counted against the cache's bound.
    fn weight(&self) -> u32 {
        let size = self.value.body.as_ref().map_or(0, Bytes::len)
            + self.path.len()
            + self.query.len()
            + self.value.etag.len()
            + ENTRY_OVERHEAD;
        u32::try_from(size).unwrap_or(u32::MAX)
    }
}

/// Bookkeeping bytes counted per entry besides body and key.
const ENTRY_OVERHEAD: usize = 160;
/// A single tile may take at most this share of the cache (1/16, as the old shards did).
const MAX_ENTRY_SHARE: usize = 16;
/// Prepared sources kept (each is one layer for one filter and metric).
const MAX_SOURCES: usize = 32;

/// Hit and miss counters, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// A prepared source slot: filled once by the first request that needs it.
pub type SourceSlot = Arc<tokio::sync::OnceCell<Arc<Source>>>;

/// Weighs a stored tile in bytes.
#[derive(Clone)]
struct TileWeight;

impl quick_cache::Weighter<u64, Arc<Entry>> for TileWeight {
    fn weight(&self, _: &u64, e: &Arc<Entry>) -> u64 {
        u64::from(e.weight())
    }
}

type TileStore = quick_cache::sync::Cache<
    u64,
    Arc<Entry>,
    TileWeight,
    foldhash::fast::RandomState,
    quick_cache::sync::DefaultLifecycle<u64, Arc<Entry>>,
>;

/// A typical tile's weight, to size the cache's table.
const TYPICAL_TILE_BYTES: usize = 4096;
/// Few shards, so that one shard's share of the bound still holds the largest tile allowed
/// (1/[`MAX_ENTRY_SHARE`] of the whole).
const TILE_SHARDS: usize = 8;

/// Finished tiles under a byte bound, and the prepared sources.
pub struct TileCache {
    capacity: usize,
    /// `None` when tile caching is off (`--tile-cache-mb 0`).
    tiles: Option<TileStore>,
    hasher: foldhash::fast::RandomState,
    /// The newest data version seen; entries of older ones are dropped when it moves.
    version: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    sources: quick_cache::sync::Cache<(String, u64), SourceSlot>,
    /// The last place set seen and its content version.
    places: Mutex<Option<(Arc<PlaceSet>, u64)>>,
    /// An external raster basemap URL template for online deployments (`None`: the
    /// built-in offline basemap).
    pub basemap_url: Option<String>,
}

impl TileCache {
    /// A cache holding at most `capacity_bytes` of tiles; 0 disables tile caching (sources
    /// are still prepared once and kept).
    pub fn new(capacity_bytes: usize, basemap_url: Option<String>) -> TileCache {
        let tiles = (capacity_bytes > 0).then(|| {
            let options = quick_cache::OptionsBuilder::new()
                .estimated_items_capacity((capacity_bytes / TYPICAL_TILE_BYTES).max(16))
                .weight_capacity(capacity_bytes as u64)
                .shards(TILE_SHARDS)
                .build()
                .expect("capacity and item estimate are set");
            TileStore::with_options(
                options,
                TileWeight,
                foldhash::fast::RandomState::default(),
                Default::default(),
            )
        });
        TileCache {
            capacity: capacity_bytes,
            tiles,
            hasher: foldhash::fast::RandomState::default(),
            version: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            sources: quick_cache::sync::Cache::new(MAX_SOURCES),
            places: Mutex::new(None),
            basemap_url,
        }
    }

    /// A cache of `mb` mebibytes (the `--tile-cache-mb` flag).
    pub fn with_megabytes(mb: usize, basemap_url: Option<String>) -> TileCache {
        TileCache::new(mb.saturating_mul(1024 * 1024), basemap_url)
    }

    fn hash(&self, k: &TileKey<'_>) -> u64 {
        let mut h = self.hasher.build_hasher();
        k.version.hash(&mut h);
        k.encoding.hash(&mut h);
        k.path.hash(&mut h);
        k.query.hash(&mut h);
        h.finish()
    }

    /// Drops everything when `data_version` is newer than any seen before.
    pub fn observe_version(&self, data_version: u64) {
        let seen = self.version.load(Ordering::Relaxed);
        if data_version > seen
            && self
                .version
                .compare_exchange(seen, data_version, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            if seen != 0 {
                tracing::info!(
                    from = seen,
                    to = data_version,
                    "data version moved: tile cache emptied"
                );
            }
            if let Some(tiles) = &self.tiles {
                tiles.clear();
            }
            self.sources.retain(|(_, v), _| *v >= data_version);
        }
    }

    pub fn get(&self, k: &TileKey<'_>) -> Option<Cached> {
        let tiles = self.tiles.as_ref()?;
        match tiles.get(&self.hash(k)) {
            Some(e) if e.is(k) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(e.value.clone())
            }
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub fn insert(&self, k: &TileKey<'_>, value: Cached) {
        let Some(tiles) = &self.tiles else {
            return;
        };
        let entry = Entry {
            version: k.version,
            encoding: k.encoding,
            path: k.path.into(),
            query: k.query.into(),
            value,
        };
        if entry.weight() as usize > self.capacity / MAX_ENTRY_SHARE {
            return;
        }
        tiles.insert(self.hash(k), Arc::new(entry));
    }

    pub fn stats(&self) -> Stats {
        let (entries, bytes) = self
            .tiles
            .as_ref()
            .map_or((0, 0), |t| (t.len() as u64, t.weight()));
        Stats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    /// The slot of the source named by `key` at `version`, created empty if new (once,
    /// however many ask at once). The least recently used slots go first when there are too
    /// many.
    pub fn source_slot(&self, key: &str, version: u64) -> SourceSlot {
        let created: Result<SourceSlot, std::convert::Infallible> = self
            .sources
            .get_or_insert_with(&(key.to_string(), version), || {
                Ok(Arc::new(tokio::sync::OnceCell::new()))
            });
        match created {
            Ok(slot) => slot,
            Err(never) => match never {},
        }
    }

    /// The content version of a place set: hashed once per set (sets are immutable and
    /// replaced whole when places change).
    pub fn places_version(&self, set: &Arc<PlaceSet>) -> u64 {
        let mut last = self.places.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, v)) = last.as_ref() {
            if Arc::ptr_eq(seen, set) {
                return *v;
            }
        }
        let v = places_version(set.places());
        *last = Some((set.clone(), v));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> TileKey<'_> {
        TileKey {
            version: 1,
            encoding: Encoding::Identity,
            path,
            query: "",
        }
    }

    fn value(n: usize) -> Cached {
        Cached {
            body: Some(Bytes::from(vec![0u8; n])),
            etag: HeaderValue::from_static("\"x\""),
        }
    }

    #[test]
    fn a_stored_tile_is_found_under_its_exact_key_only() {
        let c = TileCache::new(1 << 20, None);
        c.insert(&key("/tiles/a/1/0/0.mvt"), value(10));
        assert!(c.get(&key("/tiles/a/1/0/0.mvt")).is_some());
        assert!(c.get(&key("/tiles/a/1/0/1.mvt")).is_none());
        let gz = TileKey {
            encoding: Encoding::Gzip,
            ..key("/tiles/a/1/0/0.mvt")
        };
        assert!(c.get(&gz).is_none(), "the encoding is part of the key");
        let v2 = TileKey {
            version: 2,
            ..key("/tiles/a/1/0/0.mvt")
        };
        assert!(c.get(&v2).is_none(), "the data version is part of the key");
    }

    #[test]
    fn the_cache_stays_within_its_byte_bound() {
        let c = TileCache::new(16 * 10_000, None);
        let paths: Vec<String> = (0..2_000)
            .map(|i| format!("/tiles/a/12/{i}/0.mvt"))
            .collect();
        for p in &paths {
            c.insert(&key(p), value(1_000));
        }
        let s = c.stats();
        assert!(s.bytes as usize <= 16 * 10_000, "{s:?}");
        assert!(s.entries > 50, "{s:?}");
    }

    #[test]
    fn a_zero_capacity_cache_stores_nothing() {
        let c = TileCache::new(0, None);
        c.insert(&key("/x"), value(1));
        assert!(c.get(&key("/x")).is_none());
    }

    #[test]
    fn a_newer_data_version_empties_the_cache() {
        let c = TileCache::new(1 << 20, None);
        c.observe_version(1);
        c.insert(&key("/x"), value(1));
        c.observe_version(1);
        assert!(c.get(&key("/x")).is_some());
        c.observe_version(2);
        assert_eq!(c.stats().entries, 0);
        assert!(c.get(&key("/x")).is_none());
    }

    #[test]
    fn recently_used_tiles_survive_eviction_longer() {
        let c = TileCache::new(16 * 5 * (1_000 + ENTRY_OVERHEAD + 20), None);
        let hot = "/tiles/hot";
        c.insert(&key(hot), value(1_000));
        for i in 0..200 {
            let _ = c.get(&key(hot));
            let p = format!("/tiles/cold/{i}");
            c.insert(&key(&p), value(1_000));
        }
        assert!(c.get(&key(hot)).is_some());
    }

    #[test]
    fn compression_round_trips() {
        use std::io::Read;
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let gz = Encoding::Gzip.compress(&raw);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        let br = Encoding::Brotli.compress(&raw);
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, raw);
        assert!(gz.len() < raw.len() / 4 && br.len() < raw.len() / 4);
    }
}
