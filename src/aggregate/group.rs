//! Grouping of (filtered) records into units: H3 cells at resolutions 2..=9 and US states
//! and counties. H3 grouping is a scan over the cell-sorted snapshot (runs, no hashing);
//! coarser levels are sums of finer ones.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::filter::{Filter, Matcher};
pub use super::snapshot::county_states;
use super::snapshot::{parent, Snapshot, NO_COUNTY};
use super::tally::{Tally, N, NO_STATE};
use crate::geodata::Geodata;

/// [`AreaPart`] index of a record with neither county nor state.
const NO_AREA: usize = usize::MAX;

/// Coarsest and finest published H3 resolutions.
pub const MIN_RES: u8 = 2;
pub const MAX_RES: u8 = 9;

/// Remittance figures that need the individual amounts (median, dominance).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RemitStats {
    /// Median of the known amounts, cents (mean of the two middle ones for an even count).
    pub median_cents: Option<i64>,
    /// The largest and second-largest single amounts, cents.
    pub top1: i64,
    pub top2: i64,
}

impl RemitStats {
    /// Computes from the amounts (reorders them).
    pub fn from_amounts(amounts: &mut [i64]) -> RemitStats {
        let n = amounts.len();
        if n == 0 {
            return RemitStats::default();
        }
        let (_, &mut hi, _) = amounts.select_nth_unstable(n / 2);
        let median = if n % 2 == 1 {
            hi
        } else {
            let lo = *amounts[..n / 2].iter().max().expect("n is even and > 0");
            (lo + hi) / 2
        };
        let (mut top1, mut top2) = (0, 0);
        for &a in amounts.iter() {
            if a > top1 {
                top2 = top1;
                top1 = a;
            } else if a > top2 {
                top2 = a;
            }
        }
        RemitStats {
            median_cents: Some(median),
            top1,
            top2,
        }
    }
}

/// Tables of the unfiltered records, memoised per snapshot (see [`Snapshot::base`]).
#[derive(Default)]
pub struct BaseTables {
    h3: [OnceLock<Arc<H3Table>>; (MAX_RES - MIN_RES + 1) as usize],
    areas: OnceLock<Arc<AreaTable>>,
}

/// [`h3_table`] for `filter`, taken from the snapshot's memo when the filter is empty.
pub fn h3_table_for(s: &Snapshot, filter: &Filter, m: &Matcher, res: u8) -> Arc<H3Table> {
    if !filter.is_empty() {
        return Arc::new(h3_table(s, m, res));
    }
    memo(
        &s.base.get::<BaseTables>().h3[(res - MIN_RES) as usize],
        || h3_table(s, m, res),
    )
}

/// The counts of [`h3_table_for`]: what the relaxed queries of rule 6 compare against.
/// Filtered, its remittance stats (`remit`, `national_remit`) are left empty and its finest
/// level keeps only the cells of at least `k` records (rule 6 looks only at relaxed values
/// of at least k).
pub fn h3_counts_table_for(
    s: &Snapshot,
    filter: &Filter,
    m: &Matcher,
    res: u8,
    k: u32,
) -> Arc<H3Table> {
    if !filter.is_empty() {
        let options = ScanOptions {
            with_states: false,
            keep_from: k,
            stats_from: None,
        };
        return Arc::new(h3_scan(s, m, res, options).0);
    }
    h3_table_for(s, filter, m, res)
}

/// [`area_table`] for `filter`, taken from the snapshot's memo when the filter is empty.
pub fn area_table_for(s: &Snapshot, filter: &Filter, m: &Matcher) -> Arc<AreaTable> {
    if !filter.is_empty() {
        return Arc::new(area_table(s, m));
    }
    memo(&s.base.get::<BaseTables>().areas, || area_table(s, m))
}

