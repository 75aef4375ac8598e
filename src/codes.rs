//! The coded lists of the record model (ISCO-08 occupations, ISIC Rev.4 sectors, Haiti's
//! departments, needs, channels…), each defined once in `geodata/codes.csv` with labels in
//! English, French and Haitian Creole, and served to clients as `GET /api/v1/codes`.
//!
//! A code is stored in memory as its index in its list (`u8`), and a multi-select answer as
//! a [`CodeSet`] bitset, so that aggregation scans integers, never strings.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

use crate::geodata::GeoFiles;

/// The coded lists, in the order they are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeList {
    Gender,
    AgeBand,
    Education,
    YearsInUs,
    Generation,
    CollectionMode,
    Occupation,
    Sector,
    Department,
    RemitFrequency,
    RemitChannel,
    Need,
    Difficulty,
    Willingness,
    Channel,
    Language,
    PlaceKind,
}

impl CodeList {
    pub const ALL: [CodeList; 17] = [
        CodeList::Gender,
        CodeList::AgeBand,
        CodeList::Education,
        CodeList::YearsInUs,
        CodeList::Generation,
        CodeList::CollectionMode,
        CodeList::Occupation,
        CodeList::Sector,
        CodeList::Department,
        CodeList::RemitFrequency,
        CodeList::RemitChannel,
        CodeList::Need,
        CodeList::Difficulty,
        CodeList::Willingness,
        CodeList::Channel,
        CodeList::Language,
        CodeList::PlaceKind,
    ];

    /// The list's name as written in `codes.csv` and in the API.
    pub fn name(self) -> &'static str {
        match self {
            CodeList::Gender => "gender",
            CodeList::AgeBand => "age_band",
            CodeList::Education => "education",
            CodeList::YearsInUs => "years_in_us",
            CodeList::Generation => "generation",
            CodeList::CollectionMode => "collection_mode",
            CodeList::Occupation => "occupation",
            CodeList::Sector => "sector",
            CodeList::Department => "department",
            CodeList::RemitFrequency => "remit_frequency",
            CodeList::RemitChannel => "remit_channel",
            CodeList::Need => "need",
            CodeList::Difficulty => "difficulty",
            CodeList::Willingness => "willingness",
            CodeList::Channel => "channel",
            CodeList::Language => "language",
            CodeList::PlaceKind => "place_kind",
        }
    }

    pub fn from_name(name: &str) -> Option<CodeList> {
        CodeList::ALL.into_iter().find(|l| l.name() == name)
    }
}

impl fmt::Display for CodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One code with its labels.
#[derive(Clone, Debug, Serialize)]
pub struct Code {
    pub code: String,
    pub en: String,
    pub fr: String,
    pub ht: String,
}

/// A value that is not a code of its list; carries the valid codes for the error message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown {list} code {value:?}; valid codes: {}", valid.join(", "))]
pub struct UnknownCode {
    pub list: CodeList,
    pub value: String,
    pub valid: Vec<String>,
}

/// A set of codes of one list (a multi-select answer), bit `i` = the list's `i`-th code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CodeSet(pub u32);

impl CodeSet {
    pub fn contains(self, index: u8) -> bool {
        self.0 & (1 << index) != 0
    }
    pub fn insert(&mut self, index: u8) {
        self.0 |= 1 << index;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0..32u8).filter(move |i| self.contains(*i))
    }
}

/// All coded lists, parsed once from the embedded `codes.csv`.
#[derive(Debug)]
pub struct Codebook {
    lists: HashMap<CodeList, Vec<Code>>,
}

impl Codebook {
    /// The codebook of the embedded geodata.
    pub fn get() -> &'static Codebook {
        static BOOK: OnceLock<Codebook> = OnceLock::new();
        BOOK.get_or_init(|| {
            let csv = GeoFiles::text("codes.csv");
            Codebook::parse(&csv).expect("embedded geodata/codes.csv is valid")
        })
    }

    fn parse(text: &str) -> Result<Codebook, String> {
        let mut lists: HashMap<CodeList, Vec<Code>> = HashMap::new();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for (i, row) in reader.records().enumerate() {
            let row = row.map_err(|e| format!("codes.csv row {}: {e}", i + 2))?;
            let list = CodeList::from_name(&row[0])
                .ok_or_else(|| format!("codes.csv row {}: unknown list {:?}", i + 2, &row[0]))?;
            lists.entry(list).or_default().push(Code {
                code: row[1].to_string(),
                en: row[2].to_string(),
                fr: row[3].to_string(),
                ht: row[4].to_string(),
            });
        }
        for list in CodeList::ALL {
            let n = lists.get(&list).map_or(0, Vec::len);
            if n == 0 || n > 32 {
                return Err(format!(
                    "codes.csv: list {list} has {n} codes (1..=32 allowed)"
                ));
            }
        }
        Ok(Codebook { lists })
    }

    pub fn codes(&self, list: CodeList) -> &[Code] {
        &self.lists[&list]
    }

    pub fn len(&self, list: CodeList) -> usize {
        self.codes(list).len()
    }

    /// The index of `value` in `list` (exact, case-insensitive match on the code).
    pub fn index(&self, list: CodeList, value: &str) -> Result<u8, UnknownCode> {
        let value = value.trim();
        self.codes(list)
            .iter()
            .position(|c| c.code.eq_ignore_ascii_case(value))
            .map(|i| i as u8)
            .ok_or_else(|| self.unknown(list, value))
    }

    pub fn unknown(&self, list: CodeList, value: &str) -> UnknownCode {
        UnknownCode {
            list,
            value: value.to_string(),
            valid: self.codes(list).iter().map(|c| c.code.clone()).collect(),
        }
    }

    /// The code at `index` of `list`.
    pub fn code(&self, list: CodeList, index: u8) -> &str {
        &self.codes(list)[index as usize].code
    }

    /// Parses a space-separated multi-select summary ("whatsapp church") into a set.
    pub fn parse_set(&self, list: CodeList, value: &str) -> Result<CodeSet, UnknownCode> {
        let mut set = CodeSet::default();
        for code in value.split_whitespace() {
            set.insert(self.index(list, code)?);
        }
        Ok(set)
    }

    /// Writes a set back as its space-separated codes.
    pub fn format_set(&self, list: CodeList, set: CodeSet) -> String {
        let codes: Vec<&str> = set.iter().map(|i| self.code(list, i)).collect();
        codes.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_is_embedded_with_three_languages() {
        let book = Codebook::get();
        for list in CodeList::ALL {
            for code in book.codes(list) {
                assert!(
                    !code.en.is_empty() && !code.fr.is_empty() && !code.ht.is_empty(),
                    "{list} {}",
                    code.code
                );
            }
        }
        assert_eq!(book.len(CodeList::Occupation), 10);
        assert_eq!(book.len(CodeList::Sector), 21);
        assert_eq!(book.len(CodeList::Department), 10);
    }

    #[test]
    fn multi_select_round_trips_and_unknown_codes_list_the_valid_ones() {
        let book = Codebook::get();
        let set = book
            .parse_set(CodeList::Channel, "whatsapp  church")
            .unwrap();
        assert_eq!(book.format_set(CodeList::Channel, set), "whatsapp church");
        let err = book.index(CodeList::Gender, "q").unwrap_err();
        assert_eq!(err.valid, vec!["f", "m", "x"]);
    }
}
