//! Domain Monitoring commands: `dominfo`, `domstate`, `list`.
//!
//! JSON shapes (`--json`, an rvsh extension):
//! - `list`: an array, in `list`'s order, of
//!   `{"id": n|null, "name": str, "uuid": str, "state": str, "persistent": bool|null,
//!   "autostart": bool|null}` plus `"title": str` with `--title`; `state` is virsh's state text
//!   (`"saved"` with `--managed-save` for a shut-off domain with a managed save image).
//! - `dominfo`: `{"id": n|null, "name", "uuid", "os_type": str|null, "state": str|null,
//!   "cpus": n|null, "cpu_time_ns": n|null, "max_memory_kib": n|null, "used_memory_kib": n|null,
//!   "persistent": bool|null, "autostart": bool|null, "managed_save": bool|null,
//!   "security": {"model", "doi", "label": str|null, "enforcing": bool|null}|null}`; `null`
//!   where virsh would print nothing or "unknown".
//! - `domstate`: `{"state": str, "reason": str}`.

use super::{opt_bool, opt_data, OPT_JSON};
use crate::ctl::Ctl;
use crate::output::{domain_state, domain_state_reason, field, Table};
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::error::code;
use rvirt::{list_domains as f, Domain};
use serde_json::json;

static DOMINFO_OPTS: [OptDef; 2] = [opt_data("domain", "domain name, id or uuid"), OPT_JSON];
static DOMSTATE_OPTS: [OptDef; 3] = [
    opt_data("domain", "domain name, id or uuid"),
    opt_bool("reason", "also print reason for the state"),
    OPT_JSON,
];
static LIST_OPTS: [OptDef; 23] = [
    opt_bool("inactive", "list inactive domains"),
    opt_bool("all", "list inactive & active domains"),
    opt_bool("transient", "list transient domains"),
    opt_bool("persistent", "list persistent domains"),
    opt_bool("with-snapshot", "list domains with existing snapshot"),
    opt_bool("without-snapshot", "list domains without a snapshot"),
    opt_bool("with-checkpoint", "list domains with existing checkpoint"),
    opt_bool("without-checkpoint", "list domains without a checkpoint"),
    opt_bool("state-running", "list domains in running state"),
    opt_bool("state-paused", "list domains in paused state"),
    opt_bool("state-shutoff", "list domains in shutoff state"),
    opt_bool("state-other", "list domains in other states"),
    opt_bool("autostart", "list domains with autostart enabled"),
    opt_bool("no-autostart", "list domains with autostart disabled"),
    opt_bool("with-managed-save", "list domains with managed save state"),
    opt_bool("without-managed-save", "list domains without managed save"),
    opt_bool("uuid", "list uuid's only"),
    opt_bool("name", "list domain names only"),
    opt_bool("id", "list domain IDs only"),
    opt_bool("table", "list table (default)"),
    opt_bool(
        "managed-save",
        "mark inactive domains with managed save state",
    ),
    opt_bool("title", "show domain title"),
    OPT_JSON,
];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 3] = [
    CmdDef {
        name: "dominfo",
        help: "domain information",
        desc: "Returns basic information about the domain.",
        opts: &DOMINFO_OPTS,
        handler: cmd_dominfo,
        flags: 0,
    },
    CmdDef {
        name: "domstate",
        help: "domain state",
        desc: "Returns state about a domain.",
        opts: &DOMSTATE_OPTS,
        handler: cmd_domstate,
        flags: 0,
    },
    CmdDef {
        name: "list",
        help: "list domains",
        desc: "Returns list of domains.",
        opts: &LIST_OPTS,
        handler: cmd_list,
        flags: 0,
    },
];

/// A domain's state and reason (`virshDomainState`): `virDomainGetState`, or the state from
/// `virDomainGetInfo` (reason -1) when the driver lacks the former.
pub fn dom_state(ctl: &mut Ctl, dom: &Domain) -> Option<(i32, i32)> {
    match ctl.block_on(dom.state(0)) {
        Ok(s) => Some(s),
        Err(e) if e.code == code::NO_SUPPORT => {
            let info = ctl.call(dom.info())?;
            Some((i32::from(info.state), -1))
        }
        Err(e) => {
            ctl.save_error(e);
            None
        }
    }
}

