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
    /// Adds record `i`. Written without data-dependent branches where it matters: a
    /// record's multi-select answers are a few random bits, and a loop over the set bits
    /// mispredicts at every exit (this was most of a filtered re-aggregation's time); adding
    /// every bit of each field (0 or 1) is a fixed, vectorised sequence instead.
    #[inline]
    pub fn add_record(&mut self, s: &Snapshot, i: usize) {
        let d = &mut self.d;
        d[N] += 1;
        let gender = s.gender[i];
        d[F + gender.min(2) as usize] += 1;
        let female = u32::from(gender == 0);
        let remits = s.remits[i];
        let yes = u32::from(remits == 1);
        d[RY] += yes;
        d[FRY] += yes & female;
        d[RN] += u32::from(remits == 0);
        let known = yes & u32::from(s.remit_cents[i] >= 0);
        d[RA] += known;
        self.remit_cents += if known == 1 { s.remit_cents[i] } else { 0 };
        if s.occupation[i] != NONE {
            d[OCCUPATION.start + s.occupation[i] as usize] += 1;
        }
        add_bits::<{ SECTOR.end - SECTOR.start }>(d, SECTOR.start, s.sectors[i]);
        add_bits::<{ NEED.end - NEED.start }>(d, NEED.start, s.needs[i]);
        add_bits::<{ DIFFICULTY.end - DIFFICULTY.start }>(d, DIFFICULTY.start, s.difficulties[i]);
        add_bits::<{ WILLINGNESS.end - WILLINGNESS.start }>(d, WILLINGNESS.start, s.willingness[i]);
        add_bits::<{ CHANNEL.end - CHANNEL.start }>(d, CHANNEL.start, s.channels[i]);
        add_bits::<{ LANGUAGE.end - LANGUAGE.start }>(d, LANGUAGE.start, s.languages[i]);
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

/// Adds bit `b` of `bits` (0 or 1) to `d[start + b]` for the `W` bits of a field.
#[inline]
fn add_bits<const W: usize>(d: &mut [u32; NDIM], start: usize, bits: u32) {
    let counts: &mut [u32; W] = (&mut d[start..start + W])
        .try_into()
        .expect("the field's dimensions");
    for (b, c) in counts.iter_mut().enumerate() {
        *c += (bits >> b) & 1;
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
