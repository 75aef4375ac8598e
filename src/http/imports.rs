//! `POST /api/v1/imports` (editor): the CLI's import over HTTP. The body is the CSV or XLSX
//! file itself, read as a stream up to the import limit (`--max-import-mb`); the answer is
//! the same row report as `dyaspora import --json`.
//!
//! | query | meaning |
//! |---|---|
//! | `name` | file name kept with the batch (default `upload`; no path, at most 200 characters) |
//! | `dry_run` | `true` validates and reports without writing |
//! | `on_error` | `reject` (default: any invalid row writes nothing) or `skip` |
//! | `round` | survey round of rows that do not name one (a code, `ingest::validate::is_round_code`) |
//!
//! 200 with the report when written (or a clean dry run); 422 problem with the report when
//! rows are invalid under `reject`; 400 when the file is unreadable or lacks a column; 413
//! above the limit; 503 when the database cannot be written. Idempotent: records whose
//! external id is stored are counted as duplicates, so sending a file again writes nothing
//! new. A batch is written in one transaction: a 200 means it is on disk, anything else
//! means none of it is. The aggregates and tiles show it when the 200 is sent.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http_body_util::BodyExt;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::guard::too_large;
use super::problem::Problem;
use crate::audit::{Action, NewEvent};
use crate::auth::Principal;
use crate::config::OnError;
use crate::error::Error;
use crate::http::AppState;
use crate::ingest::{self, ImportOptions, ImportReport};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(import))
}

const PARAMS: [&str; 4] = ["name", "dry_run", "on_error", "round"];
/// Longest upload name kept.
const MAX_NAME_CHARS: usize = 200;

/// The import's parameters, checked.
#[derive(Debug)]
struct Params {
    name: String,
    options: ImportOptions,
}

