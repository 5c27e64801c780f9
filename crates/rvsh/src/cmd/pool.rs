//! Storage Pool commands: `pool-autostart`, `pool-build`, `pool-create-as`, `pool-create`,
//! `pool-define-as`, `pool-define`, `pool-delete`, `pool-destroy`, `pool-dumpxml`,
//! `pool-info`, `pool-list`, `pool-name`, `pool-refresh`, `pool-start`, `pool-undefine`,
//! `pool-uuid`.
//!
//! JSON shapes (`--json`):
//! - `pool-list`: an array, sorted like the table, of `{"name": str, "uuid": str,
//!   "state": str|null, "autostart": bool|null, "persistent": bool|null, "capacity": n|null,
//!   "allocation": n|null, "available": n|null}`; sizes in bytes, `null` unless the pool is
//!   running or degraded.
//! - `pool-info`: `{"name", "uuid", "state": str, "persistent": bool|null,
//!   "autostart": bool|null, "capacity": n|null, "allocation": n|null, "available": n|null}`.

use super::{by, opt_bool, opt_data, opt_file, opt_string, opt_string_named, OPT_JSON};
use crate::ctl::Ctl;
use crate::output::{capacity_text, field, pool_state, pretty_capacity, Table};
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::list_pools as f;
use rvirt::StoragePool;
use serde_json::json;

const POOL: OptDef = opt_data("pool", "pool name or uuid");
const BUILD: OptDef = opt_bool("build", "build the pool as normal");
const NO_OVERWRITE: OptDef = opt_bool("no-overwrite", "do not overwrite any existing data");
const OVERWRITE: OptDef = opt_bool("overwrite", "overwrite any existing data");

/// The options of `pool-define-as`/`pool-create-as` (`VIRSH_COMMON_OPT_POOL_X_AS`).
macro_rules! pool_x_as {
    ($($extra:expr),*) => {
        [
            opt_data("name", "name of the pool"),
            opt_data("type", "type of the pool"),
            opt_bool("print-xml", "print XML document, but don't define/create"),
            opt_string("source-host", "source-host for underlying storage"),
            opt_string("source-path", "source path for underlying storage"),
            opt_string("source-dev", "source device for underlying storage"),
            opt_string("source-name", "source name for underlying storage"),
            opt_string("target", "target for underlying storage"),
            opt_string("source-format", "format for underlying storage"),
            opt_string("auth-type", "auth type to be used for underlying storage"),
            opt_string("auth-username", "auth username to be used for underlying storage"),
            opt_string("secret-usage", "auth secret usage to be used for underlying storage"),
            opt_string("secret-uuid", "auth secret UUID to be used for underlying storage"),
            opt_string("adapter-name", "adapter name to be used for underlying storage"),
            opt_string("adapter-wwnn", "adapter wwnn to be used for underlying storage"),
            opt_string("adapter-wwpn", "adapter wwpn to be used for underlying storage"),
            opt_string("adapter-parent", "adapter parent scsi_hostN to be used for underlying vHBA storage"),
            opt_string("adapter-parent-wwnn", "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage"),
            opt_string("adapter-parent-wwpn", "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage"),
            opt_string("adapter-parent-fabric-wwn", "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage"),
            opt_string("source-protocol-ver", "nfsvers value for NFS pool mount option"),
            opt_string("source-initiator", "initiator iqn for underlying storage"),
            $($extra),*
        ]
    };
}

