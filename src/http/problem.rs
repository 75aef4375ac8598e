//! RFC 9457 problem details: every 4xx/5xx leaves the service as `application/problem+json`.
//! This is the one place where library errors become HTTP statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::error::Error;
use crate::ingest::IngestError;
use crate::store::StoreError;

/// A problem details body.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Extra members: the offending parameter, the valid codes, a row report…
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Problem {
        self.extra.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<&Error> for Problem {
    fn from(e: &Error) -> Problem {
        match e {
            Error::UnknownCode { param, source } => {
                Problem::new(StatusCode::BAD_REQUEST, e.to_string())
                    .with("parameter", param)
                    .with("valid", &source.valid)
            }
            Error::InvalidParam { param, .. } => {
                Problem::new(StatusCode::BAD_REQUEST, e.to_string()).with("parameter", param)
            }
            Error::NotFound(_) => Problem::new(StatusCode::NOT_FOUND, e.to_string()),
            Error::Ingest(IngestError::Store(s)) | Error::Store(s) => store_problem(s),
            Error::Ingest(other) => Problem::new(StatusCode::BAD_REQUEST, other.to_string()),
            Error::Internal(_) => internal(),
        }
    }
}

fn store_problem(e: &StoreError) -> Problem {
    match e {
        StoreError::NotWritable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database cannot be written (read-only or disk full); nothing was changed",
        ),
        _ => internal(),
    }
}

fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; it has been logged",
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = Problem::from(&self);
        if problem.status >= 500 {
            tracing::error!(error = %self, "request failed");
        }
        problem.into_response()
    }
}

/// An OpenAPI response whose body is a [`Problem`].
fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Declares an OpenAPI response set of problem bodies, for `responses(…)` of
/// `#[utoipa::path]` (the errors many operations share, written once).
macro_rules! problem_responses {
    ($($(#[$meta:meta])* $name:ident { $($status:literal => $description:literal),+ $(,)? })*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                BTreeMap::from([$(($status.to_string(), problem_response($description))),+])
            }
        }
    )*};
}

problem_responses! {
    /// 404: what the path names does not exist.
    NotFound { "404" => "No such resource (the detail names it)" }
    /// 409: an edit of a read-only place, or of an id that exists.
    Conflict { "409" => "A consular post (read-only), or the id exists" }
    /// 409 and 422: an edit refused.
    EditRefused {
        "409" => "A consular post (read-only), or the id exists",
        "422" => "A field is missing or invalid; `field` names it",
    }
}
