//! The command table and the command runner.
//!
//! Commands live in one file per virsh group (`domain.rs` for Domain Management, `monitor.rs`
//! for Domain Monitoring, `event.rs`, `host.rs`, `network.rs`, `pool.rs`, `volume.rs`, and
//! `builtin.rs` for the shell's own commands). Each file exports a `CMDS` table of
//! [`CmdDef`]s whose option lists mirror virsh 9.0's, so parsing and `help` output match.
//! [`run`] executes parsed commands the way `vshCommandRun` does: connect first when the
//! command needs it, report the library error of a failed command, and print the blank line
//! that follows every command's output.
//!
//! This file also holds what several groups share: object lookup by name/UUID/id with virsh's
//! order and messages, reading XML files, and option-table constructors.

pub mod builtin;
pub mod common;
pub mod domain;
pub mod event;
pub mod host;
pub mod monitor;
pub mod network;
pub mod pool;
pub mod volume;

use crate::ctl::Ctl;
use crate::parse::{oflag, CmdDef, OptDef, OptType, ParsedCmd};
use rvirt::{Domain, Network, StoragePool, StorageVol};

/// A command group as `help` lists it (`vshCmdGrp`).
pub struct Group {
    /// Display name.
    pub name: &'static str,
    /// The keyword `help KEYWORD` accepts.
    pub keyword: &'static str,
    /// The commands, in virsh's order.
    pub cmds: &'static [CmdDef],
}

static GROUPS: [Group; 8] = [
    Group {
        name: "Domain Management",
        keyword: "domain",
        cmds: &domain::CMDS,
    },
    Group {
        name: "Domain Monitoring",
        keyword: "monitor",
        cmds: &monitor::CMDS,
    },
    Group {
        name: "Domain Events",
        keyword: "events",
        cmds: &event::CMDS,
    },
    Group {
        name: "Host and Hypervisor",
        keyword: "host",
        cmds: &host::CMDS,
    },
    Group {
        name: "Networking",
        keyword: "network",
        cmds: &network::CMDS,
    },
    Group {
        name: "Storage Pool",
        keyword: "pool",
        cmds: &pool::CMDS,
    },
    Group {
        name: "Storage Volume",
        keyword: "volume",
        cmds: &volume::CMDS,
    },
    Group {
        name: "Virsh itself",
        keyword: "virsh",
        cmds: &builtin::CMDS,
    },
];

/// All command groups, in `help` order.
pub fn groups() -> &'static [Group] {
    &GROUPS
}

/// Finds a command by name (`vshCmddefSearch`).
pub fn lookup(name: &str) -> Option<&'static CmdDef> {
    GROUPS
        .iter()
        .flat_map(|g| g.cmds.iter())
        .find(|c| c.name == name)
}

/// Finds a group by name or keyword (`vshCmdGrpSearch`).
pub fn lookup_group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name || g.keyword == name)
}

/// Runs commands in order and returns the last one's result (`vshCommandRun`). `quit`/`exit`
/// stop the sequence.
pub fn run(ctl: &mut Ctl, cmds: &[ParsedCmd]) -> bool {
    let mut ret = true;
    for cmd in cmds {
        let before = std::time::Instant::now();
        ret = if cmd.def.flags & crate::parse::cflag::NOCONNECT != 0 || ctl.ensure_connected() {
            (cmd.def.handler)(ctl, cmd)
        } else {
            false
        };
        let elapsed = before.elapsed();
        if !ret {
            if let Some(e) = ctl.last_error() {
                use rvirt::error::{code, domain};
                if (e.code == code::SYSTEM_ERROR && e.domain == domain::REMOTE)
                    || e.code == code::RPC
                    || e.code == code::NO_CONNECT
                    || e.code == code::INVALID_CONN
                {
                    ctl.disconnected = true;
                }
            }
            ctl.report_error();
        }
        if cmd.def.name == "quit" || cmd.def.name == "exit" {
            return ret;
        }
        if ctl.timing {
            let ms = elapsed.as_secs_f64() * 1000.0;
            ctl.print(&format!("\n(Time: {ms:.3} ms)\n\n"));
        } else {
            ctl.print_extra("\n");
        }
    }
    ret
}

