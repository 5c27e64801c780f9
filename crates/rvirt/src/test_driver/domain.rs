//! The test driver's domains: libvirt 9.0's `test_driver.c` domain entry points over
//! `virdomainobjlist.c`'s object rules — a live and a persistent definition per domain, ids from
//! 1, transient domains that vanish when they stop — with libvirt's errors, state reasons and
//! lifecycle events.
//!
//! libvirt quirks kept on purpose: start, suspend, resume and shutdown report
//! `VIR_ERR_INTERNAL_ERROR` from the test driver (naming the handle's domain name), while
//! destroy, reboot and reset report `VIR_ERR_OPERATION_INVALID` from the domain layer; starting
//! with `VIR_DOMAIN_START_PAUSED` is refused as an unsupported flag; the OS type is always
//! "linux"; node-file domains start with reason "unknown"; the persistent definition made when a
//! domain starts is a format-and-parse copy, so it picks up libvirt's renumbering.

use super::*;
use rvirt_xml::domain::{self as xdom, DomainDef, FormatOpts};
use std::time::{SystemTime, UNIX_EPOCH};

/// `virDomainState` values used here.
mod st {
    pub const RUNNING: i32 = 1;
    pub const PAUSED: i32 = 3;
    pub const SHUTOFF: i32 = 5;
}

use crate::types::{event_detail as detail, state_reason as reason};

/// Flags the entry points accept.
mod flag {
    /// `VIR_DOMAIN_XML_COMMON_FLAGS`: secure, inactive, migratable (not update-cpu).
    pub const XML_COMMON: u32 = 0x1 | 0x2 | 0x8;
    pub const DEFINE_VALIDATE: u32 = 1;
    pub const START_VALIDATE: u32 = 1 << 4;
    pub const UNDEFINE_MANAGED_SAVE: u32 = 1;
    pub const UNDEFINE_SNAPSHOTS_METADATA: u32 = 2;
    pub const DESTROY_GRACEFUL: u32 = 1;
    pub const REBOOT_ALL: u32 = 0x1f;
    pub const AFFECT_LIVE: u32 = 1;
    pub const AFFECT_CONFIG: u32 = 2;
    pub const VCPU_MAXIMUM: u32 = 4;
    pub const LIST_ALL: u32 = 0xffff;
}

/// One domain (`virDomainObj`).
pub(crate) struct DomainObj {
    /// The current definition: the live one while running.
    pub(crate) def: DomainDef,
    /// The persistent definition kept while a persistent domain runs.
    pub(crate) new_def: Option<DomainDef>,
    pub(crate) state: i32,
    pub(crate) reason: i32,
    pub(crate) persistent: bool,
    pub(crate) autostart: bool,
    pub(crate) has_managed_save: bool,
}

impl DomainObj {
    fn new(def: DomainDef) -> Self {
        Self {
            def,
            new_def: None,
            state: st::SHUTOFF,
            reason: reason::UNKNOWN,
            persistent: false,
            autostart: false,
            has_managed_save: false,
        }
    }

    fn is_active(&self) -> bool {
        self.def.id.is_some()
    }

    fn identity(&self) -> DomainRef {
        DomainRef {
            name: self.def.name.clone(),
            uuid: rvirt_proto::xdr::FixedOpaque(self.def.uuid),
            id: self.def.id.unwrap_or(-1),
        }
    }
}

/// All domains, in definition order, and the next id to hand out.
pub(crate) struct Domains {
    pub(crate) objs: Vec<DomainObj>,
    pub(crate) next_id: i32,
}

impl Default for Domains {
    fn default() -> Self {
        Self {
            objs: Vec::new(),
            next_id: 1,
        }
    }
}

/// `virCheckFlags` in the test driver: the unsupported bits, named with the C function.
fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    let bad = flags & !supported;
    if bad != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            errdom::TEST,
            format!("unsupported flags (0x{bad:x}) in function {func}"),
        ));
    }
    Ok(())
}

fn not_running() -> Error {
    Error::new(
        code::OPERATION_INVALID,
        errdom::DOMAIN,
        "domain is not running",
    )
}

fn test_internal(detail: String) -> Error {
    Error::new(code::INTERNAL_ERROR, errdom::TEST, detail)
}

