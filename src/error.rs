//! The library's error type. Each layer has its own error (`StoreError`, `IngestError`, …);
//! they widen into [`Error`] here, and `http::problem` maps it once to an HTTP response.

use crate::codes::UnknownCode;
use crate::ingest::IngestError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 500 (503 when the database is not writable); details are logged, never sent.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 400/422 with the row report.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// 400 with the list of valid codes.
    #[error("invalid value for parameter {param}: {source}")]
    UnknownCode { param: String, source: UnknownCode },
    /// 400.
    #[error("invalid value for parameter {param}: {reason}")]
    InvalidParam { param: String, reason: String },
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// 500; a bug or an unexpected failure (e.g. a panicked worker task).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(param: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidParam {
            param: param.into(),
            reason: reason.into(),
        }
    }
}
