//! Statistical disclosure control: decides which dimensions of which unit may be published.
//! The rules and their threat model are in `PRIVACY.md`; in short, with k the minimum count:
//!
//! 1. *primary*: a dimension with a value from 1 to k−1 is hidden;
//! 2. *whole unit*: a unit whose record count is hidden publishes nothing;
//! 3. *partition*: within a unit, the hidden part of a total (hidden categories plus any
//!    unpublished remainder, e.g. "gender unknown" or "does not have this skill") is 0 or ≥ k;
//! 4. *hierarchy*: for a visible parent (nation → H3 res 2 → … → res 9; nation → state →
//!    county) the sum of its hidden children is 0 or ≥ k, and a hidden parent hides the same
//!    dimension in all its children;
//! 5. *geography*: a state's value minus its visible hexagons (those whose records all lie in
//!    the state) is 0 or ≥ k;
//! 6. *filters*: for each filter of the query, the same query without that filter minus this
//!    one is 0 or ≥ k wherever the relaxed value could itself be published (≥ k).
//!
//! Rules 3–6 are enforced by hiding more: the smallest visible non-zero value of the group.
//! A visible value is always 0 or ≥ k, so hiding it never breaks a rule already satisfied;
//! the process is monotone and ends. Levels are decided top-down, each depending only on
//! the levels above it, so every resolution's answer is the same whichever query asked.

use std::borrow::Borrow;
use std::sync::OnceLock;

use rayon::prelude::*;

use super::group::{AreaTable, H3Table, Level, RemitStats};
use super::tally::{
    dims_where, masked, partitions, DimMask, Partition, Tally, ALL_DIMS, MIXED_STATE, N, NDIM,
    NO_STATE, RA,
};

/// Dominance rule for remittance sums: the largest contribution may be at most this share
/// of a published total…
pub const DOMINANCE_TOP1: f64 = 0.5;
/// …and the two largest together at most this share.
pub const DOMINANCE_TOP2: f64 = 0.75;

#[inline]
fn visible(mask: DimMask, d: usize) -> bool {
    mask & (1u128 << d) != 0
}

#[inline]
fn hide(mask: &mut DimMask, d: usize) {
    *mask &= !(1u128 << d);
}

/// Rule 1.
pub fn primary(t: &Tally, k: u32) -> DimMask {
    // 0 < v < k, without a branch: v − 1 wraps to u32::MAX for 0.
    ALL_DIMS & !dims_where(|d| t.d[d].wrapping_sub(1) < k.saturating_sub(1))
}

/// Rules 2 and 3 on one unit; returns whether anything was hidden.
///
/// Most partitions split a total into one category and the rest ("has this skill" or not):
/// those are decided for all their categories at once on bitmasks. The rules only ever
/// hide, and whether a one-category partition hides its category depends only on its total's
/// visibility, so the result is the same fixpoint as deciding one partition after another
/// (checked against that definition by a test).
pub fn unit_rules(t: &Tally, mask: &mut DimMask, k: u32) -> bool {
    let before = *mask;
    let (singles, groups) = split_partitions();
    loop {
        let round = *mask;
        if !visible(*mask, N) {
            *mask = 0;
            break;
        }
        for &(total, categories) in singles {
            if visible(*mask, total) {
                *mask &= !small_remainders(t, total, categories, k);
            } else {
                *mask &= !categories;
            }
        }
        for p in groups {
            partition_rule(t, p, mask, k);
        }
        if *mask == round {
            break;
        }
    }
    *mask != before
}

/// The one-category partitions as (total, the categories it is split by), and the others.
type SplitPartitions = (Vec<(usize, DimMask)>, Vec<&'static Partition>);

fn split_partitions() -> &'static SplitPartitions {
    static SPLIT: OnceLock<SplitPartitions> = OnceLock::new();
    SPLIT.get_or_init(|| {
        let mut singles: Vec<(usize, DimMask)> = Vec::new();
        let mut groups = Vec::new();
        for p in partitions() {
            match p.categories[..] {
                [c] => match singles.iter_mut().find(|(total, _)| *total == p.total) {
                    Some((_, cats)) => *cats |= 1u128 << c,
                    None => singles.push((p.total, 1u128 << c)),
                },
                _ => groups.push(p),
            }
        }
        (singles, groups)
    })
}