impl Domains {
    /// `testDomObjFromDomain`: the object a handle names, by UUID.
    fn find(&self, dom: &DomainRef) -> Result<usize> {
        self.objs
            .iter()
            .position(|o| o.def.uuid == dom.uuid.0)
            .ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    errdom::TEST,
                    format!(
                        "no domain with matching uuid '{}' ({})",
                        uuid_to_string(&dom.uuid),
                        dom.name
                    ),
                )
            })
    }

    /// `virDomainObjListAdd`: replaces the matching domain's live (`live`) or persistent
    /// definition, or adds a domain. Returns the index and whether a definition was replaced
    /// (the "old definition" libvirt hands back).
    fn add(&mut self, def: DomainDef, live: bool, check_live: bool) -> Result<(usize, bool)> {
        if let Some(i) = self.objs.iter().position(|o| o.def.uuid == def.uuid) {
            let obj = &mut self.objs[i];
            if obj.def.name != def.name {
                return Err(Error::new(
                    code::OPERATION_FAILED,
                    errdom::DOMAIN,
                    format!(
                        "domain '{}' is already defined with uuid {}",
                        obj.def.name,
                        xdom::uuid_format(&obj.def.uuid)
                    ),
                ));
            }
            if check_live {
                if obj.is_active() {
                    return Err(Error::new(
                        code::OPERATION_INVALID,
                        errdom::DOMAIN,
                        format!("domain '{}' is already active", obj.def.name),
                    ));
                }
                if !obj.persistent {
                    return Err(Error::new(
                        code::OPERATION_INVALID,
                        errdom::DOMAIN,
                        format!("domain '{}' is already being started", obj.def.name),
                    ));
                }
            }
            // virDomainObjAssignDef.
            let replaced = if obj.is_active() {
                obj.new_def.replace(def).is_some()
            } else if live {
                let old = std::mem::replace(&mut obj.def, def);
                if obj.new_def.is_none() {
                    obj.new_def = Some(old);
                }
                false
            } else {
                obj.def = def;
                true
            };
            return Ok((i, replaced));
        }
        if let Some(o) = self.objs.iter().find(|o| o.def.name == def.name) {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::DOMAIN,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name,
                    xdom::uuid_format(&o.def.uuid)
                ),
            ));
        }
        self.objs.push(DomainObj::new(def));
        Ok((self.objs.len() - 1, false))
    }

    /// `testDomainStartState`: running with `reason`, a fresh id, and (for a persistent domain)
    /// a copy of the definition kept as the persistent one.
    fn start_state(&mut self, i: usize, why: i32) {
        let id = self.next_id;
        self.next_id += 1;
        let obj = &mut self.objs[i];
        obj.state = st::RUNNING;
        obj.reason = why;
        obj.def.id = Some(id);
        if obj.persistent && obj.new_def.is_none() {
            obj.new_def = Some(copy_def(&obj.def));
        }
        obj.has_managed_save = false;
    }

    /// `testDomainShutdownState`: shut off with `why`; the persistent definition comes back.
    fn shutdown_state(&mut self, i: usize, why: i32) {
        let obj = &mut self.objs[i];
        if let Some(mut d) = obj.new_def.take() {
            d.id = None;
            obj.def = d;
        }
        obj.state = st::SHUTOFF;
        obj.reason = why;
    }
}

/// `virDomainDefCopy`: a format-and-parse copy of the inactive, secure view.
fn copy_def(def: &DomainDef) -> DomainDef {
    let opts = FormatOpts {
        inactive: true,
        secure: true,
        migratable: false,
    };
    let mut copy = xdom::parse(&xdom::format(def, opts)).unwrap_or_else(|_| def.clone());
    copy.id = None;
    copy
}

/// Parses a document as the test driver does (inactive parse, interface names).
fn parse_def(xml: &str) -> Result<DomainDef> {
    let mut def = xdom::parse(xml)?;
    if !def.assign_test_ifnames() {
        return Err(test_internal("Exceeded max iface limit 1024".into()));
    }
    Ok(def)
}

fn lifecycle(drv: &TestDriver, dom: DomainRef, event: i32, detail: i32) {
    drv.emit(Event::DomainLifecycle { dom, event, detail });
}

/// Defines a domain from a node file's `<domain>` element and puts it in its initial state
/// (`testParseDomains`): running with a fresh id unless the `test:runstate` says shut off,
/// persistent unless `test:transient`, reason always "unknown".
// Called by host.rs's node-file loader.
pub(super) fn load(state: &mut State, xml: &str) -> Result<()> {
    let def = parse_def(xml)?;
    let ns = def.test_ns;
    let doms = &mut state.domains;
    let (i, _) = doms.add(def, false, false)?;
    doms.objs[i].persistent = !ns.transient;
    doms.objs[i].has_managed_save = ns.has_managed_save;
    let runstate = ns.runstate.map_or(st::RUNNING, |r| r as i32);
    if runstate != st::SHUTOFF {
        doms.start_state(i, reason::RUNNING_BOOTED);
    } else {
        doms.shutdown_state(i, reason::UNKNOWN);
    }
    doms.objs[i].state = runstate;
    doms.objs[i].reason = reason::UNKNOWN;
    Ok(())
}

/// Whether `o` passes a `virConnectListAllDomains` filter (`virDomainObjMatchFilter`).
fn matches_filter(o: &DomainObj, f: u32) -> bool {
    use list_domains::*;
    let any = |mask: u32| f & mask != 0;
    if any(ACTIVE | INACTIVE)
        && !((any(ACTIVE) && o.is_active()) || (any(INACTIVE) && !o.is_active()))
    {
        return false;
    }
    if any(PERSISTENT | TRANSIENT)
        && !((any(PERSISTENT) && o.persistent) || (any(TRANSIENT) && !o.persistent))
    {
        return false;
    }
    if any(RUNNING | PAUSED | SHUTOFF | OTHER) {
        let s = o.state;
        let ok = (any(RUNNING) && s == st::RUNNING)
            || (any(PAUSED) && s == st::PAUSED)
            || (any(SHUTOFF) && s == st::SHUTOFF)
            || (any(OTHER) && s != st::RUNNING && s != st::PAUSED && s != st::SHUTOFF);
        if !ok {
            return false;
        }
    }
    if any(MANAGEDSAVE | NO_MANAGEDSAVE)
        && !((any(MANAGEDSAVE) && o.has_managed_save)
            || (any(NO_MANAGEDSAVE) && !o.has_managed_save))
    {
        return false;
    }
    if any(AUTOSTART | NO_AUTOSTART)
        && !((any(AUTOSTART) && o.autostart) || (any(NO_AUTOSTART) && !o.autostart))
    {
        return false;
    }
    // The test driver keeps no snapshots or checkpoints.
    if any(HAS_SNAPSHOT | NO_SNAPSHOT) && !any(NO_SNAPSHOT) {
        return false;
    }
    if any(HAS_CHECKPOINT | NO_CHECKPOINT) && !any(NO_CHECKPOINT) {
        return false;
    }
    true
}

