//! Filters applied to records before grouping. Each is a conjunct; within one filter the
//! listed codes are alternatives (`gender=f,x` = women or another gender; for multi-select
//! fields, a record matches when it has any of the listed codes).

use std::collections::BTreeMap;

use crate::codes::{CodeList, Codebook};
use crate::error::Error;

use super::snapshot::Snapshot;

/// The filterable fields, in their query-parameter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Gender,
    AgeBand,
    Generation,
    Occupation,
    Sector,
    Need,
    Difficulty,
    Willingness,
    Department,
    Round,
    /// Collection month range (`from`/`to`, `YYYY-MM`), one conjunct.
    Period,
}

impl Field {
    pub const CODED: [(Field, &'static str, CodeList); 9] = [
        (Field::Gender, "gender", CodeList::Gender),
        (Field::AgeBand, "age_band", CodeList::AgeBand),
        (Field::Generation, "generation", CodeList::Generation),
        (Field::Occupation, "occupation", CodeList::Occupation),
        (Field::Sector, "sector", CodeList::Sector),
        (Field::Need, "need", CodeList::Need),
        (Field::Difficulty, "difficulty", CodeList::Difficulty),
        (Field::Willingness, "willingness", CodeList::Willingness),
        (Field::Department, "department", CodeList::Department),
    ];

    /// Every query parameter a filter may use.
    pub const PARAMS: [&'static str; 12] = [
        "gender",
        "age_band",
        "generation",
        "occupation",
        "sector",
        "need",
        "difficulty",
        "willingness",
        "department",
        "round",
        "from",
        "to",
    ];
}

/// A conjunction of filters; `BTreeMap` so that the canonical form (cache keys) is ordered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Allowed codes per coded field, as a bitmask of code indexes.
    codes: BTreeMap<Field, u32>,
    /// Allowed survey rounds, by name.
    rounds: Option<Vec<String>>,
    /// Inclusive month range, `year * 12 + month - 1`.
    period: Option<(u32, u32)>,
}

impl Filter {
    /// Parses the filter parameters of a query; other parameters are ignored here.
    ///
    /// # Errors
    /// An unknown code (with the valid ones), a malformed or reversed month range.
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Filter, Error> {
        let book = Codebook::get();
        let mut f = Filter::default();
        let (mut from, mut to) = (None, None);
        for (key, value) in params {
            if let Some((field, _, list)) = Field::CODED.iter().find(|(_, name, _)| *name == key) {
                let mut mask = 0u32;
                for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    let i = book
                        .index(*list, code)
                        .map_err(|source| Error::UnknownCode {
                            param: key.to_string(),
                            source,
                        })?;
                    mask |= 1 << i;
                }
                if mask == 0 {
                    return Err(Error::invalid(key, "give at least one code"));
                }
                f.codes.insert(*field, mask);
            } else if key == "round" {
                let rounds: Vec<String> = value
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if rounds.is_empty() {
                    return Err(Error::invalid(key, "give at least one survey round"));
                }
                f.rounds = Some(rounds);
            } else if key == "from" {
                from = Some(parse_month(key, value)?);
            } else if key == "to" {
                to = Some(parse_month(key, value)?);
            }
        }
        if from.is_some() || to.is_some() {
            let (a, b) = (from.unwrap_or(0), to.unwrap_or(u32::MAX));
            if a > b {
                return Err(Error::invalid("from", "the period starts after it ends"));
            }
            f.period = Some((a, b));
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.rounds.is_none() && self.period.is_none()
    }

    /// The active conjuncts.
    pub fn fields(&self) -> Vec<Field> {
        let mut v: Vec<Field> = self.codes.keys().copied().collect();
        if self.rounds.is_some() {
            v.push(Field::Round);
        }
        if self.period.is_some() {
            v.push(Field::Period);
        }
        v
    }

    /// The same filter without one conjunct (the query an attacker would difference with).
    pub fn without(&self, field: Field) -> Filter {
        let mut f = self.clone();
        match field {
            Field::Round => f.rounds = None,
            Field::Period => f.period = None,
            coded => {
                f.codes.remove(&coded);
            }
        }
        f
    }

    /// A canonical text form, for cache keys and ETags.
    pub fn canonical(&self) -> String {
        format!("{:?}|{:?}|{:?}", self.codes, self.rounds, self.period)
    }

    /// Compiles against a snapshot into a matcher (resolves round names to indexes).
    ///
    /// # Errors
    /// A survey round the snapshot does not have.
    pub fn compile(&self, snap: &Snapshot) -> Result<Matcher, Error> {
        let rounds = match &self.rounds {
            None => None,
            Some(names) => {
                let mut mask = vec![false; snap.rounds.len()];
                for name in names {
                    let i = snap.rounds.iter().position(|r| r == name).ok_or_else(|| {
                        Error::InvalidParam {
                            param: "round".into(),
                            reason: format!(
                                "unknown survey round {name:?}; valid rounds: {}",
                                snap.rounds.join(", ")
                            ),
                        }
                    })?;
                    mask[i] = true;
                }
                Some(mask)
            }
        };
        Ok(Matcher {
            codes: self.codes.iter().map(|(f, m)| (*f, *m)).collect(),
            rounds,
            period: self.period,
        })
    }
}

