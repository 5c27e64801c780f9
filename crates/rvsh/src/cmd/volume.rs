//! Storage Volume commands: `vol-clone`, `vol-create-as`, `vol-create`, `vol-create-from`,
//! `vol-delete`, `vol-dumpxml`, `vol-info`, `vol-key`, `vol-list`, `vol-name`, `vol-path`,
//! `vol-pool`, `vol-resize`, `vol-wipe`, `vol-upload`, `vol-download`.
//!
//! JSON shapes (`--json`):
//! - `vol-list`: an array, sorted like the table, of `{"name": str, "path": str|null,
//!   "type": str|null, "capacity": n|null, "allocation": n|null}` (bytes).
//! - `vol-info`: `{"name": str, "type": str, "capacity": n, "allocation": n}` (bytes).

use super::{by, opt_bool, opt_data, opt_file, opt_int, opt_string, opt_string_named, OPT_JSON};
use crate::ctl::Ctl;
use crate::output::{capacity_text, field, pretty_capacity, vol_type, Table};
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::driver::vol_stream::SPARSE as VOL_STREAM_SPARSE;
use rvirt::error::{code, domain};
use rvirt::StorageVol;
use serde_json::json;

const POOL_NAME: OptDef = opt_data("pool", "pool name");
const POOL_OPTIONAL: OptDef = opt_string("pool", "pool name or uuid");
const VOL_FULL: OptDef = opt_data("vol", "vol name, key or path");
const VOL_BY_KEY: OptDef = opt_data("vol", "volume key or path");