pub(super) fn list_all_domains(drv: &TestDriver, flags: u32) -> Result<Vec<DomainRef>> {
    check_flags(flags, flag::LIST_ALL, "testConnectListAllDomains")?;
    let s = drv.lock();
    Ok(s.domains
        .objs
        .iter()
        .filter(|o| matches_filter(o, flags))
        .map(DomainObj::identity)
        .collect())
}

pub(super) fn list_domain_ids(drv: &TestDriver, max: i32) -> Result<Vec<i32>> {
    let s = drv.lock();
    let mut ids: Vec<i32> = s.domains.objs.iter().filter_map(|o| o.def.id).collect();
    ids.truncate(max.max(0) as usize);
    Ok(ids)
}

pub(super) fn num_of_domains(drv: &TestDriver) -> Result<i32> {
    let s = drv.lock();
    Ok(s.domains.objs.iter().filter(|o| o.is_active()).count() as i32)
}

pub(super) fn list_defined_domains(drv: &TestDriver, max: i32) -> Result<Vec<String>> {
    let s = drv.lock();
    let mut names: Vec<String> = s
        .domains
        .objs
        .iter()
        .filter(|o| !o.is_active())
        .map(|o| o.def.name.clone())
        .collect();
    names.truncate(max.max(0) as usize);
    Ok(names)
}

pub(super) fn num_of_defined_domains(drv: &TestDriver) -> Result<i32> {
    let s = drv.lock();
    Ok(s.domains.objs.iter().filter(|o| !o.is_active()).count() as i32)
}

fn no_domain() -> Error {
    Error::bare(code::NO_DOMAIN, errdom::TEST)
}

pub(super) fn domain_lookup_by_id(drv: &TestDriver, id: i32) -> Result<DomainRef> {
    let s = drv.lock();
    s.domains
        .objs
        .iter()
        .find(|o| o.def.id == Some(id))
        .map(DomainObj::identity)
        .ok_or_else(no_domain)
}

pub(super) fn domain_lookup_by_name(drv: &TestDriver, name: &str) -> Result<DomainRef> {
    let s = drv.lock();
    s.domains
        .objs
        .iter()
        .find(|o| o.def.name == name)
        .map(DomainObj::identity)
        .ok_or_else(no_domain)
}

pub(super) fn domain_lookup_by_uuid(drv: &TestDriver, uuid: &Uuid) -> Result<DomainRef> {
    let s = drv.lock();
    s.domains
        .objs
        .iter()
        .find(|o| o.def.uuid == uuid.0)
        .map(DomainObj::identity)
        .ok_or_else(no_domain)
}

pub(super) fn domain_define_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<DomainRef> {
    check_flags(flags, flag::DEFINE_VALIDATE, "testDomainDefineXMLFlags")?;
    let def = parse_def_checked(xml)?;
    let (r, replaced) = {
        let mut s = drv.lock();
        let (i, replaced) = s.domains.add(def, false, false)?;
        let obj = &mut s.domains.objs[i];
        obj.persistent = true;
        (obj.identity(), replaced)
    };
    let d = if replaced {
        detail::DEFINED_UPDATED
    } else {
        detail::DEFINED_ADDED
    };
    lifecycle(drv, r.clone(), lifecycle::DEFINED, d);
    Ok(r)
}

/// `virDomainDefParseString` plus the test driver's define-time checks.
fn parse_def_checked(xml: &str) -> Result<DomainDef> {
    let def = xdom::parse(xml)?;
    // virXMLCheckIllegalChars("name", …, "\n").
    if let Some(c) = def.name.chars().find(|c| *c == '\n') {
        return Err(Error::raw(
            code::XML_DETAIL,
            errdom::XML,
            format!("invalid char in name: {c}"),
        ));
    }
    let mut def = def;
    if !def.assign_test_ifnames() {
        return Err(test_internal("Exceeded max iface limit 1024".into()));
    }
    Ok(def)
}

