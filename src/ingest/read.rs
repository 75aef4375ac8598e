//! Reading CSV (`,`, `;` or tab delimited, auto-detected) and XLSX spreadsheets (the first
//! sheet) into chunks of rows of text cells.
//!
//! Rows are handed out in [`Chunk`]s that are validated in parallel:
//! - a CSV without any `"` (the common case, and every file `write_kobo_csv` writes) is cut
//!   at line boundaries in one quick pass, and each chunk is split into cells in place by its
//!   worker, without copying (the same cells the `csv` crate would give for such a file);
//! - any other CSV goes through the `csv` crate (quoting, escapes, multi-line cells): one
//!   reader reuses a `ByteRecord` and stores the cells of many rows in one string with their
//!   end offsets, while workers validate the previous chunks;
//! - an XLSX's first sheet is streamed cell by cell by calamine and chunked the same way,
//!   after checks that bound what a hostile file can cost (see [`open_sheet`]).

use std::io::{Cursor, Read};

use calamine::{Data, DataRef, Reader};

use super::IngestError;

/// Rows per chunk handed to a validation worker.
pub const CHUNK_ROWS: usize = 8192;

/// The number of the first data row (the header is row 1).
pub const FIRST_ROW: u64 = 2;

/// Most cells an XLSX import may hold: the cells its first sheet declares (its
/// `<dimension ref="A1:…">`), the cells it has below the header, and its rows below the
/// header times the header's columns. 20 million is a survey of 250,000 respondents with 80
/// columns (Kobo's exports have 40 to 80), well above the CSV upload limit's worth of rows.
pub const MAX_SHEET_CELLS: u64 = 20_000_000;
/// Most bytes the parts of an XLSX other than its worksheets (shared strings, styles, the
/// workbook, relationships) may inflate to, together: calamine reads them whole when it
/// opens the workbook. 128 MiB holds the distinct texts (ids, dates) of far more rows than
/// [`MAX_SHEET_CELLS`] allows.
pub const MAX_XLSX_PARTS_BYTES: u64 = 128 << 20;
/// A worksheet may inflate to this many times its compressed size (XML of real sheets
/// compresses 5 to 30 times; a "zip bomb" hundreds of times), or to [`SHEET_FLOOR_BYTES`]…
const MAX_SHEET_RATIO: u64 = 100;
const SHEET_FLOOR_BYTES: u64 = 64 << 20;
/// …and never to more than this.
const MAX_SHEET_BYTES: u64 = 2 << 30;
/// Longest stretch of XML between two `<` in any part: a cell holds at most 32,767
/// characters, and a single huge text or tag would be held whole in memory.
const MAX_XML_RUN: u64 = 4 << 20;

/// One data row of an owned chunk.
#[derive(Clone, Copy, Debug)]
struct RowSpan {
    /// Spreadsheet row number (header = 1).
    number: u64,
    /// Index of the row's first cell in `Cells::ends`.
    first: usize,
    len: usize,
}

/// Consecutive data rows, their cells concatenated (for quoted CSV and spreadsheets).
#[derive(Debug, Default)]
pub struct Cells {
    text: String,
    /// End offset in `text` of every cell of every row.
    ends: Vec<usize>,
    rows: Vec<RowSpan>,
}

/// A batch of consecutive data rows.
#[derive(Debug)]
pub struct Chunk<'a> {
    /// Position of the chunk in the file (0, 1, 2…).
    pub seq: usize,
    /// Input size this chunk covers, for the progress bar (bytes for CSV, rows for sheets).
    pub bytes: u64,
    body: Body<'a>,
}

#[derive(Debug)]
enum Body<'a> {
    /// Quote-free CSV lines, split in place; rows numbered from 0.
    Lines {
        text: &'a str,
        delimiter: char,
    },
    Cells(Cells),
}

/// One data row: its spreadsheet row number (header = 1) and its cells.
#[derive(Clone, Copy, Debug)]
pub struct Row<'r> {
    pub number: u64,
    pub cells: &'r [&'r str],
}

impl<'r> Row<'r> {
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// The cell of column `idx` as written (empty when the row is short).
    pub fn cell(&self, idx: usize) -> &'r str {
        self.cells.get(idx).copied().unwrap_or("")
    }
}

