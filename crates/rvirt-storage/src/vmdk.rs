//! VMDK: sparse "KDMV" images (capacity in sectors at 12, an embedded descriptor at 0x200) and
//! text descriptor files (`# Disk DescriptorFile`) whose extent lines name other files.
//!
//! For sparse images the parent is read as libvirt reads it: the text after 0x200 up to the first
//! NUL, searched for `parentFileNameHint="…"`. A VMDK's backing format is never recorded.
//! Descriptor files have no magic, so they are only parsed when the format was given; libvirt 9.0
//! reads them as if they were sparse headers, we parse the text (capacity from the extents, the
//! parent hint, and the extent files, which QEMU opens and so are reported like data files).

use crate::header::{bytes, until_nul};
use crate::inspect::{BackingFormat, BackingProblem, BackingRef, ImageInfo};
use crate::others::{read_capacity, Capacity};

const SPARSE_MAGIC: &[u8] = b"KDMV";
const DESCRIPTOR_OFFSET: usize = 0x200;
const PARENT_HINT: &str = "parentFileNameHint=\"";

/// One extent line of a descriptor: `RW 2048 FLAT "name-flat.vmdk" 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// RW, RDONLY or NOACCESS.
    pub access: String,
    /// Size in 512-byte sectors.
    pub sectors: u64,
    /// FLAT, SPARSE, ZERO, VMFS, …
    pub kind: String,
    /// The file QEMU opens, relative to the descriptor's directory unless absolute (none for ZERO).
    pub file: Option<String>,
}

pub(crate) fn parse(buf: &[u8], info: &mut ImageInfo) {
    if bytes(buf, 0, 4) != Some(SPARSE_MAGIC) && looks_like_descriptor(buf) {
        descriptor(until_nul(buf), info);
        return;
    }
    if !read_capacity(buf, info, Capacity::Le(12, 512)) {
        return;
    }
    if buf.len() <= DESCRIPTOR_OFFSET {
        info.backing_problem = Some(BackingProblem::HeaderTooShort);
        return;
    }
    let text = until_nul(&buf[DESCRIPTOR_OFFSET..]);
    match parent_hint(text) {
        Ok(Some(name)) => {
            info.backing = Some(BackingRef {
                name,
                format: BackingFormat::Unrecorded,
            })
        }
        Ok(None) => {}
        Err(p) => info.backing_problem = Some(p),
    }
}

fn looks_like_descriptor(buf: &[u8]) -> bool {
    let text = until_nul(buf);
    text.starts_with(b"# Disk DescriptorFile")
        || text
            .windows(b"createType".len())
            .any(|w| w == b"createType")
}

/// `strstr(desc, "parentFileNameHint=\"")`, then up to the next quote; an empty hint is no parent.
fn parent_hint(text: &[u8]) -> Result<Option<String>, BackingProblem> {
    let needle = PARENT_HINT.as_bytes();
    let Some(start) = text.windows(needle.len()).position(|w| w == needle) else {
        return Ok(None);
    };
    let rest = &text[start + needle.len()..];
    let end = rest
        .iter()
        .position(|&c| c == b'"')
        .ok_or(BackingProblem::UnterminatedName)?;
    if end == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&rest[..end]).into_owned()))
}

fn descriptor(text: &[u8], info: &mut ImageInfo) {
    match parent_hint(text) {
        Ok(Some(name)) => {
            info.backing = Some(BackingRef {
                name,
                format: BackingFormat::Unrecorded,
            })
        }
        Ok(None) => {}
        Err(p) => info.backing_problem = Some(p),
    }
    let text = String::from_utf8_lossy(text);
    let mut total: u64 = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let access = match words.next() {
            Some(a @ ("RW" | "RDONLY" | "NOACCESS")) => a,
            _ => continue,
        };
        let Some(sectors) = words.next().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let kind = words.next().unwrap_or("").to_string();
        let file = line
            .split_once('"')
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(f, _)| f.to_string());
        total = total.saturating_add(sectors);
        info.extents.push(Extent {
            access: access.to_string(),
            sectors,
            kind,
            file,
        });
    }
    info.capacity = Some(total.saturating_mul(512));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;
    use crate::Format;

    #[test]
    fn sparse_parent_hint() {
        let mut b = vec![0u8; 2048];
        b[..4].copy_from_slice(b"KDMV");
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[12..20].copy_from_slice(&2048u64.to_le_bytes());
        let d = b"# Disk DescriptorFile\nparentFileNameHint=\"base.vmdk\"\n";
        b[0x200..0x200 + d.len()].copy_from_slice(d);
        let i = inspect(&b, None).unwrap();
        assert_eq!(i.format, Format::Vmdk);
        assert_eq!(i.capacity, Some(2048 * 512));
        let bk = i.backing.unwrap();
        assert_eq!(bk.name, "base.vmdk");
        assert_eq!(bk.format, BackingFormat::Unrecorded);
    }

    #[test]
    fn descriptor_extents() {
        let d = b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n\
                  RW 2048 FLAT \"disk-flat.vmdk\" 0\nRW 100 ZERO\n";
        let i = inspect(d, Some(Format::Vmdk)).unwrap();
        assert_eq!(i.capacity, Some(2148 * 512));
        assert_eq!(i.extents.len(), 2);
        assert_eq!(i.extents[0].file.as_deref(), Some("disk-flat.vmdk"));
        assert_eq!(i.extents[1].file, None);
        // Probing never yields vmdk for a descriptor.
        assert_eq!(inspect(d, None).unwrap().format, Format::Raw);
    }
}
