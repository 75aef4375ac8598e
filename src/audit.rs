//! The audit log: who imported, exported or erased records, and who created or revoked a
//! token, and when. Append-only: the store refuses `UPDATE` and `DELETE` on it (SQLite
//! triggers), and admins read it at `GET /api/v1/audit`.
//!
//! Changes and their entry are written in one transaction where the store makes the change
//! itself (erasures, tokens). Imports go through `Store::import_batch`, so their entry
//! follows the batch's commit; `import_batches` keeps every batch regardless.

use serde::Serialize;
use serde_json::Value;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    #[serde(rename = "import")]
    Import,
    #[serde(rename = "export")]
    Export,
    #[serde(rename = "erase")]
    Erase,
    #[serde(rename = "token.create")]
    TokenCreate,
    #[serde(rename = "token.revoke")]
    TokenRevoke,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::Export => "export",
            Action::Erase => "erase",
            Action::TokenCreate => "token.create",
            Action::TokenRevoke => "token.revoke",
        }
    }
}

/// An entry to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Who: `token 3 (field team)`, `cli:root`.
    pub actor: String,
    pub action: Action,
    /// What: `batch 12`, `record <external id>`, `token 3`, `records`.
    pub target: String,
    /// Figures and names (JSON object): rows inserted, the file's SHA-256…
    pub detail: Value,
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: i64,
    /// UTC, ISO 8601 with milliseconds.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
}

/// Most entries one page of `GET /api/v1/audit` returns.
pub const MAX_PAGE: usize = 1000;
