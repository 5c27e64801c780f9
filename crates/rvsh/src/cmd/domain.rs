//! Domain Management commands: `autostart`, `create`, `define`, `destroy`, `domid`, `domname`,
//! `domuuid`, `dumpxml`, `reboot`, `reset`, `resume`, `shutdown`, `start`, `suspend`,
//! `undefine`.
//!
//! Options virsh has but rvsh cannot honour through the rvirt API (`--console`, `--pass-fds`,
//! `--xpath`, `--wipe-storage`) are accepted by the parser, so `help` matches virsh, and refused
//! with an error naming the option when used.

use super::{by, opt_alias, opt_bool, opt_data, opt_file, opt_string, opt_string_named};
use crate::ctl::Ctl;
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::error::code;
use rvirt::Domain;

const DOMAIN: OptDef = opt_data("domain", "domain name, id or uuid");

static AUTOSTART_OPTS: [OptDef; 2] = [DOMAIN, opt_bool("disable", "disable autostarting")];
static CREATE_OPTS: [OptDef; 7] = [
    opt_file("file containing an XML domain description"),
    opt_bool("console", "attach to console after creation"),
    opt_bool("paused", "leave the guest paused after creation"),
    opt_bool(
        "autodestroy",
        "automatically destroy the guest when virsh disconnects",
    ),
    opt_string("pass-fds", "pass file descriptors N,M,... to the guest"),
    opt_bool("validate", "validate the XML against the schema"),
    opt_bool(
        "reset-nvram",
        "re-initialize NVRAM from its pristine template",
    ),
];
static DEFINE_OPTS: [OptDef; 2] = [
    opt_file("file containing an XML domain description"),
    opt_bool("validate", "validate the XML against the schema"),
];
static DESTROY_OPTS: [OptDef; 3] = [
    DOMAIN,
    opt_bool("graceful", "terminate gracefully"),
    opt_bool("remove-logs", "remove domain logs"),
];
static DOMID_OPTS: [OptDef; 1] = [opt_data("domain", "domain name or uuid")];
static DOMNAME_OPTS: [OptDef; 1] = [opt_data("domain", "domain id or uuid")];
static DOMUUID_OPTS: [OptDef; 1] = [opt_data("domain", "domain id or name")];
static DUMPXML_OPTS: [OptDef; 7] = [
    DOMAIN,
    opt_bool("inactive", "show inactive defined XML"),
    opt_bool(
        "security-info",
        "include security sensitive information in XML dump",
    ),
    opt_bool("update-cpu", "update guest CPU according to host CPU"),
    opt_bool("migratable", "provide XML suitable for migrations"),
    opt_string_named("xpath", "xpath expression to filter the XML document"),
    opt_bool("wrap", "wrap xpath results in an common root element"),
];
static SHUTDOWN_OPTS: [OptDef; 2] = [
    DOMAIN,
    opt_string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"),
];
static ONLY_DOMAIN: [OptDef; 1] = [DOMAIN];
static START_OPTS: [OptDef; 8] = [
    opt_data("domain", "name of the inactive domain"),
    opt_bool("console", "attach to console after creation"),
    opt_bool("paused", "leave the guest paused after creation"),
    opt_bool(
        "autodestroy",
        "automatically destroy the guest when virsh disconnects",
    ),
    opt_bool("bypass-cache", "avoid file system cache when loading"),
    opt_bool(
        "force-boot",
        "force fresh boot by discarding any managed save",
    ),
    opt_string("pass-fds", "pass file descriptors N,M,... to the guest"),
    opt_bool(
        "reset-nvram",
        "re-initialize NVRAM from its pristine template",
    ),
];
static UNDEFINE_OPTS: [OptDef; 13] = [
    DOMAIN,
    opt_bool("managed-save", "remove domain managed state file"),
    opt_string(
        "storage",
        "remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)",
    ),
    opt_bool(
        "remove-all-storage",
        "remove all associated storage volumes (use with caution)",
    ),
    opt_alias("delete-snapshots", "delete-storage-volume-snapshots"),
    opt_bool(
        "delete-storage-volume-snapshots",
        "delete snapshots associated with volume(s), requires --remove-all-storage (must be supported by storage driver)",
    ),
    opt_bool("wipe-storage", "wipe data on the removed volumes"),
    opt_bool(
        "snapshots-metadata",
        "remove all domain snapshot metadata (vm must be inactive)",
    ),
    opt_bool(
        "checkpoints-metadata",
        "remove all domain checkpoint metadata (vm must be inactive)",
    ),
    opt_bool("nvram", "remove nvram file"),
    opt_bool("keep-nvram", "keep nvram file"),
    opt_bool("tpm", "remove TPM state"),
    opt_bool("keep-tpm", "keep TPM state"),
];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 15] = [
    CmdDef {
        name: "autostart",
        help: "autostart a domain",
        desc: "Configure a domain to be automatically started at boot.",
        opts: &AUTOSTART_OPTS,
        handler: cmd_autostart,
        flags: 0,
    },
    CmdDef {
        name: "create",
        help: "create a domain from an XML file",
        desc: "Create a domain.",
        opts: &CREATE_OPTS,
        handler: cmd_create,
        flags: 0,
    },
    CmdDef {
        name: "define",
        help: "define (but don't start) a domain from an XML file",
        desc: "Define a domain.",
        opts: &DEFINE_OPTS,
        handler: cmd_define,
        flags: 0,
    },
    CmdDef {
        name: "destroy",
        help: "destroy (stop) a domain",
        desc: "Forcefully stop a given domain, but leave its resources intact.",
        opts: &DESTROY_OPTS,
        handler: cmd_destroy,
        flags: 0,
    },
    CmdDef {
        name: "domid",
        help: "convert a domain name or UUID to domain id",
        desc: "",
        opts: &DOMID_OPTS,
        handler: cmd_domid,
        flags: 0,
    },
    CmdDef {
        name: "domname",
        help: "convert a domain id or UUID to domain name",
        desc: "",
        opts: &DOMNAME_OPTS,
        handler: cmd_domname,
        flags: 0,
    },
    CmdDef {
        name: "domuuid",
        help: "convert a domain name or id to domain UUID",
        desc: "",
        opts: &DOMUUID_OPTS,
        handler: cmd_domuuid,
        flags: 0,
    },
    CmdDef {
        name: "dumpxml",
        help: "domain information in XML",
        desc: "Output the domain information as an XML dump to stdout.",
        opts: &DUMPXML_OPTS,
        handler: cmd_dumpxml,
        flags: 0,
    },
    CmdDef {
        name: "reboot",
        help: "reboot a domain",
        desc: "Run a reboot command in the target domain.",
        opts: &SHUTDOWN_OPTS,
        handler: cmd_reboot,
        flags: 0,
    },
    CmdDef {
        name: "reset",
        help: "reset a domain",
        desc: "Reset the target domain as if by power button",
        opts: &ONLY_DOMAIN,
        handler: cmd_reset,
        flags: 0,
    },
    CmdDef {
        name: "resume",
        help: "resume a domain",
        desc: "Resume a previously suspended domain.",
        opts: &ONLY_DOMAIN,
        handler: cmd_resume,
        flags: 0,
    },
    CmdDef {
        name: "shutdown",
        help: "gracefully shutdown a domain",
        desc: "Run shutdown in the target domain.",
        opts: &SHUTDOWN_OPTS,
        handler: cmd_shutdown,
        flags: 0,
    },
    CmdDef {
        name: "start",
        help: "start a (previously defined) inactive domain",
        desc: "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.",
        opts: &START_OPTS,
        handler: cmd_start,
        flags: 0,
    },
    CmdDef {
        name: "suspend",
        help: "suspend a domain",
        desc: "Suspend a running domain.",
        opts: &ONLY_DOMAIN,
        handler: cmd_suspend,
        flags: 0,
    },
    CmdDef {
        name: "undefine",
        help: "undefine a domain",
        desc: "Undefine an inactive domain, or convert persistent to transient.",
        opts: &UNDEFINE_OPTS,
        handler: cmd_undefine,
        flags: 0,
    },
];