/// Splits quote-free CSV text into records (lines; empty lines are skipped, a `\r` before
/// the `\n` is dropped) and cells, in one pass over the bytes; calls `f` with each record's
/// number (from 0) and cells, and returns the number of records.
///
/// `memchr2` finds the separators (SIMD, chosen at run time), so that the loop runs once
/// per cell instead of once per byte (a fifth of validation's CPU went to the byte loop;
/// cells are 9 bytes on average in a Kobo export). It replaced a hand-written AVX2 block
/// splitter: the import's wall time is the same, validation takes ~3 % more CPU
/// (BENCHMARKS.md, #19).
fn split_lines<'t>(
    text: &'t str,
    delimiter: u8,
    cells: &mut Vec<&'t str>,
    mut f: impl FnMut(u64, &[&'t str]),
) -> u64 {
    debug_assert!(delimiter.is_ascii());
    let bytes = text.as_bytes();
    let mut number = 0;
    let (mut line_start, mut cell_start) = (0, 0);
    let mut end_line =
        |cells: &mut Vec<&'t str>, line_start: usize, cell_start: usize, end: usize| {
            let end = if end > cell_start && bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            if end > line_start {
                // Cuts at ASCII bytes, so always on character boundaries.
                cells.push(&text[cell_start..end]);
                f(number, cells);
                number += 1;
            }
            cells.clear();
        };
    cells.clear();
    for i in memchr::memchr2_iter(delimiter, b'\n', bytes) {
        if bytes[i] == delimiter {
            cells.push(&text[cell_start..i]);
        } else {
            end_line(cells, line_start, cell_start, i);
            line_start = i + 1;
        }
        cell_start = i + 1;
    }
    if line_start < bytes.len() {
        end_line(cells, line_start, cell_start, bytes.len());
    }
    number
}