static CLONE_OPTS: [OptDef; 6] = [
    VOL_FULL,
    opt_data("newname", "clone name"),
    POOL_OPTIONAL,
    opt_bool(
        "prealloc-metadata",
        "preallocate metadata (for qcow2 instead of full allocation)",
    ),
    opt_bool("reflink", "use btrfs COW lightweight copy"),
    opt_bool(
        "print-xml",
        "print XML document rather than clone the volume",
    ),
];
static CREATE_FROM_OPTS: [OptDef; 7] = [
    opt_data("pool", "pool name or uuid"),
    opt_file("file containing an XML vol description"),
    VOL_FULL,
    opt_string("inputpool", "pool name or uuid of the input volume's pool"),
    opt_bool(
        "prealloc-metadata",
        "preallocate metadata (for qcow2 instead of full allocation)",
    ),
    opt_bool("reflink", "use btrfs COW lightweight copy"),
    opt_bool("validate", "validate the XML against the schema"),
];
static RESIZE_OPTS: [OptDef; 6] = [
    VOL_FULL,
    opt_data(
        "capacity",
        "new capacity for the vol, as scaled integer (default bytes)",
    ),
    POOL_OPTIONAL,
    opt_bool(
        "allocate",
        "allocate the new capacity, rather than leaving it sparse",
    ),
    opt_bool(
        "delta",
        "use capacity as a delta to current size, rather than the new size",
    ),
    opt_bool("shrink", "allow the resize to shrink the volume"),
];
static UPLOAD_OPTS: [OptDef; 6] = [
    VOL_FULL,
    opt_file("file"),
    POOL_OPTIONAL,
    opt_int("offset", "volume offset to upload to"),
    opt_int("length", "amount of data to upload"),
    opt_bool("sparse", "preserve sparseness of volume"),
];
static DOWNLOAD_OPTS: [OptDef; 6] = [
    VOL_FULL,
    opt_file("file"),
    POOL_OPTIONAL,
    opt_int("offset", "volume offset to download from"),
    opt_int("length", "amount of data to download"),
    opt_bool("sparse", "preserve sparseness of volume"),
];
static WIPE_OPTS: [OptDef; 3] = [
    VOL_FULL,
    POOL_OPTIONAL,
    opt_string("algorithm", "perform selected wiping algorithm"),
];
static CREATE_AS_OPTS: [OptDef; 9] = [
    POOL_NAME,
    opt_data("name", "name of the volume"),
    opt_data(
        "capacity",
        "size of the vol, as scaled integer (default bytes)",
    ),
    opt_string(
        "allocation",
        "initial allocation size, as scaled integer (default bytes)",
    ),
    opt_string("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
    opt_string("backing-vol", "the backing volume if taking a snapshot"),
    opt_string(
        "backing-vol-format",
        "format of backing volume if taking a snapshot",
    ),
    opt_bool(
        "prealloc-metadata",
        "preallocate metadata (for qcow2 instead of full allocation)",
    ),
    opt_bool("print-xml", "print XML document, but don't define/create"),
];
static CREATE_OPTS: [OptDef; 4] = [
    POOL_NAME,
    opt_file("file containing an XML vol description"),
    opt_bool(
        "prealloc-metadata",
        "preallocate metadata (for qcow2 instead of full allocation)",
    ),
    opt_bool("validate", "validate the XML against the schema"),
];
static DELETE_OPTS: [OptDef; 3] = [
    VOL_FULL,
    POOL_OPTIONAL,
    opt_bool(
        "delete-snapshots",
        "delete snapshots associated with volume (must be supported by storage driver)",
    ),
];
static DUMPXML_OPTS: [OptDef; 4] = [
    VOL_FULL,
    POOL_OPTIONAL,
    opt_string_named("xpath", "xpath expression to filter the XML document"),
    opt_bool("wrap", "wrap xpath results in an common root element"),
];
static INFO_OPTS: [OptDef; 5] = [
    VOL_FULL,
    POOL_OPTIONAL,
    opt_bool(
        "bytes",
        "sizes are represented in bytes rather than pretty units",
    ),
    opt_bool(
        "physical",
        "return the physical size of the volume in allocation field",
    ),
    OPT_JSON,
];
static KEY_OPTS: [OptDef; 2] = [opt_data("vol", "volume name or path"), POOL_OPTIONAL];
static LIST_OPTS: [OptDef; 3] = [
    opt_data("pool", "pool name or uuid"),
    opt_bool("details", "display extended details for volumes"),
    OPT_JSON,
];
static NAME_OPTS: [OptDef; 1] = [VOL_BY_KEY];
static PATH_OPTS: [OptDef; 2] = [opt_data("vol", "volume name or key"), POOL_OPTIONAL];
static POOL_OPTS: [OptDef; 2] = [
    VOL_BY_KEY,
    opt_bool("uuid", "return the pool uuid rather than pool name"),
];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 16] = [
    CmdDef {
        name: "vol-clone",
        help: "clone a volume.",
        desc: "Clone an existing volume within the parent pool.",
        opts: &CLONE_OPTS,
        handler: cmd_clone,
        flags: 0,
    },
    CmdDef {
        name: "vol-create-as",
        help: "create a volume from a set of args",
        desc: "Create a vol.",
        opts: &CREATE_AS_OPTS,
        handler: cmd_create_as,
        flags: 0,
    },
    CmdDef {
        name: "vol-create",
        help: "create a vol from an XML file",
        desc: "Create a vol.",
        opts: &CREATE_OPTS,
        handler: cmd_create,
        flags: 0,
    },
    CmdDef {
        name: "vol-create-from",
        help: "create a vol, using another volume as input",
        desc: "Create a vol from an existing volume.",
        opts: &CREATE_FROM_OPTS,
        handler: cmd_create_from,
        flags: 0,
    },
    CmdDef {
        name: "vol-delete",
        help: "delete a vol",
        desc: "Delete a given vol.",
        opts: &DELETE_OPTS,
        handler: cmd_delete,
        flags: 0,
    },
    CmdDef {
        name: "vol-download",
        help: "download volume contents to a file",
        desc: "Download volume contents to a file",
        opts: &DOWNLOAD_OPTS,
        handler: cmd_download,
        flags: 0,
    },
    CmdDef {
        name: "vol-dumpxml",
        help: "vol information in XML",
        desc: "Output the vol information as an XML dump to stdout.",
        opts: &DUMPXML_OPTS,
        handler: cmd_dumpxml,
        flags: 0,
    },
    CmdDef {
        name: "vol-info",
        help: "storage vol information",
        desc: "Returns basic information about the storage vol.",
        opts: &INFO_OPTS,
        handler: cmd_info,
        flags: 0,
    },
    CmdDef {
        name: "vol-key",
        help: "returns the volume key for a given volume name or path",
        desc: "",
        opts: &KEY_OPTS,
        handler: cmd_key,
        flags: 0,
    },
    CmdDef {
        name: "vol-list",
        help: "list vols",
        desc: "Returns list of vols by pool.",
        opts: &LIST_OPTS,
        handler: cmd_list,
        flags: 0,
    },
    CmdDef {
        name: "vol-name",
        help: "returns the volume name for a given volume key or path",
        desc: "",
        opts: &NAME_OPTS,
        handler: cmd_name,
        flags: 0,
    },
    CmdDef {
        name: "vol-path",
        help: "returns the volume path for a given volume name or key",
        desc: "",
        opts: &PATH_OPTS,
        handler: cmd_path,
        flags: 0,
    },
    CmdDef {
        name: "vol-pool",
        help: "returns the storage pool for a given volume key or path",
        desc: "",
        opts: &POOL_OPTS,
        handler: cmd_vol_pool,
        flags: 0,
    },
    CmdDef {
        name: "vol-resize",
        help: "resize a vol",
        desc: "Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\nSee blockresize for live resizing.",
        opts: &RESIZE_OPTS,
        handler: cmd_resize,
        flags: 0,
    },
    CmdDef {
        name: "vol-upload",
        help: "upload file contents to a volume",
        desc: "Upload file contents to a volume",
        opts: &UPLOAD_OPTS,
        handler: cmd_upload,
        flags: 0,
    },
    CmdDef {
        name: "vol-wipe",
        help: "wipe a vol",
        desc: "Ensure data previously on a volume is not accessible to future reads",
        opts: &WIPE_OPTS,
        handler: cmd_wipe,
        flags: 0,
    },
];