/// The `categories` whose complement in `total` is from 1 to k − 1 (branch-free over every
/// dimension; a category's value never exceeds its total).
fn small_remainders(t: &Tally, total: usize, categories: DimMask, k: u32) -> DimMask {
    let whole = t.d[total];
    categories & dims_where(|d| whole.wrapping_sub(t.d[d]).wrapping_sub(1) < k.saturating_sub(1))
}

/// Rule 3 for one partition: hides its smallest visible category while the hidden part of
/// its (visible) total is from 1 to k − 1; hides every category of a hidden total.
pub(crate) fn partition_rule(t: &Tally, p: &Partition, mask: &mut DimMask, k: u32) {
    if !visible(*mask, p.total) {
        for &c in &p.categories {
            hide(mask, c);
        }
        return;
    }
    let shown: u32 = p
        .categories
        .iter()
        .filter(|&&c| visible(*mask, c))
        .map(|&c| t.d[c])
        .sum();
    let hidden = t.d[p.total] - shown;
    if hidden > 0 && hidden < k {
        if let Some(&c) = p
            .categories
            .iter()
            .filter(|&&c| visible(*mask, c) && t.d[c] > 0)
            .min_by_key(|&&c| (t.d[c], c))
        {
            hide(mask, c);
        }
    }
}

/// Rule 4 for one parent and its children (`tallies` and `masks` are the children's).
fn hierarchy_rule(
    parent: &Tally,
    parent_mask: DimMask,
    tallies: &[Tally],
    masks: &mut [DimMask],
    k: u32,
) -> bool {
    parent_rules(parent, parent_mask, 0..tallies.len(), tallies, masks, k)
}

/// Rule 4 for a parent and its `members` (indexes into `tallies`/`masks`): what the parent
/// hides, they hide; the hidden rest of each visible dimension is 0 or ≥ k.
fn parent_rules(
    parent: &Tally,
    parent_mask: DimMask,
    members: impl Iterator<Item = usize> + Clone,
    tallies: &[Tally],
    masks: &mut [DimMask],
    k: u32,
) -> bool {
    let mut changed = false;
    let hidden_in_parent = ALL_DIMS & !parent_mask;
    for i in members.clone() {
        if masks[i] & hidden_in_parent != 0 {
            masks[i] &= !hidden_in_parent;
            changed = true;
        }
    }
    changed | residual_rules(parent, parent_mask, members, tallies, masks, k)
}

/// Rules 2, 3 and 6 on one unit until they hide nothing more. Skipped when the mask has not
/// changed since they last left it (`settled`): they would hide nothing.
fn settle_unit<'a, R: Iterator<Item = &'a Tally>>(
    t: &Tally,
    mask: &mut DimMask,
    settled: &mut DimMask,
    relaxed: impl Fn() -> R,
    k: u32,
) -> bool {
    if *mask == *settled {
        return false;
    }
    let mut changed = false;
    while unit_rules(t, mask, k) | filter_rule(t, mask, relaxed(), k) {
        changed = true;
    }
    *settled = *mask;
    changed
}

/// Sums of the visible values of `members`, per dimension: one dense pass (vectorised)
/// instead of one pass per dimension.
fn visible_sums<T: Borrow<Tally>>(
    members: impl Iterator<Item = usize>,
    tallies: &[T],
    masks: &[DimMask],
) -> [u32; NDIM] {
    let mut sums = [0u32; NDIM];
    for i in members {
        let (m, d) = (masks[i], &tallies[i].borrow().d);
        if m == ALL_DIMS {
            // Most units: everything visible, a plain vector add.
            for (sum, v) in sums.iter_mut().zip(d) {
                *sum += v;
            }
        } else if m != 0 {
            for (sum, v) in sums.iter_mut().zip(masked(d, m)) {
                *sum += v;
            }
        }
    }
    sums
}

/// [`residual_rule`] for every dimension visible in `total_mask` whose total is at least k,
/// run only where the hidden part is actually small.
fn residual_rules<T: Borrow<Tally>>(
    total: &Tally,
    total_mask: DimMask,
    members: impl Iterator<Item = usize> + Clone,
    tallies: &[T],
    masks: &mut [DimMask],
    k: u32,
) -> bool {
    let sums = visible_sums(members.clone(), tallies, masks);
    let mut small = total_mask
        & dims_where(|d| {
            let hidden = total.d[d].saturating_sub(sums[d]);
            hidden.wrapping_sub(1) < k.saturating_sub(1)
        });
    let mut changed = false;
    while small != 0 {
        let d = small.trailing_zeros() as usize;
        small &= small - 1;
        changed |= residual_rule(total.d[d], d, members.clone(), tallies, masks, k);
    }
    changed
}