fn cmd_domstate(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let Some((state, reason)) = dom_state(ctl, &dom) else {
        return false;
    };
    if cmd.has("json") {
        super::print_json(
            ctl,
            &json!({"state": domain_state(state), "reason": domain_state_reason(state, reason)}),
        );
    } else if cmd.has("reason") {
        ctl.print(&format!(
            "{} ({})\n",
            domain_state(state),
            domain_state_reason(state, reason)
        ));
    } else {
        ctl.print(&format!("{}\n", domain_state(state)));
    }
    true
}

/// What `dominfo` gathered; `None` fields were not printed (or printed as "unknown").
#[derive(Default)]
struct DomInfo {
    os_type: Option<String>,
    info: Option<rvirt::DomainInfo>,
    persistent: Option<bool>,
    autostart: Option<bool>,
    managed_save: Option<bool>,
    security: Option<(String, String, Option<rvirt::SecurityLabel>)>,
}

fn cmd_dominfo(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let json = cmd.has("json");
    let id = dom.id();
    let mut d = DomInfo::default();
    let mut out = String::new();
    out += &field(
        15,
        "Id:",
        if id == -1 { "-".into() } else { id.to_string() },
    );
    out += &field(15, "Name:", dom.name());
    out += &field(15, "UUID:", dom.uuid_string());
    d.os_type = ctl.call(dom.os_type());
    if let Some(os) = &d.os_type {
        out += &field(15, "OS Type:", os);
    }
    let mut ret = true;
    d.info = ctl.call(dom.info());
    if let Some(info) = &d.info {
        out += &field(15, "State:", domain_state(i32::from(info.state)));
        out += &field(15, "CPU(s):", info.nr_virt_cpu);
        if info.cpu_time != 0 {
            out += &field(
                15,
                "CPU time:",
                format!("{:.1}s", info.cpu_time as f64 / 1_000_000_000.0),
            );
        }
        if info.max_mem != u64::from(u32::MAX) {
            out += &field(15, "Max memory:", format!("{} KiB", info.max_mem));
        } else {
            out += &field(15, "Max memory:", "no limit");
        }
        out += &field(15, "Used memory:", format!("{} KiB", info.memory));
    } else {
        ret = false;
    }
    d.persistent = ctl.call(dom.is_persistent());
    out += &field(
        15,
        "Persistent:",
        match d.persistent {
            None => "unknown",
            Some(true) => "yes",
            Some(false) => "no",
        },
    );
    d.autostart = ctl.call(dom.autostart());
    if let Some(a) = d.autostart {
        out += &field(15, "Autostart:", if a { "enable" } else { "disable" });
    }
    d.managed_save = ctl.call(dom.has_managed_save_image(0));
    out += &field(
        15,
        "Managed save:",
        match d.managed_save {
            None => "unknown",
            Some(true) => "yes",
            Some(false) => "no",
        },
    );
    let conn = ctl.conn();
    match ctl.block_on(conn.node_security_model()) {
        Err(e) if e.code != code::NO_SUPPORT => {
            ctl.save_error(e);
            if !json {
                ctl.print(&out);
            }
            return false;
        }
        Err(_) => ctl.reset_error(),
        Ok(model) if !model.model.is_empty() => {
            out += &field(15, "Security model:", &model.model);
            out += &field(15, "Security DOI:", &model.doi);
            // virsh asks for the one label; drivers without that call may offer the list.
            let label = match ctl.block_on(dom.security_label()) {
                Ok(l) => Ok(Some(l)),
                Err(e) if e.code == code::NO_SUPPORT => ctl
                    .block_on(dom.security_labels())
                    .map(|v| v.into_iter().next()),
                Err(e) => Err(e),
            };
            let label = match label {
                Ok(l) => l,
                Err(e) => {
                    ctl.save_error(e);
                    if !json {
                        ctl.print(&out);
                    }
                    return false;
                }
            };
            if let Some(l) = label.as_ref().filter(|l| !l.label.is_empty()) {
                out += &field(
                    15,
                    "Security label:",
                    format!(
                        "{} ({})",
                        l.label,
                        if l.enforcing {
                            "enforcing"
                        } else {
                            "permissive"
                        }
                    ),
                );
            }
            d.security = Some((model.model, model.doi, label));
        }
        Ok(_) => {}
    }
    if json {
        let info = d.info.as_ref();
        let security = d.security.map(|(model, doi, label)| {
            let label = label.filter(|l| !l.label.is_empty());
            json!({
                "model": model,
                "doi": doi,
                "label": label.as_ref().map(|l| l.label.clone()),
                "enforcing": label.as_ref().map(|l| l.enforcing),
            })
        });
        super::print_json(
            ctl,
            &json!({
                "id": (id != -1).then_some(id),
                "name": dom.name(),
                "uuid": dom.uuid_string(),
                "os_type": d.os_type,
                "state": info.map(|i| domain_state(i32::from(i.state))),
                "cpus": info.map(|i| i.nr_virt_cpu),
                "cpu_time_ns": info.map(|i| i.cpu_time),
                "max_memory_kib": info.and_then(|i| (i.max_mem != u64::from(u32::MAX)).then_some(i.max_mem)),
                "used_memory_kib": info.map(|i| i.memory),
                "persistent": d.persistent,
                "autostart": d.autostart,
                "managed_save": d.managed_save,
                "security": security,
            }),
        );
    } else {
        ctl.print(&out);
    }
    ret
}