fn is_blank(cells: &[&str]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

impl Chunk<'_> {
    /// Calls `f` with every row that has a non-blank cell, in order; returns the number of
    /// records seen (blank ones included).
    pub fn for_each_row(&self, mut f: impl FnMut(Row<'_>)) -> u64 {
        let mut cells: Vec<&str> = Vec::with_capacity(64);
        match &self.body {
            Body::Lines { text, delimiter } => {
                split_lines(text, *delimiter as u8, &mut cells, |number, cells| {
                    if !is_blank(cells) {
                        f(Row { number, cells });
                    }
                })
            }
            Body::Cells(c) => {
                for span in &c.rows {
                    cells.clear();
                    let mut start = if span.first == 0 {
                        0
                    } else {
                        c.ends[span.first - 1]
                    };
                    for &end in &c.ends[span.first..span.first + span.len] {
                        cells.push(&c.text[start..end]);
                        start = end;
                    }
                    f(Row {
                        number: span.number,
                        cells: &cells,
                    });
                }
                c.rows.len() as u64
            }
        }
    }

    /// A guess of the number of rows, for allocations.
    pub fn capacity(&self) -> usize {
        match &self.body {
            Body::Lines { text, .. } => text.len() / 200 + 1,
            Body::Cells(c) => c.rows.len(),
        }
    }

    /// Whether row numbers are relative to the chunk (quote-free CSV): the row numbered 0 is
    /// the chunk's first record.
    pub fn relative(&self) -> bool {
        matches!(self.body, Body::Lines { .. })
    }
}

impl Cells {
    fn new() -> Cells {
        Cells {
            text: String::with_capacity(CHUNK_ROWS * 256),
            ends: Vec::with_capacity(CHUNK_ROWS * 48),
            rows: Vec::with_capacity(CHUNK_ROWS),
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
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
        self.rows.push(RowSpan {
            number,
            first,
            len: self.ends.len() - first,
        });
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
        self.rows.push(RowSpan {
            number,
            first,
            len: self.ends.len() - first,
        });
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
    IngestError::Unreadable {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// An opened file: its header and a way to stream its rows in chunks.
pub enum Table<'a> {
    /// A quote-free CSV, UTF-8 checked as a whole; `text` follows the header line.
    Lines {
        header: Vec<String>,
        text: &'a str,
        delimiter: char,
        total: u64,
    },
    Csv {
        header: Vec<String>,
        reader: csv::Reader<&'a [u8]>,
        total: u64,
    },
    Sheet {
        header: Vec<String>,
        sheet: Box<Sheet<'a>>,
        total: u64,
    },
}

/// An opened XLSX whose header has been read: the rows are streamed by
/// [`Table::for_each_chunk`].
pub struct Sheet<'a> {
    book: calamine::Xlsx<Cursor<&'a [u8]>>,
    /// The first sheet's name.
    name: String,
    /// The header's row (0-based) and first column, and its number of columns.
    header_row: u32,
    first_col: u32,
    width: u32,
}

/// Bytes per chunk of a quote-free CSV (a few thousand rows).
const CHUNK_BYTES: usize = 1 << 20;

impl<'a> Table<'a> {
    pub fn open(name: &str, bytes: &'a [u8]) -> Result<Table<'a>, IngestError> {
        match detect(bytes) {
            Format::Csv(delimiter) => open_csv(name, bytes, delimiter),
            Format::Spreadsheet => open_sheet(name, bytes),
        }
    }

    pub fn header(&self) -> &[String] {
        match self {
            Table::Lines { header, .. }
            | Table::Csv { header, .. }
            | Table::Sheet { header, .. } => header,
        }
    }

    /// Size of the input for progress: bytes for CSV, rows for spreadsheets.
    pub fn total(&self) -> u64 {
        match self {
            Table::Lines { total, .. } | Table::Csv { total, .. } | Table::Sheet { total, .. } => {
                *total
            }
        }
    }

    /// Streams the data rows to `sink` in chunks, in file order (at least one chunk).
    ///
    /// Rows of quote-free CSV chunks are numbered from 0 within their chunk
    /// ([`Chunk::relative`]): chunks are cut by size without counting lines first, and the
    /// caller shifts the numbers by the rows of the chunks before (and by [`FIRST_ROW`]).
    pub fn for_each_chunk(
        self,
        name: &str,
        mut sink: impl FnMut(Chunk<'a>),
    ) -> Result<(), IngestError> {
        let mut seq = 0;
        let mut emit = |bytes: u64, body: Body<'a>| {
            sink(Chunk { seq, bytes, body });
            seq += 1;
        };
        let take = |cells: &mut Cells| Body::Cells(std::mem::replace(cells, Cells::new()));
        let mut cells = Cells::new();
        match self {
            Table::Lines {
                text, delimiter, ..
            } => {
                let mut start = 0;
                loop {
                    let mut end = (start + CHUNK_BYTES).min(text.len());
                    if end < text.len() {
                        end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
                    }
                    let body = Body::Lines {
                        text: &text[start..end],
                        delimiter,
                    };
                    emit((end - start) as u64, body);
                    start = end;
                    if start >= text.len() {
                        return Ok(());
                    }
                }
            }
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
                        unreadable(
                            name,
                            format!(
                                "row {number} is not valid UTF-8 (save the file as “CSV UTF-8”)"
                            ),
                        )
                    })?;
                    cells.push_record(number, text, &record);
                    if cells.len() == CHUNK_ROWS {
                        let pos = reader.position().byte();
                        emit(pos - last_pos, take(&mut cells));
                        last_pos = pos;
                    }
                }
                let rest = reader.position().byte() - last_pos;
                emit(rest, take(&mut cells));
            }
            Table::Sheet { sheet, .. } => {
                let Sheet {
                    mut book,
                    name: sheet_name,
                    header_row,
                    first_col,
                    width,
                } = *sheet;
                let bad = |reason: String| unreadable(name, reason);
                let mut reader = book
                    .worksheet_cells_reader(&sheet_name)
                    .map_err(|e| bad(format!("cannot read the first sheet: {e}")))?;
                let mut row = vec![String::new(); width as usize];
                let (mut current, mut seen, mut rows) = (None::<u32>, 0u64, 0u64);
                loop {
                    let cell = reader
                        .next_cell()
                        .map_err(|e| bad(format!("cannot read the first sheet: {e}")))?;
                    let position = cell.as_ref().map(calamine::Cell::get_position);
                    if position.is_some_and(|(r, _)| r <= header_row) {
                        continue;
                    }
                    // A row ends where another begins, or at the end of the sheet.
                    if let Some(r) = current.filter(|&r| position.is_none_or(|(p, _)| p != r)) {
                        rows += 1;
                        if rows.saturating_mul(u64::from(width)) > MAX_SHEET_CELLS {
                            return Err(too_many_cells(name));
                        }
                        cells.push_cells(u64::from(r) + 1, &row);
                        row.iter_mut().for_each(String::clear);
                        if cells.len() == CHUNK_ROWS {
                            emit(CHUNK_ROWS as u64, take(&mut cells));
                        }
                    }
                    let (Some(cell), Some((r, c))) = (cell, position) else {
                        break;
                    };
                    current = Some(r);
                    seen += 1;
                    if seen > MAX_SHEET_CELLS {
                        return Err(too_many_cells(name));
                    }
                    let value = cell.get_value();
                    if *value == DataRef::Empty {
                        continue;
                    }
                    let text = data_ref_text(value);
                    match c.checked_sub(first_col).filter(|&i| i < width) {
                        Some(i) => row[i as usize] = text,
                        None if text.trim().is_empty() => {}
                        None => {
                            return Err(bad(format!(
                                "cell {} holds a value outside the header's columns ({} to {}): every value must be under a header",
                                cell_name(r, c),
                                column_name(first_col),
                                column_name(first_col + width - 1)
                            )))
                        }
                    }
                }
                let rest = cells.len() as u64;
                emit(rest, take(&mut cells));
            }
        }
        Ok(())
    }
}

