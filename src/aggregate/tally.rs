//! Per-unit counters. Every published number of a unit is one dimension of [`Tally::d`];
//! the privacy rules work on these dimensions, the metrics are derived from them.

use std::ops::Range;

use super::snapshot::{Snapshot, NONE};

/// Records in the unit.
pub const N: usize = 0;
pub const F: usize = 1;
pub const M: usize = 2;
/// Another gender, or prefers not to say.
pub const X: usize = 3;
/// Remitters, non-remitters, remitters who gave an amount, female remitters.
pub const RY: usize = 4;
pub const RN: usize = 5;
pub const RA: usize = 6;
pub const FRY: usize = 7;
pub const OCCUPATION: Range<usize> = 8..18;
pub const SECTOR: Range<usize> = 18..39;
pub const NEED: Range<usize> = 39..49;
pub const DIFFICULTY: Range<usize> = 49..57;
pub const WILLINGNESS: Range<usize> = 57..65;
pub const CHANNEL: Range<usize> = 65..75;
pub const LANGUAGE: Range<usize> = 75..79;
pub const NDIM: usize = 79;

/// A bitset over dimensions (bit set = visible).
pub type DimMask = u128;
pub const ALL_DIMS: DimMask = (1u128 << NDIM) - 1;

/// The state of a unit whose records lie in more than one state.
pub const MIXED_STATE: u8 = 254;
/// The state of an empty unit.
pub const NO_STATE: u8 = 255;

#[derive(Clone, Debug, PartialEq)]
pub struct Tally {
    pub d: [u32; NDIM],
    /// Sum of the known annual remittance amounts, cents.
    pub remit_cents: i64,
    /// The state all records lie in, [`MIXED_STATE`] or [`NO_STATE`].
    pub state: u8,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            d: [0; NDIM],
            remit_cents: 0,
            state: NO_STATE,
        }
    }
}

impl Tally {
    #[inline]
    pub fn add_record(&mut self, s: &Snapshot, i: usize) {
        let d = &mut self.d;
        d[N] += 1;
        let female = s.gender[i] == 0;
        d[F + s.gender[i].min(2) as usize] += 1;
        match s.remits[i] {
            1 => {
                d[RY] += 1;
                if female {
                    d[FRY] += 1;
                }
                if s.remit_cents[i] >= 0 {
                    d[RA] += 1;
                    self.remit_cents += s.remit_cents[i];
                }
            }
            0 => d[RN] += 1,
            _ => {}
        }
        if s.occupation[i] != NONE {
            d[OCCUPATION.start + s.occupation[i] as usize] += 1;
        }
        add_bits(&mut d[SECTOR], s.sectors[i]);
        add_bits(&mut d[NEED], s.needs[i]);
        add_bits(&mut d[DIFFICULTY], s.difficulties[i]);
        add_bits(&mut d[WILLINGNESS], s.willingness[i]);
        add_bits(&mut d[CHANNEL], s.channels[i]);
        add_bits(&mut d[LANGUAGE], s.languages[i]);
        self.merge_state(s.state[i]);
    }

    pub fn add(&mut self, other: &Tally) {
        for (a, b) in self.d.iter_mut().zip(other.d.iter()) {
            *a += b;
        }
        self.remit_cents += other.remit_cents;
        self.merge_state(other.state);
    }

    #[inline]
    fn merge_state(&mut self, state: u8) {
        if self.state == NO_STATE {
            self.state = state;
        } else if self.state != state && state != NO_STATE {
            self.state = MIXED_STATE;
        }
    }
}

#[inline]
fn add_bits(counts: &mut [u32], mut bits: u32) {
    while bits != 0 {
        let b = bits.trailing_zeros() as usize;
        if b < counts.len() {
            counts[b] += 1;
        }
        bits &= bits - 1;
    }
}

/// A partition of a total into categories: the privacy rules require that the hidden part
/// (hidden categories plus any unpublished remainder) is never a small positive number.
pub struct Partition {
    pub total: usize,
    pub categories: Vec<usize>,
}

/// Every partition constraint between the dimensions of one unit.
pub fn partitions() -> &'static [Partition] {
    static P: std::sync::OnceLock<Vec<Partition>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut p = vec![
            // Only women are counted by gender in the output: men and other genders are the
            // remainder, so a handful of "other" answers never forces a complementary cell.
            Partition {
                total: N,
                categories: vec![F],
            },
            Partition {
                total: N,
                categories: vec![RY],
            },
            Partition {
                total: RY,
                categories: vec![RA],
            },
            Partition {
                total: RY,
                categories: vec![FRY],
            },
            Partition {
                total: F,
                categories: vec![FRY],
            },
            Partition {
                total: N,
                categories: OCCUPATION.collect(),
            },
        ];
        // A multi-select code splits the unit into "has it" and "has it not".
        for dim in SECTOR.start..LANGUAGE.end {
            p.push(Partition {
                total: N,
                categories: vec![dim],
            });
        }
        p
    })
}
