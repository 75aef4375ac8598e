//! Finished responses of the aggregate endpoint, kept per data version: a whole-US layer is
//! megabytes of GeoJSON that take tens of milliseconds to write and compress, and the map
//! asks for the same few layers again and again. A [`quick_cache`] cache weighed in bytes (64 MiB);
//! entries of older data versions are dropped as soon as a newer version is stored, and a
//! late response of an older version is not stored. Rebuilt from the store.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::tiles::cache::Encoding;

/// Total size of the cached bodies (and their headers).
const BUDGET_BYTES: u64 = 64 << 20;
/// A body larger than this share of the budget is not kept.
const MAX_SHARE: u64 = 8;
/// Counted per entry besides the body: the key and the headers.
const ENTRY_OVERHEAD: usize = 512;

/// The key: the response's ETag (data version and query) and its encoding.
pub type Key = (String, Encoding);

/// Weighs a stored response in bytes.
#[derive(Clone)]
struct ResponseWeight;

impl quick_cache::Weighter<Key, (HeaderMap, Bytes)> for ResponseWeight {
    fn weight(&self, (tag, _): &Key, (_, body): &(HeaderMap, Bytes)) -> u64 {
        (body.len() + tag.len() + ENTRY_OVERHEAD) as u64
    }
}

/// Responses are few and large: few shards, so that one shard's share of the budget still
/// holds the largest body allowed (1/[`MAX_SHARE`] of the whole).
const SHARDS: usize = 4;
/// A typical whole-layer response, to size the cache's table.
const TYPICAL_BYTES: u64 = 256 << 10;

pub struct ResponseCache {
    /// The newest data version stored.
    version: AtomicU64,
    entries: quick_cache::sync::Cache<Key, (HeaderMap, Bytes), ResponseWeight>,
}

impl Default for ResponseCache {
    fn default() -> Self {
        ResponseCache {
            version: AtomicU64::new(0),
            entries: quick_cache::sync::Cache::with_options(
                quick_cache::OptionsBuilder::new()
                    .estimated_items_capacity((BUDGET_BYTES / TYPICAL_BYTES) as usize)
                    .weight_capacity(BUDGET_BYTES)
                    .shards(SHARDS)
                    .build()
                    .expect("capacity and item estimate are set"),
                ResponseWeight,
                Default::default(),
                Default::default(),
            ),
        }
    }
}

impl ResponseCache {
    pub fn get(&self, key: &Key) -> Option<Response> {
        let (headers, body) = self.entries.get(key)?;
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = headers;
        Some(response)
    }

    /// Stores a successful (200) response of data `version` (its body must be in memory already)
    /// and gives it back.
    pub async fn insert(&self, version: u64, key: Key, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return Response::from_parts(parts, Body::empty());
        };
        if parts.status == StatusCode::OK && bytes.len() as u64 <= BUDGET_BYTES / MAX_SHARE {
            let seen = self.version.fetch_max(version, Ordering::AcqRel);
            if version > seen {
                self.entries.clear();
            }
            if version >= seen {
                self.entries
                    .insert(key, (parts.headers.clone(), bytes.clone()));
            }
        }
        Response::from_parts(parts, Body::from(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[tokio::test]
    async fn a_newer_version_drops_older_entries() {
        let cache = ResponseCache::default();
        let key = |q: &str| (q.to_string(), Encoding::Identity);
        cache.insert(1, key("a"), "one".into_response()).await;
        assert!(cache.get(&key("a")).is_some());
        cache.insert(2, key("b"), "two".into_response()).await;
        assert!(cache.get(&key("a")).is_none(), "version 1 is gone");
        let hit = cache.get(&key("b")).unwrap();
        let body = axum::body::to_bytes(hit.into_body(), 100).await.unwrap();
        assert_eq!(&body[..], b"two");
        // A late response of an older version is not stored.
        cache.insert(1, key("c"), "late".into_response()).await;
        assert!(cache.get(&key("c")).is_none());
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = ResponseCache::default();
        let key = ("e".to_string(), Encoding::Gzip);
        let r = (StatusCode::BAD_REQUEST, "no").into_response();
        assert_eq!(cache.insert(1, key.clone(), r).await.status(), 400);
        assert!(cache.get(&key).is_none());
    }
}
