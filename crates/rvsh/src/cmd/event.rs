//! Domain Events: `event`, which lists event types or waits for domain events and prints them
//! as virsh does (`event 'lifecycle' for domain 'd3': Started Booted`).
//!
//! rvirt delivers the `lifecycle` and `reboot` domain events; the other names virsh knows are
//! accepted and waited for, but no rvirt driver raises them.

use super::{opt_bool, OptDef};
use crate::ctl::Ctl;
use crate::output::{lifecycle_detail, lifecycle_event, timestamp_now};
use crate::parse::{oflag, CmdDef, OptType, ParsedCmd};
use rvirt::{Event, EventKind};

/// Every domain event name virsh knows, in its order (`virshDomainEventCallbacks`).
pub const EVENT_NAMES: [&str; 27] = [
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
];

static EVENT_OPTS: [OptDef; 7] = [
    OptDef {
        name: "domain",
        ty: OptType::String,
        flags: oflag::NONE,
        help: "filter by domain name, id or uuid",
    },
    OptDef {
        name: "event",
        ty: OptType::String,
        flags: oflag::NONE,
        help: "which event type to wait for",
    },
    opt_bool("all", "wait for all events instead of just one type"),
    opt_bool(
        "loop",
        "loop until timeout or interrupt, rather than one-shot",
    ),
    super::opt_int("timeout", "timeout seconds"),
    opt_bool("list", "list valid event types"),
    opt_bool("timestamp", "show timestamp for each printed event"),
];

/// The commands.
pub static CMDS: [CmdDef; 1] = [CmdDef {
    name: "event",
    help: "Domain Events",
    desc: "List event types, or wait for domain events to occur",
    opts: &EVENT_OPTS,
    handler: cmd_event,
    flags: 0,
}];

/// The text virsh prints for an event, if it is a domain event of a selected type for the
/// selected domain.
pub fn describe(ev: &Event, want: &[&str], dom: Option<&rvirt::Uuid>) -> Option<String> {
    let (name, r, text) = match ev {
        Event::DomainLifecycle { dom, event, detail } => (
            "lifecycle",
            dom,
            format!(
                "event 'lifecycle' for domain '{}': {} {}\n",
                dom.name,
                lifecycle_event(*event),
                lifecycle_detail(*event, *detail)
            ),
        ),
        Event::DomainReboot { dom } => (
            "reboot",
            dom,
            format!("event 'reboot' for domain '{}'\n", dom.name),
        ),
        _ => return None,
    };
    if !want.contains(&name) {
        return None;
    }
    if dom.is_some_and(|u| *u != r.uuid) {
        return None;
    }
    Some(text)
}

/// How the wait ended (`VSH_EVENT_*`).
enum End {
    Done,
    Timeout,
    Interrupt,
}

fn cmd_event(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let all = cmd.has("all");
    let looping = cmd.has("loop");
    let timestamp = cmd.has("timestamp");
    if !super::exclusive(ctl, cmd, "all", "event")
        || !super::exclusive(ctl, cmd, "list", "all")
        || !super::exclusive(ctl, cmd, "list", "event")
    {
        return false;
    }
    if cmd.has("list") {
        let mut s = String::new();
        for n in EVENT_NAMES {
            s.push_str(n);
            s.push('\n');
        }
        ctl.print(&s);
        return true;
    }
    let Ok(event_name) = cmd.string_req(ctl, "event") else {
        return false;
    };
    if event_name.is_none() && !all {
        ctl.error("one of --list, --all, or --event <type> is required");
        return false;
    }
    let want: Vec<&str> = EVENT_NAMES
        .iter()
        .copied()
        .filter(|n| event_name.is_none_or(|e| e == *n))
        .collect();
    if want.is_empty() {
        ctl.error(&format!(
            "unknown event type {}",
            event_name.unwrap_or_default()
        ));
        return false;
    }
    let timeout = match cmd.uint(ctl, "timeout") {
        Err(_) => return false,
        Ok(None) => None,
        Ok(Some(t)) => {
            if t == 0 || t > i32::MAX as u32 / 1000 {
                ctl.error(&format!(
                    "Numeric value '{t}' for <timeout> option is malformed or out of range"
                ));
                return false;
            }
            Some(std::time::Duration::from_secs(u64::from(t)))
        }
    };
    let mut filter = None;
    if cmd.has("domain") {
        let Some((d, _)) = super::opt_domain(ctl, cmd) else {
            return false;
        };
        filter = Some(*d.uuid());
    }
    let conn = ctl.conn();
    // Register the kinds rvirt delivers, in virsh's order; as in virsh, only a failure of the
    // first registration is fatal.
    let mut rx = None;
    for (i, (name, kind)) in [
        ("lifecycle", EventKind::DomainLifecycle),
        ("reboot", EventKind::DomainReboot),
    ]
    .into_iter()
    .filter(|(n, _)| want.contains(n))
    .enumerate()
    {
        let _ = name;
        match ctl.block_on(conn.events(kind)) {
            Ok(r) => {
                rx.get_or_insert(r);
            }
            Err(e) if i == 0 => {
                ctl.save_error(e);
                return false;
            }
            Err(_) => ctl.reset_error(),
        }
    }
    let mut count = 0u32;
    let handle = ctl.handle();
    let end = handle.block_on(async {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            let recv = async {
                match rx.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = recv => {
                    match ev {
                        Ok(ev) => {
                            if let Some(text) = describe(&ev, &want, filter.as_ref()) {
                                let line = if timestamp {
                                    format!("{}: {}", timestamp_now(), text)
                                } else {
                                    text
                                };
                                ctl.print(&line);
                                count += 1;
                                if !looping {
                                    return End::Done;
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            rx = None;
                        }
                    }
                }
                _ = &mut sleep => return End::Timeout,
                _ = &mut ctrl_c => return End::Interrupt,
            }
        }
    });
    match end {
        End::Interrupt => ctl.print("event loop interrupted\n"),
        End::Timeout => ctl.print("event loop timed out\n"),
        End::Done => {}
    }
    ctl.print(&format!("events received: {count}\n"));
    count > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt::DomainRef;

    fn dref(name: &str, b: u8) -> DomainRef {
        DomainRef {
            name: name.into(),
            uuid: rvirt_uuid(b),
            id: 3,
        }
    }

    fn rvirt_uuid(b: u8) -> rvirt::Uuid {
        rvirt::uuid_parse(&format!("{b:02x}{}", "0".repeat(30))).unwrap()
    }

    #[test]
    fn lifecycle_lines_match_virsh() {
        let ev = Event::DomainLifecycle {
            dom: dref("d3", 1),
            event: 2,
            detail: 0,
        };
        assert_eq!(
            describe(&ev, &EVENT_NAMES, None).unwrap(),
            "event 'lifecycle' for domain 'd3': Started Booted\n"
        );
        assert!(describe(&ev, &["reboot"], None).is_none());
        assert!(describe(&ev, &EVENT_NAMES, Some(&rvirt_uuid(2))).is_none());
        assert!(describe(&ev, &EVENT_NAMES, Some(&rvirt_uuid(1))).is_some());
        let ev = Event::DomainReboot { dom: dref("d3", 1) };
        assert_eq!(
            describe(&ev, &["reboot"], None).unwrap(),
            "event 'reboot' for domain 'd3'\n"
        );
    }
}