static AUTOSTART_OPTS: [OptDef; 2] = [POOL, opt_bool("disable", "disable autostarting")];
static BUILD_OPTS: [OptDef; 3] = [POOL, NO_OVERWRITE, OVERWRITE];
static CREATE_AS_OPTS: [OptDef; 25] = pool_x_as!(BUILD, NO_OVERWRITE, OVERWRITE);
static CREATE_OPTS: [OptDef; 4] = [
    opt_file("file containing an XML pool description"),
    BUILD,
    NO_OVERWRITE,
    OVERWRITE,
];
static DEFINE_AS_OPTS: [OptDef; 22] = pool_x_as!();
static DEFINE_OPTS: [OptDef; 2] = [
    opt_file("file containing an XML pool description"),
    opt_bool("validate", "validate the XML against the schema"),
];
static ONLY_POOL: [OptDef; 1] = [POOL];
static DUMPXML_OPTS: [OptDef; 4] = [
    POOL,
    opt_bool("inactive", "show inactive defined XML"),
    opt_string_named("xpath", "xpath expression to filter the XML document"),
    opt_bool("wrap", "wrap xpath results in an common root element"),
];
static INFO_OPTS: [OptDef; 3] = [
    POOL,
    opt_bool("bytes", "Return pool info in bytes"),
    OPT_JSON,
];
static LIST_OPTS: [OptDef; 11] = [
    opt_bool("inactive", "list inactive pools"),
    opt_bool("all", "list inactive & active pools"),
    opt_bool("transient", "list transient pools"),
    opt_bool("persistent", "list persistent pools"),
    opt_bool("autostart", "list pools with autostart enabled"),
    opt_bool("no-autostart", "list pools with autostart disabled"),
    opt_string("type", "only list pool of specified type(s) (if supported)"),
    opt_bool("details", "display extended details for pools"),
    opt_bool("uuid", "list UUID of active pools only"),
    opt_bool("name", "list name of active pools only"),
    OPT_JSON,
];
static START_OPTS: [OptDef; 4] = [POOL, BUILD, NO_OVERWRITE, OVERWRITE];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 16] = [
    CmdDef {
        name: "pool-autostart",
        help: "autostart a pool",
        desc: "Configure a pool to be automatically started at boot.",
        opts: &AUTOSTART_OPTS,
        handler: cmd_autostart,
        flags: 0,
    },
    CmdDef {
        name: "pool-build",
        help: "build a pool",
        desc: "Build a given pool.",
        opts: &BUILD_OPTS,
        handler: cmd_build,
        flags: 0,
    },
    CmdDef {
        name: "pool-create-as",
        help: "create a pool from a set of args",
        desc: "Create a pool.",
        opts: &CREATE_AS_OPTS,
        handler: cmd_create_as,
        flags: 0,
    },
    CmdDef {
        name: "pool-create",
        help: "create a pool from an XML file",
        desc: "Create a pool.",
        opts: &CREATE_OPTS,
        handler: cmd_create,
        flags: 0,
    },
    CmdDef {
        name: "pool-define-as",
        help: "define a pool from a set of args",
        desc: "Define a pool.",
        opts: &DEFINE_AS_OPTS,
        handler: cmd_define_as,
        flags: 0,
    },
    CmdDef {
        name: "pool-define",
        help: "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
        desc: "Define or modify a persistent storage pool.",
        opts: &DEFINE_OPTS,
        handler: cmd_define,
        flags: 0,
    },
    CmdDef {
        name: "pool-delete",
        help: "delete a pool",
        desc: "Delete a given pool.",
        opts: &ONLY_POOL,
        handler: cmd_delete,
        flags: 0,
    },
    CmdDef {
        name: "pool-destroy",
        help: "destroy (stop) a pool",
        desc: "Forcefully stop a given pool. Raw data in the pool is untouched",
        opts: &ONLY_POOL,
        handler: cmd_destroy,
        flags: 0,
    },
    CmdDef {
        name: "pool-dumpxml",
        help: "pool information in XML",
        desc: "Output the pool information as an XML dump to stdout.",
        opts: &DUMPXML_OPTS,
        handler: cmd_dumpxml,
        flags: 0,
    },
    CmdDef {
        name: "pool-info",
        help: "storage pool information",
        desc: "Returns basic information about the storage pool.",
        opts: &INFO_OPTS,
        handler: cmd_info,
        flags: 0,
    },
    CmdDef {
        name: "pool-list",
        help: "list pools",
        desc: "Returns list of pools.",
        opts: &LIST_OPTS,
        handler: cmd_list,
        flags: 0,
    },
    CmdDef {
        name: "pool-name",
        help: "convert a pool UUID to pool name",
        desc: "",
        opts: &ONLY_POOL,
        handler: cmd_name,
        flags: 0,
    },
    CmdDef {
        name: "pool-refresh",
        help: "refresh a pool",
        desc: "Refresh a given pool.",
        opts: &ONLY_POOL,
        handler: cmd_refresh,
        flags: 0,
    },
    CmdDef {
        name: "pool-start",
        help: "start a (previously defined) inactive pool",
        desc: "Start a pool.",
        opts: &START_OPTS,
        handler: cmd_start,
        flags: 0,
    },
    CmdDef {
        name: "pool-undefine",
        help: "undefine an inactive pool",
        desc: "Undefine the configuration for an inactive pool.",
        opts: &ONLY_POOL,
        handler: cmd_undefine,
        flags: 0,
    },
    CmdDef {
        name: "pool-uuid",
        help: "convert a pool name to pool UUID",
        desc: "",
        opts: &ONLY_POOL,
        handler: cmd_uuid,
        flags: 0,
    },
];

