//! Host and Hypervisor commands: `capabilities`, `hostname`, `nodeinfo`, `sysinfo`, `uri`,
//! `version`.
//!
//! `nodeinfo --json` prints
//! `{"cpu_model": str, "cpus": n, "mhz": n, "sockets": n, "cores_per_socket": n,
//! "threads_per_core": n, "numa_cells": n, "memory_kib": n}`.

use super::{opt_bool, OPT_JSON};
use crate::ctl::Ctl;
use crate::output::field;
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use serde_json::json;

static VERSION_OPTS: [OptDef; 1] = [opt_bool("daemon", "report daemon version too")];
static NODEINFO_OPTS: [OptDef; 1] = [OPT_JSON];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 6] = [
    CmdDef {
        name: "capabilities",
        help: "capabilities",
        desc: "Returns capabilities of hypervisor/driver.",
        opts: &[],
        handler: cmd_capabilities,
        flags: 0,
    },
    CmdDef {
        name: "hostname",
        help: "print the hypervisor hostname",
        desc: "",
        opts: &[],
        handler: cmd_hostname,
        flags: 0,
    },
    CmdDef {
        name: "nodeinfo",
        help: "node information",
        desc: "Returns basic information about the node.",
        opts: &NODEINFO_OPTS,
        handler: cmd_nodeinfo,
        flags: 0,
    },
    CmdDef {
        name: "sysinfo",
        help: "print the hypervisor sysinfo",
        desc: "output an XML string for the hypervisor sysinfo, if available",
        opts: &[],
        handler: cmd_sysinfo,
        flags: 0,
    },
    CmdDef {
        name: "uri",
        help: "print the hypervisor canonical URI",
        desc: "",
        opts: &[],
        handler: cmd_uri,
        flags: 0,
    },
    CmdDef {
        name: "version",
        help: "show version",
        desc: "Display the system version information.",
        opts: &VERSION_OPTS,
        handler: cmd_version,
        flags: 0,
    },
];

fn cmd_uri(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    match ctl.call(conn.get_uri()) {
        Some(u) => {
            ctl.print(&format!("{u}\n"));
            true
        }
        None => {
            ctl.error("failed to get URI");
            false
        }
    }
}

fn cmd_hostname(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    match ctl.call(conn.get_hostname()) {
        Some(h) => {
            ctl.print(&format!("{h}\n"));
            true
        }
        None => {
            ctl.error("failed to get hostname");
            false
        }
    }
}

fn cmd_capabilities(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    match ctl.call(conn.get_capabilities()) {
        Some(c) => {
            ctl.print(&format!("{c}\n"));
            true
        }
        None => {
            ctl.error("failed to get capabilities");
            false
        }
    }
}

fn cmd_sysinfo(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    match ctl.call(conn.get_sysinfo(0)) {
        Some(s) => {
            ctl.print(&s);
            true
        }
        None => {
            ctl.error("failed to get sysinfo");
            false
        }
    }
}

/// `major.minor.release` of libvirt's version encoding.
pub fn version_text(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, v % 1_000_000 / 1000, v % 1000)
}

fn cmd_version(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    let Some(hv_type) = ctl.call(conn.get_type()) else {
        ctl.error("failed to get hypervisor type");
        return false;
    };
    let lib = version_text(rvirt::LIB_VERSION);
    ctl.print(&format!("Compiled against library: libvirt {lib}\n"));
    ctl.print(&format!("Using library: libvirt {lib}\n"));
    ctl.print(&format!("Using API: {hv_type} {lib}\n"));
    let Some(hv) = ctl.call(conn.get_version()) else {
        ctl.error("failed to get the hypervisor version");
        return false;
    };
    if hv == 0 {
        ctl.print(&format!(
            "Cannot extract running {hv_type} hypervisor version\n"
        ));
    } else {
        ctl.print(&format!(
            "Running hypervisor: {hv_type} {}\n",
            version_text(hv)
        ));
    }
    if cmd.has("daemon") {
        match ctl.call(conn.get_lib_version()) {
            Some(d) => ctl.print(&format!("Running against daemon: {}\n", version_text(d))),
            None => ctl.error("failed to get the daemon version"),
        }
    }
    true
}

fn cmd_nodeinfo(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let conn = ctl.conn();
    let Some(info) = ctl.call(conn.node_info()) else {
        ctl.error("failed to get node information");
        return false;
    };
    if cmd.has("json") {
        super::print_json(
            ctl,
            &json!({
                "cpu_model": info.model,
                "cpus": info.cpus,
                "mhz": info.mhz,
                "sockets": info.sockets,
                "cores_per_socket": info.cores,
                "threads_per_core": info.threads,
                "numa_cells": info.nodes,
                "memory_kib": info.memory,
            }),
        );
        return true;
    }
    let mut s = field(20, "CPU model:", &info.model);
    s += &field(20, "CPU(s):", info.cpus);
    if info.mhz != 0 {
        s += &field(20, "CPU frequency:", format!("{} MHz", info.mhz));
    }
    s += &field(20, "CPU socket(s):", info.sockets);
    s += &field(20, "Core(s) per socket:", info.cores);
    s += &field(20, "Thread(s) per core:", info.threads);
    s += &field(20, "NUMA cell(s):", info.nodes);
    s += &field(20, "Memory size:", format!("{} KiB", info.memory));
    ctl.print(&s);
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::version_text(9_000_000), "9.0.0");
        assert_eq!(super::version_text(2), "0.0.2");
        assert_eq!(super::version_text(10_002_003), "10.2.3");
    }
}