/// Hides the smallest visible members of `group` until `total` minus the visible members is
/// 0 or ≥ k for dimension `d`.
fn residual_rule<T: Borrow<Tally>>(
    total: u32,
    d: usize,
    group: impl Iterator<Item = usize> + Clone,
    tallies: &[T],
    masks: &mut [DimMask],
    k: u32,
) -> bool {
    let mut changed = false;
    loop {
        let shown: u32 = group
            .clone()
            .filter(|&i| visible(masks[i], d))
            .map(|i| tallies[i].borrow().d[d])
            .sum();
        let hidden = total.saturating_sub(shown);
        if hidden == 0 || hidden >= k {
            return changed;
        }
        match group
            .clone()
            .filter(|&i| visible(masks[i], d) && tallies[i].borrow().d[d] > 0)
            .min_by_key(|&i| (tallies[i].borrow().d[d], i))
        {
            Some(i) => {
                hide(&mut masks[i], d);
                changed = true;
            }
            None => return changed,
        }
    }
}

/// Rule 6 for one unit against the same unit in the relaxed queries.
fn filter_rule<'a>(
    t: &Tally,
    mask: &mut DimMask,
    relaxed: impl Iterator<Item = &'a Tally>,
    k: u32,
) -> bool {
    let before = *mask;
    for r in relaxed {
        if *mask == 0 {
            break; // nothing left to hide (most small units)
        }
        // The relaxed value is publishable and exceeds this one by 1 to k − 1: hide.
        *mask &= !dims_where(|d| {
            let diff = r.d[d].wrapping_sub(t.d[d]);
            r.d[d] >= k && diff.wrapping_sub(1) < k.saturating_sub(1)
        });
    }
    *mask != before
}

/// For each unit of `level`, its index in `other` (same resolution, a superset of units).
fn align(level: &Level, other: &Level) -> Vec<Option<usize>> {
    let mut j = 0;
    level
        .ids
        .iter()
        .map(|id| {
            while j < other.ids.len() && other.ids[j] < *id {
                j += 1;
            }
            (j < other.ids.len() && other.ids[j] == *id).then_some(j)
        })
        .collect()
}

/// Visibility of every H3 unit of a query, level by level, plus the national totals.
pub struct H3Visibility {
    pub national: DimMask,
    pub levels: Vec<Vec<DimMask>>,
}