/// The number of non-empty lines (CSV records) in `text`.
fn count_records(text: &str) -> u64 {
    text.split('\n')
        .filter(|l| !l.is_empty() && *l != "\r")
        .count() as u64
}

fn open_csv<'a>(name: &str, bytes: &'a [u8], delimiter: u8) -> Result<Table<'a>, IngestError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !body.contains(&b'"') {
        // Quote-free: every line is one record, every delimiter separates two cells.
        let text = std::str::from_utf8(body).map_err(|e| {
            let before = std::str::from_utf8(&body[..e.valid_up_to()]).expect("valid prefix");
            let line = before.rfind('\n').map_or(0, |i| i + 1);
            let row = count_records(&before[..line]) + 1;
            let what = if row == 1 {
                "the header row".to_string()
            } else {
                format!("row {row}")
            };
            unreadable(
                name,
                format!("{what} is not valid UTF-8 (save the file as “CSV UTF-8”)"),
            )
        })?;
        // A lone carriage return ends a record for the csv crate: leave such files to it.
        let lone_cr = text
            .match_indices('\r')
            .any(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'));
        if !lone_cr {
            let delimiter = char::from(delimiter);
            let mut rest = text;
            loop {
                let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
                let line = line.strip_suffix('\r').unwrap_or(line);
                if !line.is_empty() || after.is_empty() {
                    if line.is_empty() {
                        return Err(unreadable(name, "the file is empty"));
                    }
                    let header = line.split(delimiter).map(str::to_string).collect();
                    return Ok(Table::Lines {
                        header,
                        text: after,
                        delimiter,
                        total: bytes.len() as u64,
                    });
                }
                rest = after;
            }
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let header = reader
        .byte_headers()
        .map_err(|e| unreadable(name, e.to_string()))?;
    if header.is_empty() {
        return Err(unreadable(name, "the file is empty"));
    }
    let header = header
        .iter()
        .map(|h| std::str::from_utf8(h).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            unreadable(
                name,
                "the header row is not valid UTF-8 (save the file as “CSV UTF-8”)",
            )
        })?;
    Ok(Table::Csv {
        header,
        reader,
        total: bytes.len() as u64,
    })
}