pub(super) fn domain_undefine(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<()> {
    check_flags(
        flags,
        flag::UNDEFINE_MANAGED_SAVE | flag::UNDEFINE_SNAPSHOTS_METADATA,
        "testDomainUndefineFlags",
    )?;
    let r = {
        let mut s = drv.lock();
        let i = s.domains.find(dom)?;
        let obj = &mut s.domains.objs[i];
        if obj.has_managed_save && flags & flag::UNDEFINE_MANAGED_SAVE == 0 {
            return Err(Error::new(
                code::OPERATION_INVALID,
                errdom::TEST,
                "Refusing to undefine while domain managed save image exists",
            ));
        }
        let r = obj.identity();
        obj.has_managed_save = false;
        if obj.is_active() {
            obj.persistent = false;
        } else {
            s.domains.objs.remove(i);
        }
        r
    };
    lifecycle(drv, r, lifecycle::UNDEFINED, detail::UNDEFINED_REMOVED);
    Ok(())
}

pub(super) fn domain_create(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
    check_flags(flags, 0, "testDomainCreateWithFlags")?;
    let r = {
        let mut s = drv.lock();
        let i = s.domains.find(dom)?;
        if s.domains.objs[i].state != st::SHUTOFF {
            return Err(test_internal(format!(
                "Domain '{}' is already running",
                dom.name
            )));
        }
        s.domains.start_state(i, reason::RUNNING_BOOTED);
        s.domains.objs[i].identity()
    };
    lifecycle(drv, r.clone(), lifecycle::STARTED, detail::STARTED_BOOTED);
    Ok(r)
}

pub(super) fn domain_create_xml(drv: &TestDriver, xml: &str, flags: u32) -> Result<DomainRef> {
    check_flags(flags, flag::START_VALIDATE, "testDomainCreateXML")?;
    let def = parse_def(xml)?;
    let r = {
        let mut s = drv.lock();
        let (i, _) = s.domains.add(def, true, true)?;
        s.domains.start_state(i, reason::RUNNING_BOOTED);
        s.domains.objs[i].identity()
    };
    lifecycle(drv, r.clone(), lifecycle::STARTED, detail::STARTED_BOOTED);
    Ok(r)
}

/// Stops domain `i` with `why`, removes it when transient, and returns the identity the
/// "stopped" event carries.
fn stop(s: &mut State, i: usize, why: i32) -> DomainRef {
    s.domains.shutdown_state(i, why);
    let r = s.domains.objs[i].identity();
    if !s.domains.objs[i].persistent {
        s.domains.objs.remove(i);
    }
    r
}

pub(super) fn domain_destroy(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<()> {
    check_flags(flags, flag::DESTROY_GRACEFUL, "testDomainDestroyFlags")?;
    let r = {
        let mut s = drv.lock();
        let i = s.domains.find(dom)?;
        if !s.domains.objs[i].is_active() {
            return Err(not_running());
        }
        stop(&mut s, i, reason::SHUTOFF_DESTROYED)
    };
    lifecycle(drv, r, lifecycle::STOPPED, detail::STOPPED_DESTROYED);
    Ok(())
}

/// `testDomainActionSetState` followed by the shutdown handling of shutdown and reboot: an
/// action that restarts the guest leaves it running ("booted"); any other stops it.
fn apply_action(drv: &TestDriver, s: &mut State, i: usize, action: xdom::LifecycleAction) {
    use xdom::LifecycleAction as A;
    if matches!(action, A::Restart | A::RenameRestart) {
        let obj = &mut s.domains.objs[i];
        obj.state = st::RUNNING;
        obj.reason = reason::RUNNING_BOOTED;
        return;
    }
    let r = stop(s, i, reason::SHUTOFF_SHUTDOWN);
    lifecycle(drv, r, lifecycle::STOPPED, detail::STOPPED_SHUTDOWN);
}

pub(super) fn domain_shutdown(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testDomainShutdownFlags")?;
    let mut s = drv.lock();
    let i = s.domains.find(dom)?;
    if s.domains.objs[i].state == st::SHUTOFF {
        return Err(test_internal(format!("domain '{}' not running", dom.name)));
    }
    let action = s.domains.objs[i].def.on_poweroff;
    apply_action(drv, &mut s, i, action);
    Ok(())
}

pub(super) fn domain_reboot(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<()> {
    check_flags(flags, flag::REBOOT_ALL, "testDomainReboot")?;
    let mut s = drv.lock();
    let i = s.domains.find(dom)?;
    if !s.domains.objs[i].is_active() {
        return Err(not_running());
    }
    let action = s.domains.objs[i].def.on_reboot;
    apply_action(drv, &mut s, i, action);
    Ok(())
}

pub(super) fn domain_reset(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<()> {
    check_flags(flags, 0, "testDomainReset")?;
    let s = drv.lock();
    let i = s.domains.find(dom)?;
    if !s.domains.objs[i].is_active() {
        return Err(not_running());
    }
    Ok(())
}

pub(super) fn domain_suspend(drv: &TestDriver, dom: &DomainRef) -> Result<()> {
    let r = {
        let mut s = drv.lock();
        let i = s.domains.find(dom)?;
        let obj = &mut s.domains.objs[i];
        if obj.state == st::SHUTOFF || obj.state == st::PAUSED {
            return Err(test_internal(format!("domain '{}' not running", dom.name)));
        }
        obj.state = st::PAUSED;
        obj.reason = reason::PAUSED_USER;
        obj.identity()
    };
    lifecycle(drv, r, lifecycle::SUSPENDED, detail::SUSPENDED_PAUSED);
    Ok(())
}

pub(super) fn domain_resume(drv: &TestDriver, dom: &DomainRef) -> Result<()> {
    let r = {
        let mut s = drv.lock();
        let i = s.domains.find(dom)?;
        let obj = &mut s.domains.objs[i];
        if obj.state != st::PAUSED {
            return Err(test_internal(format!("domain '{}' not paused", dom.name)));
        }
        obj.state = st::RUNNING;
        obj.reason = reason::RUNNING_UNPAUSED;
        obj.identity()
    };
    lifecycle(drv, r, lifecycle::RESUMED, detail::RESUMED_UNPAUSED);
    Ok(())
}

pub(super) fn domain_get_info(drv: &TestDriver, dom: &DomainRef) -> Result<DomainInfo> {
    let s = drv.lock();
    let o = &s.domains.objs[s.domains.find(dom)?];
    // The test driver reports the wall clock as CPU time.
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64 * 1000)
        .unwrap_or(0);
    Ok(DomainInfo {
        state: o.state as u8,
        max_mem: o.def.memory.total,
        memory: o.def.memory.current,
        nr_virt_cpu: o.def.vcpus.current as u16,
        cpu_time: now_ns,
    })
}

pub(super) fn domain_get_state(
    drv: &TestDriver,
    dom: &DomainRef,
    flags: u32,
) -> Result<(i32, i32)> {
    check_flags(flags, 0, "testDomainGetState")?;
    let s = drv.lock();
    let o = &s.domains.objs[s.domains.find(dom)?];
    Ok((o.state, o.reason))
}

pub(super) fn domain_get_xml_desc(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<String> {
    check_flags(flags, flag::XML_COMMON, "testDomainGetXMLDesc")?;
    let s = drv.lock();
    let o = &s.domains.objs[s.domains.find(dom)?];
    let opts = FormatOpts::from_flags(flags);
    let def = match (&o.new_def, opts.inactive) {
        (Some(n), true) => n,
        _ => &o.def,
    };
    Ok(xdom::format(def, opts))
}

pub(super) fn domain_get_autostart(drv: &TestDriver, dom: &DomainRef) -> Result<bool> {
    let s = drv.lock();
    Ok(s.domains.objs[s.domains.find(dom)?].autostart)
}

pub(super) fn domain_set_autostart(
    drv: &TestDriver,
    dom: &DomainRef,
    autostart: bool,
) -> Result<()> {
    let mut s = drv.lock();
    let i = s.domains.find(dom)?;
    s.domains.objs[i].autostart = autostart;
    Ok(())
}

pub(super) fn domain_get_os_type(_drv: &TestDriver, _dom: &DomainRef) -> Result<String> {
    // libvirt's test driver answers "linux" for every domain, without even a lookup.
    Ok("linux".into())
}

pub(super) fn domain_get_max_memory(drv: &TestDriver, dom: &DomainRef) -> Result<u64> {
    let s = drv.lock();
    Ok(s.domains.objs[s.domains.find(dom)?].def.memory.total)
}

/// `virDomainObjGetOneDef`: the live or persistent definition `flags` ask for.
fn one_def(o: &DomainObj, flags: u32) -> Result<&DomainDef> {
    let (live, config) = (flag::AFFECT_LIVE, flag::AFFECT_CONFIG);
    if flags & live != 0 && flags & config != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            errdom::DOMAIN,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
        ));
    }
    let mut flags = flags;
    if flags & (live | config) == 0 {
        flags |= if o.is_active() { live } else { config };
    }
    if !o.is_active() && flags & live != 0 {
        return Err(not_running());
    }
    if !o.persistent && flags & config != 0 {
        return Err(Error::new(
            code::OPERATION_INVALID,
            errdom::DOMAIN,
            "transient domains do not have any persistent config",
        ));
    }
    Ok(match (&o.new_def, o.is_active() && flags & config != 0) {
        (Some(n), true) => n,
        _ => &o.def,
    })
}

pub(super) fn domain_get_vcpus_flags(drv: &TestDriver, dom: &DomainRef, flags: u32) -> Result<i32> {
    check_flags(
        flags,
        flag::AFFECT_LIVE | flag::AFFECT_CONFIG | flag::VCPU_MAXIMUM,
        "testDomainGetVcpusFlags",
    )?;
    let s = drv.lock();
    let o = &s.domains.objs[s.domains.find(dom)?];
    let def = one_def(o, flags)?;
    Ok(if flags & flag::VCPU_MAXIMUM != 0 {
        def.vcpus.max as i32
    } else {
        def.vcpus.current as i32
    })
}

pub(super) fn domain_is_active(drv: &TestDriver, dom: &DomainRef) -> Result<bool> {
    let s = drv.lock();
    Ok(s.domains.objs[s.domains.find(dom)?].is_active())
}

pub(super) fn domain_is_persistent(drv: &TestDriver, dom: &DomainRef) -> Result<bool> {
    let s = drv.lock();
    Ok(s.domains.objs[s.domains.find(dom)?].persistent)
}

pub(super) fn domain_is_updated(_drv: &TestDriver, _dom: &DomainRef) -> Result<bool> {
    // libvirt's test driver never reports pending changes, without even a lookup.
    Ok(false)
}

pub(super) fn domain_has_managed_save_image(
    drv: &TestDriver,
    dom: &DomainRef,
    flags: u32,
) -> Result<bool> {
    check_flags(flags, 0, "testDomainHasManagedSaveImage")?;
    let s = drv.lock();
    Ok(s.domains.objs[s.domains.find(dom)?].has_managed_save)
}

/// The one label of the `testSecurity` model (`testDomainGetSecurityLabel`): "libvirt-test",
/// enforcing, for a running domain; empty otherwise.
pub(super) fn domain_get_security_label(
    drv: &TestDriver,
    dom: &DomainRef,
) -> Result<SecurityLabel> {
    let s = drv.lock();
    let o = &s.domains.objs[s.domains.find(dom)?];
    Ok(if o.is_active() {
        SecurityLabel {
            label: "libvirt-test".into(),
            enforcing: true,
        }
    } else {
        SecurityLabel::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `test` domain of libvirt's default node document (`defaultConnXML`).
    const DEFAULT_DOMAIN: &str = "<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory>8388608</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default' bridge='virbr0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>
    </memballoon>
  </devices>
</domain>";

    const D1: &str = "<domain type='test'><name>d1</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory><os><type>hvm</type></os></domain>";

    fn driver() -> TestDriver {
        let mut state = State {
            host: Default::default(),
            domains: Default::default(),
            networks: Default::default(),
            storage: Default::default(),
        };
        load(&mut state, DEFAULT_DOMAIN).unwrap();
        TestDriver::new(state, "test:///default".into())
    }

    fn err(r: Result<impl std::fmt::Debug>) -> (i32, i32, String) {
        let e = r.unwrap_err();
        (e.code, e.domain, e.message)
    }

    fn events(rx: &mut broadcast::Receiver<Event>) -> Vec<(String, i32, i32, i32)> {
        let mut v = Vec::new();
        while let Ok(Event::DomainLifecycle { dom, event, detail }) = rx.try_recv() {
            v.push((dom.name, dom.id, event, detail));
        }
        v
    }

    /// `virsh dumpxml test` on libvirtd 9.0's test:///default.
    const DEFAULT_DOMAIN_LIVE_XML: &str = "<domain type='test' id='1'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

    #[test]
    fn default_domain_xml_matches_libvirt() {
        let drv = driver();
        let t = domain_lookup_by_name(&drv, "test").unwrap();
        assert_eq!(
            domain_get_xml_desc(&drv, &t, 0).unwrap(),
            DEFAULT_DOMAIN_LIVE_XML
        );
        assert_eq!(
            domain_get_xml_desc(&drv, &t, 2).unwrap(),
            DEFAULT_DOMAIN_LIVE_XML.replacen(" id='1'", "", 1)
        );
    }

    /// libvirt keeps a format-and-parse copy as the persistent definition when a domain starts,
    /// so a console behind the serial alias is renumbered from then on.
    #[test]
    fn persistent_copy_renumbers_like_libvirt() {
        let drv = driver();
        let xml = "<domain type='test'><name>c</name><memory>1024</memory><os><type>hvm</type></os><devices><serial type='pty'/><console type='pty'><target type='virtio'/></console></devices></domain>";
        let d = domain_define_xml(&drv, xml, 0).unwrap();
        let port = |x: String| {
            x.lines()
                .filter(|l| l.contains("virtio' port"))
                .collect::<String>()
        };
        let d = domain_create(&drv, &d, 0).unwrap();
        assert!(port(domain_get_xml_desc(&drv, &d, 0).unwrap()).contains("port='0'"));
        assert!(port(domain_get_xml_desc(&drv, &d, 2).unwrap()).contains("port='1'"));
        domain_destroy(&drv, &d, 0).unwrap();
        assert!(port(domain_get_xml_desc(&drv, &d, 0).unwrap()).contains("port='1'"));
    }

    #[test]
    fn default_domain_runs_with_reason_unknown() {
        let drv = driver();
        let t = domain_lookup_by_name(&drv, "test").unwrap();
        assert_eq!(t.id, 1);
        assert_eq!(domain_get_state(&drv, &t, 0).unwrap(), (1, 0));
        let info = domain_get_info(&drv, &t).unwrap();
        assert_eq!(
            (info.state, info.max_mem, info.memory, info.nr_virt_cpu),
            (1, 8388608, 2097152, 2)
        );
        assert!(info.cpu_time > 1_600_000_000_000_000_000);
        let xml = domain_get_xml_desc(&drv, &t, 0).unwrap();
        assert!(xml.starts_with("<domain type='test' id='1'>\n"), "{xml}");
        assert!(xml.contains("<target dev='testnet0'/>"), "{xml}");
        assert_eq!(
            domain_get_security_label(&drv, &t).unwrap(),
            SecurityLabel {
                label: "libvirt-test".into(),
                enforcing: true
            }
        );
    }

    /// The sequence checked against libvirtd 9.0 (test+unix:///default) with python3-libvirt.
    #[test]
    fn lifecycle_matches_libvirt() {
        let drv = driver();
        let mut rx = drv.events.subscribe();
        let d = domain_define_xml(&drv, D1, 0).unwrap();
        assert_eq!(d.id, -1);
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (5, 0));
        let nr = |m: &str| (1, 12, format!("internal error: {m}"));
        assert_eq!(err(domain_suspend(&drv, &d)), nr("domain 'd1' not running"));
        assert_eq!(err(domain_resume(&drv, &d)), nr("domain 'd1' not paused"));
        let inval = (
            55,
            20,
            "Requested operation is not valid: domain is not running".to_string(),
        );
        assert_eq!(err(domain_destroy(&drv, &d, 0)), inval);
        assert_eq!(
            err(domain_shutdown(&drv, &d, 0)),
            nr("domain 'd1' not running")
        );
        assert_eq!(err(domain_reboot(&drv, &d, 0)), inval);
        assert_eq!(err(domain_reset(&drv, &d, 0)), inval);
        assert_eq!(
            err(domain_create(&drv, &d, 1)),
            (
                8,
                12,
                "unsupported flags (0x1) in function testDomainCreateWithFlags".into()
            )
        );
        let d = domain_create(&drv, &d, 0).unwrap();
        assert_eq!(d.id, 2);
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (1, 1));
        assert_eq!(
            err(domain_create(&drv, &d, 0)),
            nr("Domain 'd1' is already running")
        );
        domain_suspend(&drv, &d).unwrap();
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (3, 1));
        domain_resume(&drv, &d).unwrap();
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (1, 5));
        domain_reboot(&drv, &d, 0).unwrap();
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (1, 1));
        domain_reset(&drv, &d, 0).unwrap();
        domain_shutdown(&drv, &d, 0).unwrap();
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (5, 1));
        let d = domain_create(&drv, &d, 0).unwrap();
        assert_eq!(d.id, 3);
        domain_destroy(&drv, &d, 0).unwrap();
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (5, 2));
        assert_eq!(
            events(&mut rx),
            vec![
                ("d1".into(), -1, lifecycle::DEFINED, detail::DEFINED_ADDED),
                ("d1".into(), 2, lifecycle::STARTED, detail::STARTED_BOOTED),
                (
                    "d1".into(),
                    2,
                    lifecycle::SUSPENDED,
                    detail::SUSPENDED_PAUSED
                ),
                ("d1".into(), 2, lifecycle::RESUMED, detail::RESUMED_UNPAUSED),
                (
                    "d1".into(),
                    -1,
                    lifecycle::STOPPED,
                    detail::STOPPED_SHUTDOWN
                ),
                ("d1".into(), 3, lifecycle::STARTED, detail::STARTED_BOOTED),
                (
                    "d1".into(),
                    -1,
                    lifecycle::STOPPED,
                    detail::STOPPED_DESTROYED
                ),
            ]
        );
    }

    #[test]
    fn queries_match_libvirt() {
        let drv = driver();
        let d = domain_define_xml(&drv, D1, 0).unwrap();
        assert!(!domain_get_autostart(&drv, &d).unwrap());
        domain_set_autostart(&drv, &d, true).unwrap();
        assert!(domain_get_autostart(&drv, &d).unwrap());
        assert_eq!(domain_get_os_type(&drv, &d).unwrap(), "linux");
        assert_eq!(domain_get_max_memory(&drv, &d).unwrap(), 1024);
        assert_eq!(domain_get_vcpus_flags(&drv, &d, 0).unwrap(), 1);
        assert_eq!(domain_get_vcpus_flags(&drv, &d, 4).unwrap(), 1);
        assert_eq!(
            err(domain_get_vcpus_flags(&drv, &d, 1)),
            (
                55,
                20,
                "Requested operation is not valid: domain is not running".into()
            )
        );
        assert_eq!(
            err(domain_get_vcpus_flags(&drv, &d, 3)),
            (
                8,
                20,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive".into()
            )
        );
        assert_eq!(
            err(domain_get_vcpus_flags(&drv, &d, 1 << 10)),
            (
                8,
                12,
                "unsupported flags (0x400) in function testDomainGetVcpusFlags".into()
            )
        );
        assert!(!domain_is_active(&drv, &d).unwrap());
        assert!(domain_is_persistent(&drv, &d).unwrap());
        assert!(!domain_is_updated(&drv, &d).unwrap());
        assert!(!domain_has_managed_save_image(&drv, &d, 0).unwrap());
        assert_eq!(
            domain_get_security_label(&drv, &d).unwrap(),
            SecurityLabel::default()
        );
        assert_eq!(
            err(domain_get_xml_desc(&drv, &d, 1 << 10)),
            (
                8,
                12,
                "unsupported flags (0x400) in function testDomainGetXMLDesc".into()
            )
        );
    }

    #[test]
    fn redefine_and_undefine_while_running() {
        let drv = driver();
        let d = domain_define_xml(&drv, D1, 0).unwrap();
        let d = domain_create(&drv, &d, 0).unwrap();
        let mut rx = drv.events.subscribe();
        assert_eq!(domain_get_vcpus_flags(&drv, &d, 2).unwrap(), 1);
        let again =
            domain_define_xml(&drv, &D1.replace("<memory>1024", "<memory>2048"), 0).unwrap();
        assert_eq!(again.id, d.id);
        let inactive = domain_get_xml_desc(&drv, &d, 2).unwrap();
        assert!(inactive.contains(">2048</memory>"), "{inactive}");
        assert!(!domain_get_xml_desc(&drv, &d, 0)
            .unwrap()
            .contains(">2048</memory>"));
        domain_undefine(&drv, &d, 0).unwrap();
        assert!(!domain_is_persistent(&drv, &d).unwrap());
        assert_eq!(domain_get_state(&drv, &d, 0).unwrap(), (1, 1));
        domain_destroy(&drv, &d, 0).unwrap();
        assert_eq!(
            err(domain_lookup_by_name(&drv, "d1")),
            (42, 12, "Domain not found".into())
        );
        assert_eq!(
            err(domain_get_state(&drv, &d, 0)),
            (
                42,
                12,
                "Domain not found: no domain with matching uuid '11111111-2222-3333-4444-555555555555' (d1)".into()
            )
        );
        let d_id = d.id;
        assert_eq!(
            events(&mut rx),
            vec![
                (
                    "d1".into(),
                    d_id,
                    lifecycle::DEFINED,
                    detail::DEFINED_UPDATED
                ),
                (
                    "d1".into(),
                    d_id,
                    lifecycle::UNDEFINED,
                    detail::UNDEFINED_REMOVED
                ),
                (
                    "d1".into(),
                    -1,
                    lifecycle::STOPPED,
                    detail::STOPPED_DESTROYED
                ),
            ]
        );
    }

    #[test]
    fn transient_domains_and_duplicates() {
        let drv = driver();
        let t1 = D1.replace("d1", "t1");
        let t = domain_create_xml(&drv, &t1, 0).unwrap();
        assert_eq!(t.id, 2);
        assert_eq!(
            err(domain_create_xml(&drv, &t1, 1)),
            (
                8,
                12,
                "unsupported flags (0x1) in function testDomainCreateXML".into()
            )
        );
        assert_eq!(
            err(domain_create_xml(&drv, &t1, 0)),
            (
                55,
                20,
                "Requested operation is not valid: domain 't1' is already active".into()
            )
        );
        assert!(!domain_is_persistent(&drv, &t).unwrap());
        assert_eq!(
            err(domain_get_vcpus_flags(&drv, &t, 2)),
            (
                55,
                20,
                "Requested operation is not valid: transient domains do not have any persistent config".into()
            )
        );
        domain_undefine(&drv, &t, 0).unwrap();
        assert_eq!(domain_lookup_by_name(&drv, "t1").unwrap().id, 2);
        domain_define_xml(&drv, &t1, 0).unwrap();
        assert!(domain_is_persistent(&drv, &t).unwrap());
        domain_shutdown(&drv, &t, 0).unwrap();
        assert_eq!(domain_get_state(&drv, &t, 0).unwrap(), (5, 1));
        assert_eq!(
            err(domain_define_xml(&drv, &D1.replace("d1", "zz"), 0)),
            (
                9,
                20,
                "operation failed: domain 't1' is already defined with uuid 11111111-2222-3333-4444-555555555555".into()
            )
        );
        assert_eq!(
            err(domain_define_xml(
                &drv,
                &t1.replace("11111111", "99999999"),
                0
            )),
            (
                9,
                20,
                "operation failed: domain 't1' already exists with uuid 11111111-2222-3333-4444-555555555555".into()
            )
        );
        assert_eq!(
            err(domain_define_xml(&drv, &D1.replace("d1", "a\nb"), 0)),
            (35, 5, "invalid char in name: \n".into())
        );
        assert_eq!(
            err(domain_define_xml(&drv, D1, 1 << 5)),
            (
                8,
                12,
                "unsupported flags (0x20) in function testDomainDefineXMLFlags".into()
            )
        );
    }

    #[test]
    fn listing_with_filters() {
        use list_domains::*;
        let drv = driver();
        let t1 = D1.replace("d1", "t1");
        let t = domain_define_xml(&drv, &t1, 0).unwrap();
        domain_set_autostart(&drv, &t, true).unwrap();
        let names = |f| -> Vec<String> {
            list_all_domains(&drv, f)
                .unwrap()
                .into_iter()
                .map(|d| d.name)
                .collect()
        };
        assert_eq!(names(0), ["test", "t1"]);
        assert_eq!(names(ACTIVE), ["test"]);
        assert_eq!(names(INACTIVE), ["t1"]);
        assert_eq!(names(ACTIVE | INACTIVE), ["test", "t1"]);
        assert_eq!(names(RUNNING), ["test"]);
        assert_eq!(names(SHUTOFF), ["t1"]);
        assert!(names(PAUSED).is_empty());
        assert_eq!(names(AUTOSTART), ["t1"]);
        assert_eq!(names(NO_AUTOSTART), ["test"]);
        assert_eq!(names(PERSISTENT), ["test", "t1"]);
        assert!(names(TRANSIENT).is_empty());
        assert_eq!(names(NO_SNAPSHOT | NO_MANAGEDSAVE), ["test", "t1"]);
        assert!(names(HAS_SNAPSHOT).is_empty());
        assert_eq!(
            err(list_all_domains(&drv, 1 << 20)),
            (
                8,
                12,
                "unsupported flags (0x100000) in function testConnectListAllDomains".into()
            )
        );
        assert_eq!(list_domain_ids(&drv, 10).unwrap(), [1]);
        assert_eq!(num_of_domains(&drv).unwrap(), 1);
        assert_eq!(list_defined_domains(&drv, 10).unwrap(), ["t1"]);
        assert_eq!(num_of_defined_domains(&drv).unwrap(), 1);
        assert_eq!(
            err(domain_lookup_by_id(&drv, 99)),
            (42, 12, "Domain not found".into())
        );
        assert_eq!(domain_lookup_by_uuid(&drv, &t.uuid).unwrap().name, "t1");
    }

    #[test]
    fn node_file_runstates() {
        let mut state = State {
            host: Default::default(),
            domains: Default::default(),
            networks: Default::default(),
            storage: Default::default(),
        };
        let ns = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";
        let paused = format!(
            "<domain type='test' {ns}><name>p</name><memory>1024</memory><os><type>hvm</type></os><test:runstate>3</test:runstate></domain>"
        );
        let off = format!(
            "<domain type='test' {ns}><name>o</name><memory>1024</memory><os><type>hvm</type></os><test:runstate>5</test:runstate><test:hasmanagedsave/></domain>"
        );
        let tr = format!(
            "<domain type='test' {ns}><name>t</name><memory>1024</memory><os><type>hvm</type></os><test:transient/></domain>"
        );
        load(&mut state, &paused).unwrap();
        load(&mut state, &off).unwrap();
        load(&mut state, &tr).unwrap();
        let o = &state.domains.objs;
        assert_eq!((o[0].state, o[0].reason, o[0].def.id), (3, 0, Some(1)));
        assert_eq!(
            (o[1].state, o[1].def.id, o[1].has_managed_save),
            (5, None, true)
        );
        assert_eq!((o[2].persistent, o[2].def.id), (false, Some(2)));
        let bad = format!(
            "<domain type='test' {ns}><name>b</name><memory>1024</memory><os><type>hvm</type></os><test:transient/><test:runstate>5</test:runstate></domain>"
        );
        let e = load(&mut state, &bad).unwrap_err();
        assert_eq!(
            e.message,
            "XML error: transient domain cannot have runstate 'shutoff'"
        );
        let drv = TestDriver::new(state, "test:///x".into());
        let r = domain_lookup_by_name(&drv, "o").unwrap();
        assert_eq!(
            err(domain_undefine(&drv, &r, 0)),
            (
                55,
                12,
                "Requested operation is not valid: Refusing to undefine while domain managed save image exists".into()
            )
        );
        domain_undefine(&drv, &r, 1).unwrap();
    }
}
