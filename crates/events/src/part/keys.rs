//! Counting a string column's rows per word of its dictionary straight from its pages: the
//! dictionary page's words, and each data page's keys tallied as they are unpacked, without
//! building arrays of keys, padding them for the rows without the property, or reading the
//! timestamps. For a count grouped by one property over row groups wholly inside the time
//! range (`PartFile::count_words`); anything else a scan reads.
//!
//! The pages are as the Parquet format specifies them for a flat, optional column written
//! with a dictionary in data pages of version 1: the definition levels (1 where the row has a
//! value) after their length in 4 little-endian bytes, then the bit width of the keys in one
//! byte and the keys of the rows with a value; levels and keys alike in the RLE / bit-packed
//! hybrid encoding (`Runs`).

use std::io;
use std::sync::Arc;

use arrow_array::{Array, StringArray};
use parquet::basic::Encoding;
use parquet::column::page::{Page, PageReader};
use parquet::file::serialized_reader::SerializedPageReader;

use super::batches::GroupRows;
use super::columns::MAX_WORDS;
use super::{Kind, Mode, PartFile};
use crate::query::timeframe::TimeRange;

/// Widest keys tallied here (a dictionary of up to 65,536 words).
const MAX_KEY_BITS: usize = 16;

/// A row group's rows counted per word of one string column's dictionary.
pub(crate) struct WordCounts {
    /// The dictionary's words, in key order.
    pub dictionary: StringArray,
    /// The word number of key 0 (as a scan numbers the dictionaries it reads, `Found::Word`).
    pub base: usize,
    /// Per key, its rows; one more at the end for the rows without the property.
    pub counts: Vec<u32>,
    /// The keys with rows, in the order of their first rows (the last key for the rows
    /// without the property).
    pub firsts: Vec<usize>,
}

impl PartFile {
    /// Per row group of `pieces`, its rows counted per word of the string column that `path`
    /// leads to; None where that takes a scan: `path` leads to no column, to another kind of
    /// column or to several, a piece is not a whole row group wholly inside `range`, a page
    /// is not of the form this module reads, or the words outnumber what a scan numbers.
    pub(crate) fn count_words(
        &self,
        pieces: &[GroupRows],
        range: TimeRange,
        path: &[String],
    ) -> io::Result<Option<Vec<WordCounts>>> {
        let slots = self.uniform_slots(&[path.to_vec()]);
        let Some(&[Some((column, Mode::Plain))]) = slots.as_deref() else { return Ok(None) };
        if self.kinds[column] != Kind::Str {
            return Ok(None);
        }
        let mut counted = Vec::with_capacity(pieces.len());
        let mut base = 0;
        for (group, rows) in pieces {
            let whole = 0..self.group_rows(*group);
            if *rows != whole || self.rows_in(*group, rows.clone(), range)? != whole {
                return Ok(None);
            }
            let Some(counts) = self.group_word_counts(*group, column, base)? else { return Ok(None) };
            base += counts.dictionary.len();
            if base > MAX_WORDS as usize {
                return Ok(None);
            }
            counted.push(counts);
        }
        Ok(Some(counted))
    }

    /// Row group `group`'s rows counted per word of column `column`'s dictionary, numbered
    /// from `base`; None where a page is not of the form this module reads.
    fn group_word_counts(&self, group: usize, column: usize, base: usize) -> io::Result<Option<WordCounts>> {
        let row_group = self.metadata.metadata().row_group(group);
        if row_group.num_columns() != self.kinds.len() {
            return Ok(None);
        }
        let chunk = row_group.column(column);
        let descriptor = chunk.column_descr();
        if descriptor.max_rep_level() != 0 || descriptor.max_def_level() > 1 {
            return Ok(None);
        }
        let optional = descriptor.max_def_level() == 1;
        let rows = self.group_rows(group);
        // Counted in 32 bits.
        if u32::try_from(rows).is_err() {
            return Ok(None);
        }
        let mut pages = SerializedPageReader::new(Arc::new(self.file.clone()), chunk, rows, None)
            .map_err(io::Error::other)?;
        let Some(Page::DictionaryPage { buf, num_values, encoding, .. }) =
            pages.get_next_page().map_err(io::Error::other)?
        else {
            return Ok(None);
        };
        if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
            return Ok(None);
        }
        let dictionary = plain_words(&buf, num_values as usize)?;
        let mut tally = Tally::new(dictionary.len());
        while let Some(page) = pages.get_next_page().map_err(io::Error::other)? {
            let Page::DataPage { buf, num_values, encoding, def_level_encoding, .. } = page else {
                return Ok(None);
            };
            if !matches!(encoding, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY)
                || (optional && def_level_encoding != Encoding::RLE)
            {
                return Ok(None);
            }
            let levels = num_values as usize;
            if tally.rows + levels > rows {
                return Err(corrupt("more rows than the row group's"));
            }
            let (present, keys) = match optional {
                true => {
                    let (length, rest) = split_length(&buf)?;
                    let (levels_bytes, keys) =
                        rest.split_at_checked(length).ok_or_else(|| corrupt("levels"))?;
                    (tally.levels(levels_bytes, levels)?, keys)
                }
                false => (levels, &buf[..]),
            };
            if present > 0 {
                let (&width, keys) = keys.split_first().ok_or_else(|| corrupt("no key width"))?;
                if usize::from(width) > MAX_KEY_BITS {
                    return Ok(None);
                }
                tally.keys(keys, usize::from(width), present)?;
            }
            tally.rows += levels;
            tally.values += present;
        }
        if tally.rows != rows {
            return Err(corrupt("rows"));
        }
        Ok(Some(tally.finish(dictionary, base)?))
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("event part: a dictionary column's pages: {what}"))
}