/// Opens an XLSX and reads its first sheet's header row, and no more of the sheet; the rows
/// are streamed later, cell by cell, so that the file's header is checked first and its rows
/// never held all at once. What a hostile file can cost is bounded before calamine reads a
/// part ([`scan_parts`]: one pass that inflates every part and keeps nothing), and the sheet
/// may declare at most [`MAX_SHEET_CELLS`] cells. Only XLSX is read: calamine reads XLS and
/// ODS whole when it opens them.
fn open_sheet<'a>(name: &str, bytes: &'a [u8]) -> Result<Table<'a>, IngestError> {
    let bad = |reason: String| unreadable(name, reason);
    if !bytes.starts_with(b"PK") {
        return Err(bad(
            "XLS files (Excel 97-2003) are not read: save the sheet as XLSX or as CSV UTF-8".into(),
        ));
    }
    scan_parts(name, bytes)?;
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        bad(format!(
            "not a readable XLSX workbook ({e}); ODS and XLS files are not read: save the sheet as XLSX or as CSV UTF-8"
        ))
    })?;
    let sheet_name = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| bad("the workbook has no sheet".into()))?;
    let mut reader = book
        .worksheet_cells_reader(&sheet_name)
        .map_err(|e| bad(format!("cannot read the first sheet: {e}")))?;
    let declared = reader.dimensions();
    let rows = u64::from(declared.end.0.saturating_sub(declared.start.0)) + 1;
    let columns = u64::from(declared.end.1.saturating_sub(declared.start.1)) + 1;
    if rows * columns > MAX_SHEET_CELLS {
        return Err(bad(format!(
            "the first sheet spans {}:{} ({rows} rows × {columns} columns), more than the {MAX_SHEET_CELLS} cells an import may hold; delete the cells outside the survey's table, or split the file",
            cell_name(declared.start.0, declared.start.1),
            cell_name(declared.end.0, declared.end.1),
        )));
    }
    // The header: the first row with a value.
    let mut found: Vec<(u32, String)> = Vec::new();
    let (mut header_row, mut seen) = (None::<u32>, 0u64);
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| bad(format!("cannot read the first sheet: {e}")))?
    {
        seen += 1;
        if seen > MAX_SHEET_CELLS {
            return Err(too_many_cells(name));
        }
        let (r, c) = cell.get_position();
        if header_row.is_some_and(|h| h != r) {
            break;
        }
        let text = data_ref_text(cell.get_value());
        if !text.trim().is_empty() {
            header_row = Some(r);
            found.push((c, text));
        }
    }
    drop(reader);
    let Some(header_row) = header_row else {
        return Err(bad("the first sheet is empty".into()));
    };
    let first_col = found.iter().map(|(c, _)| *c).min().unwrap_or(0);
    let width = found.iter().map(|(c, _)| *c).max().unwrap_or(0) - first_col + 1;
    let mut header = vec![String::new(); width as usize];
    for (c, text) in found {
        header[(c - first_col) as usize] = text;
    }
    // For progress: the rows the sheet declares below its header.
    let total = u64::from(declared.end.0.saturating_sub(header_row));
    Ok(Table::Sheet {
        header,
        sheet: Box::new(Sheet {
            book,
            name: sheet_name,
            header_row,
            first_col,
            width,
        }),
        total,
    })
}

fn too_many_cells(name: &str) -> IngestError {
    unreadable(
        name,
        format!("the first sheet has more than the {MAX_SHEET_CELLS} cells an import may hold; split the file"),
    )
}