/// Orders domains as virsh does: running ones by id, then inactive ones by name (ASCII
/// case-insensitively).
fn sort_domains(v: &mut [Domain]) {
    v.sort_by(|a, b| match (a.id(), b.id()) {
        (-1, -1) => strcasecmp(a.name(), b.name()),
        (-1, _) => std::cmp::Ordering::Greater,
        (_, -1) => std::cmp::Ordering::Less,
        (x, y) => (x as u32).cmp(&(y as u32)),
    });
}

/// C `strcasecmp` in the C locale.
pub fn strcasecmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

const FILTERS_ACTIVE: u32 = f::ACTIVE | f::INACTIVE;
const FILTERS_PERSISTENT: u32 = f::PERSISTENT | f::TRANSIENT;
const FILTERS_STATE: u32 = f::RUNNING | f::PAUSED | f::SHUTOFF | f::OTHER;
const FILTERS_AUTOSTART: u32 = f::AUTOSTART | f::NO_AUTOSTART;
const FILTERS_MANAGEDSAVE: u32 = f::MANAGEDSAVE | f::NO_MANAGEDSAVE;
const FILTERS_SNAPSHOT: u32 = f::HAS_SNAPSHOT | f::NO_SNAPSHOT;
const FILTERS_CHECKPOINT: u32 = f::HAS_CHECKPOINT | f::NO_CHECKPOINT;

/// Keeps the domains that pass the filters a server could not apply itself.
fn filter_locally(ctl: &mut Ctl, flags: u32, doms: Vec<Domain>) -> Option<Vec<Domain>> {
    let m = |x: u32| flags & x != 0;
    let mut kept = Vec::new();
    for dom in doms {
        if m(FILTERS_PERSISTENT) {
            let Some(p) = ctl.call(dom.is_persistent()) else {
                ctl.error("Failed to get domain persistence info");
                return None;
            };
            if !((m(f::PERSISTENT) && p) || (m(f::TRANSIENT) && !p)) {
                continue;
            }
        }
        if m(FILTERS_STATE) {
            let Some((st, _)) = ctl.call(dom.state(0)) else {
                ctl.error("Failed to get domain state");
                return None;
            };
            let st = st as u8;
            use rvirt::domain_state as s;
            if !((m(f::RUNNING) && st == s::RUNNING)
                || (m(f::PAUSED) && st == s::PAUSED)
                || (m(f::SHUTOFF) && st == s::SHUTOFF)
                || (m(f::OTHER) && st != s::RUNNING && st != s::PAUSED && st != s::SHUTOFF))
            {
                continue;
            }
        }
        if m(FILTERS_AUTOSTART) {
            let Some(a) = ctl.call(dom.autostart()) else {
                ctl.error("Failed to get domain autostart state");
                return None;
            };
            if !((m(f::AUTOSTART) && a) || (m(f::NO_AUTOSTART) && !a)) {
                continue;
            }
        }
        if m(FILTERS_MANAGEDSAVE) {
            let Some(ms) = ctl.call(dom.has_managed_save_image(0)) else {
                ctl.error("Failed to check for managed save image");
                return None;
            };
            if !((m(f::MANAGEDSAVE) && ms) || (m(f::NO_MANAGEDSAVE) && !ms)) {
                continue;
            }
        }
        if m(FILTERS_SNAPSHOT) {
            ctl.save_error(rvirt::Error::no_support("virDomainSnapshotNum"));
            ctl.error("Failed to get snapshot count");
            return None;
        }
        if m(FILTERS_CHECKPOINT) {
            ctl.save_error(rvirt::Error::no_support("virDomainListAllCheckpoints"));
            ctl.error("Failed to get checkpoint count");
            return None;
        }
        kept.push(dom);
    }
    Some(kept)
}