fn cmd_autostart(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, name)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let enable = !cmd.has("disable");
    if ctl.call(pool.set_autostart(enable)).is_none() {
        if enable {
            ctl.error(&format!("failed to mark pool {name} as autostarted"));
        } else {
            ctl.error(&format!("failed to unmark pool {name} as autostarted"));
        }
        return false;
    }
    if enable {
        ctl.print_extra(&format!("Pool {name} marked as autostarted\n"));
    } else {
        ctl.print_extra(&format!("Pool {name} unmarked as autostarted\n"));
    }
    true
}

/// `--build`/`--overwrite`/`--no-overwrite` as create flags.
fn create_flags(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<u32> {
    let overwrite = cmd.has("overwrite");
    let no_overwrite = cmd.has("no-overwrite");
    if !super::exclusive_expr(ctl, "overwrite", overwrite, "no-overwrite", no_overwrite) {
        return None;
    }
    let mut flags = 0;
    if cmd.has("build") {
        flags |= 1;
    }
    if overwrite {
        flags |= 2;
    }
    if no_overwrite {
        flags |= 4;
    }
    Some(flags)
}

fn cmd_create(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let Some(flags) = create_flags(ctl, cmd) else {
        return false;
    };
    super::common::object_from_file(
        ctl,
        from,
        |c, xml| async move { c.storage_pool_create_xml(&xml, flags).await },
        "create pool",
        |p: &StoragePool| format!("Pool {} created from {from}\n", p.name()),
    )
}

fn cmd_define(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let flags = u32::from(cmd.has("validate"));
    super::common::object_from_file(
        ctl,
        from,
        |c, xml| async move { c.storage_pool_define_xml(&xml, flags).await },
        "define pool",
        |p: &StoragePool| format!("Pool {} defined from {from}\n", p.name()),
    )
}

/// Builds the pool XML of `pool-define-as`/`pool-create-as` (`virshBuildPoolXML`), returning
/// the pool name and the document.
pub fn build_pool_xml(ctl: &mut Ctl, cmd: &ParsedCmd) -> Option<(String, String)> {
    if !super::exclusive(ctl, cmd, "secret-usage", "secret-uuid") {
        return None;
    }
    let name = cmd.string_req(ctl, "name").ok()??.to_string();
    let type_ = cmd.string_req(ctl, "type").ok()??.to_string();
    let mut v = std::collections::HashMap::new();
    for o in [
        "source-host",
        "source-path",
        "source-dev",
        "source-name",
        "source-format",
        "target",
        "auth-type",
        "auth-username",
        "secret-usage",
        "secret-uuid",
        "adapter-name",
        "adapter-wwnn",
        "adapter-wwpn",
        "adapter-parent",
        "adapter-parent-wwnn",
        "adapter-parent-wwpn",
        "adapter-parent-fabric-wwn",
        "source-protocol-ver",
        "source-initiator",
    ] {
        if let Some(s) = cmd.string_req(ctl, o).ok()? {
            v.insert(o, s.to_string());
        }
    }
    let g = |k: &str| v.get(k).map(String::as_str);
    let mut x = format!("<pool type='{type_}'>\n  <name>{name}</name>\n");
    let wwn = g("adapter-wwnn").is_some() && g("adapter-wwpn").is_some();
    if g("source-host").is_some()
        || g("source-path").is_some()
        || g("source-dev").is_some()
        || g("source-initiator").is_some()
        || g("source-format").is_some()
        || g("source-name").is_some()
        || wwn
        || g("adapter-name").is_some()
    {
        x += "  <source>\n";
        if let Some(h) = g("source-host") {
            x += &format!("    <host name='{h}'/>\n");
        }
        if let Some(p) = g("source-path") {
            x += &format!("    <dir path='{p}'/>\n");
        }
        if let Some(d) = g("source-dev") {
            x += &format!("    <device path='{d}'/>\n");
        }
        if let Some(i) = g("source-initiator") {
            x += &format!("    <initiator>\n      <iqn name='{i}'/>\n    </initiator>\n");
        }
        if wwn {
            x += "    <adapter type='fc_host'";
            if let Some(p) = g("adapter-parent") {
                x += &format!(" parent='{p}'");
            } else if let (Some(n), Some(p)) = (g("adapter-parent-wwnn"), g("adapter-parent-wwpn"))
            {
                x += &format!(" parent_wwnn='{n}' parent_wwpn='{p}'");
            } else if let Some(fw) = g("adapter-parent-fabric-wwn") {
                x += &format!(" parent_fabric_wwn='{fw}'");
            }
            x += &format!(
                " wwnn='{}' wwpn='{}'/>\n",
                g("adapter-wwnn").unwrap_or_default(),
                g("adapter-wwpn").unwrap_or_default()
            );
        } else if let Some(a) = g("adapter-name") {
            x += &format!("    <adapter type='scsi_host' name='{a}'/>\n");
        }
        if let (Some(t), Some(u)) = (g("auth-type"), g("auth-username")) {
            if g("secret-usage").is_some() || g("secret-uuid").is_some() {
                x += &format!("    <auth type='{t}' username='{u}'>\n");
                if let Some(s) = g("secret-usage") {
                    x += &format!("      <secret usage='{s}'/>\n");
                } else if let Some(s) = g("secret-uuid") {
                    x += &format!("      <secret uuid='{s}'/>\n");
                }
                x += "    </auth>\n";
            }
        }
        if let Some(f) = g("source-format") {
            x += &format!("    <format type='{f}'/>\n");
        }
        if let Some(n) = g("source-name") {
            x += &format!("    <name>{n}</name>\n");
        }
        if let Some(p) = g("source-protocol-ver") {
            x += &format!("    <protocol ver='{p}'/>\n");
        }
        x += "  </source>\n";
    }
    if let Some(t) = g("target") {
        x += &format!("  <target>\n    <path>{t}</path>\n  </target>\n");
    }
    x += "</pool>\n";
    Some((name, x))
}

fn cmd_create_as(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some(flags) = create_flags(ctl, cmd) else {
        return false;
    };
    let Some((name, xml)) = build_pool_xml(ctl, cmd) else {
        return false;
    };
    if cmd.has("print-xml") {
        ctl.print(&xml);
        return true;
    }
    let conn = ctl.conn();
    if ctl
        .call(conn.storage_pool_create_xml(&xml, flags))
        .is_none()
    {
        ctl.error(&format!("Failed to create pool {name}"));
        return false;
    }
    ctl.print_extra(&format!("Pool {name} created\n"));
    true
}

fn cmd_define_as(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((name, xml)) = build_pool_xml(ctl, cmd) else {
        return false;
    };
    if cmd.has("print-xml") {
        ctl.print(&xml);
        return true;
    }
    let conn = ctl.conn();
    if ctl.call(conn.storage_pool_define_xml(&xml, 0)).is_none() {
        ctl.error(&format!("Failed to define pool {name}"));
        return false;
    }
    ctl.print_extra(&format!("Pool {name} defined\n"));
    true
}

fn cmd_build(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, name)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("no-overwrite") {
        flags |= 1 << 2;
    }
    if cmd.has("overwrite") {
        flags |= 1 << 3;
    }
    if ctl.call(pool.build(flags)).is_some() {
        ctl.print_extra(&format!("Pool {name} built\n"));
        true
    } else {
        ctl.error(&format!("Failed to build pool {name}"));
        false
    }
}

