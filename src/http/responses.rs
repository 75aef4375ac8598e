//! Finished responses of the aggregate endpoint, kept per data version: a whole-US layer is
//! megabytes of GeoJSON that take tens of milliseconds to write and compress, and the map
//! asks for the same few layers again and again. Entries of older data versions are
//! dropped as soon as a newer version is stored; the cache is rebuilt from the store.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::tiles::cache::Encoding;

/// Total size of the cached bodies; past it the cache starts again empty.
const BUDGET_BYTES: usize = 64 << 20;

/// The key: the response's ETag (data version and query) and its encoding.
pub type Key = (String, Encoding);

#[derive(Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    version: u64,
    bytes: usize,
    entries: HashMap<Key, (HeaderMap, Bytes)>,
}

impl ResponseCache {
    pub fn get(&self, key: &Key) -> Option<Response> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (headers, body) = inner.entries.get(key)?;
        let mut response = Response::new(Body::from(body.clone()));
        *response.headers_mut() = headers.clone();
        Some(response)
    }

    /// Stores a successful (200) response of data `version` (its body must be in memory already)
    /// and gives it back.
    pub async fn insert(&self, version: u64, key: Key, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return Response::from_parts(parts, Body::empty());
        };
        if parts.status == StatusCode::OK && bytes.len() <= BUDGET_BYTES / 8 {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if version > inner.version || inner.bytes + bytes.len() > BUDGET_BYTES {
                inner.entries.clear();
                inner.bytes = 0;
            }
            inner.version = inner.version.max(version);
            if version == inner.version {
                inner.bytes += bytes.len();
                inner
                    .entries
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