fn parse_month(key: &str, value: &str) -> Result<u32, Error> {
    let bad = || {
        Error::invalid(
            key,
            format!("{value:?} is not a month (YYYY-MM) or a date (YYYY-MM-DD)"),
        )
    };
    let mut parts = value.trim().split('-');
    let year: u32 = parts
        .next()
        .and_then(|y| y.parse().ok())
        .filter(|y| (1900..=2200).contains(y))
        .ok_or_else(bad)?;
    let month: u32 = parts
        .next()
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(bad)?;
    if let Some(day) = parts.next() {
        day.parse::<u32>()
            .ok()
            .filter(|d| (1..=31).contains(d))
            .ok_or_else(bad)?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(year * 12 + month - 1)
}

/// A filter resolved against one snapshot.
pub struct Matcher {
    codes: Vec<(Field, u32)>,
    rounds: Option<Vec<bool>>,
    period: Option<(u32, u32)>,
}

impl Matcher {
    /// The indexes in `from..to` of the matching records, ascending. Each filter is applied
    /// to its whole column in turn (loops without branches, which the compiler vectorises)
    /// and the survivors are gathered without branching: record by record, half the records
    /// matching a gender filter would make every other branch a misprediction.
    pub fn select(&self, s: &Snapshot, from: usize, to: usize, out: &mut Vec<u32>) {
        let mut keep = vec![1u8; to - from];
        let single = |keep: &mut [u8], column: &[u8], mask: u32| {
            let mask = u64::from(mask);
            for (k, &v) in keep.iter_mut().zip(column) {
                // Codes are below 32; larger values (no answer) never match.
                *k &= ((mask >> (v & 63)) & u64::from(v < 32)) as u8;
            }
        };
        let set = |keep: &mut [u8], column: &[u32], mask: u32| {
            for (k, &v) in keep.iter_mut().zip(column) {
                *k &= u8::from(v & mask != 0);
            }
        };
        for &(field, mask) in &self.codes {
            let k = &mut keep[..];
            match field {
                Field::Gender => single(k, &s.gender[from..to], mask),
                Field::AgeBand => single(k, &s.age_band[from..to], mask),
                Field::Generation => single(k, &s.generation[from..to], mask),
                Field::Occupation => single(k, &s.occupation[from..to], mask),
                Field::Department => single(k, &s.department[from..to], mask),
                Field::Sector => set(k, &s.sectors[from..to], mask),
                Field::Need => set(k, &s.needs[from..to], mask),
                Field::Difficulty => set(k, &s.difficulties[from..to], mask),
                Field::Willingness => set(k, &s.willingness[from..to], mask),
                Field::Round | Field::Period => {}
            }
        }
        if let Some(r) = &self.rounds {
            for (k, &round) in keep.iter_mut().zip(&s.round[from..to]) {
                *k &= u8::from(r[round as usize]);
            }
        }
        if let Some((a, b)) = self.period {
            for (k, &m) in keep.iter_mut().zip(&s.month[from..to]) {
                *k &= u8::from(m >= a && m <= b);
            }
        }
        out.clear();
        out.resize(keep.len(), 0);
        let mut n = 0;
        for (j, &k) in keep.iter().enumerate() {
            out[n] = (from + j) as u32;
            n += usize::from(k);
        }
        out.truncate(n);
    }

    /// Whether record `i` matches, decided record by record: the plain definition that the
    /// tests check [`Matcher::select`] against.
    #[cfg(test)]
    pub fn matches(&self, s: &Snapshot, i: usize) -> bool {
        let single = |v: u8, mask: u32| v < 32 && mask & (1 << v) != 0;
        for &(field, mask) in &self.codes {
            let ok = match field {
                Field::Gender => single(s.gender[i], mask),
                Field::AgeBand => single(s.age_band[i], mask),
                Field::Generation => single(s.generation[i], mask),
                Field::Occupation => single(s.occupation[i], mask),
                Field::Department => single(s.department[i], mask),
                Field::Sector => s.sectors[i] & mask != 0,
                Field::Need => s.needs[i] & mask != 0,
                Field::Difficulty => s.difficulties[i] & mask != 0,
                Field::Willingness => s.willingness[i] & mask != 0,
                Field::Round | Field::Period => true,
            };
            if !ok {
                return false;
            }
        }
        if let Some(r) = &self.rounds {
            if !r[s.round[i] as usize] {
                return false;
            }
        }
        if let Some((a, b)) = self.period {
            let m = s.month[i];
            if m < a || m > b {
                return false;
            }
        }
        true
    }
}
