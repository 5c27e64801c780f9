//! CPU sets as libvirt writes them (`0-3,^2,8`): `virBitmapParse` and `virBitmapFormat`.

use super::xml::{report, Result};
use rvirt_proto::error::{code, domain};
use std::collections::BTreeSet;

/// A set of CPU (or node) numbers with a fixed upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bitmap {
    bits: BTreeSet<u32>,
    size: u32,
}

impl Bitmap {
    /// Parses `text` with bits limited to `0..size` (`virBitmapParse`).
    pub fn parse(text: &str, size: u32) -> Result<Self> {
        parse(text, size).ok_or_else(|| {
            report(
                code::INVALID_ARG,
                domain::NONE,
                format!("Failed to parse bitmap '{text}'"),
            )
        })
    }

    /// No bit set.
    pub fn is_all_clear(&self) -> bool {
        self.bits.is_empty()
    }

    /// Every bit of the bitmap's size set.
    pub fn is_all_set(&self) -> bool {
        self.bits.len() as u64 == self.size as u64
    }

    /// The set bits, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bits.iter().copied()
    }

    /// A bitmap of `size` bits with `bits` set.
    pub fn from_bits(bits: impl IntoIterator<Item = u32>, size: u32) -> Self {
        Self {
            bits: bits.into_iter().collect(),
            size,
        }
    }

    /// The number of set bits (`virBitmapCountBits`).
    pub fn count(&self) -> usize {
        self.bits.len()
    }

    /// The highest set bit (`virBitmapLastSetBit`).
    pub fn last(&self) -> Option<u32> {
        self.bits.iter().next_back().copied()
    }

    /// Whether `bit` is set.
    pub fn contains(&self, bit: u32) -> bool {
        self.bits.contains(&bit)
    }

    /// Whether the two share a set bit (`virBitmapOverlaps`).
    pub fn overlaps(&self, other: &Bitmap) -> bool {
        self.bits.iter().any(|b| other.bits.contains(b))
    }

    /// The first set bit above `pos` (`virBitmapNextSetBit(map, pos)`; -1 starts at 0).
    pub fn next_set_after(&self, pos: i64) -> Option<u32> {
        self.bits.iter().copied().find(|b| (*b as i64) > pos)
    }

    /// Ranges joined with commas (`virBitmapFormat`).
    pub fn format(&self) -> String {
        let mut out = String::new();
        let mut it = self.bits.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end += 1;
                it.next();
            }
            if !out.is_empty() {
                out.push(',');
            }
            if start == end {
                out.push_str(&start.to_string());
            } else {
                out.push_str(&format!("{start}-{end}"));
            }
        }
        out
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol` prefix read: skips blanks, optional sign, digits; returns value and end index.
fn read_int(b: &[u8], mut i: usize) -> Option<(i64, usize)> {
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((b[i] - b'0') as i64)?;
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).ok()?;
    Some((v, i))
}

fn parse(text: &str, size: u32) -> Option<Bitmap> {
    let b = text.as_bytes();
    let mut set = BTreeSet::new();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < b.len() && is_space(b[*i]) {
            *i += 1;
        }
    };
    skip(&mut i);
    if i == b.len() {
        return None;
    }
    let mut neg = false;
    while i < b.len() {
        if b[i] == b'^' {
            i += 1;
            neg = true;
        }
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        let (start, e) = read_int(b, i)?;
        if start < 0 {
            return None;
        }
        i = e;
        skip(&mut i);
        if i == b.len() || b[i] == b',' {
            if start as u64 >= size as u64 {
                return None;
            }
            if neg {
                set.remove(&(start as u32));
            } else {
                set.insert(start as u32);
            }
        } else if b[i] == b'-' {
            if neg {
                return None;
            }
            i += 1;
            skip(&mut i);
            let (last, e) = read_int(b, i)?;
            if last < start {
                return None;
            }
            i = e;
            for n in start..=last {
                if n as u64 >= size as u64 {
                    return None;
                }
                set.insert(n as u32);
            }
            skip(&mut i);
        }
        if i < b.len() && b[i] == b',' {
            i += 1;
            skip(&mut i);
            neg = false;
        } else if i == b.len() {
            break;
        } else {
            return None;
        }
    }
    Some(Bitmap { bits: set, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let b = Bitmap::parse("0-3, ^2,8,9", 16384).unwrap();
        assert_eq!(b.format(), "0-1,3,8-9");
        assert!(Bitmap::parse("", 16).is_err());
        assert!(Bitmap::parse("3-1", 16).is_err());
        assert!(Bitmap::parse("16", 16).is_err());
        assert!(Bitmap::parse("x", 16).is_err());
        assert!(Bitmap::parse("0-15", 16).unwrap().is_all_set());
    }
}