/// Applies every rule to an H3 query. `relaxed` are the same query without each of its
/// filters; `states` are the state tallies of the same query (for rule 5).
pub fn suppress_h3(
    table: &H3Table,
    relaxed: &[&H3Table],
    states: &[Tally],
    k: u32,
) -> H3Visibility {
    let mut national = primary(&table.national, k);
    unit_rules(&table.national, &mut national, k);
    let mut levels: Vec<Vec<DimMask>> = Vec::with_capacity(table.levels.len());
    for (li, level) in table.levels.iter().enumerate() {
        let tallies = &level.tallies;
        // Children of each parent: runs of equal parent id (ids are sorted); and each unit's
        // place in the relaxed queries. Two sequential passes, side by side.
        let (groups, aligned): (Vec<ParentGroup>, Vec<_>) = rayon::join(
            || {
                if li == 0 {
                    vec![(None, 0..tallies.len())]
                } else {
                    parent_groups(level, &table.levels[li - 1])
                }
            },
            || {
                relaxed
                    .par_iter()
                    .map(|r| align(level, &r.levels[li]))
                    .collect::<Vec<Vec<Option<usize>>>>()
            },
        );
        let relaxed_of = |i: usize| {
            relaxed
                .iter()
                .zip(&aligned)
                .filter_map(move |(r, a)| a[i].map(|j| &r.levels[li].tallies[j]))
        };
        // Rule 1 and each unit's own rules (2, 3, 6) in one pass, so that each tally is
        // read from memory once: at fine resolutions the tallies are tens of MB, and a
        // second pass over them waited on memory for most of its time.
        // A unit of fewer than k records is hidden whole (rules 1 and 2) without reading
        // its tally (most units of the finer levels; a filtered query does not even keep
        // them at its own resolution).
        let first: Vec<(DimMask, u8)> = tallies
            .par_iter()
            .zip(&level.counts)
            .enumerate()
            .map(|(i, (t, &count))| {
                if count < k {
                    return (0, NO_STATE);
                }
                let mut mask = primary(t, k);
                settle_unit(t, &mut mask, &mut !0, || relaxed_of(i), k);
                (mask, t.state)
            })
            .collect();
        let mut masks: Vec<DimMask> = first.iter().map(|&(mask, _)| mask).collect();
        // Units whose records all lie in one state, grouped by state (rule 5); hidden
        // units add nothing to a state's visible part and are left out.
        let mut by_state: Vec<Vec<usize>> = vec![Vec::new(); states.len()];
        for (i, &(mask, state)) in first.iter().enumerate() {
            if mask != 0 && state != MIXED_STATE && state != NO_STATE {
                by_state[state as usize].push(i);
            }
        }
        // Each unit's mask when its own rules last left it settled: a unit whose mask has
        // not changed since is skipped (its rules would hide nothing more).
        let mut settled: Vec<DimMask> = masks.clone();
        // The same for the group rules: each unit's mask when its parent's rule (and its
        // state's) last ran. Both rules leave nothing more to hide once they have run, and
        // a parent's mask is final before its children's level starts, so a group whose
        // members' masks are all unchanged since is skipped. (`!0` is no mask: ≥ 79 bits.)
        let mut parent_checked: Vec<DimMask> = vec![!0; masks.len()];
        let mut state_checked: Vec<DimMask> = vec![!0; masks.len()];
        loop {
            // Rule 4 looks at one parent's children (disjoint runs), so parents run in
            // parallel and decide exactly as one after another.
            let mut changed = false;
            let mut jobs = Vec::with_capacity(groups.len());
            let (mut rest, mut offset): (&mut [DimMask], usize) = (&mut masks, 0);
            let mut checked_rest: &mut [DimMask] = &mut parent_checked;
            for (parent, children) in &groups {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(children.end - offset);
                let (checked_head, checked_tail) =
                    std::mem::take(&mut checked_rest).split_at_mut(children.end - offset);
                let (pt, pm) = match parent {
                    None => (&table.national, national),
                    Some(p) => (&table.levels[li - 1].tallies[*p], levels[li - 1][*p]),
                };
                let start = children.start - offset;
                // Units hidden whole stay so; a group of only those has nothing to check
                // (its parent's visible values are 0 or ≥ k, all of it hidden).
                let members = &head[start..];
                if members != &checked_head[start..] && members.iter().any(|&m| m != 0) {
                    jobs.push((
                        pt,
                        pm,
                        children.clone(),
                        &mut head[start..],
                        &mut checked_head[start..],
                    ));
                }
                (rest, checked_rest, offset) = (tail, checked_tail, children.end);
            }
            changed |= jobs
                .into_par_iter()
                .map(|(pt, pm, children, m, checked)| {
                    let changed = hierarchy_rule(pt, pm, &tallies[children], m, k);
                    checked.copy_from_slice(m);
                    changed
                })
                .reduce(|| false, |a, b| a | b);
            // Rule 5, states side by side: each works on a copy of its members' masks (no
            // unit lies in two states), written back after.
            let decided: Vec<(usize, Vec<DimMask>, bool)> = states
                .par_iter()
                .zip(&by_state)
                .enumerate()
                .filter(|(_, (_, members))| members.iter().any(|&i| masks[i] != state_checked[i]))
                .map(|(st, (state, members))| {
                    let member_tallies: Vec<&Tally> =
                        members.iter().map(|&i| &tallies[i]).collect();
                    let mut member_masks: Vec<DimMask> =
                        members.iter().map(|&i| masks[i]).collect();
                    // Every dimension the state could publish (≥ k), visible or not.
                    let publishable = dims_where(|d| state.d[d] >= k);
                    let changed = residual_rules(
                        state,
                        publishable,
                        0..members.len(),
                        &member_tallies,
                        &mut member_masks,
                        k,
                    );
                    (st, member_masks, changed)
                })
                .collect();
            for (st, member_masks, state_changed) in decided {
                changed |= state_changed;
                for (&i, mask) in by_state[st].iter().zip(member_masks) {
                    masks[i] = mask;
                    state_checked[i] = mask;
                }
            }
            if !changed {
                break;
            }
            // Units whose masks the group rules changed settle their own rules again.
            masks
                .par_iter_mut()
                .zip(settled.par_iter_mut())
                .enumerate()
                .for_each(|(i, (mask, settled))| {
                    settle_unit(&tallies[i], mask, settled, || relaxed_of(i), k);
                });
        }
        levels.push(masks);
    }
    H3Visibility { national, levels }
}