/// Parses a scaled size (`virshVolSize`): a decimal number with an optional suffix
/// (`b`, `k`/`KiB` = 1024, `KB` = 1000, … up to `e`). `Err(None)` for text that is not a
/// number, `Err(Some(e))` for a bad suffix or overflow, with libvirt's error.
pub fn parse_size(s: &str) -> Result<u64, Option<rvirt::Error>> {
    if s.trim_start().starts_with('-') {
        return Err(None);
    }
    let (val, suffix) = crate::parse::strtoul(s).ok_or(None)?;
    let scale: u64 = if suffix.is_empty()
        || ["b", "byte", "bytes"]
            .iter()
            .any(|x| suffix.eq_ignore_ascii_case(x))
    {
        1
    } else {
        let rest = &suffix[1..];
        let base: u64 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
            1024
        } else if rest.eq_ignore_ascii_case("b") {
            1000
        } else {
            return Err(Some(unknown_suffix(suffix)));
        };
        let power = match suffix.as_bytes()[0].to_ascii_lowercase() {
            b'k' => 1,
            b'm' => 2,
            b'g' => 3,
            b't' => 4,
            b'p' => 5,
            b'e' => 6,
            _ => return Err(Some(unknown_suffix(suffix))),
        };
        base.pow(power)
    };
    if val != 0 && val > u64::MAX / scale {
        return Err(Some(rvirt::Error::new(
            code::OVERFLOW,
            domain::NONE,
            format!("value too large: {val}{suffix}"),
        )));
    }
    Ok(val * scale)
}

fn unknown_suffix(suffix: &str) -> rvirt::Error {
    rvirt::Error::new(
        code::INVALID_ARG,
        domain::NONE,
        format!("unknown suffix '{suffix}'"),
    )
}

fn size_arg(ctl: &mut Ctl, text: &str) -> Option<u64> {
    match parse_size(text) {
        Ok(v) => Some(v),
        Err(e) => {
            if let Some(e) = e {
                ctl.save_error(e);
            }
            ctl.error(&format!("Malformed size {text}"));
            None
        }
    }
}