/// The H3 table at `res` and the state tallies (indexed like `Geodata::states`) of the
/// records matching `filter`: one scan for a filter ([`h3_and_state_tallies`]), the
/// snapshot's memo without one. A filtered table keeps only the cells of at least `k`
/// records at `res` (the others can publish nothing; their records still count in the
/// coarser levels), with their remittance stats.
pub fn h3_and_state_tallies_for(
    s: &Snapshot,
    filter: &Filter,
    m: &Matcher,
    res: u8,
    k: u32,
) -> (Arc<H3Table>, Vec<Tally>) {
    if filter.is_empty() {
        let (table, areas) = rayon::join(
            || h3_table_for(s, filter, m, res),
            || area_table_for(s, filter, m),
        );
        return (table, areas.states.clone());
    }
    let options = ScanOptions {
        with_states: true,
        keep_from: k,
        stats_from: Some(k),
    };
    let (table, states) = h3_scan(s, m, res, options);
    (Arc::new(table), states.expect("asked for states"))
}

/// The memoised value, computing it when missing. Never waits for another thread: callers
/// run on rayon's workers, and a worker blocked in `OnceLock::get_or_init` while the
/// initialising thread needs the pool (or steals a task that asks for the same cell) is a
/// deadlock. Two first callers may both compute; the first stored value wins.
fn memo<T>(cell: &OnceLock<Arc<T>>, compute: impl FnOnce() -> T) -> Arc<T> {
    if let Some(v) = cell.get() {
        return v.clone();
    }
    let value = Arc::new(compute());
    let _ = cell.set(value.clone());
    cell.get().cloned().unwrap_or(value)
}

/// The cells of one resolution, ascending by index (the requested resolution of a filtered
/// query keeps only the cells that can be published, see [`h3_and_state_tallies_for`]).
#[derive(Clone, Debug, Default)]
pub struct Level {
    pub res: u8,
    pub ids: Vec<u64>,
    pub tallies: Vec<Tally>,
    /// Records per cell (`tallies[i].d[N]`), apart so that the privacy rules can pass over
    /// the many cells below k without reading their tallies.
    pub counts: Vec<u32>,
}

/// H3 grouping for one query: every level from [`MIN_RES`] to the requested resolution.
pub struct H3Table {
    pub national: Tally,
    /// `levels[0]` is [`MIN_RES`], the last is the requested resolution.
    pub levels: Vec<Level>,
    /// Remittance stats of the cells of the requested resolution.
    pub remit: Vec<RemitStats>,
    /// Remittance stats of every matching record (with or without a cell).
    pub national_remit: RemitStats,
}

impl Level {
    /// Consecutive parts of the level's ids, tallies and counts, of the given lengths.
    fn split_mut(&mut self, lengths: &[usize]) -> Vec<(&mut [u64], &mut [Tally], &mut [u32])> {
        let ids = split_by_lengths(&mut self.ids, lengths.iter().copied());
        let tallies = split_by_lengths(&mut self.tallies, lengths.iter().copied());
        let counts = split_by_lengths(&mut self.counts, lengths.iter().copied());
        ids.into_iter()
            .zip(tallies)
            .zip(counts)
            .map(|((i, t), c)| (i, t, c))
            .collect()
    }

    /// `cells` empty cells (ids 0) to be filled in place.
    fn zeroed(res: u8, cells: usize) -> Level {
        let mut tallies = Vec::new();
        (0..cells)
            .into_par_iter()
            .map(|_| Tally::default())
            .collect_into_vec(&mut tallies);
        Level {
            res,
            ids: vec![0; cells],
            tallies,
            counts: vec![0; cells],
        }
    }
}

impl H3Table {
    pub fn finest(&self) -> &Level {
        self.levels.last().expect("at least one level")
    }

    pub fn level(&self, res: u8) -> &Level {
        &self.levels[(res - MIN_RES) as usize]
    }
}

/// Groups the records matching `m` into H3 cells at `res` and every coarser level.
pub fn h3_table(s: &Snapshot, m: &Matcher, res: u8) -> H3Table {
    let options = ScanOptions {
        with_states: false,
        keep_from: 0,
        stats_from: Some(0),
    };
    h3_scan(s, m, res, options).0
}

/// [`h3_table`] and the state tallies of [`area_table`] from one scan: within a cell, the
/// records of one state are tallied together and the sub-total is added to both the cell
/// and the state, so each record is tallied once. (An H3 layer needs the states for the
/// geography rule only: counties and remittance amounts per area are left to
/// [`area_table`].)
pub fn h3_and_state_tallies(s: &Snapshot, m: &Matcher, res: u8) -> (H3Table, Vec<Tally>) {
    let options = ScanOptions {
        with_states: true,
        keep_from: 0,
        stats_from: Some(0),
    };
    let (table, states) = h3_scan(s, m, res, options);
    (table, states.expect("asked for states"))
}

