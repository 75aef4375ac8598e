//! Cell-key perturbation, the method of the Australian Bureau of Statistics' TableBuilder and
//! of the UK's Census 2021 custom datasets: every published count is its true count plus a
//! small noise read from a perturbation table by (count, cell key), where the cell key is
//! the sum, modulo 256, of the keys of the records in the cell. The same records always give
//! the same answer, however the cell is asked for; differences between cells that share
//! records carry independent-looking noise, so differencing recovers a hidden count only
//! when the noises happen to cancel. `PRIVACY.md` states the guarantees.
//!
//! The table follows the ONS package `cell-key-perturbation` (PyPI, MIT): rows for cell
//! values (`pcv`) 1–750 and cell keys 0–255; a count above 750 reads row
//! `((count − 1) mod 250) + 501`; a zero stays zero. `tests/py/test_perturbation.py` checks
//! that the ONS code gives the same counts from the same record keys and table.

use sha2::{Digest, Sha256};

use super::group::RemitStats;
use super::tally::{Tally, NDIM, RA};

/// Cell keys are sums of record keys modulo this (the ONS package's `ckey.max() + 1`).
pub const KEYS: usize = 256;
/// The table's rows: cell values 1 to this; larger counts reuse the last [`PERIOD`] rows.
pub const MAX_PCV: u32 = 750;
const PERIOD: u32 = 250;

/// The perturbation's parameters (`--noise-*` flags).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct NoiseParams {
    /// The largest perturbation of a count, D (ABS: "maximum perturbation").
    pub max: u32,
    /// The variance of the perturbation of counts away from zero, V.
    pub variance: f64,
    /// Counts from 1 to this never appear after perturbation (ABS: "js").
    pub small: u32,
    /// The magnitude of the noise on remittance totals, as a share of the cell's largest
    /// single amount: the noise is between half and all of it, up or down.
    pub magnitude: f64,
    /// The same for medians, as a share of the median.
    pub median: f64,
}

