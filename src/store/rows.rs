//! The rows the store reads and writes that other modules work with: places, API tokens
//! and roles. Plain data; what they mean (catchments, access rules) belongs to `places` and
//! `auth`, which re-export them and add their own methods.

use serde::{Deserialize, Serialize};

/// A consular post or an association. Coordinates are WGS84 degrees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Stable id, e.g. `HT-CON-MIA` or `assoc-0042`.
    pub id: String,
    /// A `place_kind` code.
    pub kind: String,
    pub name: String,
    pub city: String,
    /// USPS state code.
    pub state: String,
    pub lat: f64,
    pub lon: f64,
    /// ISIC sections the place focuses on (associations).
    #[serde(default)]
    pub sectors: Vec<String>,
    /// `language` codes the place works in.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Synthetic demo data, never to be mistaken for a real organisation.
    #[serde(default)]
    pub is_demo: bool,
}

/// What a caller may do; each role may do everything the roles below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// No token: aggregates, tiles, places, codes, the web page.
    #[value(skip)]
    Public,
    /// Imports records, edits places.
    Editor,
    /// Exports and erases records, reads the audit log, manages tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The role of a token (`editor` or `admin`); `public` is no token at all.
    pub fn of_token(s: &str) -> Option<Role> {
        match s {
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SHA-256 of a token's text.
pub type Digest = [u8; 32];

/// A token as stored (its digest, never its text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// UTC, ISO 8601.
    pub created_at: String,
    /// Who created it (`cli:<user>`).
    pub created_by: String,
    /// UTC, ISO 8601; `None` while the token is valid.
    pub revoked_at: Option<String>,
    #[serde(skip)]
    pub digest: Digest,
}

/// A token to store.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub digest: Digest,
    pub created_by: String,
}