/// How a scan treats small cells and remittance amounts.
#[derive(Clone, Copy)]
struct ScanOptions {
    with_states: bool,
    /// Cells of the scanned resolution with fewer records are not kept in its level: they
    /// can publish nothing (rules 1 and 2), and their records are tallied into the parent
    /// cell directly. 0 keeps every cell.
    keep_from: u32,
    /// Remittance stats are computed for the kept cells of at least this many records; not
    /// at all (nor the amounts gathered) without it.
    stats_from: Option<u32>,
}

/// The scan behind the H3 tables: the requested resolution and its parent are tallied from
/// the records in one pass, the coarser levels summed from the parent.
fn h3_scan(
    s: &Snapshot,
    m: &Matcher,
    res: u8,
    options: ScanOptions,
) -> (H3Table, Option<Vec<Tally>>) {
    assert!(
        (MIN_RES..=MAX_RES).contains(&res),
        "resolution {res} out of range"
    );
    let parent_res = (res > MIN_RES).then(|| res - 1);
    // Split the scan so each chunk owns whole parent cells; count each chunk's cells first
    // so that both levels are allocated once and every chunk writes its own part of them in
    // place (at resolution 9, growing and then joining per-chunk vectors of 336-byte
    // tallies was a fifth of a filtered scan).
    let chunks = chunk_bounds(
        &s.cell,
        parent_res.unwrap_or(res),
        rayon::current_num_threads().max(1) * 4,
    );
    let selections: Vec<Selection> = chunks
        .par_windows(2)
        .map(|w| Selection::new(s, m, w[0]..w[1], res, parent_res, options.keep_from))
        .collect();
    let kept: Vec<usize> = selections.iter().map(|sel| sel.kept).collect();
    let parents: Vec<usize> = selections.iter().map(|sel| sel.parents).collect();
    let mut finest = Level::zeroed(res, kept.iter().sum());
    let mut parent_level = Level::zeroed(parent_res.unwrap_or(res), parents.iter().sum());
    let stats = options.stats_from.is_some();
    let mut remit = vec![RemitStats::default(); if stats { finest.ids.len() } else { 0 }];
    let remit_parts = split_by_lengths(&mut remit, kept.iter().map(|&n| if stats { n } else { 0 }));
    let outputs: Vec<(CellsOut, CellsOut)> = finest
        .split_mut(&kept)
        .into_iter()
        .zip(remit_parts)
        .map(|((ids, tallies, counts), stats)| CellsOut {
            ids,
            tallies,
            counts,
            stats,
        })
        .zip(
            parent_level
                .split_mut(&parents)
                .into_iter()
                .map(|(ids, tallies, counts)| CellsOut {
                    ids,
                    tallies,
                    counts,
                    stats: &mut [],
                }),
        )
        .collect();
    let parts: Vec<ChunkScan> = selections
        .par_iter()
        .zip(outputs)
        .map(|(selection, (out, parent_out))| {
            scan_cells(s, selection, res, parent_res, options, out, parent_out)
        })
        .collect();
    let mut amounts = Vec::with_capacity(parts.iter().map(|p| p.amounts.len()).sum());
    let mut states: Option<Vec<Tally>> = None;
    for part in parts {
        amounts.extend(part.amounts);
        match (&mut states, part.states) {
            (Some(all), Some(p)) => all.iter_mut().zip(&p).for_each(|(a, b)| a.add(b)),
            (None, p) => states = p,
            (Some(_), None) => {}
        }
    }
    let states = options
        .with_states
        .then(|| states.unwrap_or_else(|| vec![Tally::default(); Geodata::get().states.len()]));
    // The coarser levels and the national remittance stats (a selection over every amount)
    // are independent: side by side.
    let (levels, national_remit) = rayon::join(
        || {
            let mut levels = vec![finest];
            if parent_res.is_some() {
                levels.push(parent_level);
                for r in (MIN_RES..res - 1).rev() {
                    let coarser = coarsen(levels.last().expect("a finer level"), r);
                    levels.push(coarser);
                }
            }
            levels.reverse();
            levels
        },
        || RemitStats::from_amounts(&mut amounts),
    );
    let mut national = Tally::default();
    for t in &levels[0].tallies {
        national.add(t);
    }
    let table = H3Table {
        national,
        levels,
        remit,
        national_remit,
    };
    (table, states)
}

