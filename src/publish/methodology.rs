//! The figures of the methodology panel (`GET /api/v1/methodology`).

use serde_json::{json, Value};

use crate::aggregate::{compute, publish, Engine, Filter, Snapshot, Unit};
use crate::error::Error;

/// The published national count of `filter` (`None` when suppressed), perturbed as every
/// public figure is.
fn national_count(snap: &Snapshot, filter: &Filter, engine: &Engine) -> Result<Option<u64>, Error> {
    let layer = publish(
        compute(snap, Unit::State, filter, engine.min_count())?,
        engine.noise(),
    );
    Ok(layer
        .national_properties(&[], None)
        .get("count")
        .and_then(Value::as_u64))
}

fn month_name(m: u32) -> String {
    format!("{:04}-{:02}", m / 12, m % 12 + 1)
}

/// The methodology figures: how many records, in which survey rounds and months, the
/// minimum published count and the perturbation's parameters. Every count is a national
/// figure of a privacy-checked layer; a round's first and last months are the months whose
/// published count is not zero.
///
/// # Errors
/// A failed layer computation (none is expected: every filter here is valid).
pub fn figures(snap: &Snapshot, engine: &Engine) -> Result<Value, Error> {
    let k = engine.min_count();
    let records = national_count(snap, &Filter::default(), engine)?;
    let mut rounds = Vec::new();
    for (r, name) in snap.rounds.iter().enumerate() {
        // Round names are codes since imports check them; a database written before may
        // hold others (free text, commas): those are not published, and nothing stored
        // may make this public page fail.
        if !crate::ingest::validate::is_round_code(name) {
            tracing::warn!(
                round = r,
                "a stored survey round name is not a code: left out of the methodology"
            );
            continue;
        }
        match round_summary(snap, r, name, engine) {
            Ok(round) => rounds.push(round),
            Err(e) => {
                tracing::warn!(round = name, error = %e, "survey round left out of the methodology")
            }
        }
    }
    let noise = engine.noise();
    let p = noise.params;
    Ok(json!({
        "data_version": snap.data_version,
        "release": snap.data_version,
        "min_count": k,
        "records": records,
        "rounds": rounds,
        "perturbation": {
            "method": "cell-key",
            "max": p.max,
            "variance": p.variance,
            "never": (1..=p.small).collect::<Vec<u32>>(),
            "total_share": p.magnitude,
            "median_share": p.median,
            "release_interval_hours": engine.release_interval().as_secs() / 3600,
        },
    }))
}

/// A survey round's published count and its first and last months with a published count.
fn round_summary(snap: &Snapshot, r: usize, name: &str, engine: &Engine) -> Result<Value, Error> {
    let filter = |extra: &[(&str, &str)]| {
        Filter::from_params([("round", name)].into_iter().chain(extra.iter().copied()))
    };
    let count = national_count(snap, &filter(&[])?, engine)?;
    // Candidate months come from the snapshot; only those with a published count show.
    let mut months: Vec<u32> = (0..snap.len())
        .filter(|&i| usize::from(snap.round[i]) == r)
        .map(|i| snap.month[i])
        .collect();
    months.sort_unstable();
    months.dedup();
    let mut published = Vec::new();
    for m in months {
        let ym = month_name(m);
        if national_count(snap, &filter(&[("from", &ym), ("to", &ym)])?, engine)?
            .is_some_and(|n| n > 0)
        {
            published.push(ym);
        }
    }
    Ok(json!({
        "name": name,
        "count": count,
        "first_month": published.first(),
        "last_month": published.last(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_print_as_year_and_month() {
        assert_eq!(month_name(2025 * 12), "2025-01");
        assert_eq!(month_name(2026 * 12 + 11), "2026-12");
    }
}
