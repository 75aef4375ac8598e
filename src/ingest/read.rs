//! Reading CSV (`,`, `;` or tab delimited, auto-detected) and spreadsheets (XLSX, XLS, ODS:
//! the first sheet) into chunks of rows of text cells.
//!
//! A [`Chunk`] stores the cells of many rows in one string with their end offsets, so that a
//! million rows cost a few hundred allocations, and chunks can be validated in parallel
//! while the next ones are read.

use std::io::Cursor;

use calamine::{Data, Reader};

use super::IngestError;

/// Rows per chunk handed to a validation worker.
pub const CHUNK_ROWS: usize = 8192;

/// One data row of a chunk.
#[derive(Clone, Copy, Debug)]
struct RowSpan {
    /// Spreadsheet row number (header = 1).
    number: u64,
    /// Index of the row's first cell in `Chunk::ends`.
    first: usize,
    len: usize,
}

/// Consecutive data rows, their cells concatenated.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Position of the chunk in the file (0, 1, 2…).
    pub seq: usize,
    text: String,
    /// End offset in `text` of every cell of every row.
    ends: Vec<usize>,
    rows: Vec<RowSpan>,
    /// Input bytes this chunk covers (for the progress bar).
    pub bytes: u64,
}

/// One row of a chunk.
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    chunk: &'a Chunk,
    span: RowSpan,
}

impl<'a> RowRef<'a> {
    pub fn number(&self) -> u64 {
        self.span.number
    }

    pub fn len(&self) -> usize {
        self.span.len
    }

    /// The cell of column `idx` as written (empty when the row is short).
    pub fn cell(&self, idx: usize) -> &'a str {
        if idx >= self.span.len {
            return "";
        }
        let k = self.span.first + idx;
        let start = if k == 0 { 0 } else { self.chunk.ends[k - 1] };
        &self.chunk.text[start..self.chunk.ends[k]]
    }

    /// All cells, in column order.
    pub fn cells(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.span.len).map(|i| self.cell(i))
    }
}

impl Chunk {
    fn new(seq: usize) -> Chunk {
        Chunk {
            seq,
            text: String::with_capacity(CHUNK_ROWS * 256),
            ends: Vec::with_capacity(CHUNK_ROWS * 48),
            rows: Vec::with_capacity(CHUNK_ROWS),
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().map(move |&span| RowRef { chunk: self, span })
    }

    /// Appends a CSV record whose fields concatenate to `text`; blank rows are skipped.
    fn push_record(&mut self, number: u64, text: &str, record: &csv::ByteRecord) {
        if text.trim().is_empty() {
            return;
        }
        let first = self.ends.len();
        let mut end = self.text.len();
        self.text.push_str(text);
        for field in record {
            end += field.len();
            self.ends.push(end);
        }
        self.rows.push(RowSpan { number, first, len: self.ends.len() - first });
    }

    /// Appends a spreadsheet row; rows whose cells are all blank are skipped.
    fn push_cells(&mut self, number: u64, cells: &[String]) {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        let first = self.ends.len();
        for cell in cells {
            self.text.push_str(cell);
            self.ends.push(self.text.len());
        }
        self.rows.push(RowSpan { number, first, len: self.ends.len() - first });
    }
}

/// The kind of a file, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv(u8),
    Spreadsheet,
}

/// Detects a spreadsheet by its magic bytes (ZIP container for XLSX/ODS, OLE2 for XLS), else
/// a CSV whose delimiter is the most frequent of `;`, `,` and tab in the header line
/// (outside quotes); ties go to `;`, Kobo's default.
pub fn detect(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Format::Spreadsheet;
    }
    let (mut semi, mut comma, mut tab, mut quoted) = (0usize, 0usize, 0usize, false);
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b';' if !quoted => semi += 1,
            b',' if !quoted => comma += 1,
            b'\t' if !quoted => tab += 1,
            _ => {}
        }
    }
    let delimiter = if tab > semi && tab > comma {
        b'\t'
    } else if comma > semi {
        b','
    } else {
        b';'
    };
    Format::Csv(delimiter)
}

fn unreadable(name: &str, reason: impl Into<String>) -> IngestError {
    IngestError::Unreadable { name: name.to_string(), reason: reason.into() }
}

/// An opened file: its header and a way to stream its rows in chunks.
pub enum Table<'a> {
    Csv { header: Vec<String>, reader: csv::Reader<&'a [u8]>, total: u64 },
    Sheet { header: Vec<String>, rows: Vec<(u64, Vec<String>)>, total: u64 },
}