/// About `n` chunk boundaries over sorted `cells`, each moved forward to where the cell of
/// `res` changes, so that every chunk owns whole cells of `res`.
fn chunk_bounds(cells: &[u64], res: u8, n: usize) -> Vec<usize> {
    let len = cells.len();
    let mut bounds = vec![0];
    for j in 1..n {
        let mut b = (len * j / n).max(*bounds.last().expect("non-empty"));
        while b > 0 && b < len && parent(cells[b], res) == parent(cells[b - 1], res) {
            b += 1;
        }
        if b < len && b > *bounds.last().expect("non-empty") {
            bounds.push(b);
        }
    }
    bounds.push(len);
    bounds
}

/// `slice` cut into consecutive parts of the given lengths (which sum to its length).
fn split_by_lengths<T>(mut slice: &mut [T], lengths: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut parts = Vec::new();
    for n in lengths {
        let (part, rest) = std::mem::take(&mut slice).split_at_mut(n);
        parts.push(part);
        slice = rest;
    }
    parts
}

/// One chunk's matching records (ascending indexes) and the cells they make.
struct Selection {
    records: Vec<u32>,
    /// Records per cell of the scanned resolution, in order.
    cell_counts: Vec<u32>,
    /// Cells kept (see [`ScanOptions::keep_from`]) and distinct parent cells.
    kept: usize,
    parents: usize,
}

impl Selection {
    fn new(
        s: &Snapshot,
        m: &Matcher,
        range: std::ops::Range<usize>,
        res: u8,
        parent_res: Option<u8>,
        keep_from: u32,
    ) -> Selection {
        let mut records = Vec::new();
        m.select(s, range.start, range.end, &mut records);
        let mut cell_counts: Vec<u32> = Vec::new();
        let (mut last, mut last_parent) = (None, None);
        let mut parents = 0;
        for &i in &records {
            let cell = parent(s.cell[i as usize], res);
            if last == Some(cell) {
                *cell_counts.last_mut().expect("a cell") += 1;
                continue;
            }
            cell_counts.push(1);
            last = Some(cell);
            if let Some(p) = parent_res.map(|r| parent(cell, r)) {
                parents += usize::from(last_parent != Some(p));
                last_parent = Some(p);
            }
        }
        // Without a parent level every cell is kept.
        let kept = match parent_res {
            Some(_) => cell_counts.iter().filter(|&&n| n >= keep_from).count(),
            None => cell_counts.len(),
        };
        Selection {
            records,
            cell_counts,
            kept,
            parents,
        }
    }
}

/// Where one chunk writes its cells of one level: exactly as many slots as it has (`stats`
/// is empty when remittance stats are not gathered, and for the parent level).
struct CellsOut<'a> {
    ids: &'a mut [u64],
    tallies: &'a mut [Tally],
    counts: &'a mut [u32],
    stats: &'a mut [RemitStats],
}

/// What one chunk's scan returns besides its cells: its state tallies (when asked) and the
/// remittance amounts seen.
struct ChunkScan {
    states: Option<Vec<Tally>>,
    amounts: Vec<i64>,
}