/// A little-endian length of 4 bytes, and what follows it.
fn split_length(bytes: &[u8]) -> io::Result<(usize, &[u8])> {
    let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(|| corrupt("no length"))?;
    Ok((u32::from_le_bytes(*length) as usize, rest))
}

/// The `count` strings of a dictionary page in the PLAIN encoding (each its length in 4
/// little-endian bytes, then its bytes).
fn plain_words(mut bytes: &[u8], count: usize) -> io::Result<StringArray> {
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        let (length, rest) = split_length(bytes)?;
        let (word, rest) = rest.split_at_checked(length).ok_or_else(|| corrupt("a word's length"))?;
        words.push(std::str::from_utf8(word).map_err(|_| corrupt("a word is not UTF-8"))?);
        bytes = rest;
    }
    Ok(StringArray::from_iter_values(words))
}

/// One run of the RLE / bit-packed hybrid encoding.
enum Run<'a> {
    /// One value, repeated.
    Repeated { value: usize, count: usize },
    /// Values of `width` bits packed from the lowest bit of the first byte on, in groups of
    /// eight (`bytes` holds `count / 8` groups of `width` bytes each).
    Packed { bytes: &'a [u8], count: usize },
}

/// The runs of a RLE / bit-packed hybrid stream of values `width` bits wide: each run starts
/// with a ULEB128 header, whose lowest bit says packed (the groups of eight values follow) or
/// repeated (the run's length, then its value in the fewest whole bytes that hold `width`
/// bits).
struct Runs<'a> {
    bytes: &'a [u8],
    width: usize,
}

impl<'a> Runs<'a> {
    fn next_run(&mut self) -> io::Result<Run<'a>> {
        let mut header = 0usize;
        let mut shift = 0;
        loop {
            let (&byte, rest) = self.bytes.split_first().ok_or_else(|| corrupt("a run ends early"))?;
            self.bytes = rest;
            if shift > 56 {
                return Err(corrupt("a run header"));
            }
            header |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if header & 1 == 1 {
            let groups = header >> 1;
            let length = groups.checked_mul(self.width).ok_or_else(|| corrupt("a packed run"))?;
            let (bytes, rest) = self.bytes.split_at_checked(length).ok_or_else(|| corrupt("a packed run"))?;
            self.bytes = rest;
            return Ok(Run::Packed { bytes, count: groups.saturating_mul(8) });
        }
        let (value, rest) =
            self.bytes.split_at_checked(self.width.div_ceil(8)).ok_or_else(|| corrupt("a repeated run"))?;
        self.bytes = rest;
        let value = value.iter().rev().fold(0usize, |value, &byte| value << 8 | usize::from(byte));
        Ok(Run::Repeated { value, count: header >> 1 })
    }
}

/// Calls `each` with the first `count` values of `width` bits (at most `MAX_KEY_BITS`) packed
/// in `bytes` (which holds them all), in order. A group of eight is read in one load of 8
/// bytes (16 for keys wider than a byte), reaching into the next group, which is not used.
#[inline(always)]
fn unpack(bytes: &[u8], width: usize, count: usize, mut each: impl FnMut(usize)) {
    if width == 0 {
        (0..count).for_each(|_| each(0));
        return;
    }
    for group in 0..count.div_ceil(8) {
        let values = (count - group * 8).min(8);
        if width <= 8 {
            let mut bits = u64::from_le_bytes(group_bytes(bytes, group * width, width));
            for _ in 0..values {
                each((bits & ((1 << width) - 1)) as usize);
                bits >>= width;
            }
        } else {
            let mut bits = u128::from_le_bytes(group_bytes(bytes, group * width, width));
            for _ in 0..values {
                each((bits & ((1 << width) - 1)) as usize);
                bits >>= width;
            }
        }
    }
}

