//! Which places a query keeps: the filters shared by `/api/v1/places` (and its nearest and
//! radius queries) and the OGC places collection. Each filter is a comma-separated list of
//! alternatives (a place matching any of them is kept); the filters combine with "and".

use super::{Category, KindFilter, PlaceSet};
use crate::codes::{CodeList, Codebook};
use crate::error::Error;
use crate::geodata::Geodata;

/// The filters as given in a query (each `None` when absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct FilterParams<'a> {
    /// `place_kind` codes.
    pub kind: Option<&'a str>,
    /// `consular` or `association`.
    pub category: Option<&'a str>,
    /// ISIC sections.
    pub sector: Option<&'a str>,
    /// `language` codes.
    pub language: Option<&'a str>,
    /// USPS state codes (case-insensitive).
    pub state: Option<&'a str>,
    /// `true`/`1`/`yes` or `false`/`0`/`no`: only demo places, or only real ones.
    pub demo: Option<&'a str>,
}

/// A parsed place filter; see the module documentation.
#[derive(Clone, Debug)]
pub struct PlaceFilter {
    /// The kinds kept (the R-tree answers this part itself).
    pub kinds: KindFilter,
    sectors: Vec<String>,
    languages: Vec<String>,
    states: Vec<String>,
    demo: Option<bool>,
}

impl PlaceFilter {
    /// Parses the filters.
    ///
    /// # Errors
    /// An unknown code, category, state or flag (naming the parameter), or a list without
    /// any item.
    pub fn parse(p: &FilterParams<'_>) -> Result<PlaceFilter, Error> {
        let mut kinds = match p.kind {
            None => KindFilter::all(),
            Some(list) => {
                nonempty("kind", list)?;
                KindFilter::parse(list).map_err(|source| Error::UnknownCode {
                    param: "kind".into(),
                    source,
                })?
            }
        };
        if let Some(c) = p.category {
            let c = Category::parse(c).ok_or_else(|| {
                Error::invalid("category", format!("{c:?}: use consular or association"))
            })?;
            kinds = kinds.and(KindFilter::category(c));
        }
        let demo = match p.demo {
            None => None,
            Some("true" | "1" | "yes") => Some(true),
            Some("false" | "0" | "no") => Some(false),
            Some(other) => {
                return Err(Error::invalid(
                    "demo",
                    format!("{other:?}: use true or false"),
                ))
            }
        };
        let states = match p.state {
            None => Vec::new(),
            Some(v) => {
                nonempty("state", v)?;
                let geo = Geodata::get();
                let list = items(v).map(str::to_ascii_uppercase).collect::<Vec<_>>();
                if let Some(bad) = list.iter().find(|s| geo.state_by_postal(s).is_none()) {
                    return Err(Error::invalid(
                        "state",
                        format!("{bad:?} is not a USPS state code (e.g. FL)"),
                    ));
                }
                list
            }
        };
        Ok(PlaceFilter {
            kinds,
            sectors: codes("sector", p.sector, CodeList::Sector)?,
            languages: codes("language", p.language, CodeList::Language)?,
            states,
            demo,
        })
    }

    /// Whether the place at `index` of `set` passes every filter.
    pub fn keeps(&self, set: &PlaceSet, index: usize) -> bool {
        let place = set.place(index);
        let any = |want: &[String], have: &[String]| {
            want.is_empty() || have.iter().any(|h| want.contains(h))
        };
        self.kinds.contains(set.kind(index))
            && any(&self.sectors, &place.sectors)
            && any(&self.languages, &place.languages)
            && (self.states.is_empty() || self.states.contains(&place.state))
            && self.demo.is_none_or(|d| place.is_demo == d)
    }
}

fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|c| !c.is_empty())
}

fn nonempty(param: &str, list: &str) -> Result<(), Error> {
    if items(list).next().is_none() {
        return Err(Error::invalid(param, "give at least one code"));
    }
    Ok(())
}

/// The canonical codes of a comma-separated list of `list`'s codes (empty when absent).
fn codes(param: &str, value: Option<&str>, list: CodeList) -> Result<Vec<String>, Error> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    nonempty(param, value)?;
    let book = Codebook::get();
    items(value)
        .map(|c| {
            book.index(list, c)
                .map(|i| book.code(list, i).to_string())
                .map_err(|source| Error::UnknownCode {
                    param: param.into(),
                    source,
                })
        })
        .collect()
}
