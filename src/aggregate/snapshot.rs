//! The in-memory snapshot of every record, laid out in columns for fast scans and sorted by
//! H3 cell: since an H3 index orders children after their parent's prefix, the records of
//! any cell at any coarser resolution are one contiguous run, and grouping is a linear scan.

use std::any::Any;
use std::collections::HashMap;
use std::sync::OnceLock;

use h3o::CellIndex;
#[cfg(test)]
use h3o::Resolution;
use rayon::prelude::*;

use crate::geodata::Geodata;
use crate::record::Record;

/// Marks a missing single-select answer in a `u8` column.
pub const NONE: u8 = u8::MAX;
/// Marks a missing county in the county column.
pub const NO_COUNTY: u16 = u16::MAX;

/// A value derived from a whole snapshot, computed on first use and kept as long as it.
/// Typed by its user (`group`'s tables), so that the snapshot knows nothing of what is
/// derived from it.
#[derive(Default)]
pub struct Memo(OnceLock<Box<dyn Any + Send + Sync>>);

impl Memo {
    /// The memoised `T`, made with `T::default()` on first use (a memo holds one type).
    pub fn get<T: Any + Send + Sync + Default>(&self) -> &T {
        let v = self.0.get_or_init(|| Box::new(T::default()));
        match v.downcast_ref::<T>() {
            Some(t) => t,
            None => unreachable!("a snapshot's memo holds one type"),
        }
    }
}

/// The index into `Geodata::states` of every county's state (`usize::MAX` if none).
pub fn county_states() -> &'static [usize] {
    static S: OnceLock<Vec<usize>> = OnceLock::new();
    S.get_or_init(|| {
        let geo = Geodata::get();
        geo.counties
            .iter()
            .map(|c| {
                geo.states
                    .iter()
                    .position(|s| s.fips == c.parent)
                    .unwrap_or(usize::MAX)
            })
            .collect()
    })
}