/// Scans one chunk's selected records into the kept cells of `res` (`out`) and into their
/// parent cells (`parents`, when there is a parent resolution): a kept cell's tally is
/// added to its parent's when the cell is complete, the records of a cell not kept go to
/// the parent directly. Within a cell the records of one state are tallied together and the
/// sub-total added to both the cell and the state, so each record is tallied once.
fn scan_cells(
    s: &Snapshot,
    selection: &Selection,
    res: u8,
    parent_res: Option<u8>,
    options: ScanOptions,
    mut out: CellsOut,
    mut parents: CellsOut,
) -> ChunkScan {
    let with_stats = options.stats_from.is_some();
    let stats_from = options.stats_from.unwrap_or(u32::MAX);
    let mut states = options
        .with_states
        .then(|| vec![Tally::default(); Geodata::get().states.len()]);
    let mut amounts: Vec<i64> = Vec::new();
    let mut cell_amounts: Vec<i64> = Vec::new();
    // The current cell (`None` before the first) and its index among the chunk's cells.
    let mut current: Option<u64> = None;
    let mut c = usize::MAX;
    let mut at = Slots {
        kept: false,
        slot: usize::MAX,
        parent: usize::MAX,
    };
    // The records of the current cell in the current state, not yet added to either.
    let mut sub = Tally::default();
    let mut sub_state = NO_STATE;
    for &i in &selection.records {
        let i = i as usize;
        let cell = parent(s.cell[i], res);
        let state = s.state[i];
        let same_cell = current == Some(cell);
        if current.is_some() && (!same_cell || state != sub_state) {
            flush(
                &mut sub,
                sub_state,
                at.target(&mut out, &mut parents),
                &mut states,
            );
        }
        sub_state = state;
        if !same_cell {
            if current.is_some() {
                at.finish(&mut out, &mut parents, stats_from, &mut cell_amounts);
            }
            c = c.wrapping_add(1);
            current = Some(cell);
            let n = selection.cell_counts[c];
            at.kept = parent_res.is_none() || n >= options.keep_from;
            if at.kept {
                at.slot = at.slot.wrapping_add(1);
                out.ids[at.slot] = cell;
                out.counts[at.slot] = n;
            }
            if let Some(pr) = parent_res {
                let pid = parent(cell, pr);
                if at.parent == usize::MAX || parents.ids[at.parent] != pid {
                    at.parent = at.parent.wrapping_add(1);
                    parents.ids[at.parent] = pid;
                }
                parents.counts[at.parent] += n;
            }
        }
        sub.add_record(s, i);
        if !with_stats {
            continue;
        }
        if let Some(a) = s.remit_amount(i) {
            if at.kept {
                cell_amounts.push(a);
            }
            amounts.push(a);
        }
    }
    if current.is_some() {
        flush(
            &mut sub,
            sub_state,
            at.target(&mut out, &mut parents),
            &mut states,
        );
        at.finish(&mut out, &mut parents, stats_from, &mut cell_amounts);
    }
    debug_assert_eq!(
        at.slot.wrapping_add(1),
        out.ids.len(),
        "Selection counted the cells"
    );
    debug_assert_eq!(
        at.parent.wrapping_add(1),
        parents.ids.len(),
        "Selection counted the parents"
    );
    ChunkScan { states, amounts }
}

/// Adds `sub` (records of one state) to `target` and to the state, and empties it.
fn flush(sub: &mut Tally, state: u8, target: &mut Tally, states: &mut Option<Vec<Tally>>) {
    if sub.d[N] == 0 {
        return;
    }
    target.add(sub);
    if let Some(t) = states
        .as_mut()
        .and_then(|st| st.get_mut(usize::from(state)))
    {
        t.add(sub);
    }
    *sub = Tally::default();
}

/// Where the current cell of a scan is written: whether it is kept, its slot in the
/// scanned level if so, and its parent's slot (`usize::MAX` before the first).
struct Slots {
    kept: bool,
    slot: usize,
    parent: usize,
}

impl Slots {
    /// The tally the current cell's records go to: its own if kept, else its parent's.
    fn target<'a>(&self, out: &'a mut CellsOut, parents: &'a mut CellsOut) -> &'a mut Tally {
        if self.kept {
            &mut out.tallies[self.slot]
        } else {
            &mut parents.tallies[self.parent]
        }
    }

    /// Completes the current cell: for a kept one, its remittance stats (from `stats_from`
    /// records; `out.stats` is empty when stats are not gathered) and its tally added to
    /// its parent's.
    fn finish(
        &self,
        out: &mut CellsOut,
        parents: &mut CellsOut,
        stats_from: u32,
        cell_amounts: &mut Vec<i64>,
    ) {
        if self.kept {
            if !out.stats.is_empty() && out.counts[self.slot] >= stats_from {
                out.stats[self.slot] = RemitStats::from_amounts(cell_amounts);
            }
            if let Some(pt) = parents.tallies.get_mut(self.parent) {
                pt.add(&out.tallies[self.slot]);
            }
        }
        cell_amounts.clear();
    }
}