/// Shared shape of the simple pool actions.
fn pool_action(
    ctl: &mut Ctl,
    cmd: &ParsedCmd,
    act: fn(&StoragePool) -> super::ActionFuture<'_>,
    verb: &str,
    done: &str,
) -> bool {
    let Some((pool, name)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    if ctl.call(act(&pool)).is_some() {
        ctl.print_extra(&format!("Pool {name} {done}\n"));
        true
    } else {
        ctl.error(&format!("Failed to {verb} pool {name}"));
        false
    }
}

fn cmd_destroy(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    pool_action(ctl, cmd, |p| Box::pin(p.destroy()), "destroy", "destroyed")
}

fn cmd_delete(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    pool_action(ctl, cmd, |p| Box::pin(p.delete(0)), "delete", "deleted")
}

fn cmd_refresh(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    pool_action(ctl, cmd, |p| Box::pin(p.refresh(0)), "refresh", "refreshed")
}

fn cmd_undefine(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    pool_action(
        ctl,
        cmd,
        |p| Box::pin(p.undefine()),
        "undefine",
        "has been undefined",
    )
}

fn cmd_start(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, name)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let Some(flags) = create_flags(ctl, cmd) else {
        return false;
    };
    if ctl.call(pool.create(flags)).is_some() {
        ctl.print_extra(&format!("Pool {name} started\n"));
        true
    } else {
        ctl.error(&format!("Failed to start pool {name}"));
        false
    }
}