fn cmd_create_as(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let flags = if cmd.has("prealloc-metadata") { 1 } else { 0 };
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let Ok(Some(name)) = cmd.string_req(ctl, "name") else {
        return false;
    };
    let Ok(Some(cap_text)) = cmd.string_req(ctl, "capacity") else {
        return false;
    };
    let Some(capacity) = size_arg(ctl, cap_text) else {
        return false;
    };
    let mut allocation = None;
    if let Ok(Some(a)) = cmd.string_quiet("allocation") {
        let Some(v) = size_arg(ctl, a) else {
            return false;
        };
        allocation = Some(v);
    }
    let (Ok(format), Ok(backing), Ok(backing_format)) = (
        cmd.string_req(ctl, "format"),
        cmd.string_req(ctl, "backing-vol"),
        cmd.string_req(ctl, "backing-vol-format"),
    ) else {
        return false;
    };
    let mut xml = format!("<volume>\n  <name>{name}</name>\n  <capacity>{capacity}</capacity>\n");
    if let Some(a) = allocation {
        xml += &format!("  <allocation>{a}</allocation>\n");
    }
    if let Some(f) = format {
        xml += &format!("  <target>\n    <format type='{f}'/>\n  </target>\n");
    }
    if let Some(b) = backing {
        let conn = ctl.conn();
        let mut snap = ctl.block_on(pool.volume_lookup_by_name(b)).ok();
        if snap.is_none() {
            snap = ctl.block_on(conn.storage_vol_lookup_by_key(b)).ok();
        }
        if snap.is_none() {
            snap = ctl.block_on(conn.storage_vol_lookup_by_path(b)).ok();
        }
        let Some(snap) = snap else {
            ctl.error(&format!("failed to get vol '{b}'"));
            return false;
        };
        let Some(path) = ctl.call(snap.path()) else {
            return false;
        };
        xml += &format!("  <backingStore>\n    <path>{path}</path>\n");
        if let Some(bf) = backing_format {
            xml += &format!("    <format type='{bf}'/>\n");
        }
        xml += "  </backingStore>\n";
    }
    xml += "</volume>\n";
    if cmd.has("print-xml") {
        ctl.print(&xml);
        return true;
    }
    if ctl.call(pool.volume_create_xml(&xml, flags)).is_none() {
        ctl.error(&format!("Failed to create vol {name}"));
        return false;
    }
    ctl.print_extra(&format!("Vol {name} created\n"));
    true
}

fn cmd_create(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let mut flags = 0;
    if cmd.has("prealloc-metadata") {
        flags |= 1;
    }
    if cmd.has("validate") {
        flags |= 1 << 2;
    }
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let Some(xml) = super::read_file(ctl, from) else {
        return false;
    };
    let Some(vol) = ctl.call(pool.volume_create_xml(&xml, flags)) else {
        ctl.error(&format!("Failed to create vol from {from}"));
        return false;
    };
    ctl.print_extra(&format!("Vol {} created from {from}\n", vol.name()));
    true
}

fn cmd_delete(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, name)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let flags = if cmd.has("delete-snapshots") {
        1 << 1
    } else {
        0
    };
    if ctl.call(vol.delete(flags)).is_some() {
        ctl.print_extra(&format!("Vol {name} deleted\n"));
        true
    } else {
        ctl.error(&format!("Failed to delete vol {name}"));
        false
    }
}

fn cmd_dumpxml(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    if cmd.string_quiet("xpath").is_err() || !super::domain::unsupported_option(ctl, cmd, "xpath") {
        return false;
    }
    let Some(xml) = ctl.call(vol.xml_desc(0)) else {
        return false;
    };
    ctl.print(&xml);
    true
}

fn cmd_info(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let bytes = cmd.has("bytes");
    let physical = cmd.has("physical");
    let Some((vol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let json = cmd.has("json");
    if !json {
        ctl.print(&field(15, "Name:", vol.name()));
    }
    // VIR_STORAGE_VOL_GET_PHYSICAL: the flag-less API when no flag is set, as virsh.
    let info = if physical {
        ctl.call(vol.info_flags(1))
    } else {
        ctl.call(vol.info())
    };
    let Some(info) = info else {
        return false;
    };
    let second = if physical { "Physical:" } else { "Allocation:" };
    if json {
        super::print_json(
            ctl,
            &json!({
                "name": vol.name(),
                "type": vol_type(info.type_),
                "capacity": info.capacity,
                "allocation": info.allocation,
            }),
        );
        return true;
    }
    let mut s = field(15, "Type:", vol_type(info.type_));
    if bytes {
        s += &field(15, "Capacity:", format!("{} bytes", info.capacity));
        s += &field(15, second, format!("{} bytes", info.allocation));
    } else {
        let (v, u) = pretty_capacity(info.capacity);
        s += &field(15, "Capacity:", format!("{v:.2} {u}"));
        let (v, u) = pretty_capacity(info.allocation);
        s += &field(15, second, format!("{v:.2} {u}"));
    }
    ctl.print(&s);
    true
}

fn cmd_key(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    ctl.print(&format!("{}\n", vol.key()));
    true
}

fn cmd_path(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Some(path) = ctl.call(vol.path()) else {
        return false;
    };
    ctl.print(&format!("{path}\n"));
    true
}

fn cmd_name(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, _)) = super::opt_vol_by(ctl, cmd, "vol", None, by::UUID) else {
        return false;
    };
    ctl.print(&format!("{}\n", vol.name()));
    true
}