/// `A`, `B`, … `Z`, `AA`, … for a 0-based column.
fn column_name(c: u32) -> String {
    let mut n = u64::from(c) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let d = (n - 1) % 26;
        out.push(b'A' + d as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// `A1`-style name of a 0-based cell.
fn cell_name(r: u32, c: u32) -> String {
    format!("{}{}", column_name(c), u64::from(r) + 1)
}

/// A worksheet at its usual place (`xl/worksheets/sheetN.xml`, any case): calamine streams
/// these; every other part it reads whole.
fn is_worksheet(path: &str) -> bool {
    path.strip_prefix("xl/worksheets/sheet")
        .and_then(|p| p.strip_suffix(".xml"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Inflates every part of the XLSX in `bytes` once, keeping nothing (a few hundred MB/s),
/// and refuses the file when the parts calamine reads whole (all but the worksheets, which
/// are streamed) are larger than [`MAX_XLSX_PARTS_BYTES`] together, when a worksheet is
/// larger than its limits (a "zip bomb"), or when any XML holds more than [`MAX_XML_RUN`]
/// bytes between two tags (calamine would hold such a text or tag whole).
fn scan_parts(name: &str, bytes: &[u8]) -> Result<(), IngestError> {
    let bad = |reason: String| unreadable(name, reason);
    let unzip = |e: zip::result::ZipError| bad(format!("not a readable XLSX workbook: {e}"));
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unzip)?;
    let mut others = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(unzip)?;
        let path = entry.name().map_err(unzip)?.to_ascii_lowercase();
        let sheet = is_worksheet(&path);
        let limit = if sheet {
            entry
                .compressed_size()
                .saturating_mul(MAX_SHEET_RATIO)
                .clamp(SHEET_FLOOR_BYTES, MAX_SHEET_BYTES)
        } else {
            MAX_XLSX_PARTS_BYTES - others
        };
        let xml = path.ends_with(".xml") || path.ends_with(".rels");
        let mut head = Vec::new();
        let keep = if path == "_rels/.rels" { 1 << 16 } else { 0 };
        let size = inflate(&mut entry, limit, xml, keep, &mut head).map_err(|e| match e {
            Inflate::TooLarge if sheet => bad(format!(
                "{path} inflates to more than {} MiB ({MAX_SHEET_RATIO} times its compressed size, or {} MiB): not a survey this service reads",
                limit >> 20,
                SHEET_FLOOR_BYTES >> 20
            )),
            Inflate::TooLarge => bad(format!(
                "the parts of the workbook other than its sheets ({path} and the others) inflate to more than {} MiB",
                MAX_XLSX_PARTS_BYTES >> 20
            )),
            Inflate::LongRun => bad(format!(
                "{path} holds more than {} MiB of XML without a tag: no cell is that long",
                MAX_XML_RUN >> 20
            )),
            Inflate::Io(e) => bad(format!("not a readable XLSX workbook: {path}: {e}")),
        })?;
        if !sheet {
            others += size;
        }
        // The workbook must not live among the worksheets, which have limits of their own.
        if String::from_utf8_lossy(&head)
            .to_ascii_lowercase()
            .contains("worksheets/")
        {
            return Err(bad(
                "the workbook's relationships point into xl/worksheets/: not an XLSX layout this service reads".into(),
            ));
        }
    }
    Ok(())
}

enum Inflate {
    TooLarge,
    LongRun,
    Io(std::io::Error),
}

/// Reads `entry` to its end without keeping it (but its first `keep` bytes, into `head`):
/// its size, or why it is refused.
fn inflate(
    entry: &mut impl Read,
    limit: u64,
    xml: bool,
    keep: usize,
    head: &mut Vec<u8>,
) -> Result<u64, Inflate> {
    let mut buf = vec![0u8; 1 << 16];
    let (mut size, mut run) = (0u64, 0u64);
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Inflate::Io(e)),
        };
        size += n as u64;
        if size > limit {
            return Err(Inflate::TooLarge);
        }
        let chunk = &buf[..n];
        if head.len() < keep {
            head.extend_from_slice(&chunk[..n.min(keep - head.len())]);
        }
        if xml {
            let mut last = 0;
            for at in memchr::memchr_iter(b'<', chunk) {
                run += (at - last) as u64;
                if run > MAX_XML_RUN {
                    return Err(Inflate::LongRun);
                }
                (run, last) = (0, at);
            }
            run += (n - last) as u64;
            if run > MAX_XML_RUN {
                return Err(Inflate::LongRun);
            }
        }
    }
}

