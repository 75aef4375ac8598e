//! Access control: who may call what.
//!
//! Three roles, ordered: the **public** (no token) sees aggregates, tiles, places and codes;
//! an **editor** also imports records and edits places; an **admin** also exports and
//! erases records, reads the audit log and manages tokens. A route's role is that of the
//! router it is mounted on (`http::access`); the HTTP guard (`http::guard`) enforces it.
//!
//! Tokens ([`token`]) are created and revoked with `dyaspora token …` ([`cli`]), shown once,
//! stored as SHA-256 digests and compared in constant time. [`Auth`] keeps the stored
//! tokens in memory so that checking one never waits for the database.

pub mod cli;
pub(crate) mod routes;
pub mod token;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use subtle::ConstantTimeEq;

pub use crate::store::{Digest, NewToken, Role, TokenInfo};
use crate::store::{Store, StoreError};
pub use routes::{Class, Rule};

/// The caller behind a valid token; handlers find it in the request's extensions and name it
/// in the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        format!("token {} ({})", self.token_id, self.name)
    }
}

/// The outcome of checking a well-formed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid(Principal),
    Revoked,
    Unknown,
}

/// Tokens older than this in memory are reloaded before the next check, so a token revoked
/// from the command line stops working within this delay.
pub const RELOAD_AFTER: Duration = Duration::from_secs(2);
/// An unknown token triggers a reload (a token just created by the CLI) at most this often.
const MISS_RELOAD_EVERY: Duration = Duration::from_millis(500);

/// The stored tokens, held in memory.
pub struct Auth {
    tokens: ArcSwap<Vec<TokenInfo>>,
    loaded_at: Mutex<Option<Instant>>,
    miss_reload_at: Mutex<Option<Instant>>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth::new()
    }
}

impl Auth {
    /// An empty set; the first check loads the tokens.
    pub fn new() -> Auth {
        Auth {
            tokens: ArcSwap::from_pointee(Vec::new()),
            loaded_at: Mutex::new(None),
            miss_reload_at: Mutex::new(None),
        }
    }

    /// Replaces the tokens in memory with the stored ones.
    ///
    /// # Errors
    /// When the store cannot be read (the previous tokens stay in use).
    pub fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let tokens = store.tokens()?;
        self.tokens.store(std::sync::Arc::new(tokens));
        *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(())
    }

    /// Whether the tokens in memory are older than [`RELOAD_AFTER`] (or were never loaded).
    pub fn is_stale(&self) -> bool {
        self.loaded_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|t| t.elapsed() >= RELOAD_AFTER)
    }

    /// Whether an unknown token may trigger a reload now (and records that it does).
    pub fn take_miss_reload(&self) -> bool {
        let mut at = self
            .miss_reload_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if at.is_some_and(|t| t.elapsed() < MISS_RELOAD_EVERY) {
            return false;
        }
        *at = Some(Instant::now());
        true
    }

    /// Looks a token digest up. Every stored digest is compared, each in constant time, so
    /// the time taken says nothing about how close a guess was.
    pub fn check(&self, digest: &Digest) -> Verdict {
        let tokens = self.tokens.load();
        let mut found: Option<&TokenInfo> = None;
        for t in tokens.iter() {
            if bool::from(t.digest.ct_eq(digest)) {
                found = Some(t);
            }
        }
        match found {
            None => Verdict::Unknown,
            Some(t) if t.revoked_at.is_some() => Verdict::Revoked,
            Some(t) => Verdict::Valid(Principal {
                token_id: t.id,
                name: t.name.clone(),
                role: t.role,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn roles_are_ordered_public_editor_admin() {
        assert!(Role::Public < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!(Role::of_token("admin"), Some(Role::Admin));
        assert_eq!(Role::of_token("public"), None);
    }

    #[test]
    fn a_stored_token_is_valid_until_revoked() {
        let store = SqliteStore::open_in_memory().unwrap();
        let (info, secret) = token::issue(&store, Role::Editor, "field team", "test").unwrap();
        let auth = Auth::new();
        assert!(auth.is_stale());
        auth.reload(&store).unwrap();
        assert!(!auth.is_stale());
        let (_, digest) = token::parse(&secret).unwrap();
        let Verdict::Valid(p) = auth.check(&digest) else {
            panic!("token should be valid")
        };
        assert_eq!(
            (p.token_id, p.name.as_str(), p.role),
            (info.id, "field team", Role::Editor)
        );
        assert!(store.revoke_token(info.id, "test").unwrap());
        auth.reload(&store).unwrap();
        assert_eq!(auth.check(&digest), Verdict::Revoked);
        assert_eq!(
            auth.check(&token::digest("dya_editor_other")),
            Verdict::Unknown
        );
    }

    #[test]
    fn unknown_tokens_reload_at_most_every_half_second() {
        let auth = Auth::new();
        assert!(auth.take_miss_reload());
        assert!(!auth.take_miss_reload());
    }
}