fn cmd_vol_pool(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, _)) = super::opt_vol_by(ctl, cmd, "vol", None, by::UUID) else {
        return false;
    };
    let Some(pool) = ctl.call(vol.pool()) else {
        ctl.error("failed to get parent pool");
        return false;
    };
    if cmd.has("uuid") {
        ctl.print(&format!("{}\n", pool.uuid_string()));
    } else {
        ctl.print(&format!("{}\n", pool.name()));
    }
    true
}

/// Lists a pool's volumes sorted by name (`virshStorageVolListCollect`).
fn collect(ctl: &mut Ctl, pool: &rvirt::StoragePool) -> Option<Vec<StorageVol>> {
    let Some(mut v) = ctl.call(pool.list_all_volumes(0)) else {
        ctl.error("Failed to list volumes");
        return None;
    };
    v.sort_by(|a, b| super::monitor::strcasecmp(a.name(), b.name()));
    Some(v)
}

fn cmd_list(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let details = cmd.has("details");
    let json = cmd.has("json");
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let Some(list) = collect(ctl, &pool) else {
        return false;
    };
    let mut rows = Vec::new();
    for vol in &list {
        let path = ctl.call(vol.path());
        let info = if details || json {
            ctl.call(vol.info())
        } else {
            None
        };
        rows.push((path, info));
    }
    if json {
        let arr: Vec<_> = list
            .iter()
            .zip(&rows)
            .map(|(v, (path, info))| {
                json!({
                    "name": v.name(),
                    "path": path,
                    "type": info.map(|i| vol_type(i.type_)),
                    "capacity": info.map(|i| i.capacity),
                    "allocation": info.map(|i| i.allocation),
                })
            })
            .collect();
        ctl.reset_error();
        super::print_json(ctl, &serde_json::Value::Array(arr));
        return true;
    }
    let utf8 = crate::output::locale_is_utf8();
    let mut t = if details {
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"])
    } else {
        Table::new(&["Name", "Path"])
    };
    for (v, (path, info)) in list.iter().zip(&rows) {
        let path = path.clone().unwrap_or_else(|| "unknown".into());
        if details {
            let (ty, cap, alloc) = match info {
                Some(i) => (
                    vol_type(i.type_).to_string(),
                    capacity_text(i.capacity),
                    capacity_text(i.allocation),
                ),
                None => ("unknown".into(), "unknown".into(), "unknown".into()),
            };
            t.add_row(&[v.name(), &path, &ty, &cap, &alloc]);
        } else {
            t.add_row(&[v.name(), &path]);
        }
    }
    let text = t.render(!ctl.quiet, utf8);
    ctl.print(&text);
    true
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn scaled_sizes() {
        assert_eq!(parse_size("10").unwrap(), 10);
        assert_eq!(parse_size("10b").unwrap(), 10);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("1KB").unwrap(), 1000);
        assert_eq!(parse_size("10M").unwrap(), 10 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("x").unwrap_err().is_none());
        assert!(parse_size("-1").unwrap_err().is_none());
        let e = parse_size("10X").unwrap_err().unwrap();
        assert_eq!(e.message, "invalid argument: unknown suffix 'X'");
        let e = parse_size("20000000E").unwrap_err().unwrap();
        assert_eq!(e.code, rvirt::error::code::OVERFLOW);
    }
}