/// The level of `res` summed from a finer one: chunks of whole coarser cells in parallel,
/// each writing its own part of a level allocated once (see `h3_scan`).
fn coarsen(finer: &Level, res: u8) -> Level {
    let chunks = chunk_bounds(&finer.ids, res, rayon::current_num_threads().max(1) * 4);
    let lengths: Vec<usize> = chunks
        .par_windows(2)
        .map(|w| count_distinct(finer.ids[w[0]..w[1]].iter().map(|&id| parent(id, res))))
        .collect();
    let mut level = Level::zeroed(res, lengths.iter().sum());
    let parts = level.split_mut(&lengths);
    chunks
        .par_windows(2)
        .zip(parts)
        .for_each(|(w, (ids, tallies, counts))| {
            let mut j = usize::MAX;
            for i in w[0]..w[1] {
                let p = parent(finer.ids[i], res);
                if j == usize::MAX || ids[j] != p {
                    j = j.wrapping_add(1);
                    ids[j] = p;
                }
                tallies[j].add(&finer.tallies[i]);
                counts[j] += finer.counts[i];
            }
        });
    level
}

/// The number of runs of equal values.
fn count_distinct(values: impl Iterator<Item = u64>) -> usize {
    let mut n = 0;
    let mut last = None;
    for v in values {
        n += usize::from(last != Some(v));
        last = Some(v);
    }
    n
}

/// Grouping by US state and county for one query.
pub struct AreaTable {
    pub national: Tally,
    /// Indexed like `Geodata::states` / `Geodata::counties`.
    pub states: Vec<Tally>,
    pub counties: Vec<Tally>,
    pub state_remit: Vec<RemitStats>,
    pub county_remit: Vec<RemitStats>,
    /// Remittance stats of every matching record (with or without a state).
    pub national_remit: RemitStats,
}

/// Groups the records matching `m` by state and county. Each record is tallied once, into
/// its county (or, without one, into its state's remainder); states are sums of their
/// counties and remainder. Chunks of records are scanned in parallel and merged.
pub fn area_table(s: &Snapshot, m: &Matcher) -> AreaTable {
    let geo = Geodata::get();
    let (ns, nc) = (geo.states.len(), geo.counties.len());
    let chunk = s
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(1);
    let parts: Vec<(AreaPart, Vec<i64>)> = (0..s.len())
        .into_par_iter()
        .step_by(chunk)
        .map(|from| {
            let mut part = AreaPart::new(ns, nc);
            let mut amounts = Vec::new();
            let mut selected = Vec::new();
            m.select(s, from, (from + chunk).min(s.len()), &mut selected);
            for &i in &selected {
                let i = i as usize;
                part.add(s, i);
                amounts.extend(s.remit_amount(i));
            }
            (part, amounts)
        })
        .collect();
    let mut all = AreaPart::new(ns, nc);
    let mut amounts = Vec::new();
    for (part, part_amounts) in parts {
        all.merge(part);
        amounts.extend(part_amounts);
    }
    all.finish(RemitStats::from_amounts(&mut amounts))
}

/// One chunk's share of an [`AreaTable`]: counties, and per state the records without a
/// county (states are completed from their counties at the end).
struct AreaPart {
    states: Vec<Tally>,
    counties: Vec<Tally>,
    state_amounts: Vec<Vec<i64>>,
    county_amounts: Vec<Vec<i64>>,
}

impl AreaPart {
    fn new(ns: usize, nc: usize) -> AreaPart {
        AreaPart {
            states: vec![Tally::default(); ns],
            counties: vec![Tally::default(); nc],
            state_amounts: vec![Vec::new(); ns],
            county_amounts: vec![Vec::new(); nc],
        }
    }

    /// Where record `i` is tallied: its county (`0..nc`), else its state's remainder
    /// (`nc + state`), else nowhere ([`NO_AREA`]).
    #[inline]
    fn area_of(&self, s: &Snapshot, i: usize) -> usize {
        let co = s.county[i];
        let st = s.state[i] as usize;
        if co != NO_COUNTY {
            co as usize
        } else if st < self.states.len() {
            self.counties.len() + st
        } else {
            NO_AREA
        }
    }