/// A parent's index in the coarser level (`None` for the nation) and its children's range.
type ParentGroup = (Option<usize>, std::ops::Range<usize>);

fn parent_groups(level: &Level, parents: &Level) -> Vec<ParentGroup> {
    let mut groups = Vec::new();
    let mut p = 0;
    let mut start = 0;
    for i in 0..=level.ids.len() {
        let boundary = i == level.ids.len()
            || (i > start
                && super::snapshot::parent(level.ids[i], parents.res)
                    != super::snapshot::parent(level.ids[start], parents.res));
        if boundary && i > start {
            let pid = super::snapshot::parent(level.ids[start], parents.res);
            while parents.ids[p] != pid {
                p += 1;
            }
            groups.push((Some(p), start..i));
            start = i;
        }
    }
    groups
}

/// Visibility of the states and counties of a query.
pub struct AreaVisibility {
    pub national: DimMask,
    pub states: Vec<DimMask>,
    pub counties: Vec<DimMask>,
}

/// Applies every rule to a state/county query.
pub fn suppress_areas(
    table: &AreaTable,
    relaxed: &[&AreaTable],
    county_state: &[usize],
    k: u32,
) -> AreaVisibility {
    let mut national = primary(&table.national, k);
    unit_rules(&table.national, &mut national, k);
    let states = decide(
        &table.states,
        &relaxed.iter().map(|r| &r.states[..]).collect::<Vec<_>>(),
        k,
        |masks, changed| {
            *changed |= hierarchy_rule(&table.national, national, &table.states, masks, k);
        },
    );
    let mut by_state: Vec<Vec<usize>> = vec![Vec::new(); table.states.len()];
    for (c, &s) in county_state.iter().enumerate() {
        if s < by_state.len() {
            by_state[s].push(c);
        }
    }
    let counties = decide(
        &table.counties,
        &relaxed.iter().map(|r| &r.counties[..]).collect::<Vec<_>>(),
        k,
        |masks, changed| {
            for (s, members) in by_state.iter().enumerate() {
                *changed |= parent_rules(
                    &table.states[s],
                    states[s],
                    members.iter().copied(),
                    &table.counties,
                    masks,
                    k,
                );
            }
        },
    );
    AreaVisibility {
        national,
        states,
        counties,
    }
}

fn decide(
    tallies: &[Tally],
    relaxed: &[&[Tally]],
    k: u32,
    mut parent_pass: impl FnMut(&mut [DimMask], &mut bool),
) -> Vec<DimMask> {
    let mut masks: Vec<DimMask> = tallies.iter().map(|t| primary(t, k)).collect();
    // As in `suppress_h3`: units whose mask did not change since their rules settled it
    // are skipped.
    let mut settled: Vec<DimMask> = vec![!0; masks.len()];
    loop {
        let mut changed = masks
            .par_iter_mut()
            .zip(settled.par_iter_mut())
            .enumerate()
            .map(|(i, (mask, settled))| {
                settle_unit(
                    &tallies[i],
                    mask,
                    settled,
                    || relaxed.iter().map(move |r| &r[i]),
                    k,
                )
            })
            .reduce(|| false, |a, b| a | b);
        parent_pass(&mut masks, &mut changed);
        if !changed {
            return masks;
        }
    }
}

/// Whether a unit's remittance total (and mean) may be published: the amounts' count is
/// visible and no one or two remitters dominate the total.
pub fn remit_sum_publishable(t: &Tally, mask: DimMask, stats: &RemitStats) -> bool {
    if !visible(mask, RA) || t.d[RA] == 0 || t.remit_cents <= 0 {
        return false;
    }
    let total = t.remit_cents as f64;
    stats.top1 as f64 <= DOMINANCE_TOP1 * total
        && (stats.top1 + stats.top2) as f64 <= DOMINANCE_TOP2 * total
}

/// Whether dimension `d` is visible in `mask`.
pub fn is_visible(mask: DimMask, d: usize) -> bool {
    visible(mask, d)
}