/// Collects the domains `list` shows (`virshDomainListCollect`): the filtering list call, or,
/// on servers that reject some filter bits, the active/inactive list filtered here, or, on
/// servers without it, the old id/name lists.
pub fn collect_domains(ctl: &mut Ctl, flags: u32) -> Option<Vec<Domain>> {
    let conn = ctl.conn();
    let mut list = match ctl.block_on(conn.list_all_domains(flags)) {
        Ok(v) => v,
        Err(e) if e.code == code::NO_SUPPORT => {
            let mut v = Vec::new();
            let want_active = flags & FILTERS_ACTIVE == 0 || flags & f::ACTIVE != 0;
            let want_inactive = flags & FILTERS_ACTIVE == 0 || flags & f::INACTIVE != 0;
            if want_active {
                let Some(n) = ctl.call(conn.num_of_domains()) else {
                    ctl.error("Failed to list active domains");
                    return None;
                };
                let ids = if n > 0 {
                    let Some(ids) = ctl.call(conn.list_domain_ids(n)) else {
                        ctl.error("Failed to list active domains");
                        return None;
                    };
                    ids
                } else {
                    Vec::new()
                };
                for id in ids {
                    if let Ok(d) = ctl.block_on(conn.domain_lookup_by_id(id)) {
                        v.push(d);
                    }
                }
            }
            if want_inactive {
                let Some(n) = ctl.call(conn.num_of_defined_domains()) else {
                    ctl.error("Failed to list inactive domains");
                    return None;
                };
                let names = if n > 0 {
                    let Some(names) = ctl.call(conn.list_defined_domains(n)) else {
                        ctl.error("Failed to list inactive domains");
                        return None;
                    };
                    names
                } else {
                    Vec::new()
                };
                for name in names {
                    if let Ok(d) = ctl.block_on(conn.domain_lookup_by_name(&name)) {
                        v.push(d);
                    }
                }
            }
            ctl.reset_error();
            filter_locally(ctl, flags, v)?
        }
        Err(e) if e.code == code::INVALID_ARG => {
            match ctl.block_on(conn.list_all_domains(flags & FILTERS_ACTIVE)) {
                Ok(v) => filter_locally(ctl, flags, v)?,
                Err(e) => {
                    ctl.save_error(e);
                    ctl.error("Failed to list domains");
                    return None;
                }
            }
        }
        Err(e) => {
            ctl.save_error(e);
            ctl.error("Failed to list domains");
            return None;
        }
    };
    sort_domains(&mut list);
    Some(list)
}

/// The text of the domain's first `<title>` (`virshGetDomainDescription`), from its XML.
fn domain_title(ctl: &mut Ctl, dom: &Domain) -> Option<String> {
    let xml = ctl.call(dom.xml_desc(0))?;
    let doc = match roxmltree::Document::parse(&xml) {
        Ok(d) => d,
        Err(e) => {
            ctl.save_error(rvirt::Error::new(
                code::XML_ERROR,
                rvirt::error::domain::XML,
                format!("(domain_definition):{}", e),
            ));
            return None;
        }
    };
    let title = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("title"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect::<String>()
        })
        .unwrap_or_default();
    Some(title)
}