// ---- option-table constructors ----

/// A boolean flag.
pub const fn opt_bool(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::Bool,
        flags: oflag::NONE,
        help,
    }
}

/// A string option (also fillable positionally, as in virsh).
pub const fn opt_string(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::String,
        flags: oflag::NONE,
        help,
    }
}

/// A string option that must be named (`VSH_OFLAG_REQ_OPT`).
pub const fn opt_string_named(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::String,
        flags: oflag::REQ_OPT,
        help,
    }
}

/// A required positional argument.
pub const fn opt_data(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::Data,
        flags: oflag::REQ,
        help,
    }
}

/// A number option.
pub const fn opt_int(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::Int,
        flags: oflag::NONE,
        help,
    }
}

/// A number option that must be named.
pub const fn opt_int_named(name: &'static str, help: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::Int,
        flags: oflag::REQ_OPT,
        help,
    }
}

/// An undocumented alias.
pub const fn opt_alias(name: &'static str, target: &'static str) -> OptDef {
    OptDef {
        name,
        ty: OptType::Alias(target),
        flags: oflag::NONE,
        help: target,
    }
}

/// rvsh's `--json` option (not in virsh).
pub const OPT_JSON: OptDef = opt_bool(
    "json",
    "print a JSON document instead of text (rvsh extension)",
);

/// The `file` argument of define/create commands.
pub const fn opt_file(help: &'static str) -> OptDef {
    opt_data("file", help)
}

// ---- shared helpers ----

/// The future of a simple handle action (start, destroy, …).
pub type ActionFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = rvirt::Result<()>> + 'a>>;

/// Lookup methods (`VIRSH_BYID`, `VIRSH_BYUUID`, `VIRSH_BYNAME`).
pub mod by {
    /// By numeric id.
    pub const ID: u32 = 1 << 0;
    /// By UUID (also key/path for volumes).
    pub const UUID: u32 = 1 << 1;
    /// By name.
    pub const NAME: u32 = 1 << 2;
}

/// The `strerror` text of an I/O error.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A library-style system error (`virReportSystemError`).
pub fn system_error(msg: &str, e: &std::io::Error) -> rvirt::Error {
    rvirt::Error::raw(
        rvirt::error::code::SYSTEM_ERROR,
        rvirt::error::domain::NONE,
        format!("{msg}: {}", strerror(e)),
    )
}