fn cmd_dumpxml(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let flags = if cmd.has("inactive") { 1 } else { 0 };
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    if cmd.string_quiet("xpath").is_err() || !super::domain::unsupported_option(ctl, cmd, "xpath") {
        return false;
    }
    let Some(xml) = ctl.call(pool.xml_desc(flags)) else {
        return false;
    };
    ctl.print(&xml);
    true
}

fn cmd_name(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, _)) = super::opt_pool_by(ctl, cmd, "pool", by::UUID) else {
        return false;
    };
    ctl.print(&format!("{}\n", pool.name()));
    true
}

fn cmd_uuid(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, _)) = super::opt_pool_by(ctl, cmd, "pool", by::NAME) else {
        return false;
    };
    ctl.print(&format!("{}\n", pool.uuid_string()));
    true
}

fn running(state: u8) -> bool {
    state == rvirt::pool_state::RUNNING || state == rvirt::pool_state::DEGRADED
}

fn cmd_info(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((pool, _)) = super::opt_pool(ctl, cmd) else {
        return false;
    };
    let bytes = cmd.has("bytes");
    let json = cmd.has("json");
    let mut s = field(15, "Name:", pool.name());
    s += &field(15, "UUID:", pool.uuid_string());
    let Some(info) = ctl.call(pool.info()) else {
        if !json {
            ctl.print(&s);
        }
        return false;
    };
    let persistent = ctl.call(pool.is_persistent());
    let autostart = ctl.call(pool.autostart());
    if json {
        let sizes = running(info.state);
        super::print_json(
            ctl,
            &json!({
                "name": pool.name(),
                "uuid": pool.uuid_string(),
                "state": pool_state(info.state),
                "persistent": persistent,
                "autostart": autostart,
                "capacity": sizes.then_some(info.capacity),
                "allocation": sizes.then_some(info.allocation),
                "available": sizes.then_some(info.available),
            }),
        );
        return true;
    }
    s += &field(15, "State:", pool_state(info.state));
    s += &field(
        15,
        "Persistent:",
        match persistent {
            None => "unknown",
            Some(true) => "yes",
            Some(false) => "no",
        },
    );
    s += &field(
        15,
        "Autostart:",
        match autostart {
            None => "no autostart",
            Some(true) => "yes",
            Some(false) => "no",
        },
    );
    if running(info.state) {
        for (label, val) in [
            ("Capacity:", info.capacity),
            ("Allocation:", info.allocation),
            ("Available:", info.available),
        ] {
            if bytes {
                s += &field(15, label, val);
            } else {
                let (v, u) = pretty_capacity(val);
                s += &field(15, label, format!("{v:.2} {u}"));
            }
        }
    }
    ctl.print(&s);
    true
}

/// Pool type names and their list filter bits (`virStoragePoolType`).
const POOL_TYPES: [(&str, u32); 14] = [
    ("dir", 1 << 6),
    ("fs", 1 << 7),
    ("netfs", 1 << 8),
    ("logical", 1 << 9),
    ("disk", 1 << 10),
    ("iscsi", 1 << 11),
    ("iscsi-direct", 1 << 19),
    ("scsi", 1 << 12),
    ("mpath", 1 << 13),
    ("rbd", 1 << 14),
    ("sheepdog", 1 << 15),
    ("gluster", 1 << 16),
    ("zfs", 1 << 17),
    ("vstorage", 1 << 18),
];

/// Collects the pools `pool-list` shows (`virshStoragePoolListCollect`), sorted by name.
fn collect(ctl: &mut Ctl, flags: u32) -> Option<Vec<StoragePool>> {
    super::common::collect(ctl, flags, |c, fl| async move {
        c.list_all_storage_pools(fl).await
    })
}

/// What `pool-list` shows of one pool.
struct PoolRow {
    autostart: &'static str,
    persistent: &'static str,
    state: String,
    sizes: [String; 3],
    info: Option<rvirt::PoolInfo>,
}

