//! Networking commands: `net-autostart`, `net-create`, `net-define`, `net-destroy`,
//! `net-dumpxml`, `net-info`, `net-list`, `net-name`, `net-start`, `net-undefine`, `net-uuid`.
//!
//! JSON shapes (`--json`):
//! - `net-list`: an array, sorted like the table, of `{"name": str, "uuid": str,
//!   "active": bool|null, "autostart": bool|null, "persistent": bool|null}`.
//! - `net-info`: `{"name", "uuid", "active": bool|null, "persistent": bool|null,
//!   "autostart": bool|null, "bridge": str|null}`.

use super::{by, opt_bool, opt_data, opt_file, opt_string_named, OPT_JSON};
use crate::ctl::Ctl;
use crate::output::{field, Table};
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::list_networks as f;
use rvirt::Network;
use serde_json::json;

const NETWORK: OptDef = opt_data("network", "network name or uuid");

static AUTOSTART_OPTS: [OptDef; 2] = [NETWORK, opt_bool("disable", "disable autostarting")];
static FILE_OPTS: [OptDef; 2] = [
    opt_file("file containing an XML network description"),
    opt_bool("validate", "validate the XML against the schema"),
];
static ONLY_NETWORK: [OptDef; 1] = [NETWORK];
static DUMPXML_OPTS: [OptDef; 4] = [
    NETWORK,
    opt_bool("inactive", "show inactive defined XML"),
    opt_string_named("xpath", "xpath expression to filter the XML document"),
    opt_bool("wrap", "wrap xpath results in an common root element"),
];
static INFO_OPTS: [OptDef; 2] = [NETWORK, OPT_JSON];
static LIST_OPTS: [OptDef; 10] = [
    opt_bool("inactive", "list inactive networks"),
    opt_bool("all", "list inactive & active networks"),
    opt_bool("persistent", "list persistent networks"),
    opt_bool("transient", "list transient networks"),
    opt_bool("autostart", "list networks with autostart enabled"),
    opt_bool("no-autostart", "list networks with autostart disabled"),
    opt_bool("uuid", "list uuid's only"),
    opt_bool("name", "list network names only"),
    opt_bool("table", "list table (default)"),
    OPT_JSON,
];
static NAME_OPTS: [OptDef; 1] = [opt_data("network", "network uuid")];
static UUID_OPTS: [OptDef; 1] = [opt_data("network", "network name")];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 11] = [
    CmdDef {
        name: "net-autostart",
        help: "autostart a network",
        desc: "Configure a network to be automatically started at boot.",
        opts: &AUTOSTART_OPTS,
        handler: cmd_autostart,
        flags: 0,
    },
    CmdDef {
        name: "net-create",
        help: "create a network from an XML file",
        desc: "Create a network.",
        opts: &FILE_OPTS,
        handler: cmd_create,
        flags: 0,
    },
    CmdDef {
        name: "net-define",
        help: "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
        desc: "Define or modify a persistent virtual network.",
        opts: &FILE_OPTS,
        handler: cmd_define,
        flags: 0,
    },
    CmdDef {
        name: "net-destroy",
        help: "destroy (stop) a network",
        desc: "Forcefully stop a given network.",
        opts: &ONLY_NETWORK,
        handler: cmd_destroy,
        flags: 0,
    },
    CmdDef {
        name: "net-dumpxml",
        help: "network information in XML",
        desc: "Output the network information as an XML dump to stdout.",
        opts: &DUMPXML_OPTS,
        handler: cmd_dumpxml,
        flags: 0,
    },
    CmdDef {
        name: "net-info",
        help: "network information",
        desc: "Returns basic information about the network",
        opts: &INFO_OPTS,
        handler: cmd_info,
        flags: 0,
    },
    CmdDef {
        name: "net-list",
        help: "list networks",
        desc: "Returns list of networks.",
        opts: &LIST_OPTS,
        handler: cmd_list,
        flags: 0,
    },
    CmdDef {
        name: "net-name",
        help: "convert a network UUID to network name",
        desc: "",
        opts: &NAME_OPTS,
        handler: cmd_name,
        flags: 0,
    },
    CmdDef {
        name: "net-start",
        help: "start a (previously defined) inactive network",
        desc: "Start a network.",
        opts: &ONLY_NETWORK,
        handler: cmd_start,
        flags: 0,
    },
    CmdDef {
        name: "net-undefine",
        help: "undefine a persistent network",
        desc: "Undefine the configuration for a persistent network.",
        opts: &ONLY_NETWORK,
        handler: cmd_undefine,
        flags: 0,
    },
    CmdDef {
        name: "net-uuid",
        help: "convert a network name to network UUID",
        desc: "",
        opts: &UUID_OPTS,
        handler: cmd_uuid,
        flags: 0,
    },
];

fn cmd_autostart(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, name)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    let enable = !cmd.has("disable");
    if ctl.call(net.set_autostart(enable)).is_none() {
        if enable {
            ctl.error(&format!("failed to mark network {name} as autostarted"));
        } else {
            ctl.error(&format!("failed to unmark network {name} as autostarted"));
        }
        return false;
    }
    if enable {
        ctl.print_extra(&format!("Network {name} marked as autostarted\n"));
    } else {
        ctl.print_extra(&format!("Network {name} unmarked as autostarted\n"));
    }
    true
}

fn cmd_create(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let flags = u32::from(cmd.has("validate"));
    super::common::object_from_file(
        ctl,
        from,
        |c, xml| async move { c.network_create_xml(&xml, flags).await },
        "create network",
        |n: &Network| format!("Network {} created from {from}\n", n.name()),
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
        |c, xml| async move { c.network_define_xml(&xml, flags).await },
        "define network",
        |n: &Network| format!("Network {} defined from {from}\n", n.name()),
    )
}

