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

/// The dimensions `d` for which `test(d)` holds. The tests are written as bytes (a loop the
/// compiler vectorises) and gathered eight at a time into bits by one multiplication:
/// setting the bits of a 128-bit mask one by one cost more than the tests themselves.
#[inline(always)]
pub fn dims_where(test: impl Fn(usize) -> bool) -> DimMask {
    let mut flags = [0u8; NDIM.next_multiple_of(8)];
    for (d, flag) in flags.iter_mut().enumerate().take(NDIM) {
        *flag = u8::from(test(d));
    }
    let mut mask: DimMask = 0;
    for (word, bytes) in flags.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(bytes.try_into().expect("eight flags"));
        // Byte j (0 or 1) lands on bit 56 + j, without carries between the products.
        mask |= DimMask::from(x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * word);
    }
    mask
}

/// `values` with the dimensions not in `mask` set to 0 (two 64-bit halves: a variable
/// shift of a 128-bit mask per dimension does not vectorise).
#[inline]
pub fn masked(values: &[u32; NDIM], mask: DimMask) -> [u32; NDIM] {
    let (low, high) = (mask as u64, (mask >> 64) as u64);
    let mut out = [0u32; NDIM];
    for (d, (o, &v)) in out.iter_mut().zip(values).enumerate().take(64) {
        *o = v & 0u32.wrapping_sub(((low >> d) & 1) as u32);
    }
    for (d, (o, &v)) in out.iter_mut().zip(values).enumerate().skip(64) {
        *o = v & 0u32.wrapping_sub(((high >> (d - 64)) & 1) as u32);
    }
    out
}

/// The state of a unit whose records lie in more than one state.
pub const MIXED_STATE: u8 = 254;
/// The state of an empty unit.
pub const NO_STATE: u8 = 255;

#[derive(Clone, Debug, PartialEq)]
pub struct Tally {
    pub d: [u32; NDIM],
    /// Each dimension's cell key: the sum, modulo 256, of the record keys of the records it
    /// counts (see `perturb`). Never published.
    pub key: [u8; NDIM],
    /// Sum of the known annual remittance amounts, cents.
    pub remit_cents: i64,
    /// The state all records lie in, [`MIXED_STATE`] or [`NO_STATE`].
    pub state: u8,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            d: [0; NDIM],
            key: [0; NDIM],
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
        let rkey = s.rkey[i];
        let (d, key) = (&mut self.d, &mut self.key);
        // Adds the record to dimension `dim` when `yes` is 1 (count and cell key alike).
        let mut count = |dim: usize, yes: u32| {
            d[dim] += yes;
            key[dim] = key[dim].wrapping_add(rkey & 0u8.wrapping_sub(yes as u8));
        };
        count(N, 1);
        let gender = s.gender[i];
        count(F + gender.min(2) as usize, 1);
        let female = u32::from(gender == 0);
        let remits = s.remits[i];
        let yes = u32::from(remits == 1);
        count(RY, yes);
        count(FRY, yes & female);
        count(RN, u32::from(remits == 0));
        let known = yes & u32::from(s.remit_cents[i] >= 0);
        count(RA, known);
        self.remit_cents += if known == 1 { s.remit_cents[i] } else { 0 };
        if s.occupation[i] != NONE {
            count(OCCUPATION.start + s.occupation[i] as usize, 1);
        }
        add_bits::<{ SECTOR.end - SECTOR.start }>(d, key, rkey, SECTOR.start, s.sectors[i]);
        add_bits::<{ NEED.end - NEED.start }>(d, key, rkey, NEED.start, s.needs[i]);
        add_bits::<{ DIFFICULTY.end - DIFFICULTY.start }>(
            d,
            key,
            rkey,
            DIFFICULTY.start,
            s.difficulties[i],
        );
        add_bits::<{ WILLINGNESS.end - WILLINGNESS.start }>(
            d,
            key,
            rkey,
            WILLINGNESS.start,
            s.willingness[i],
        );
        add_bits::<{ CHANNEL.end - CHANNEL.start }>(d, key, rkey, CHANNEL.start, s.channels[i]);
        add_bits::<{ LANGUAGE.end - LANGUAGE.start }>(d, key, rkey, LANGUAGE.start, s.languages[i]);
        self.merge_state(s.state[i]);
    }

    pub fn add(&mut self, other: &Tally) {
        for (a, b) in self.d.iter_mut().zip(other.d.iter()) {
            *a += b;
        }
        for (a, b) in self.key.iter_mut().zip(other.key.iter()) {
            *a = a.wrapping_add(*b);
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

/// Adds bit `b` of `bits` (0 or 1) to `d[start + b]`, and the record key to the cell key
/// of those dimensions, for the `W` bits of a field.
#[inline]
fn add_bits<const W: usize>(
    d: &mut [u32; NDIM],
    key: &mut [u8; NDIM],
    rkey: u8,
    start: usize,
    bits: u32,
) {
    let counts: &mut [u32; W] = (&mut d[start..start + W])
        .try_into()
        .expect("the field's dimensions");
    let keys: &mut [u8; W] = (&mut key[start..start + W])
        .try_into()
        .expect("the field's dimensions");
    for (b, (c, k)) in counts.iter_mut().zip(keys.iter_mut()).enumerate() {
        let bit = (bits >> b) & 1;
        *c += bit;
        *k = k.wrapping_add(rkey & 0u8.wrapping_sub(bit as u8));
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn masks_are_built_and_applied_bit_for_bit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..2_000 {
            let values: [u32; NDIM] = std::array::from_fn(|_| rng.random_range(0..20));
            let threshold = rng.random_range(0..20);
            let mask = dims_where(|d| values[d] < threshold);
            for (d, &v) in values.iter().enumerate() {
                assert_eq!(mask >> d & 1 == 1, v < threshold, "dimension {d}");
            }
            assert_eq!(mask & !ALL_DIMS, 0);
            let random: DimMask = rng.random::<u128>() & ALL_DIMS;
            let kept = masked(&values, random);
            for d in 0..NDIM {
                let expected = if random >> d & 1 == 1 { values[d] } else { 0 };
                assert_eq!(kept[d], expected, "dimension {d}");
            }
        }
    }
}