/// Column-oriented copy of the records, immutable once built; replaced whole after imports.
#[derive(Default)]
pub struct Snapshot {
    /// The data version of the store this snapshot was built from.
    pub data_version: u64,
    /// H3 cell at the finest resolution, ascending.
    pub cell: Vec<u64>,
    /// Index into `Geodata::states`.
    pub state: Vec<u8>,
    /// Index into `Geodata::counties`, or [`NO_COUNTY`].
    pub county: Vec<u16>,
    pub gender: Vec<u8>,
    pub age_band: Vec<u8>,
    pub generation: Vec<u8>,
    pub occupation: Vec<u8>,
    pub department: Vec<u8>,
    pub sectors: Vec<u32>,
    pub needs: Vec<u32>,
    pub difficulties: Vec<u32>,
    pub willingness: Vec<u32>,
    pub channels: Vec<u32>,
    pub languages: Vec<u32>,
    /// 0 = does not remit, 1 = remits, [`NONE`] = unknown.
    pub remits: Vec<u8>,
    /// Annual remittances in cents; negative = unknown.
    pub remit_cents: Vec<i64>,
    /// Index into `rounds`.
    pub round: Vec<u16>,
    /// Collection month as `year * 12 + month - 1`.
    pub month: Vec<u32>,
    /// Survey round names.
    pub rounds: Vec<String>,
    /// Each record's key for this release (0–255, see `perturb`): the cell keys are sums
    /// of these. Never published.
    pub rkey: Vec<u8>,
    /// The unfiltered tables, computed on first use and kept as long as the snapshot: a
    /// filtered query needs them for its relaxed (one-filter-less) counterparts. Their type
    /// belongs to `group` (see `group::BaseTables`); the snapshot only keeps them.
    pub base: Memo,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.cell.len()
    }

    /// The annual remittance amount of record `i` in cents, when it remits and gave one.
    #[inline]
    pub fn remit_amount(&self, i: usize) -> Option<i64> {
        (self.remits[i] == 1 && self.remit_cents[i] >= 0).then_some(self.remit_cents[i])
    }

    pub fn is_empty(&self) -> bool {
        self.cell.is_empty()
    }

    /// Builds a snapshot with every record key 0 (tests and benchmarks of the grouping).
    pub fn build(records: Vec<Record>, data_version: u64) -> Snapshot {
        let keys = vec![0; records.len()];
        Snapshot::build_keyed(records, keys, data_version)
    }

    /// Builds a snapshot of `records` with their record keys (`keys[i]` is the key of
    /// `records[i]`); sorts them by cell.
    pub fn build_keyed(records: Vec<Record>, keys: Vec<u8>, data_version: u64) -> Snapshot {
        assert_eq!(records.len(), keys.len(), "one key per record");
        let mut order: Vec<u32> = (0..records.len() as u32).collect();
        order.par_sort_unstable_by_key(|&i| records[i as usize].h3_cell);
        let geo = Geodata::get();
        let state_index: HashMap<&str, u8> = geo
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.fips.as_str(), i as u8))
            .collect();
        let county_index: HashMap<&str, u16> = geo
            .counties
            .iter()
            .enumerate()
            .map(|(i, c)| (c.fips.as_str(), i as u16))
            .collect();
        let mut rounds: Vec<String> = Vec::new();
        let mut round_index: HashMap<String, u16> = HashMap::new();
        let n = records.len();
        let mut s = Snapshot {
            data_version,
            ..Snapshot::default()
        };
        s.reserve(n);
        let county_state = county_states();
        for &i in &order {
            let r = &records[i as usize];
            s.rkey.push(keys[i as usize]);
            s.cell.push(r.h3_cell);
            let state = *state_index.get(r.state_fips.as_str()).unwrap_or(&u8::MAX);
            s.state.push(state);
            // A county is kept only inside its own state: states are sums of their counties.
            s.county.push(
                r.county_fips
                    .as_deref()
                    .and_then(|c| county_index.get(c).copied())
                    .filter(|&c| county_state[c as usize] == state as usize)
                    .unwrap_or(NO_COUNTY),
            );
            s.gender.push(r.gender);
            s.age_band.push(r.age_band);
            s.generation.push(r.generation.unwrap_or(NONE));
            s.occupation.push(r.occupation.unwrap_or(NONE));
            s.department.push(r.department.unwrap_or(NONE));
            s.sectors.push(r.sectors.0);
            s.needs.push(r.needs.0);
            s.difficulties.push(r.difficulties.0);
            s.willingness.push(r.willingness.0);
            s.channels.push(r.channels.0);
            s.languages.push(r.languages.0);
            s.remits.push(match r.remits {
                Some(true) => 1,
                Some(false) => 0,
                None => NONE,
            });
            s.remit_cents.push(if r.remits == Some(true) {
                r.remit_amount_cents.unwrap_or(-1)
            } else {
                -1
            });
            let round = *round_index
                .entry(r.survey_round.clone())
                .or_insert_with(|| {
                    rounds.push(r.survey_round.clone());
                    (rounds.len() - 1) as u16
                });
            s.round.push(round);
            s.month
                .push(r.collected_on.year() as u32 * 12 + r.collected_on.month() as u32 - 1);
        }
        s.rounds = rounds;
        s
    }

    fn reserve(&mut self, n: usize) {
        self.cell.reserve_exact(n);
        self.state.reserve_exact(n);
        self.county.reserve_exact(n);
        self.gender.reserve_exact(n);
        self.age_band.reserve_exact(n);
        self.generation.reserve_exact(n);
        self.occupation.reserve_exact(n);
        self.department.reserve_exact(n);
        self.sectors.reserve_exact(n);
        self.needs.reserve_exact(n);
        self.difficulties.reserve_exact(n);
        self.willingness.reserve_exact(n);
        self.channels.reserve_exact(n);
        self.languages.reserve_exact(n);
        self.remits.reserve_exact(n);
        self.remit_cents.reserve_exact(n);
        self.round.reserve_exact(n);
        self.month.reserve_exact(n);
        self.rkey.reserve_exact(n);
    }

    /// Bytes held by the columns (for the memory-per-record figure).
    pub fn heap_bytes(&self) -> usize {
        self.len() * (8 + 1 + 2 + 5 + 4 * 6 + 1 + 8 + 2 + 4 + 1)
    }
}

/// The parent at `res` of a valid H3 cell index that is at `res` or finer: a bit operation
/// (set the resolution field, fill the finer digits with 7), equal to `CellIndex::parent`.
#[inline]
pub fn parent(cell: u64, res: u8) -> u64 {
    const RES_SHIFT: u32 = 52;
    let unused_digits = (1u64 << ((15 - res as u32) * 3)) - 1;
    (cell & !(0xF << RES_SHIFT) & !unused_digits) | ((res as u64) << RES_SHIFT) | unused_digits
}

/// The cell index as h3o's type (for geometry), for an index produced by h3o.
pub fn cell_index(cell: u64) -> CellIndex {
    CellIndex::try_from(cell).expect("aggregated H3 cells are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitwise_parent_equals_h3o_parent_at_every_resolution() {
        let cell = h3o::LatLng::new(25.83, -80.19)
            .unwrap()
            .to_cell(Resolution::Nine);
        for res in 0..=9u8 {
            let r = Resolution::try_from(res).unwrap();
            assert_eq!(
                parent(u64::from(cell), res),
                u64::from(cell.parent(r).unwrap()),
                "res {res}"
            );
        }
    }
}