/// Refuses an option rvsh cannot honour.
pub fn unsupported_option(ctl: &mut Ctl, cmd: &ParsedCmd, opt: &str) -> bool {
    if cmd.has(opt) {
        ctl.error(&format!(
            "option --{opt} of '{}' is not supported by rvsh",
            cmd.def.name
        ));
        return false;
    }
    true
}

/// Validates `--pass-fds` like virsh (`virshFetchPassFdsList`); rvsh cannot pass descriptors,
/// so a non-empty list is refused.
fn check_pass_fds(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(list)) = cmd.string_quiet("pass-fds") else {
        return true;
    };
    for fd in list.split(',') {
        let ok = crate::parse::strtol(fd)
            .is_some_and(|(n, rest)| rest.is_empty() && i32::try_from(n).is_ok());
        if !ok {
            ctl.error(&format!("Unable to parse FD number '{fd}'"));
            return false;
        }
    }
    unsupported_option(ctl, cmd, "pass-fds")
}

fn cmd_autostart(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let enable = !cmd.has("disable");
    if ctl.call(dom.set_autostart(enable)).is_none() {
        if enable {
            ctl.error(&format!("Failed to mark domain '{name}' as autostarted"));
        } else {
            ctl.error(&format!("Failed to unmark domain '{name}' as autostarted"));
        }
        return false;
    }
    if enable {
        ctl.print_extra(&format!("Domain '{name}' marked as autostarted\n"));
    } else {
        ctl.print_extra(&format!("Domain '{name}' unmarked as autostarted\n"));
    }
    true
}