/// A streamed cell's value as text, as [`cell_text`].
fn data_ref_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        other => cell_text(&Data::from(other.clone())),
    }
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

    fn rows(chunk: &Chunk<'_>) -> Vec<(u64, Vec<String>)> {
        let mut rows = Vec::new();
        chunk.for_each_row(|r| {
            rows.push((r.number, r.cells.iter().map(|c| c.to_string()).collect()))
        });
        rows
    }

    fn chunk_all(csv: &[u8]) -> Vec<Chunk<'_>> {
        let table = Table::open("t.csv", csv).unwrap();
        let mut chunks = Vec::new();
        table.for_each_chunk("t.csv", |c| chunks.push(c)).unwrap();
        chunks
    }

    #[test]
    fn quoted_csv_goes_through_the_csv_crate_with_spreadsheet_row_numbers() {
        let csv = "\u{feff}a;b;c\n1;x;\n;;\n\"multi\nline\";y;z;extra\n4\n";
        let table = Table::open("t.csv", csv.as_bytes()).unwrap();
        assert!(matches!(table, Table::Csv { .. }));
        assert_eq!(table.header(), ["a", "b", "c"]);
        let chunks = chunk_all(csv.as_bytes());
        assert_eq!(chunks.len(), 1);
        assert!(!chunks[0].relative());
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows(&chunks[0]),
            vec![
                (2, s(&["1", "x", ""])),
                (4, s(&["multi\nline", "y", "z", "extra"])),
                (5, s(&["4"]))
            ]
        );
        assert_eq!(chunks[0].bytes, csv.len() as u64 - 9);
    }

    #[test]
    fn quote_free_csv_is_split_in_place() {
        let csv = "\u{feff}\r\na;b;c\r\n1;x;\r\n\r\n;;\r\n2;y;z;extra\r\n3";
        let table = Table::open("t.csv", csv.as_bytes()).unwrap();
        assert!(matches!(table, Table::Lines { .. }));
        assert_eq!(table.header(), ["a", "b", "c"]);
        let chunks = chunk_all(csv.as_bytes());
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].relative());
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        // Numbered from 0 in the chunk: rows 2, 4 and 5 of the file (row 3 is blank).
        assert_eq!(
            rows(&chunks[0]),
            vec![
                (0, s(&["1", "x", ""])),
                (2, s(&["2", "y", "z", "extra"])),
                (3, s(&["3"]))
            ]
        );
        assert_eq!(chunks[0].for_each_row(|_| {}), 4);

        // Big files are cut at line ends.
        let line = "yes;f;35-44;2024-03-05;33138\n";
        let big = format!("h1;h2;h3;h4;h5\n{}", line.repeat(100_000));
        let chunks = chunk_all(big.as_bytes());
        assert!(chunks.len() > 2);
        let counts: Vec<u64> = chunks
            .iter()
            .map(|c| c.for_each_row(|r| assert_eq!(r.len(), 5)))
            .collect();
        assert_eq!(counts.iter().sum::<u64>(), 100_000);
        assert_eq!(
            chunks.iter().map(|c| c.bytes).sum::<u64>(),
            big.len() as u64 - 15
        );

        // A lone carriage return ends a record: such files go to the csv crate.
        assert!(matches!(
            Table::open("t.csv", b"a;b\r1;2\r").unwrap(),
            Table::Csv { .. }
        ));
    }

    #[test]
    fn invalid_utf8_names_the_row() {
        for csv in [
            &b"a;b\n1;2\n\n\xe9t\xe9;3\n"[..],
            b"a;b\n1;2\n\n\"\xe9t\xe9\";3\n",
        ] {
            let err = match Table::open("t.csv", csv) {
                Err(e) => e,
                Ok(t) => t.for_each_chunk("t.csv", |_| {}).unwrap_err(),
            };
            assert!(
                err.to_string().contains("row 3 is not valid UTF-8"),
                "{err}"
            );
        }
        let err = Table::open("t.csv", b"a;\xe9\n1;2\n").err().unwrap();
        assert!(
            err.to_string()
                .contains("the header row is not valid UTF-8"),
            "{err}"
        );
    }

    proptest::proptest! {
        /// The in-place splitter gives the cells the `csv` crate gives for quote-free text,
        /// whatever falls on memchr's block boundaries.
        #[test]
        fn quote_free_lines_split_as_the_csv_crate_does(
            tokens in proptest::collection::vec(
                proptest::sample::select(&["a", "bc", "é", "1", " ", ";", ",", "\n", "\r\n"][..]),
                0..300,
            ),
            comma in proptest::bool::ANY,
        ) {
            let text = tokens.concat();
            let delimiter = if comma { b',' } else { b';' };
            let mut ours = Vec::new();
            let count = split_lines(&text, delimiter, &mut Vec::new(), |_, cells| {
                ours.push(cells.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            });
            let theirs: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .quoting(false)
                .delimiter(delimiter)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            proptest::prop_assert_eq!(count as usize, theirs.len());
            proptest::prop_assert_eq!(ours, theirs);
        }
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

    fn xlsx(cells: &[(u32, u16, &str)]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for &(r, c, text) in cells {
            sheet.write_string(r, c, text).unwrap();
        }
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn a_sheet_is_streamed_from_its_header_with_spreadsheet_row_numbers() {
        // The header in B2:C2, a blank row, a row with one cell, a number.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(1, 1, "a").unwrap();
        sheet.write_string(1, 2, "b").unwrap();
        sheet.write_string(2, 1, "x").unwrap();
        sheet.write_number(2, 2, 2139.0).unwrap();
        sheet.write_string(3, 1, "  ").unwrap();
        sheet.write_string(4, 2, "z").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let table = Table::open("t.xlsx", &bytes).unwrap();
        assert_eq!(table.header(), ["a", "b"]);
        let mut chunks = Vec::new();
        table.for_each_chunk("t.xlsx", |c| chunks.push(c)).unwrap();
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            chunks.iter().flat_map(rows).collect::<Vec<_>>(),
            [(3, s(&["x", "2139"])), (5, s(&["", "z"]))]
        );
    }

    fn refusal(bytes: &[u8]) -> String {
        let read = Table::open("t.xlsx", bytes)
            .and_then(|t| t.for_each_chunk("t.xlsx", |_| {}))
            .unwrap_err();
        read.to_string()
    }

    #[test]
    fn hostile_sheets_are_refused_before_they_are_read() {
        // Two cells far apart: the sheet declares 17 billion cells.
        let far = refusal(&xlsx(&[(0, 0, "a"), (1_048_575, 16_383, "b")]));
        assert!(far.contains("A1:XFD1048576"), "{far}");
        // A value beside the table.
        let beside = refusal(&xlsx(&[(0, 0, "a"), (0, 1, "b"), (3, 5, "note")]));
        assert!(
            beside.contains("cell F4 holds a value outside the header's columns (A to B)"),
            "{beside}"
        );
        // Not a spreadsheet this service reads.
        assert!(refusal(b"PK\x03\x04not a zip").contains("not a readable XLSX"));
        assert!(refusal(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]).contains("XLS files"));
        assert!(refusal(&xlsx(&[])).contains("empty"));
    }

    #[test]
    fn parts_are_inflated_within_limits() {
        let mut head = Vec::new();
        let big = vec![b'x'; 3 << 20];
        assert!(matches!(
            inflate(&mut &big[..], 2 << 20, false, 0, &mut head),
            Err(Inflate::TooLarge)
        ));
        assert_eq!(
            inflate(&mut &big[..], 4 << 20, false, 4, &mut head).ok(),
            Some(3 << 20)
        );
        assert_eq!(head, b"xxxx");
        let mut run = b"<a>".to_vec();
        run.extend(std::iter::repeat_n(b'y', (MAX_XML_RUN + 1) as usize));
        run.extend_from_slice(b"</a>");
        assert!(matches!(
            inflate(&mut &run[..], u64::MAX, true, 0, &mut head),
            Err(Inflate::LongRun)
        ));
        let many: Vec<u8> = b"<c>y</c>".repeat(1 << 20);
        assert!(inflate(&mut &many[..], u64::MAX, true, 0, &mut head).is_ok());
    }

    #[test]
    fn columns_and_worksheets_are_named_as_spreadsheets_do() {
        let names: Vec<String> = [0, 25, 26, 701, 702, 16_383].map(column_name).into();
        assert_eq!(names, ["A", "Z", "AA", "ZZ", "AAA", "XFD"]);
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
        assert!(is_worksheet("xl/worksheets/sheet1.xml"));
        assert!(is_worksheet("xl/worksheets/sheet12.xml"));
        assert!(!is_worksheet("xl/worksheets/sheet.xml"));
        assert!(!is_worksheet("xl/worksheets/sharedstrings.xml"));
        assert!(!is_worksheet("xl/sharedstrings.xml"));
    }
}