/// Reads an XML file the way virsh does (`virFileReadAll` with a 10 MiB limit); a failure is
/// remembered as the command's library error.
pub fn read_file(ctl: &mut Ctl, path: &str) -> Option<String> {
    const MAX: u64 = 10 * 1024 * 1024;
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            ctl.save_error(system_error(&format!("Failed to open file '{path}'"), &e));
            return None;
        }
    };
    let mut buf = Vec::new();
    let res = f.take(MAX + 1).read_to_end(&mut buf);
    let res = match res {
        Ok(n) if n as u64 > MAX => Err(std::io::Error::from_raw_os_error(libc::EOVERFLOW)),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = res {
        ctl.save_error(system_error(&format!("Failed to read file '{path}'"), &e));
        return None;
    }
    // C stops at the first NUL byte.
    if let Some(n) = buf.iter().position(|&b| b == 0) {
        buf.truncate(n);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Parses a domain id as virsh does (`virStrToLong_i` of the whole text, non-negative).
fn parse_id(s: &str) -> Option<i32> {
    let (n, rest) = crate::parse::strtol(s)?;
    if !rest.is_empty() {
        return None;
    }
    i32::try_from(n).ok().filter(|n| *n >= 0)
}

/// Looks up a domain by text (`virshLookupDomainInternal`): id, then UUID (36 characters), then
/// name. The library error is discarded; a miss prints `failed to get domain 'X'`.
pub fn lookup_domain_by(ctl: &mut Ctl, name: &str, flags: u32) -> Option<Domain> {
    let conn = ctl.conn();
    let mut dom = None;
    if flags & by::ID != 0 {
        if let Some(id) = parse_id(name) {
            dom = ctl.call(conn.domain_lookup_by_id(id));
        }
    }
    if dom.is_none() && flags & by::UUID != 0 && name.len() == 36 {
        dom = ctl.call(conn.domain_lookup_by_uuid_string(name));
    }
    if dom.is_none() && flags & by::NAME != 0 {
        dom = ctl.call(conn.domain_lookup_by_name(name));
    }
    ctl.reset_error();
    if dom.is_none() {
        ctl.error(&format!("failed to get domain '{name}'"));
    }
    dom
}

/// The `domain` option's domain (`virshCommandOptDomainBy`), with the text as given.
pub fn opt_domain_by(ctl: &mut Ctl, cmd: &ParsedCmd, flags: u32) -> Option<(Domain, String)> {
    let n = cmd.string_req(ctl, "domain").ok()??.to_string();
    let d = lookup_domain_by(ctl, &n, flags)?;
    Some((d, n))
}

/// The `domain` option's domain by id, UUID or name (`virshCommandOptDomain`).
pub fn opt_domain(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<(Domain, String)> {
    opt_domain_by(ctl, cmd, by::ID | by::UUID | by::NAME)
}

/// The `network` option's network (`virshCommandOptNetworkBy`): UUID, then name. The library
/// error is kept, so a miss prints two lines.
pub fn opt_network_by(ctl: &mut Ctl, cmd: &ParsedCmd, flags: u32) -> Option<(Network, String)> {
    let n = cmd.string_req(ctl, "network").ok()??.to_string();
    let conn = ctl.conn();
    let mut net = None;
    if flags & by::UUID != 0 && n.len() == 36 {
        net = match rvirt::uuid_parse(&n) {
            Some(u) => ctl.call(conn.network_lookup_by_uuid(&u)),
            None => {
                ctl.save_error(invalid_uuid(
                    "virNetworkLookupByUUIDString",
                    rvirt::error::domain::NETWORK,
                ));
                None
            }
        };
    }
    if net.is_none() && flags & by::NAME != 0 {
        net = ctl.call(conn.network_lookup_by_name(&n));
    }
    if net.is_none() {
        ctl.error(&format!("failed to get network '{n}'"));
    }
    Some((net?, n))
}

/// The `network` option by UUID or name.
pub fn opt_network(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<(Network, String)> {
    opt_network_by(ctl, cmd, by::UUID | by::NAME)
}

/// libvirt's error for an unparsable UUID string (`virXXXLookupByUUIDString`).
fn invalid_uuid(api: &str, dom: i32) -> rvirt::Error {
    rvirt::Error::new(
        rvirt::error::code::INVALID_ARG,
        dom,
        format!("uuidstr in {api} must be a valid UUID"),
    )
}

/// A pool named by option `optname` (`virshCommandOptPoolBy`): UUID, then name; the library
/// error is kept.
pub fn opt_pool_by(
    ctl: &mut Ctl,
    cmd: &ParsedCmd,
    optname: &str,
    flags: u32,
) -> Option<(StoragePool, String)> {
    let n = cmd.string_req(ctl, optname).ok()??.to_string();
    let pool = lookup_pool_by(ctl, &n, flags)?;
    Some((pool, n))
}

/// Looks up a pool by text, printing virsh's error on a miss.
pub fn lookup_pool_by(ctl: &mut Ctl, n: &str, flags: u32) -> Option<StoragePool> {
    let conn = ctl.conn();
    let mut pool = None;
    if flags & by::UUID != 0 && n.len() == 36 {
        pool = match rvirt::uuid_parse(n) {
            Some(u) => ctl.call(conn.storage_pool_lookup_by_uuid(&u)),
            None => {
                ctl.save_error(invalid_uuid(
                    "virStoragePoolLookupByUUIDString",
                    rvirt::error::domain::STORAGE,
                ));
                None
            }
        };
    }
    if pool.is_none() && flags & by::NAME != 0 {
        pool = ctl.call(conn.storage_pool_lookup_by_name(n));
    }
    if pool.is_none() {
        ctl.error(&format!("failed to get pool '{n}'"));
    }
    pool
}

/// The `pool` option by UUID or name (`virshCommandOptPool`).
pub fn opt_pool(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<(StoragePool, String)> {
    opt_pool_by(ctl, cmd, "pool", by::UUID | by::NAME)
}

/// A volume named by option `optname`, optionally within the pool of option `pooloptname`
/// (`virshCommandOptVolBy`): by name in that pool, then by key, then by path.
pub fn opt_vol_by(
    ctl: &mut Ctl,
    cmd: &ParsedCmd,
    optname: &str,
    pooloptname: Option<&str>,
    flags: u32,
) -> Option<(StorageVol, String)> {
    let n = cmd.string_req(ctl, optname).ok()??.to_string();
    let mut p = None;
    if let Some(po) = pooloptname {
        p = cmd.string_req(ctl, po).ok()?.map(str::to_string);
    }
    let mut pool = None;
    if let Some(pname) = &p {
        let pl = lookup_pool_by(ctl, pname, flags)?;
        if ctl.call(pl.is_active()) != Some(true) {
            ctl.error(&format!("pool '{pname}' is not active"));
            return None;
        }
        pool = Some(pl);
    }
    let conn = ctl.conn();
    let mut vol = None;
    if let Some(pl) = &pool {
        if flags & by::NAME != 0 {
            vol = ctl.call(pl.volume_lookup_by_name(&n));
        }
    }
    if vol.is_none() && flags & by::UUID != 0 {
        vol = ctl.call(conn.storage_vol_lookup_by_key(&n));
    }
    if vol.is_none() && flags & by::UUID != 0 {
        vol = ctl.call(conn.storage_vol_lookup_by_path(&n));
    }
    match &vol {
        None => {
            if pool.is_some() || pooloptname.is_none() {
                ctl.error(&format!("failed to get vol '{n}'"));
            } else {
                ctl.error(&format!(
                    "failed to get vol '{n}', specifying --{} might help",
                    pooloptname.unwrap_or("pool")
                ));
            }
        }
        Some(_) => ctl.reset_error(),
    }
    if let (Some(pl), Some(v)) = (&pool, &vol) {
        if let Some(vp) = ctl.call(v.pool()) {
            if vp.name() != pl.name() {
                ctl.reset_error();
                ctl.error(&format!(
                    "Requested volume '{n}' is not in pool '{}'",
                    pl.name()
                ));
                vol = None;
            }
        }
    }
    Some((vol?, n))
}

/// The `vol` option with the optional `pool` option (`virshCommandOptVol`).
pub fn opt_vol(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<(StorageVol, String)> {
    opt_vol_by(ctl, cmd, "vol", Some("pool"), by::UUID | by::NAME)
}

/// `Options --A and --B are mutually exclusive` when both were given.
pub fn exclusive(ctl: &mut Ctl, cmd: &ParsedCmd, a: &str, b: &str) -> bool {
    exclusive_expr(ctl, a, cmd.has(a), b, cmd.has(b))
}

/// [`exclusive`] on computed conditions (`VSH_EXCLUSIVE_OPTIONS_EXPR`).
pub fn exclusive_expr(ctl: &mut Ctl, a: &str, ea: bool, b: &str, eb: bool) -> bool {
    if ea && eb {
        ctl.error(&format!("Options --{a} and --{b} are mutually exclusive"));
        return false;
    }
    true
}

/// Prints a JSON value followed by a newline.
pub fn print_json(ctl: &mut Ctl, v: &serde_json::Value) {
    let s = serde_json::to_string_pretty(v).expect("JSON values always serialize");
    ctl.print(&format!("{s}\n"));
}