/// The `N` bytes of `bytes` from `at` on; near its end, the group of `width` bytes there,
/// padded with zeros.
#[inline(always)]
fn group_bytes<const N: usize>(bytes: &[u8], at: usize, width: usize) -> [u8; N] {
    match bytes.get(at..at + N) {
        Some(whole) => whole.try_into().expect("N bytes"),
        None => {
            let mut padded = [0; N];
            let group = &bytes[at.min(bytes.len())..(at + width).min(bytes.len())];
            padded[..group.len()].copy_from_slice(group);
            padded
        }
    }
}

/// The counts of one row group's pages as they are read.
struct Tally {
    words: usize,
    /// Per key that the key width allows, its rows (past the dictionary's, none).
    counts: Vec<u32>,
    /// Each key with rows and the number of the row group's values (rows with one) before its
    /// first row.
    firsts: Vec<(usize, usize)>,
    /// The row group's first row without a value, once read: as every row before it has a
    /// value, both the row's number and the values before it.
    first_absent: Option<usize>,
    /// The rows of the pages read, and how many of them have a value.
    rows: usize,
    values: usize,
}

impl Tally {
    fn new(words: usize) -> Tally {
        Tally { words, counts: vec![0; words], firsts: Vec::new(), first_absent: None, rows: 0, values: 0 }
    }

    /// Reads the `levels` definition levels (`bytes`, one bit wide) of the page after the rows
    /// read, and returns how many are 1 (the rows with a value); notes the row group's first
    /// row without one.
    fn levels(&mut self, bytes: &[u8], levels: usize) -> io::Result<usize> {
        let mut runs = Runs { bytes, width: 1 };
        let (mut read, mut present) = (0, 0);
        while read < levels {
            let mut first_zero = None;
            let (ones, count) = match runs.next_run()? {
                Run::Repeated { value, count } if value < 2 => {
                    let count = count.min(levels - read);
                    first_zero = (value == 0 && count > 0).then_some(0);
                    (value * count, count)
                }
                Run::Repeated { .. } => return Err(corrupt("a definition level")),
                Run::Packed { bytes, count } => {
                    let count = count.min(levels - read);
                    let (mut ones, mut at) = (0, 0);
                    unpack(bytes, 1, count, |level| {
                        if level == 0 && first_zero.is_none() {
                            first_zero = Some(at);
                        }
                        ones += level;
                        at += 1;
                    });
                    (ones, count)
                }
            };
            if let (None, Some(zero)) = (self.first_absent, first_zero) {
                self.first_absent = Some(self.rows + read + zero);
            }
            read += count;
            present += ones;
        }
        Ok(present)
    }

    /// Tallies the first `count` keys (`bytes`, `width` bits each, at most `MAX_KEY_BITS`)
    /// of the page after the values read.
    fn keys(&mut self, bytes: &[u8], width: usize, count: usize) -> io::Result<()> {
        if self.counts.len() < 1 << width {
            self.counts.resize(1 << width, 0);
        }
        let mut runs = Runs { bytes, width };
        let (counts, firsts) = (&mut self.counts, &mut self.firsts);
        let mut read = 0;
        while read < count {
            let at = self.values + read;
            match runs.next_run()? {
                Run::Repeated { value, count: repeated } => {
                    let repeated = repeated.min(count - read);
                    let slot = counts.get_mut(value).ok_or_else(|| corrupt("a key"))?;
                    if *slot == 0 && repeated > 0 {
                        firsts.push((value, at));
                    }
                    *slot += repeated as u32;
                    read += repeated;
                }
                Run::Packed { bytes, count: packed } => {
                    let packed = packed.min(count - read);
                    let mut position = at;
                    unpack(bytes, width, packed, |key| {
                        let count = &mut counts[key];
                        *count += 1;
                        if *count == 1 {
                            firsts.push((key, position));
                        }
                        position += 1;
                    });
                    read += packed;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, dictionary: StringArray, base: usize) -> io::Result<WordCounts> {
        if self.counts[self.words..].iter().any(|&count| count > 0) {
            return Err(corrupt("a key past the dictionary"));
        }
        self.counts.truncate(self.words);
        self.counts.push((self.rows - self.values) as u32);
        // The first row without a value comes before the first row of a key with as many
        // values before it (a stable sort keeps it first).
        let absent = self.first_absent.map(|before| (self.words, before));
        let mut firsts: Vec<(usize, usize)> = absent.into_iter().chain(self.firsts).collect();
        firsts.sort_by_key(|&(_, before)| before);
        let firsts = firsts.into_iter().map(|(key, _)| key).collect();
        Ok(WordCounts { dictionary, base, counts: self.counts, firsts })
    }
}