fn cmd_list(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let details = cmd.has("details");
    let inactive = cmd.has("inactive");
    let all = cmd.has("all");
    if !super::exclusive_expr(ctl, "all", all, "inactive", inactive) {
        return false;
    }
    let mut flags = f::ACTIVE;
    if inactive {
        flags = f::INACTIVE;
    }
    if all {
        flags = f::ACTIVE | f::INACTIVE;
    }
    for (name, bit) in [
        ("autostart", f::AUTOSTART),
        ("no-autostart", f::NO_AUTOSTART),
        ("persistent", f::PERSISTENT),
        ("transient", f::TRANSIENT),
    ] {
        if cmd.has(name) {
            flags |= bit;
        }
    }
    let uuid = cmd.has("uuid");
    let name = cmd.has("name");
    let Ok(type_) = cmd.string_req(ctl, "type") else {
        return false;
    };
    if !super::exclusive(ctl, cmd, "details", "uuid")
        || !super::exclusive(ctl, cmd, "details", "name")
    {
        return false;
    }
    if let Some(t) = type_ {
        for ty in super::builtin::split_commas(t) {
            match POOL_TYPES.iter().find(|(n, _)| *n == ty) {
                Some((_, bit)) => flags |= bit,
                None => {
                    ctl.error(&format!("Invalid pool type '{ty}'"));
                    return false;
                }
            }
        }
    }
    let Some(list) = collect(ctl, flags) else {
        return false;
    };
    let json = cmd.has("json");
    let mut rows = Vec::new();
    for pool in &list {
        let autostart = match ctl.call(pool.autostart()) {
            None => "no autostart",
            Some(true) => "yes",
            Some(false) => "no",
        };
        let persistent = if details || json {
            match ctl.call(pool.is_persistent()) {
                None => "unknown",
                Some(true) => "yes",
                Some(false) => "no",
            }
        } else {
            ""
        };
        let info = ctl.call(pool.info());
        let (state, sizes) = match &info {
            None => {
                ctl.error("Could not retrieve pool information");
                let u = || "unknown".to_string();
                ("unknown".to_string(), [u(), u(), u()])
            }
            Some(i) if details || json => {
                let sizes = if running(i.state) {
                    [
                        capacity_text(i.capacity),
                        capacity_text(i.allocation),
                        capacity_text(i.available),
                    ]
                } else {
                    ["-".into(), "-".into(), "-".into()]
                };
                (pool_state(i.state).to_string(), sizes)
            }
            Some(_) => {
                // virsh tests the call's result for truth, so an error counts as active.
                let active = ctl.call(pool.is_active()) != Some(false);
                let s = if active { "active" } else { "inactive" };
                (s.to_string(), Default::default())
            }
        };
        rows.push(PoolRow {
            autostart,
            persistent,
            state,
            sizes,
            info,
        });
    }
    if json {
        let arr: Vec<_> = list
            .iter()
            .zip(&rows)
            .map(|(p, r)| {
                let sized = r.info.filter(|i| running(i.state));
                let yn = |s: &str| match s {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => None,
                };
                json!({
                    "name": p.name(),
                    "uuid": p.uuid_string(),
                    "state": r.info.map(|i| pool_state(i.state)),
                    "autostart": yn(r.autostart),
                    "persistent": yn(r.persistent),
                    "capacity": sized.map(|i| i.capacity),
                    "allocation": sized.map(|i| i.allocation),
                    "available": sized.map(|i| i.available),
                })
            })
            .collect();
        super::print_json(ctl, &serde_json::Value::Array(arr));
        return true;
    }
    let utf8 = crate::output::locale_is_utf8();
    if !details {
        if uuid || name {
            let mut s = String::new();
            for p in &list {
                if uuid {
                    s += &format!("{:<36}{}", p.uuid_string(), if name { ' ' } else { '\n' });
                }
                if name {
                    s += &format!("{:<20}\n", p.name());
                }
            }
            ctl.print(&s);
            return true;
        }
        let mut t = Table::new(&["Name", "State", "Autostart"]);
        for (p, r) in list.iter().zip(&rows) {
            t.add_row(&[p.name(), &r.state, r.autostart]);
        }
        let text = t.render(!ctl.quiet, utf8);
        ctl.print(&text);
        return true;
    }
    let mut t = Table::new(&[
        "Name",
        "State",
        "Autostart",
        "Persistent",
        "Capacity",
        "Allocation",
        "Available",
    ]);
    for (p, r) in list.iter().zip(&rows) {
        t.add_row(&[
            p.name(),
            &r.state,
            r.autostart,
            r.persistent,
            &r.sizes[0],
            &r.sizes[1],
            &r.sizes[2],
        ]);
    }
    let text = t.render(!ctl.quiet, utf8);
    ctl.print(&text);
    true
}
