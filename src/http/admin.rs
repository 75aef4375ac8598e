//! The admins' endpoints: the only ones that touch single records.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/records` | every record as a Kobo-shaped CSV (re-importable), audited before it is sent |
//! | `DELETE /api/v1/records/{external_id}` | erase a record: gone from every aggregate and tile when the answer comes |
//! | `GET /api/v1/audit?limit=&before=` | the audit log, newest first |
//! | `GET /api/v1/tokens` | the tokens (never their text) |
//! | `DELETE /api/v1/tokens/{id}` | revoke a token, at once |
//!
//! The export neutralises spreadsheet formulas: a cell that starts with `=`, `+`, `-`, `@`,
//! tab or carriage return and is not a number gets a leading `'`, so that a survey answer
//! like `=cmd|' /C calc'!A0` stays text when the file is opened in a spreadsheet.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::guard;
use super::imports::refresh;
use super::problem::Problem;
use crate::audit::{Action, NewEvent, MAX_PAGE};
use crate::auth::Principal;
use crate::error::Error;
use crate::http::AppState;
use crate::record::Record;

/// The record export, metered as an expensive route (see `http::access`).
pub fn export_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(export))
}

/// The other admin endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(erase))
        .routes(routes!(audit_log))
        .routes(routes!(tokens))
        .routes(routes!(revoke))
}

use super::params::AuditQuery;
use super::query::{NoParams, Params};

/// The parameters given, already checked by the typed query.
fn pairs<T: serde::Serialize>(query: Params<T>) -> Vec<(String, String)> {
    query.pairs()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// `GET /api/v1/records`: the audit entry is written first; if it cannot be, nothing is sent.
#[utoipa::path(
    get,
    path = "/api/v1/records",
    tag = "admin",
    summary = "Every record as a Kobo-shaped CSV (re-importable), audited before it is sent",
    description = "Spreadsheet formulas are neutralised (a leading `'`). `Cache-Control: no-store`. Never publish this file (PRIVACY.md).",
    responses((status = 200, description = "The records", body = String, content_type = "text/csv")),
)]
pub(super) async fn export(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    _no_params: Params<NoParams>,
) -> Result<Response, Error> {
    let store = state.store.clone();
    let (csv, count, version) = blocking(move || {
        let version = store.data_version()?;
        let count = store.record_count()?;
        store.append_audit(&NewEvent {
            actor: who.actor(),
            action: Action::Export,
            target: "records".into(),
            detail: json!({ "records": count, "data_version": version, "format": "csv" }),
        })?;
        let mut records: Vec<Record> = Vec::with_capacity(count as usize);
        store.load_records(&mut |r| records.push(r))?;
        let mut raw = Vec::with_capacity(records.len() * 320);
        crate::ingest::write_kobo_csv(&records, &mut raw)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let csv = neutralise_formulas(&raw, b';').map_err(|e| Error::Internal(e.to_string()))?;
        Ok((csv, records.len(), version))
    })
    .await?;
    tracing::info!(records = count, "records exported");
    let disposition = format!("attachment; filename=\"dyaspora-records-v{version}.csv\"");
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// Rewrites a CSV so that no cell is read as a formula by a spreadsheet.
///
/// # Errors
/// When `csv` is not valid CSV.
pub fn neutralise_formulas(csv: &[u8], delimiter: u8) -> Result<Vec<u8>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(csv);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::with_capacity(csv.len()));
    let mut record = csv::ByteRecord::new();
    let mut out = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        out.clear();
        for field in &record {
            out.push_field(&super::spreadsheet::formula_safe_bytes(field));
        }
        writer.write_byte_record(&out)?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// `DELETE /api/v1/records/{external_id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/records/{external_id}",
    tag = "admin",
    summary = "Erase a record: gone from every aggregate and tile when the answer comes",
    params(("external_id" = String, Path, description = "The record's external id (`_uuid`)")),
    responses(
        (status = 200, description = "Erased", body = serde_json::Value),
        (status = 404, description = "No such record", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn erase(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(external_id): Path<String>,
    _no_params: Params<NoParams>,
) -> Result<Response, Error> {
    let store = state.store.clone();
    let id = external_id.clone();
    let erased = blocking(move || Ok(store.erase_record(&id, &who.actor())?)).await?;
    let Some(version) = erased else {
        return Err(Error::NotFound(format!(
            "record with external id {external_id:?}"
        )));
    };
    tracing::info!(data_version = version, "record erased");
    refresh(&state).await;
    Ok(Json(json!({ "erased": external_id, "data_version": version })).into_response())
}

/// `GET /api/v1/audit`: newest first, `limit` entries (default 100, at most 1000) with ids
/// below `before`; `next` continues.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "admin",
    summary = "The audit log, newest first; `next` continues",
    params(AuditQuery),
    responses((status = 200, description = "A page of events", body = serde_json::Value)),
)]
pub(super) async fn audit_log(
    State(state): State<AppState>,
    query: Params<AuditQuery>,
) -> Result<Response, Error> {
    let pairs = pairs(query);
    let get = |name: &str| super::param(&pairs, name);
    let limit = match get("limit") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| Error::invalid("limit", format!("{v:?}: give 1 to {MAX_PAGE}")))?,
    };
    let before = match get("before") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::invalid("before", format!("{v:?}: give an entry id")))?,
        ),
    };
    let store = state.store.clone();
    let events = blocking(move || Ok(store.audit_log(before, limit)?)).await?;
    let next = (events.len() == limit)
        .then(|| {
            events
                .last()
                .map(|e| format!("/api/v1/audit?limit={limit}&before={}", e.id))
        })
        .flatten();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "events": events, "next": next })),
    )
        .into_response())
}

