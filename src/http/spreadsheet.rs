//! CSV cells that a spreadsheet will not run: the one escaper of every CSV the service
//! writes (aggregates, outreach plans, the admins' record export).
//!
//! A cell that starts with `=`, `+`, `-`, `@`, tab or carriage return is read as a formula
//! by Excel, LibreOffice and Google Sheets (CSV injection: `=cmd|' /C calc'!A0`,
//! `=HYPERLINK(…)`); such a cell gets a leading `'`, which makes it text. A cell that is a
//! finite number (`-73.95`, `+1`) is left alone: a spreadsheet reads it as that number.

use std::borrow::Cow;

/// Whether a spreadsheet would evaluate `cell` (see the module documentation).
pub fn is_risky(cell: &[u8]) -> bool {
    matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && !std::str::from_utf8(cell)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .is_some_and(f64::is_finite)
}

/// `cell`, made text with a leading `'` when a spreadsheet would evaluate it.
pub fn formula_safe(cell: &str) -> Cow<'_, str> {
    if is_risky(cell.as_bytes()) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// [`formula_safe`] on the bytes of a cell.
pub fn formula_safe_bytes(cell: &[u8]) -> Cow<'_, [u8]> {
    if is_risky(cell) {
        let mut v = Vec::with_capacity(cell.len() + 1);
        v.push(b'\'');
        v.extend_from_slice(cell);
        Cow::Owned(v)
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for (cell, safe) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("+A1", "'+A1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-73.95", "-73.95"),
            ("+1", "+1"),
            ("-inf", "'-inf"),
            ("Miami-Dade", "Miami-Dade"),
            ("", ""),
        ] {
            assert_eq!(formula_safe(cell), safe, "{cell:?}");
            assert_eq!(&*formula_safe_bytes(cell.as_bytes()), safe.as_bytes());
        }
    }

    proptest! {
        /// No escaped cell starts a formula; a safe cell is unchanged; escaping is undone by
        /// dropping the quote.
        #[test]
        fn escaped_cells_never_start_a_formula(cell in "[=+@\\-\t\ra-z0-9.]{0,8}") {
            let out = formula_safe(&cell);
            let first = out.chars().next();
            let number = out.parse::<f64>().is_ok_and(f64::is_finite);
            prop_assert!(number || !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
            prop_assert_eq!(out.strip_prefix('\'').filter(|_| out != cell).unwrap_or(&out), cell.as_str());
        }
    }
}
