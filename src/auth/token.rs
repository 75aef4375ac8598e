//! Bearer tokens: `dya_<role>_<43 characters>`, the 43 characters being 32 random bytes from
//! the operating system in unpadded base64url.
//!
//! Only the SHA-256 digest of a token is stored. A slow password hash (Argon2, bcrypt) would
//! add nothing: those protect guessable passwords, and a token carries 256 random bits, so
//! finding one from its digest means a SHA-256 preimage. The role in the text is for people
//! reading logs and config files; the stored row is what grants it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::TryRngCore;
use sha2::{Digest as _, Sha256};

use super::Role;
use crate::store::{Store, StoreError};

/// Every token starts with this.
pub const PREFIX: &str = "dya_";
const SECRET_BYTES: usize = 32;
/// Unpadded base64url of [`SECRET_BYTES`].
const SECRET_CHARS: usize = 43;
/// Longest token name.
pub const MAX_NAME_CHARS: usize = 64;

pub use crate::store::{Digest, NewToken, TokenInfo};

/// Why a token, its name or its role was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "not a dyaspora token (expected {PREFIX}<role>_<{SECRET_CHARS} base64url characters>)"
    )]
    Malformed,
    #[error("a token's role is editor or admin")]
    BadRole,
    #[error("a token's name has 1 to {MAX_NAME_CHARS} characters and no control characters")]
    BadName,
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// SHA-256 of a token's text.
pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

/// A new token for `role`, from the operating system's random source.
///
/// # Errors
/// When `role` is public, or the operating system gives no random bytes.
pub fn generate(role: Role) -> Result<String, TokenError> {
    if role == Role::Public {
        return Err(TokenError::BadRole);
    }
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(format!(
        "{PREFIX}{}_{}",
        role.as_str(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Checks a token's shape and returns the role it names and its digest.
///
/// # Errors
/// [`TokenError::Malformed`] unless the text is `dya_editor_…` or `dya_admin_…` followed by
/// exactly 43 base64url characters.
pub fn parse(token: &str) -> Result<(Role, Digest), TokenError> {
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (role, secret) = rest.split_once('_').ok_or(TokenError::Malformed)?;
    let role = Role::of_token(role).ok_or(TokenError::Malformed)?;
    let ok = secret.len() == SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD
            .decode(secret)
            .is_ok_and(|b| b.len() == SECRET_BYTES);
    if !ok {
        return Err(TokenError::Malformed);
    }
    Ok((role, digest(token)))
}

/// Creates and stores a token for `role` named `name`; returns it with its text, which is
/// shown once and never stored. The store writes the audit entry in the same transaction.
///
/// # Errors
/// A bad name or role, or a store failure.
pub fn issue(
    store: &dyn Store,
    role: Role,
    name: &str,
    actor: &str,
) -> Result<(TokenInfo, String), TokenError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(TokenError::BadName);
    }
    let secret = generate(role)?;
    let new = NewToken {
        name: name.to_string(),
        role,
        digest: digest(&secret),
        created_by: actor.to_string(),
    };
    let id = store.create_token(&new)?;
    let info = store
        .tokens()?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| StoreError::Corrupt(format!("token {id} vanished after insert")))?;
    Ok((info, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_with_their_role() {
        let t = generate(Role::Admin).unwrap();
        assert!(t.starts_with("dya_admin_"), "{t}");
        assert_eq!(t.len(), "dya_admin_".len() + SECRET_CHARS);
        let (role, d) = parse(&t).unwrap();
        assert_eq!(role, Role::Admin);
        assert_eq!(d, digest(&t));
        assert_ne!(
            generate(Role::Admin).unwrap(),
            t,
            "two tokens are never equal"
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = generate(Role::Editor).unwrap();
        let secret = &good["dya_editor_".len()..];
        for bad in [
            String::new(),
            "dya_".into(),
            format!("dya_public_{secret}"),
            format!("dya_root_{secret}"),
            format!("dyb_editor_{secret}"),
            format!("dya_editor_{}", &secret[1..]),
            format!("dya_editor_{secret}A"),
            format!("dya_editor_{}=", &secret[..42]),
            format!("dya_editor_{}+", &secret[..42]),
            format!("dya_editor_{}é", &secret[..41]),
        ] {
            assert!(
                matches!(parse(&bad), Err(TokenError::Malformed)),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn public_tokens_do_not_exist() {
        assert!(matches!(generate(Role::Public), Err(TokenError::BadRole)));
    }

    #[test]
    fn names_must_be_short_and_printable() {
        let store = crate::store::SqliteStore::open_in_memory().unwrap();
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            assert!(
                matches!(
                    issue(&store, Role::Editor, bad, "test"),
                    Err(TokenError::BadName)
                ),
                "{bad:?}"
            );
        }
        let (info, _) = issue(&store, Role::Editor, "  Port-au-Prince office ", "test").unwrap();
        assert_eq!(info.name, "Port-au-Prince office");
        assert_eq!(info.created_by, "test");
    }
}