fn cmd_destroy(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, name)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    if ctl.call(net.destroy()).is_some() {
        ctl.print_extra(&format!("Network {name} destroyed\n"));
        true
    } else {
        ctl.error(&format!("Failed to destroy network {name}"));
        false
    }
}

fn cmd_start(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, name)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    if ctl.call(net.create()).is_some() {
        ctl.print_extra(&format!("Network {name} started\n"));
        true
    } else {
        ctl.error(&format!("Failed to start network {name}"));
        false
    }
}

fn cmd_undefine(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, name)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    if ctl.call(net.undefine()).is_some() {
        ctl.print_extra(&format!("Network {name} has been undefined\n"));
        true
    } else {
        ctl.error(&format!("Failed to undefine network {name}"));
        false
    }
}

fn cmd_dumpxml(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, _)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    let flags = if cmd.has("inactive") { 1 } else { 0 };
    if cmd.string_quiet("xpath").is_err() || !super::domain::unsupported_option(ctl, cmd, "xpath") {
        return false;
    }
    let Some(xml) = ctl.call(net.xml_desc(flags)) else {
        return false;
    };
    ctl.print(&xml);
    true
}

fn cmd_name(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, _)) = super::opt_network_by(ctl, cmd, by::UUID) else {
        return false;
    };
    ctl.print(&format!("{}\n", net.name()));
    true
}

fn cmd_uuid(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, _)) = super::opt_network_by(ctl, cmd, by::NAME) else {
        return false;
    };
    ctl.print(&format!("{}\n", net.uuid_string()));
    true
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        None => "unknown",
        Some(true) => "yes",
        Some(false) => "no",
    }
}

fn cmd_info(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((net, _)) = super::opt_network(ctl, cmd) else {
        return false;
    };
    let active = ctl.call(net.is_active());
    let persistent = ctl.call(net.is_persistent());
    let autostart = ctl.call(net.autostart());
    let bridge = ctl.call(net.bridge_name());
    if cmd.has("json") {
        super::print_json(
            ctl,
            &json!({
                "name": net.name(),
                "uuid": net.uuid_string(),
                "active": active,
                "persistent": persistent,
                "autostart": autostart,
                "bridge": bridge,
            }),
        );
        return true;
    }
    let mut s = field(15, "Name:", net.name());
    s += &field(15, "UUID:", net.uuid_string());
    if let Some(a) = active {
        s += &field(15, "Active:", if a { "yes" } else { "no" });
    }
    s += &field(15, "Persistent:", yes_no(persistent));
    s += &field(
        15,
        "Autostart:",
        match autostart {
            None => "no autostart",
            Some(true) => "yes",
            Some(false) => "no",
        },
    );
    if let Some(b) = bridge {
        s += &field(15, "Bridge:", b);
    }
    ctl.print(&s);
    true
}

/// Collects the networks `net-list` shows (`virshNetworkListCollect`), sorted by name.
fn collect(ctl: &mut Ctl, flags: u32) -> Option<Vec<Network>> {
    super::common::collect(
        ctl,
        flags,
        |c, fl| async move { c.list_all_networks(fl).await },
    )
}

fn cmd_list(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let opt_name = cmd.has("name");
    let mut opt_table = cmd.has("table");
    let opt_uuid = cmd.has("uuid");
    let mut flags = f::ACTIVE;
    if cmd.has("inactive") {
        flags = f::INACTIVE;
    }
    if cmd.has("all") {
        flags = f::ACTIVE | f::INACTIVE;
    }
    for (name, bit) in [
        ("persistent", f::PERSISTENT),
        ("transient", f::TRANSIENT),
        ("autostart", f::AUTOSTART),
        ("no-autostart", f::NO_AUTOSTART),
    ] {
        if cmd.has(name) {
            flags |= bit;
        }
    }
    if u8::from(opt_table) + u8::from(opt_name) + u8::from(opt_uuid) > 1 {
        ctl.error("Only one argument from --table, --name and --uuid may be specified.");
        return false;
    }
    if !opt_uuid && !opt_name {
        opt_table = true;
    }
    let Some(list) = collect(ctl, flags) else {
        return false;
    };
    if cmd.has("json") {
        let mut arr = Vec::new();
        for net in &list {
            arr.push(json!({
                "name": net.name(),
                "uuid": net.uuid_string(),
                "active": ctl.call(net.is_active()),
                "autostart": ctl.call(net.autostart()),
                "persistent": ctl.call(net.is_persistent()),
            }));
        }
        ctl.reset_error();
        super::print_json(ctl, &serde_json::Value::Array(arr));
        return true;
    }
    let mut table = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    let mut lines = String::new();
    for net in &list {
        if opt_table {
            let autostart = match ctl.call(net.autostart()) {
                None => "no autostart",
                Some(true) => "yes",
                Some(false) => "no",
            };
            // virsh tests these calls' results for truth, so an error counts as "yes".
            let active = ctl.call(net.is_active()) != Some(false);
            let persistent = ctl.call(net.is_persistent()) != Some(false);
            table.add_row(&[
                net.name(),
                if active { "active" } else { "inactive" },
                autostart,
                if persistent { "yes" } else { "no" },
            ]);
        } else if opt_uuid {
            lines += &format!("{}\n", net.uuid_string());
        } else if opt_name {
            lines += &format!("{}\n", net.name());
        }
    }
    if opt_table {
        let text = table.render(!ctl.quiet, crate::output::locale_is_utf8());
        ctl.print(&text);
    } else {
        ctl.print(&lines);
    }
    true
}