impl<'a> Table<'a> {
    pub fn open(name: &str, bytes: &'a [u8]) -> Result<Table<'a>, IngestError> {
        match detect(bytes) {
            Format::Csv(delimiter) => open_csv(name, bytes, delimiter),
            Format::Spreadsheet => open_sheet(name, bytes),
        }
    }

    pub fn header(&self) -> &[String] {
        match self {
            Table::Csv { header, .. } | Table::Sheet { header, .. } => header,
        }
    }

    /// Size of the input for progress: bytes for CSV, rows for spreadsheets.
    pub fn total(&self) -> u64 {
        match self {
            Table::Csv { total, .. } | Table::Sheet { total, .. } => *total,
        }
    }

    /// Streams the data rows to `sink` in chunks of up to [`CHUNK_ROWS`] rows.
    pub fn for_each_chunk(self, name: &str, mut sink: impl FnMut(Chunk)) -> Result<(), IngestError> {
        let mut chunk = Chunk::new(0);
        match self {
            Table::Csv { mut reader, .. } => {
                let mut record = csv::ByteRecord::new();
                let mut number = 1u64;
                let mut last_pos = reader.position().byte();
                loop {
                    match reader.read_byte_record(&mut record) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => return Err(unreadable(name, format!("row {}: {e}", number + 1))),
                    }
                    number += 1;
                    let text = std::str::from_utf8(record.as_slice()).map_err(|_| {
                        unreadable(name, format!("row {number} is not valid UTF-8 (save the file as “CSV UTF-8”)"))
                    })?;
                    chunk.push_record(number, text, &record);
                    if chunk.len() == CHUNK_ROWS {
                        let pos = reader.position().byte();
                        chunk.bytes = pos - last_pos;
                        last_pos = pos;
                        let seq = chunk.seq;
                        sink(std::mem::replace(&mut chunk, Chunk::new(seq + 1)));
                    }
                }
                chunk.bytes = reader.position().byte() - last_pos;
            }
            Table::Sheet { rows, .. } => {
                for (number, cells) in rows {
                    chunk.push_cells(number, &cells);
                    chunk.bytes += 1;
                    if chunk.len() == CHUNK_ROWS {
                        let seq = chunk.seq;
                        sink(std::mem::replace(&mut chunk, Chunk::new(seq + 1)));
                    }
                }
            }
        }
        if !chunk.is_empty() || chunk.seq == 0 {
            sink(chunk);
        }
        Ok(())
    }
}

fn open_csv<'a>(name: &str, bytes: &'a [u8], delimiter: u8) -> Result<Table<'a>, IngestError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let header = reader.byte_headers().map_err(|e| unreadable(name, e.to_string()))?;
    if header.is_empty() {
        return Err(unreadable(name, "the file is empty"));
    }
    let header = header
        .iter()
        .map(|h| std::str::from_utf8(h).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| unreadable(name, "the header row is not valid UTF-8 (save the file as “CSV UTF-8”)"))?;
    Ok(Table::Csv { header, reader, total: bytes.len() as u64 })
}

fn open_sheet<'a>(name: &str, bytes: &'a [u8]) -> Result<Table<'a>, IngestError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| unreadable(name, format!("not a readable spreadsheet: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable(name, "the workbook has no sheet"))?
        .map_err(|e| unreadable(name, format!("cannot read the first sheet: {e}")))?;
    let Some((row0, _)) = range.start() else {
        return Err(unreadable(name, "the first sheet is empty"));
    };
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().map(|r| r.iter().map(cell_text).collect()).unwrap_or_default();
    // Row numbers as the spreadsheet shows them: the header is at `row0 + 1`.
    let rows: Vec<(u64, Vec<String>)> = rows
        .enumerate()
        .map(|(i, r)| (u64::from(row0) + i as u64 + 2, r.iter().map(cell_text).collect()))
        .collect();
    let total = rows.len() as u64;
    Ok(Table::Sheet { header, rows, total })
}

/// A spreadsheet cell as text: numbers in their shortest form (`2139`, `150.25`), dates as
/// ISO 8601 (`2024-03-05`, or `2024-03-05T14:22:10` with a time of day).
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTime(dt) => format!("{}", dt.as_f64()),
        Data::Error(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_detected_from_the_header_line() {
        assert_eq!(detect(b"a;b;c\n1,5;2;3"), Format::Csv(b';'));
        assert_eq!(detect(b"a,b,c\n1;2;3"), Format::Csv(b','));
        assert_eq!(detect(b"\"x;y\",b,c\n"), Format::Csv(b','));
        assert_eq!(detect(b"a\tb\tc;d\n"), Format::Csv(b'\t'));
        assert_eq!(detect(b"single\n1\n"), Format::Csv(b';'));
        assert_eq!(detect(b"PK\x03\x04rest"), Format::Spreadsheet);
    }

    #[test]
    fn csv_rows_are_chunked_with_spreadsheet_row_numbers() {
        let csv = "\u{feff}a;b;c\n1;x;\n;;\n\"multi\nline\";y;z;extra\n4\n";
        let table = Table::open("t.csv", csv.as_bytes()).unwrap();
        assert_eq!(table.header(), ["a", "b", "c"]);
        let mut chunks = Vec::new();
        table.for_each_chunk("t.csv", |c| chunks.push(c)).unwrap();
        assert_eq!(chunks.len(), 1);
        let rows: Vec<(u64, Vec<&str>)> = chunks[0].rows().map(|r| (r.number(), r.cells().collect())).collect();
        assert_eq!(
            rows,
            vec![
                (2, vec!["1", "x", ""]),
                (4, vec!["multi\nline", "y", "z", "extra"]),
                (5, vec!["4"]),
            ]
        );
        assert_eq!(chunks[0].rows().nth(2).unwrap().cell(2), "");
        assert_eq!(chunks[0].bytes, csv.len() as u64 - 9);
    }

    #[test]
    fn invalid_utf8_names_the_row() {
        let err = Table::open("t.csv", b"a;b\n1;2\n\xe9t\xe9;3\n")
            .unwrap()
            .for_each_chunk("t.csv", |_| {})
            .unwrap_err();
        assert!(err.to_string().contains("row 3 is not valid UTF-8"), "{err}");
    }

    #[test]
    fn spreadsheet_cells_become_text() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        assert_eq!(cell_text(&Data::Float(2139.0)), "2139");
        assert_eq!(cell_text(&Data::Float(150.25)), "150.25");
        assert_eq!(cell_text(&Data::Int(7)), "7");
        assert_eq!(cell_text(&Data::Bool(true)), "true");
        let date = ExcelDateTime::new(45356.0, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)), "2024-03-05");
        let datetime = ExcelDateTime::new(45356.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(datetime)), "2024-03-05T12:00:00");
    }
}