fn parse_params(pairs: &[(String, String)]) -> Result<Params, Error> {
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !PARAMS.contains(&k.as_str())) {
        return Err(Error::invalid(
            k,
            format!(
                "unknown parameter; this endpoint accepts {}",
                PARAMS.join(", ")
            ),
        ));
    }
    let get = |name: &str| super::param(pairs, name);
    let name = get("name").unwrap_or("upload").trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\'))
        || name == "."
        || name == ".."
    {
        return Err(Error::invalid(
            "name",
            format!("give a file name of 1 to {MAX_NAME_CHARS} characters, without a path or control characters"),
        ));
    }
    let dry_run = match get("dry_run") {
        None | Some("false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(other) => {
            return Err(Error::invalid(
                "dry_run",
                format!("{other:?}: use true or false"),
            ))
        }
    };
    let on_error = match get("on_error") {
        None | Some("reject") => OnError::Reject,
        Some("skip") => OnError::Skip,
        Some(other) => {
            return Err(Error::invalid(
                "on_error",
                format!("{other:?}: use reject or skip"),
            ))
        }
    };
    let default_round = match get("round").map(str::trim) {
        None => "default".to_string(),
        Some(r) if crate::ingest::validate::is_round_code(r) => r.to_string(),
        Some(_) => {
            return Err(Error::invalid(
                "round",
                crate::ingest::validate::round_code_problem(),
            ))
        }
    };
    Ok(Params {
        name: name.to_string(),
        options: ImportOptions {
            dry_run,
            on_error,
            default_round,
            progress: false,
        },
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "imports",
    summary = "Import a CSV or XLSX file (KoboToolbox exports accepted); the CLI's row report",
    description = "Idempotent: records whose external id is stored count as duplicates. One transaction: a 200 means the batch is on disk, anything else means none of it is.",
    params(super::params::ImportQuery),
    request_body(description = "The file itself", content(
        ("text/csv"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("application/octet-stream"),
    )),
    responses(
        (status = 200, description = "Written (or a clean dry run): the row report", body = serde_json::Value),
        (status = 422, description = "Rows are invalid under `on_error=reject`; nothing was written; `report` says why", body = ref("#/components/schemas/Problem"), content_type = "application/problem+json"),
    ),
)]
pub(super) async fn import(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: super::query::Params<super::params::ImportQuery>,
    body: Body,
) -> Result<Response, Error> {
    let pairs = query.pairs();
    let Params { name, options } = parse_params(&pairs)?;
    // One import at a time: each holds its file and records in memory.
    let _turn = state.guard.imports.lock().await;
    let bytes = match read_body(body, state.guard.max_import_bytes).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    if bytes.is_empty() {
        return Err(Error::invalid(
            "body",
            "empty: send the CSV or XLSX file as the request body",
        ));
    }
    let store = state.store.clone();
    let (n, opts) = (name.clone(), options.clone());
    let report = tokio::task::spawn_blocking(move || {
        ingest::import_bytes(store.as_ref(), &n, &bytes, &opts)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;

    if let Some(outcome) = &report.outcome {
        tracing::info!(batch = outcome.batch_id, inserted = outcome.inserted, by = %principal.actor(), "import written");
        audit(&state, &principal, &report).await;
        if outcome.inserted > 0 {
            refresh(&state).await;
        }
    }
    if report.rejected() {
        let detail = format!(
            "{} row(s) have problems and on_error is reject: nothing was written. Fix them and send the file again, or \
             send it with on_error=skip to write the {} valid row(s).",
            report.rows_rejected, report.rows_valid
        );
        return Ok(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
            .with("report", &report)
            .into_response());
    }
    let mut body = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    if let (Some(outcome), serde_json::Value::Object(map)) = (&report.outcome, &mut body) {
        map.insert("publication".into(), publication(&state, outcome).await?);
    }
    Ok(Json(body).into_response())
}

/// When the imported records reach the public figures: in the current release already, or
/// with the next one, cut once the release interval has passed (`PRIVACY.md`, Releases).
async fn publication(
    state: &AppState,
    outcome: &crate::store::BatchOutcome,
) -> Result<serde_json::Value, Error> {
    let store = state.store.clone();
    let release = tokio::task::spawn_blocking(move || store.latest_release())
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let interval = state.engine.release_interval().as_secs() as i64;
    let at = |unix: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    Ok(match release {
        Some(r) => serde_json::json!({
            "release": r.id,
            "published": r.data_version >= outcome.data_version,
            "next_release_from": at(r.cut_at.saturating_add(interval)),
        }),
        None => serde_json::json!({ "release": null, "published": false }),
    })
}

/// Reads the upload, at most `limit` bytes (the guard's limit enforces it too).
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, Response> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if is_length_limit(&e) {
                too_large(limit)
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "the upload was interrupted before its end",
                )
                .into_response()
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

async fn audit(state: &AppState, principal: &Principal, report: &ImportReport) {
    let Some(o) = &report.outcome else { return };
    let event = NewEvent {
        actor: principal.actor(),
        action: Action::Import,
        target: format!("batch {}", o.batch_id),
        detail: serde_json::json!({
            "source_name": report.source_name,
            "sha256": report.sha256,
            "rows_total": report.rows_total,
            "inserted": o.inserted,
            "duplicates": o.duplicates,
            "rejected": report.rows_rejected,
            "refused": report.rows_refused,
            "data_version": o.data_version,
        }),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.append_audit(&event)).await {
        Ok(Ok(_)) => {}
        // The batch is committed (its import_batches row is the trace): report, do not fail.
        Ok(Err(e)) => {
            tracing::error!(error = %e, batch = o.batch_id, "import written but not audited")
        }
        Err(e) => tracing::error!(error = %e, "audit append panicked"),
    }
}

/// Rebuilds the snapshot now, so the next request sees the change (tile caches are keyed by
/// the data version).
pub(super) async fn refresh(state: &AppState) {
    let (engine, store) = (state.engine.clone(), state.store.clone());
    match tokio::task::spawn_blocking(move || engine.refresh(store.as_ref())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "snapshot refresh after a write failed"),
        Err(e) => tracing::error!(error = %e, "snapshot refresh panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::publish::request::pairs_of as pairs;

    #[test]
    fn defaults_are_the_cli_defaults() {
        let p = parse_params(&[]).unwrap();
        assert_eq!(p.name, "upload");
        assert!(!p.options.dry_run);
        assert_eq!(p.options.on_error, OnError::Reject);
        assert_eq!(p.options.default_round, "default");
    }

    #[test]
    fn names_with_paths_are_refused() {
        for bad in [
            "../../etc/passwd",
            "a/b.csv",
            "C:\\x.csv",
            "..",
            "",
            "a\u{0}b",
            &"x".repeat(201),
        ] {
            assert!(parse_params(&pairs(&[("name", bad)])).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_params(&pairs(&[("name", "kobo 2026.xlsx")]))
                .unwrap()
                .name,
            "kobo 2026.xlsx"
        );
    }

    #[test]
    fn unknown_parameters_and_values_are_refused() {
        assert!(parse_params(&pairs(&[("dryrun", "1")])).is_err());
        assert!(parse_params(&pairs(&[("on_error", "ignore")])).is_err());
        assert!(parse_params(&pairs(&[("dry_run", "maybe")])).is_err());
        let p = parse_params(&pairs(&[
            ("dry_run", "true"),
            ("on_error", "skip"),
            ("round", "2026-A"),
        ]))
        .unwrap();
        assert!(p.options.dry_run);
        assert_eq!(p.options.on_error, OnError::Skip);
        assert_eq!(p.options.default_round, "2026-A");
        for bad in ["a,b", "", " ", "<b>", "-a", &"r".repeat(41)] {
            assert!(parse_params(&pairs(&[("round", bad)])).is_err(), "{bad:?}");
        }
    }
}