impl Default for NoiseParams {
    fn default() -> Self {
        NoiseParams {
            max: 3,
            variance: 1.5,
            small: 2,
            magnitude: 0.1,
            median: 0.05,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NoiseError {
    #[error("the noise variance must be above 0 and below {limit} (a uniform spread over ±{max})")]
    Variance { limit: f64, max: u32 },
    #[error("the largest perturbation must be 1 to 20")]
    Max,
    #[error("with a largest perturbation of {max}, a count of {count} cannot avoid 1 to {small} without bias")]
    Small { max: u32, small: u32, count: u32 },
    #[error("the magnitude shares must be within 0 to 0.5")]
    Magnitude,
}

/// The perturbation table: `rows[pcv][ckey]` is the noise added to a count of `pcv` (row 0,
/// for a count of zero, is all zeros).
pub struct PTable {
    pub params: NoiseParams,
    rows: Vec<[i8; KEYS]>,
}

impl PTable {
    /// The table for `params`: for each count, the noise distribution over −D…D (never a
    /// result below 0 or from 1 to `small`) with mean 0 and, away from zero, variance V,
    /// laid over the 256 cell keys by its quantiles.
    ///
    /// # Errors
    /// Parameters for which no such table exists.
    pub fn new(params: NoiseParams) -> Result<PTable, NoiseError> {
        if !(1..=20).contains(&params.max) {
            return Err(NoiseError::Max);
        }
        let d = params.max as i32;
        let limit = f64::from(d * (d + 1)) / 3.0;
        if !(params.variance > 0.0 && params.variance < limit) {
            return Err(NoiseError::Variance {
                limit,
                max: params.max,
            });
        }
        if !(0.0..=0.5).contains(&params.magnitude) || !(0.0..=0.5).contains(&params.median) {
            return Err(NoiseError::Magnitude);
        }
        let lambda = spread_for_variance(d, params.variance);
        let mut rows = vec![[0i8; KEYS]];
        for pcv in 1..=MAX_PCV {
            let c = pcv as i32;
            let outcomes: Vec<i32> = ((c - d).max(0)..=c + d)
                .filter(|&o| o == 0 || o > params.small as i32)
                .collect();
            let probs = unbiased(&outcomes, c, lambda).ok_or(NoiseError::Small {
                max: params.max,
                small: params.small,
                count: pcv,
            })?;
            rows.push(quantiles(&outcomes, &probs, c));
        }
        Ok(PTable { params, rows })
    }

    /// The noise for a count with this cell key.
    #[inline]
    pub fn noise(&self, count: u32, ckey: u8) -> i32 {
        let pcv = if count <= MAX_PCV {
            count
        } else {
            (count - 1) % PERIOD + (MAX_PCV - PERIOD + 1)
        };
        i32::from(self.rows[pcv as usize][ckey as usize])
    }

    /// The published value of a count with this cell key.
    #[inline]
    pub fn perturb(&self, count: u32, ckey: u8) -> u32 {
        (count as i64 + i64::from(self.noise(count, ckey))).max(0) as u32
    }

    /// The table in the ONS package's layout (`pcv,ckey,pvalue`), rows 1–750.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("pcv,ckey,pvalue\n");
        for (pcv, row) in self.rows.iter().enumerate().skip(1) {
            for (ckey, v) in row.iter().enumerate() {
                out.push_str(&format!("{pcv},{ckey},{v}\n"));
            }
        }
        out
    }

    /// Each count's noise mean, variance and range over the cell keys (`count,mean,variance,
    /// min,max`), counts 1–750.
    pub fn summary_csv(&self) -> String {
        let mut out = String::from("count,mean,variance,min,max\n");
        for count in 1..=MAX_PCV {
            let (mean, var) = self.moments(count);
            let row = &self.rows[count as usize];
            let (lo, hi) = (row.iter().min(), row.iter().max());
            let (lo, hi) = (lo.copied().unwrap_or(0), hi.copied().unwrap_or(0));
            out.push_str(&format!("{count},{mean:.4},{var:.4},{lo},{hi}\n"));
        }
        out
    }

    /// The mean and variance of the noise of a count, over the cell keys.
    pub fn moments(&self, count: u32) -> (f64, f64) {
        let values: Vec<f64> = (0..KEYS)
            .map(|k| f64::from(self.noise(count, k as u8)))
            .collect();
        let mean = values.iter().sum::<f64>() / KEYS as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / KEYS as f64;
        (mean, var)
    }

    /// The published remittance total (cents) of a cell: magnitude noise proportional to the
    /// cell's largest single amount, its sign and size from the cell key of the amounts.
    pub fn perturb_total(&self, total_cents: i64, top1_cents: i64, ckey: u8) -> i64 {
        let share = self.params.magnitude * magnitude_factor(ckey, 0x9E);
        (total_cents as f64 + share * top1_cents as f64).round() as i64
    }

    /// The published median (cents): moved by a share of itself, from the same cell key.
    pub fn perturb_median(&self, median_cents: i64, ckey: u8) -> i64 {
        let share = self.params.median * magnitude_factor(ckey, 0x3B);
        (median_cents as f64 * (1.0 + share)).round() as i64
    }

    /// Replaces a tally's counts, and its remittance figures, by their published values.
    pub fn perturb_tally(&self, t: &mut Tally, stats: &mut RemitStats) {
        let ra_key = t.key[RA];
        t.remit_cents = self.perturb_total(t.remit_cents, stats.top1, ra_key);
        stats.median_cents = stats.median_cents.map(|m| self.perturb_median(m, ra_key));
        for d in 0..NDIM {
            t.d[d] = self.perturb(t.d[d], t.key[d]);
        }
    }
}

/// A factor in ±[0.5, 1] from a cell key: the key mixed by a bijection of 0–255 (so that
/// it is not the count's noise read again), its low bit the sign.
fn magnitude_factor(ckey: u8, salt: u8) -> f64 {
    let s = ckey.wrapping_mul(167).wrapping_add(salt);
    let size = 0.5 + 0.5 * (f64::from(s >> 1) + 0.5) / 128.0;
    if s & 1 == 1 {
        size
    } else {
        -size
    }
}

/// The λ for which weights `exp(−λ v²)` over −D…D have variance `variance`.
fn spread_for_variance(d: i32, variance: f64) -> f64 {
    let var = |lambda: f64| {
        let w: Vec<(f64, f64)> = (-d..=d)
            .map(|v| (f64::from(v), (-lambda * f64::from(v * v)).exp()))
            .collect();
        let total: f64 = w.iter().map(|(_, w)| w).sum();
        w.iter().map(|(v, w)| v * v * w).sum::<f64>() / total
    };
    // The variance falls as λ grows: bisection between a flat spread and a spike.
    let (mut lo, mut hi) = (0.0f64, 50.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if var(mid) > variance {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Probabilities over `outcomes` proportional to `exp(−λ(o−c)² + θ(o−c))`, with θ chosen so
/// that the mean is `c` (θ = 0 when the outcomes are symmetric around `c`). `None` when no
/// θ can reach a mean of `c` (all outcomes on one side).
fn unbiased(outcomes: &[i32], c: i32, lambda: f64) -> Option<Vec<f64>> {
    let below = outcomes.iter().any(|&o| o < c);
    let above = outcomes.iter().any(|&o| o > c);
    // A mean of exactly `c` needs outcomes on both sides of it, or `c` alone.
    let feasible = match (below, above) {
        (true, true) => true,
        (false, false) => outcomes.contains(&c),
        _ => false,
    };
    if !feasible {
        return None;
    }
    let probs = |theta: f64| -> Vec<f64> {
        let w: Vec<f64> = outcomes
            .iter()
            .map(|&o| {
                let v = f64::from(o - c);
                (-lambda * v * v + theta * v).exp()
            })
            .collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|w| w / total).collect()
    };
    let mean = |p: &[f64]| -> f64 {
        outcomes
            .iter()
            .zip(p)
            .map(|(&o, p)| f64::from(o - c) * p)
            .sum()
    };
    let (mut lo, mut hi) = (-60.0f64, 60.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if mean(&probs(mid)) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(probs((lo + hi) / 2.0))
}

/// The noise of each of the 256 cell keys: key `k` takes the outcome whose cumulative
/// probability first exceeds `(k + ½) / 256`, so each outcome gets its share of the keys.
fn quantiles(outcomes: &[i32], probs: &[f64], c: i32) -> [i8; KEYS] {
    let mut row = [0i8; KEYS];
    let mut cumulative = 0.0;
    let mut o = 0;
    for (k, slot) in row.iter_mut().enumerate() {
        let q = (k as f64 + 0.5) / KEYS as f64;
        while o + 1 < outcomes.len() && cumulative + probs[o] < q {
            cumulative += probs[o];
            o += 1;
        }
        *slot = (outcomes[o] - c) as i8;
    }
    row
}

/// The key of a record in a release: the first byte of SHA-256(secret ‖ record id ‖
/// release), both numbers as 8 little-endian bytes. The secret is the store's, never
/// published; a fresh release draws fresh keys for every record.
pub fn record_key(secret: &[u8; 32], record_id: i64, release: u64) -> u8 {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(record_id.to_le_bytes());
    h.update(release.to_le_bytes());
    h.finalize()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PTable {
        PTable::new(NoiseParams::default()).unwrap()
    }

    #[test]
    fn zero_stays_zero_and_small_counts_never_appear() {
        let t = table();
        for ckey in 0..=255u8 {
            assert_eq!(t.perturb(0, ckey), 0);
            for count in 1..2000 {
                let p = t.perturb(count, ckey);
                assert!(p == 0 || p > 2, "{count} with key {ckey} gave {p}");
                assert!(p.abs_diff(count) <= 3, "{count} with key {ckey} gave {p}");
            }
        }
    }

    #[test]
    fn noise_is_unbiased_with_the_chosen_variance_away_from_zero() {
        let t = table();
        for count in 1..=MAX_PCV {
            let (mean, var) = t.moments(count);
            assert!(mean.abs() < 0.02, "count {count}: mean {mean}");
            if count > 6 {
                assert!((var - 1.5).abs() < 0.05, "count {count}: variance {var}");
            }
        }
        // Above 750 the rows repeat with period 250.
        for count in [751, 1000, 12_345] {
            for ckey in 0..=255u8 {
                let row = (count - 1) % 250 + 501;
                assert_eq!(t.noise(count, ckey), t.noise(row, ckey));
            }
        }
    }

    #[test]
    fn every_key_is_used_and_noise_is_not_mostly_zero() {
        let t = table();
        let zeros = (0..=255u8).filter(|&k| t.noise(100, k) == 0).count();
        // A discretised normal of variance 1.5 puts about 31 % at zero.
        assert!(
            (60..=100).contains(&zeros),
            "{zeros} keys of 256 give no noise"
        );
    }

    #[test]
    fn magnitude_noise_is_between_half_and_all_of_the_share() {
        let t = table();
        let mut signs = [0; 2];
        for ckey in 0..=255u8 {
            let noise = t.perturb_total(1_000_000, 100_000, ckey) - 1_000_000;
            assert!(
                (5_000..=10_000).contains(&noise.abs()),
                "key {ckey}: {noise}"
            );
            signs[usize::from(noise > 0)] += 1;
        }
        assert_eq!(signs, [128, 128]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let bad = |f: fn(&mut NoiseParams)| {
            let mut p = NoiseParams::default();
            f(&mut p);
            PTable::new(p).err()
        };
        assert!(bad(|p| p.variance = 0.0).is_some());
        assert!(bad(|p| p.variance = 4.0).is_some());
        assert!(bad(|p| p.max = 0).is_some());
        assert!(bad(|p| p.magnitude = 0.9).is_some());
        // D = 1 cannot move a 1 away from 1 and 2 without bias.
        assert!(bad(|p| {
            p.max = 1;
            p.variance = 0.5
        })
        .is_some());
    }

    #[test]
    fn record_keys_are_fresh_per_release_and_spread_over_all_values() {
        let secret = [7u8; 32];
        let mut seen = [0u32; 256];
        let mut same = 0;
        for id in 0..25_600 {
            let a = record_key(&secret, id, 1);
            seen[a as usize] += 1;
            same += u32::from(a == record_key(&secret, id, 2));
        }
        assert!(seen.iter().all(|&n| (50..=150).contains(&n)), "{seen:?}");
        // Independent across releases: about 1 in 256 equal by chance.
        assert!(same < 200, "{same} keys repeated");
    }
}