fn cmd_create(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let Some(xml) = super::read_file(ctl, from) else {
        return false;
    };
    if !check_pass_fds(ctl, cmd) || !unsupported_option(ctl, cmd, "console") {
        return false;
    }
    let mut flags = 0;
    for (opt, bit) in [
        ("paused", 1 << 0),
        ("autodestroy", 1 << 1),
        ("validate", 1 << 4),
        ("reset-nvram", 1 << 5),
    ] {
        if cmd.has(opt) {
            flags |= bit;
        }
    }
    let conn = ctl.conn();
    let Some(dom) = ctl.call(conn.domain_create_xml(&xml, flags)) else {
        ctl.error(&format!("Failed to create domain from {from}"));
        return false;
    };
    ctl.print_extra(&format!("Domain '{}' created from {from}\n", dom.name()));
    true
}

fn cmd_define(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Ok(Some(from)) = cmd.string_req(ctl, "file") else {
        return false;
    };
    let flags = u32::from(cmd.has("validate"));
    super::common::object_from_file(
        ctl,
        from,
        |c, xml| async move { c.domain_define_xml(&xml, flags).await },
        "define domain",
        |d: &rvirt::Domain| format!("Domain '{}' defined from {from}\n", d.name()),
    )
}

fn cmd_destroy(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("graceful") {
        flags |= 1;
    }
    if cmd.has("remove-logs") {
        flags |= 2;
    }
    if ctl.call(dom.destroy(flags)).is_none() {
        ctl.error(&format!("Failed to destroy domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' destroyed\n"));
    true
}

fn cmd_domid(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain_by(ctl, cmd, by::NAME | by::UUID) else {
        return false;
    };
    if dom.id() == -1 {
        ctl.print("-\n");
    } else {
        ctl.print(&format!("{}\n", dom.id()));
    }
    true
}

fn cmd_domname(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain_by(ctl, cmd, by::ID | by::UUID) else {
        return false;
    };
    ctl.print(&format!("{}\n", dom.name()));
    true
}

fn cmd_domuuid(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain_by(ctl, cmd, by::NAME | by::ID) else {
        return false;
    };
    ctl.print(&format!("{}\n", dom.uuid_string()));
    true
}

fn cmd_dumpxml(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    use rvirt::domain_flags as df;
    let mut flags = 0;
    for (opt, bit) in [
        ("inactive", df::XML_INACTIVE),
        ("security-info", df::XML_SECURE),
        ("update-cpu", df::XML_UPDATE_CPU),
        ("migratable", df::XML_MIGRATABLE),
    ] {
        if cmd.has(opt) {
            flags |= bit;
        }
    }
    let Some((dom, _)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    if cmd.string_quiet("xpath").is_err() {
        return false;
    }
    if !unsupported_option(ctl, cmd, "xpath") {
        return false;
    }
    let Some(xml) = ctl.call(dom.xml_desc(flags)) else {
        return false;
    };
    ctl.print(&xml);
    true
}

/// Parses `--mode` of shutdown/reboot into flags (the bit values are shared).
fn shutdown_mode(ctl: &mut Ctl, cmd: &ParsedCmd, reboot: bool) -> Option<u32> {
    let mode = cmd.string_req(ctl, "mode").ok()?;
    let mut flags = 0;
    if let Some(mode) = mode {
        for m in mode.split(',') {
            flags |= match m {
                "acpi" => 1,
                "agent" => 2,
                "initctl" => 4,
                "signal" => 8,
                "paravirt" => 16,
                _ => {
                    // The two commands' messages differ by a comma.
                    let comma = if reboot { "" } else { "," };
                    ctl.error(&format!(
                        "Unknown mode {m} value, expecting 'acpi', 'agent', 'initctl', 'signal'{comma} or 'paravirt'"
                    ));
                    return None;
                }
            };
        }
    }
    Some(flags)
}

fn cmd_shutdown(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some(flags) = shutdown_mode(ctl, cmd, false) else {
        return false;
    };
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    if ctl.call(dom.shutdown(flags)).is_none() {
        ctl.error(&format!("Failed to shutdown domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' is being shutdown\n"));
    true
}

fn cmd_reboot(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some(flags) = shutdown_mode(ctl, cmd, true) else {
        return false;
    };
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    if ctl.call(dom.reboot(flags)).is_none() {
        ctl.error(&format!("Failed to reboot domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' is being rebooted\n"));
    true
}

/// Shared shape of `reset`, `resume` and `suspend`: look up, act, report.
fn simple_action(
    ctl: &mut Ctl,
    cmd: &ParsedCmd,
    act: fn(&Domain) -> super::ActionFuture<'_>,
    failed: &str,
    done: &str,
) -> bool {
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    if ctl.call(act(&dom)).is_none() {
        ctl.error(&format!("Failed to {failed} domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' {done}\n"));
    true
}

fn cmd_reset(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    simple_action(ctl, cmd, |d| Box::pin(d.reset(0)), "reset", "was reset")
}

fn cmd_resume(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    simple_action(ctl, cmd, |d| Box::pin(d.resume()), "resume", "resumed")
}

fn cmd_suspend(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    simple_action(ctl, cmd, |d| Box::pin(d.suspend()), "suspend", "suspended")
}

fn cmd_start(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((mut dom, _)) = super::opt_domain_by(ctl, cmd, by::NAME | by::UUID) else {
        return false;
    };
    if dom.id() != -1 {
        ctl.error("Domain is already active");
        return false;
    }
    if !check_pass_fds(ctl, cmd) || !unsupported_option(ctl, cmd, "console") {
        return false;
    }
    let mut flags = 0u32;
    for (opt, bit) in [
        ("paused", 1 << 0),
        ("autodestroy", 1 << 1),
        ("bypass-cache", 1 << 2),
        ("force-boot", 1 << 3),
        ("reset-nvram", 1 << 5),
    ] {
        if cmd.has(opt) {
            flags |= bit;
        }
    }
    const FORCE_BOOT: u32 = 1 << 3;
    if flags & FORCE_BOOT != 0 {
        match ctl.block_on(dom.create(flags)) {
            Ok(()) => {
                ctl.print_extra(&format!("Domain '{}' started\n", dom.name()));
                return true;
            }
            Err(e) if e.code != code::NO_SUPPORT && e.code != code::INVALID_ARG => {
                ctl.save_error(e);
                ctl.report_error();
                return false;
            }
            Err(_) => {}
        }
        // Emulate a forced boot on servers without the flag: drop the managed save image.
        ctl.reset_error();
        if ctl.block_on(dom.has_managed_save_image(0)) == Ok(true) {
            ctl.save_error(rvirt::Error::no_support("virDomainManagedSaveRemove"));
            ctl.report_error();
            return false;
        }
        ctl.reset_error();
        flags &= !FORCE_BOOT;
    }
    if ctl.call(dom.create(flags)).is_none() {
        ctl.error(&format!("Failed to start domain '{}'", dom.name()));
        return false;
    }
    ctl.print_extra(&format!("Domain '{}' started\n", dom.name()));
    true
}

/// A disk of the domain whose volume `undefine --storage` may remove.
struct UndefineVol {
    vol: rvirt::StorageVol,
    source: String,
    target: String,
}

/// A disk of a domain XML as `undefine --storage` sees it.
#[derive(Debug, PartialEq, Eq)]
struct Disk {
    target: String,
    source: Option<String>,
    pool: Option<String>,
}

/// The disks of a domain XML (`./devices/disk` in virsh's undefine); an error when a disk has
/// no target.
fn domain_disks(xml: &str) -> Result<Vec<Disk>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let devices = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("devices"));
    for disk in devices.flat_map(|d| d.children().filter(|n| n.has_tag_name("disk"))) {
        let target = disk
            .children()
            .find(|n| n.has_tag_name("target"))
            .and_then(|t| t.attribute("dev"))
            .filter(|s| !s.is_empty())
            .ok_or_else(String::new)?;
        let src = disk.children().find(|n| n.has_tag_name("source"));
        // XPath's string() of a union is the first node in document order.
        let source = src.and_then(|s| {
            s.attributes()
                .find(|a| matches!(a.name(), "file" | "dir" | "name" | "dev" | "volume"))
                .map(|a| a.value().to_string())
                .filter(|v| !v.is_empty())
        });
        let pool = src
            .and_then(|s| s.attribute("pool"))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        out.push(Disk {
            target: target.to_string(),
            source,
            pool,
        });
    }
    Ok(out)
}

fn cmd_undefine(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    use rvirt::domain_flags as df;
    let managed_save = cmd.has("managed-save");
    let remove_all_storage = cmd.has("remove-all-storage");
    let wipe_storage = cmd.has("wipe-storage");
    let delete_snapshots = cmd.has("delete-storage-volume-snapshots");
    let nvram = cmd.has("nvram");
    if delete_snapshots && !remove_all_storage {
        ctl.error(
            "Option --remove-all-storage is required by option --delete-storage-volume-snapshots",
        );
        return false;
    }
    if !super::exclusive(ctl, cmd, "nvram", "keep-nvram")
        || !super::exclusive(ctl, cmd, "tpm", "keep-tpm")
    {
        return false;
    }
    let vol_string = cmd
        .string_quiet("storage")
        .ok()
        .flatten()
        .map(str::to_string);
    if vol_string.is_none() && !remove_all_storage && wipe_storage {
        ctl.error("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'");
        return false;
    }
    if !unsupported_option(ctl, cmd, "wipe-storage") {
        return false;
    }
    let vol_flags = if delete_snapshots { 1 << 1 } else { 0 };
    let mut flags = 0;
    for (opt, bit) in [
        ("managed-save", df::UNDEFINE_MANAGED_SAVE),
        ("snapshots-metadata", df::UNDEFINE_SNAPSHOTS_METADATA),
        ("checkpoints-metadata", df::UNDEFINE_CHECKPOINTS_METADATA),
        ("nvram", df::UNDEFINE_NVRAM),
        ("keep-nvram", df::UNDEFINE_KEEP_NVRAM),
        ("tpm", df::UNDEFINE_TPM),
        ("keep-tpm", df::UNDEFINE_KEEP_TPM),
    ] {
        if cmd.has(opt) {
            flags |= bit;
        }
    }
    let Some((dom, name)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let Some(running) = ctl.call(dom.is_active()) else {
        ctl.report_error();
        return false;
    };
    let mut has_managed_save = false;
    if !running {
        match ctl.block_on(dom.has_managed_save_image(0)) {
            Ok(v) => has_managed_save = v,
            Err(e) if e.code == code::NO_SUPPORT => ctl.reset_error(),
            Err(e) => {
                ctl.save_error(e);
                ctl.report_error();
                return false;
            }
        }
    }
    // rvirt has no snapshot API: like a server without snapshot support, there are none.
    if !has_managed_save {
        flags &= !df::UNDEFINE_MANAGED_SAVE;
    }
    flags &= !df::UNDEFINE_SNAPSHOTS_METADATA;

    let mut vols: Vec<UndefineVol> = Vec::new();
    if vol_string.is_some() || remove_all_storage {
        if running {
            ctl.error("Storage volume deletion is supported only on stopped domains");
            return false;
        }
        if vol_string.is_some() && remove_all_storage {
            ctl.error("Specified both --storage and --remove-all-storage");
            return false;
        }
        let Some(xml) = ctl.call(dom.xml_desc(0)) else {
            return false;
        };
        let mut wanted: Option<Vec<Option<String>>> = vol_string.as_deref().map(|s| {
            super::builtin::split_commas(s)
                .into_iter()
                .map(Some)
                .collect()
        });
        let disks = match domain_disks(&xml) {
            Ok(d) => d,
            Err(_) => {
                ctl.report_error();
                return false;
            }
        };
        let conn = ctl.conn();
        for Disk {
            target,
            source,
            pool,
        } in disks
        {
            let Some(source) = source else {
                continue;
            };
            if let Some(w) = wanted.as_mut() {
                let hit = w.iter_mut().find(|x| {
                    x.as_deref() == Some(target.as_str()) || x.as_deref() == Some(source.as_str())
                });
                match hit {
                    Some(x) => *x = None,
                    None => continue,
                }
            }
            let vol = if let Some(pool) = pool {
                match ctl.block_on(conn.storage_pool_lookup_by_name(&pool)) {
                    Ok(p) => ctl.block_on(p.volume_lookup_by_name(&source)).ok(),
                    Err(_) => {
                        ctl.error(&format!(
                            "Storage pool '{pool}' for volume '{target}' not found."
                        ));
                        ctl.reset_error();
                        continue;
                    }
                }
            } else {
                ctl.block_on(conn.storage_vol_lookup_by_path(&source)).ok()
            };
            let Some(vol) = vol else {
                ctl.error(&format!(
                    "Storage volume '{target}'({source}) is not managed by libvirt. Remove it manually.\n"
                ));
                ctl.reset_error();
                continue;
            };
            vols.push(UndefineVol {
                vol,
                source,
                target,
            });
        }
        if let Some(w) = wanted {
            let mut missing = false;
            for v in w.into_iter().flatten() {
                ctl.error(&format!(
                    "Volume '{v}' was not found in domain's definition.\n"
                ));
                missing = true;
            }
            if missing {
                return false;
            }
        }
    }

    let mut rc = ctl.block_on(dom.undefine(flags));
    if let Err(e) = &rc {
        if !nvram && (e.code == code::NO_SUPPORT || e.code == code::INVALID_ARG) {
            // Piecewise fallback for servers without the flags.
            ctl.reset_error();
            if has_managed_save {
                if !managed_save {
                    ctl.error("Refusing to undefine while domain managed save image exists");
                    return false;
                }
                ctl.save_error(rvirt::Error::no_support("virDomainManagedSaveRemove"));
                ctl.report_error();
                return false;
            }
            rc = ctl.block_on(dom.undefine(0));
        }
    }
    if let Err(e) = rc {
        ctl.save_error(e);
        ctl.error(&format!("Failed to undefine domain '{name}'"));
        return false;
    }
    ctl.print_extra(&format!("Domain '{name}' has been undefined\n"));
    let mut ret = true;
    for v in vols {
        if ctl.call(v.vol.delete(vol_flags)).is_none() {
            ctl.error(&format!(
                "Failed to remove storage volume '{}'({})",
                v.target, v.source
            ));
            ret = false;
        } else {
            ctl.print_extra(&format!("Volume '{}'({}) removed.\n", v.target, v.source));
        }
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::{domain_disks, Disk};

    fn disk(t: &str, s: Option<&str>, p: Option<&str>) -> Disk {
        Disk {
            target: t.into(),
            source: s.map(Into::into),
            pool: p.map(Into::into),
        }
    }

    #[test]
    fn disks_for_undefine() {
        let xml = "<domain><devices>\
            <disk type='file'><source file='/a.img'/><target dev='vda'/></disk>\
            <disk type='volume'><source pool='p' volume='v1'/><target dev='vdb'/></disk>\
            <disk type='file'><target dev='hdc'/></disk>\
            </devices></domain>";
        assert_eq!(
            domain_disks(xml).unwrap(),
            vec![
                disk("vda", Some("/a.img"), None),
                disk("vdb", Some("v1"), Some("p")),
                disk("hdc", None, None),
            ]
        );
        assert!(domain_disks("<domain><devices><disk/></devices></domain>").is_err());
    }
}