    /// The tally and the amounts of an area index from [`AreaPart::area_of`].
    #[inline]
    fn slot(&mut self, area: usize) -> Option<(&mut Tally, &mut Vec<i64>)> {
        let nc = self.counties.len();
        match area.checked_sub(nc) {
            None => Some((
                self.counties.get_mut(area)?,
                self.county_amounts.get_mut(area)?,
            )),
            Some(st) => Some((self.states.get_mut(st)?, self.state_amounts.get_mut(st)?)),
        }
    }

    #[inline]
    fn add(&mut self, s: &Snapshot, i: usize) {
        let amount = s.remit_amount(i);
        if let Some((t, amounts)) = self.slot(self.area_of(s, i)) {
            t.add_record(s, i);
            amounts.extend(amount);
        }
    }

    /// States completed from their counties, the national tally, the remittance stats.
    fn finish(self, national_remit: RemitStats) -> AreaTable {
        let ns = self.states.len();
        let county_state = county_states();
        let AreaPart {
            mut states,
            counties,
            mut state_amounts,
            mut county_amounts,
        } = self;
        for (c, t) in counties.iter().enumerate() {
            if let Some(&st) = county_state.get(c).filter(|&&st| st < ns) {
                states[st].add(t);
                let amounts = std::mem::take(&mut county_amounts[c]);
                state_amounts[st].extend_from_slice(&amounts);
                county_amounts[c] = amounts;
            }
        }
        let mut national = Tally::default();
        for t in &states {
            national.add(t);
        }
        AreaTable {
            national,
            states,
            counties,
            state_remit: state_amounts
                .par_iter_mut()
                .map(|a| RemitStats::from_amounts(a))
                .collect(),
            county_remit: county_amounts
                .par_iter_mut()
                .map(|a| RemitStats::from_amounts(a))
                .collect(),
            national_remit,
        }
    }

    fn merge(&mut self, other: AreaPart) {
        for (a, b) in self.states.iter_mut().zip(&other.states) {
            a.add(b);
        }
        for (a, b) in self.counties.iter_mut().zip(&other.counties) {
            a.add(b);
        }
        for (a, b) in self.state_amounts.iter_mut().zip(other.state_amounts) {
            a.extend(b);
        }
        for (a, b) in self.county_amounts.iter_mut().zip(other.county_amounts) {
            a.extend(b);
        }
    }
}

/// Record counts per unit at every H3 resolution and per state and county.
pub struct FullCounts {
    /// `(cell, count)` per resolution, [`MIN_RES`] first.
    pub h3: Vec<Vec<(u64, u32)>>,
    pub states: Vec<u32>,
    pub counties: Vec<u32>,
}

/// The whole aggregation from coordinates: H3 cells computed (in parallel), sorted, and
/// counted at every resolution, plus states and counties. This is the cold path the
/// benchmark compares with Python `h3` + pandas; the service itself keeps the cells from
/// import and only regroups.
pub fn full_counts(lat: &[f64], lon: &[f64], state: &[u8], county: &[u16]) -> FullCounts {
    let finest = crate::record::FINEST_RES;
    let mut cells: Vec<u64> = lat
        .par_iter()
        .zip(lon.par_iter())
        .map(|(&la, &lo)| h3o::LatLng::new(la, lo).map_or(0, |ll| u64::from(ll.to_cell(finest))))
        .collect();
    cells.par_sort_unstable();
    let h3 = (MIN_RES..=MAX_RES)
        .into_par_iter()
        .map(|res| {
            let mut out: Vec<(u64, u32)> = Vec::new();
            for &c in &cells {
                let p = parent(c, res);
                match out.last_mut() {
                    Some((id, n)) if *id == p => *n += 1,
                    _ => out.push((p, 1)),
                }
            }
            out
        })
        .collect();
    let geo = Geodata::get();
    let mut states = vec![0u32; geo.states.len()];
    let mut counties = vec![0u32; geo.counties.len()];
    for &s in state {
        if let Some(n) = states.get_mut(s as usize) {
            *n += 1;
        }
    }
    for &c in county {
        if let Some(n) = counties.get_mut(c as usize) {
            *n += 1;
        }
    }
    FullCounts {
        h3,
        states,
        counties,
    }
}