/// `GET /api/v1/tokens`.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "admin",
    summary = "The tokens (never their text)",
    responses((status = 200, description = "The tokens", body = serde_json::Value)),
)]
pub(super) async fn tokens(
    State(state): State<AppState>,
    _no_params: Params<NoParams>,
) -> Result<Response, Error> {
    let store = state.store.clone();
    let tokens = blocking(move || Ok(store.tokens()?)).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "tokens": tokens })),
    )
        .into_response())
}

/// `DELETE /api/v1/tokens/{id}`: the token stops working with this answer.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "admin",
    summary = "Revoke a token, at once",
    params(("id" = i64, Path, minimum = 1, description = "The token id")),
    responses(
        (status = 200, description = "Revoked", body = serde_json::Value),
        (status = 404, description = "No valid token with this id", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    _no_params: Params<NoParams>,
) -> Result<Response, Error> {
    let id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::invalid("id", format!("{id:?} is not a token id")))?;
    let store = state.store.clone();
    let revoked = blocking(move || Ok(store.revoke_token(id, &who.actor())?)).await?;
    if !revoked {
        return Ok(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no valid token with id {id}"),
        )
        .into_response());
    }
    guard::reload(&state).await;
    Ok(Json(json!({ "revoked": id })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        let csv = b"a;b;c;d\n=cmd|' /C calc'!A0;-73.95;@SUM(A1);+1\n\"-2+3\";\"\tx\";=1+1;plain\n";
        let out = String::from_utf8(neutralise_formulas(csv, b';').unwrap()).unwrap();
        assert_eq!(
            out,
            "a;b;c;d\n'=cmd|' /C calc'!A0;-73.95;'@SUM(A1);+1\n'-2+3;'\tx;'=1+1;plain\n"
        );
    }

    #[test]
    fn quoted_delimiters_survive_neutralisation() {
        let csv = b"x;y\n\"=a;b\";\"c\"\"d\"\n";
        let out = String::from_utf8(neutralise_formulas(csv, b';').unwrap()).unwrap();
        assert_eq!(out, "x;y\n\"'=a;b\";\"c\"\"d\"\n");
    }
}