fn cmd_list(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let managed = cmd.has("managed-save");
    let opt_title = cmd.has("title");
    let mut opt_table = cmd.has("table");
    let opt_uuid = cmd.has("uuid");
    let opt_name = cmd.has("name");
    let opt_id = cmd.has("id");
    let json = cmd.has("json");
    let mut flags = f::ACTIVE;
    if cmd.has("inactive") || cmd.has("state-shutoff") {
        flags = f::INACTIVE;
    }
    if cmd.has("all") {
        flags = f::INACTIVE | f::ACTIVE;
    }
    for (name, bit) in [
        ("persistent", f::PERSISTENT),
        ("transient", f::TRANSIENT),
        ("with-managed-save", f::MANAGEDSAVE),
        ("without-managed-save", f::NO_MANAGEDSAVE),
        ("autostart", f::AUTOSTART),
        ("no-autostart", f::NO_AUTOSTART),
        ("with-snapshot", f::HAS_SNAPSHOT),
        ("without-snapshot", f::NO_SNAPSHOT),
        ("with-checkpoint", f::HAS_CHECKPOINT),
        ("without-checkpoint", f::NO_CHECKPOINT),
        ("state-running", f::RUNNING),
        ("state-paused", f::PAUSED),
        ("state-shutoff", f::SHUTOFF),
        ("state-other", f::OTHER),
    ] {
        if cmd.has(name) {
            flags |= bit;
        }
    }
    if !super::exclusive(ctl, cmd, "table", "name")
        || !super::exclusive(ctl, cmd, "table", "uuid")
        || !super::exclusive(ctl, cmd, "table", "id")
    {
        return false;
    }
    if !opt_uuid && !opt_name && !opt_id {
        opt_table = true;
    }
    let Some(list) = collect_domains(ctl, flags) else {
        return false;
    };
    if json {
        let mut arr = Vec::new();
        for dom in &list {
            let Some((mut state, _)) = dom_state(ctl, dom) else {
                continue;
            };
            if managed
                && state == i32::from(rvirt::domain_state::SHUTOFF)
                && ctl.call(dom.has_managed_save_image(0)) == Some(true)
            {
                state = -2;
            }
            let mut o = json!({
                "id": (dom.id() != -1).then_some(dom.id()),
                "name": dom.name(),
                "uuid": dom.uuid_string(),
                "state": if state == -2 { "saved" } else { domain_state(state) },
                "persistent": ctl.call(dom.is_persistent()),
                "autostart": ctl.call(dom.autostart()),
            });
            if opt_title {
                let Some(t) = domain_title(ctl, dom) else {
                    return false;
                };
                o["title"] = json!(t);
            }
            arr.push(o);
        }
        ctl.reset_error();
        super::print_json(ctl, &serde_json::Value::Array(arr));
        return true;
    }
    let mut table = if opt_title {
        Table::new(&["Id", "Name", "State", "Title"])
    } else {
        Table::new(&["Id", "Name", "State"])
    };
    for dom in &list {
        let id = if dom.id() != -1 {
            dom.id().to_string()
        } else {
            "-".to_string()
        };
        if opt_table {
            let Some((mut state, _)) = dom_state(ctl, dom) else {
                // The domain may have gone away meanwhile.
                continue;
            };
            if managed
                && state == i32::from(rvirt::domain_state::SHUTOFF)
                && ctl.call(dom.has_managed_save_image(0)) == Some(true)
            {
                state = -2;
            }
            let st = if state == -2 {
                "saved"
            } else {
                domain_state(state)
            };
            if opt_title {
                let Some(t) = domain_title(ctl, dom) else {
                    return false;
                };
                table.add_row(&[id.as_str(), dom.name(), st, t.as_str()]);
            } else {
                table.add_row(&[id.as_str(), dom.name(), st]);
            }
        } else {
            let mut line = String::new();
            let mut sep = "";
            if opt_uuid {
                line.push_str(&dom.uuid_string());
                sep = " ";
            }
            if opt_id {
                if dom.id() == -1 && !opt_uuid && !opt_name {
                    continue;
                }
                line.push_str(sep);
                line.push_str(&id);
                sep = " ";
            }
            if opt_name {
                line.push_str(sep);
                line.push_str(dom.name());
            }
            line.push('\n');
            ctl.print(&line);
        }
    }
    if opt_table {
        let text = table.render(!ctl.quiet, crate::output::locale_is_utf8());
        ctl.print(&text);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::strcasecmp;
    use std::cmp::Ordering;

    #[test]
    fn c_locale_case_insensitive_order() {
        assert_eq!(strcasecmp("abc", "ABD"), Ordering::Less);
        assert_eq!(strcasecmp("B", "a"), Ordering::Greater);
        assert_eq!(strcasecmp("Test", "test"), Ordering::Equal);
        // '_' (0x5f) sorts before lowercase letters once both are folded.
        assert_eq!(strcasecmp("a_b", "aab"), Ordering::Less);
    }
}