/// Escapes text as libxml2 writes it in element content.
fn xml_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value as libxml2 writes it (double-quoted).
fn xml_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// Writes `node` as libxml2's `xmlNodeDump` does for a document whose blanks were kept;
/// the content of element `replace.0` becomes the text `replace.1`.
fn dump_node(node: roxmltree::Node, replace: (roxmltree::NodeId, &str), out: &mut String) {
    if node.is_text() {
        xml_text(node.text().unwrap_or(""), out);
        return;
    }
    if !node.is_element() {
        return;
    }
    let tag = node.tag_name().name();
    out.push('<');
    out.push_str(tag);
    for a in node.attributes() {
        out.push(' ');
        out.push_str(a.name());
        out.push_str("=\"");
        xml_attr(a.value(), out);
        out.push('"');
    }
    if node.id() == replace.0 {
        out.push('>');
        xml_text(replace.1, out);
    } else if node.has_children() {
        out.push('>');
        for c in node.children() {
            dump_node(c, replace, out);
        }
    } else {
        out.push_str("/>");
        return;
    }
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// `virshMakeCloneXML`: the volume's XML with `/volume/name` set to `newname`.
fn make_clone_xml(orig: &str, newname: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(orig).ok()?;
    let root = doc.root_element();
    if root.tag_name().name() != "volume" {
        return None;
    }
    let name = root.children().find(|c| c.has_tag_name("name"))?;
    let mut out = String::new();
    dump_node(root, (name.id(), newname), &mut out);
    Some(out)
}

fn cmd_clone(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((origvol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Some(origpool) = ctl.call(origvol.pool()) else {
        ctl.error("failed to get parent pool");
        return false;
    };
    let Ok(Some(name)) = cmd.string_req(ctl, "newname") else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("prealloc-metadata") {
        flags |= 1;
    }
    if cmd.has("reflink") {
        flags |= 1 << 1;
    }
    let Some(origxml) = ctl.call(origvol.xml_desc(0)) else {
        return false;
    };
    let Some(newxml) = make_clone_xml(&origxml, name) else {
        ctl.error("Failed to allocate XML buffer");
        return false;
    };
    if cmd.has("print-xml") {
        ctl.print(&newxml);
        return true;
    }
    let Some(newvol) = ctl.call(origpool.volume_create_xml_from(&newxml, &origvol, flags)) else {
        ctl.error(&format!("Failed to clone vol from {}", origvol.name()));
        return false;
    };
    ctl.print_extra(&format!(
        "Vol {} cloned from {}\n",
        newvol.name(),
        origvol.name()
    ));
    true
}

fn cmd_create_from(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("prealloc-metadata") {
        flags |= 1;
    }
    if cmd.has("reflink") {
        flags |= 1 << 1;
    }
    if cmd.has("validate") {
        flags |= 1 << 2;
    }
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let Some((inputvol, _)) =
        super::opt_vol_by(ctl, cmd, "vol", Some("inputpool"), by::UUID | by::NAME)
    else {
        return false;
    };
    let Some(xml) = super::read_file(ctl, from) else {
        return false;
    };
    let Some(newvol) = ctl.call(pool.volume_create_xml_from(&xml, &inputvol, flags)) else {
        ctl.error(&format!("Failed to create vol from {from}"));
        return false;
    };
    ctl.print_extra(&format!(
        "Vol {} created from input vol {}\n",
        newvol.name(),
        inputvol.name()
    ));
    true
}

/// `VIR_STORAGE_VOL_RESIZE_*`.
const RESIZE_ALLOCATE: u32 = 1 << 0;
const RESIZE_DELTA: u32 = 1 << 1;
const RESIZE_SHRINK: u32 = 1 << 2;

fn cmd_resize(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let mut delta = cmd.has("delta");
    let shrink = cmd.has("shrink");
    let mut flags = 0;
    if cmd.has("allocate") {
        flags |= RESIZE_ALLOCATE;
    }
    if shrink {
        flags |= RESIZE_SHRINK;
    }
    let Some((vol, _)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Ok(Some(text)) = cmd.string_req(ctl, "capacity") else {
        return false;
    };
    let mut text = text.trim_start();
    if let Some(rest) = text.strip_prefix('-') {
        // The API wants a positive value; virsh accepts a negative one with --shrink.
        if !shrink {
            ctl.error("negative size requires --shrink");
            return false;
        }
        text = rest;
        delta = true;
    }
    if delta {
        flags |= RESIZE_DELTA;
    }
    let capacity = match parse_size(text) {
        Ok(v) => v,
        Err(e) => {
            if let Some(e) = e {
                ctl.save_error(e);
            }
            ctl.error(&format!("Malformed size {text}"));
            return false;
        }
    };
    let how = if delta { "by" } else { "to" };
    if ctl.call(vol.resize(capacity, flags)).is_none() {
        ctl.error(&format!(
            "Failed to change size of volume '{}' {how} {text}",
            vol.name()
        ));
        return false;
    }
    ctl.print_extra(&format!(
        "Size of volume '{}' successfully changed {how} {text}\n",
        vol.name()
    ));
    true
}

/// `virshStorageVolWipeAlgorithm`, in `virStorageVolWipeAlgorithm` order.
const WIPE_ALGORITHMS: [&str; 10] = [
    "zero",
    "nnsa",
    "dod",
    "bsi",
    "gutmann",
    "schneier",
    "pfitzner7",
    "pfitzner33",
    "random",
    "trim",
];

fn cmd_wipe(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((vol, name)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Ok(alg) = cmd.string_req(ctl, "algorithm") else {
        return false;
    };
    let algorithm = match alg {
        None => 0,
        Some(a) => match WIPE_ALGORITHMS.iter().position(|x| *x == a) {
            Some(i) => i as u32,
            None => {
                ctl.error(&format!("Unsupported algorithm '{a}'"));
                return false;
            }
        },
    };
    let mut done = ctl.block_on(vol.wipe_pattern(algorithm, 0));
    if let Err(e) = &done {
        // Servers without the pattern call: the plain one wipes with zeroes.
        if e.code == code::NO_SUPPORT && algorithm == 0 {
            done = ctl.block_on(vol.wipe(0));
        }
    }
    if let Err(e) = done {
        ctl.save_error(e);
        ctl.error(&format!("Failed to wipe vol {name}"));
        return false;
    }
    ctl.print_extra(&format!("Vol {name} wiped\n"));
    true
}

/// An unsigned long long option (`vshCommandOptULongLong`; with `wrap`, `…Wrap`, which lets a
/// negative number wrap around as C's `strtoull` does).
fn opt_ull(ctl: &mut Ctl, cmd: &ParsedCmd, name: &str, wrap: bool) -> Result<u64, ()> {
    let Ok(v) = cmd.string_quiet(name) else {
        ctl.error(&format!(
            "Numeric value '' for <{name}> option is malformed or out of range"
        ));
        return Err(());
    };
    let Some(v) = v else { return Ok(0) };
    let parsed = if let Some(rest) = v.trim_start().strip_prefix('-') {
        if wrap {
            crate::parse::strtoul(rest)
                .filter(|(_, r)| r.is_empty())
                .map(|(n, _)| n.wrapping_neg())
        } else {
            None
        }
    } else {
        crate::parse::strtoul(v)
            .filter(|(_, r)| r.is_empty())
            .map(|(n, _)| n)
    };
    parsed.ok_or_else(|| {
        ctl.error(&format!(
            "Numeric value '{v}' for <{name}> option is malformed or out of range"
        ))
    })
}

/// A progress line on stderr, drawn only when stderr is a terminal (so scripted output and
/// differential tests against virsh see nothing).
struct Progress {
    total: u64,
    tty: bool,
    last: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        // SAFETY: isatty only inspects the descriptor number.
        let tty = unsafe { libc::isatty(2) } == 1;
        Self {
            total,
            tty,
            last: u64::MAX,
        }
    }
    fn show(&mut self, done: u64) {
        if !self.tty {
            return;
        }
        let pct = (done.min(self.total) * 100)
            .checked_div(self.total)
            .unwrap_or(100);
        if pct != self.last {
            self.last = pct;
            let width = 40;
            let fill = (pct as usize * width) / 100;
            eprint!(
                "\r[{}{}] {pct:3}% {}",
                "#".repeat(fill),
                " ".repeat(width - fill),
                pretty_bytes(done)
            );
        }
    }
    fn end(&self) {
        if self.tty && self.last != u64::MAX {
            eprintln!();
        }
    }
}

fn pretty_bytes(n: u64) -> String {
    let (v, unit) = pretty_capacity(n);
    format!("{v:.2} {unit}")
}

fn cmd_upload(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(offset) = opt_ull(ctl, cmd, "offset", false) else {
        return false;
    };
    let Ok(length) = opt_ull(ctl, cmd, "length", true) else {
        return false;
    };
    let Some((vol, name)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Ok(Some(file)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let file = file.to_string();
    let Ok(f) = std::fs::File::open(&file) else {
        ctl.error(&format!("cannot read {file}"));
        return false;
    };
    let Ok(meta) = f.metadata() else {
        ctl.error(&format!("unable to stat {file}"));
        return false;
    };
    let sparse = cmd.has("sparse");
    let flags = if sparse { VOL_STREAM_SPARSE } else { 0 };
    let Some(mut sink) = ctl.call(vol.upload(offset, length, flags)) else {
        ctl.error(&format!("cannot upload to volume {name}"));
        return false;
    };
    let mut bar = Progress::new(meta.len());
    let sent = rvirt::stream::file::send_file(&mut sink, &f, sparse, &mut |n| bar.show(n));
    bar.end();
    if let Err(e) = sent {
        sink.abort();
        ctl.save_error(e);
        ctl.error(&format!("cannot send data to volume {name}"));
        return false;
    }
    drop(f);
    if let Err(e) = sink.blocking_finish() {
        ctl.save_error(e);
        ctl.error(&format!("cannot close volume {name}"));
        return false;
    }
    true
}

fn cmd_download(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(offset) = opt_ull(ctl, cmd, "offset", false) else {
        return false;
    };
    let Ok(length) = opt_ull(ctl, cmd, "length", true) else {
        return false;
    };
    let Some((vol, name)) = super::opt_vol(ctl, cmd) else {
        return false;
    };
    let Ok(Some(file)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let file = file.to_string();
    use std::os::unix::fs::OpenOptionsExt;
    let mut created = true;
    let f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            created = false;
            match std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&file)
            {
                Ok(f) => f,
                Err(_) => {
                    ctl.error(&format!("cannot create {file}"));
                    return false;
                }
            }
        }
        Err(_) => {
            ctl.error(&format!("cannot create {file}"));
            return false;
        }
    };
    let sparse = cmd.has("sparse");
    let flags = if sparse { VOL_STREAM_SPARSE } else { 0 };
    let ok = (|| {
        let Some(mut source) = ctl.call(vol.download(offset, length, flags)) else {
            ctl.error(&format!("cannot download from volume {name}"));
            return false;
        };
        let total = if length != 0 {
            length
        } else {
            ctl.block_on(vol.info())
                .map(|i| i.capacity.saturating_sub(offset))
                .unwrap_or(0)
        };
        let mut bar = Progress::new(total);
        let got = rvirt::stream::file::recv_file(&mut source, &f, &mut |n| bar.show(n));
        bar.end();
        match got {
            Ok(_) => {
                source.complete(Ok(()));
                true
            }
            Err(e) => {
                ctl.save_error(e);
                ctl.error(&format!("cannot receive data from volume {name}"));
                false
            }
        }
    })();
    if !ok && created {
        let _ = std::fs::remove_file(&file);
    }
    ok
}

#[cfg(test)]
mod clone_tests {
    use super::make_clone_xml;

    #[test]
    fn clone_xml_is_written_like_libxml2() {
        let orig = "<volume type='file'>\n  <name>a.raw</name>\n  <key>/p/a&amp;b</key>\n  \
                    <target>\n    <format type='raw'/>\n    <features/>\n  </target>\n</volume>\n";
        assert_eq!(
            make_clone_xml(orig, "b<1>").unwrap(),
            "<volume type=\"file\">\n  <name>b&lt;1&gt;</name>\n  <key>/p/a&amp;b</key>\n  \
             <target>\n    <format type=\"raw\"/>\n    <features/>\n  </target>\n</volume>"
        );
        assert_eq!(make_clone_xml("<pool><name>x</name></pool>", "y"), None);
    }
}
