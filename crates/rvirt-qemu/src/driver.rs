//! `QemuDriver`: the domain methods of [`rvirt::Driver`] over real QEMU processes.
//!
//! This is where a `qemu:///session` or `qemu:///system` connection's domain calls land (rvirtd
//! hosts the driver). It keeps one record per domain: the persistent definition (an XML file
//! under the config directory, written atomically), and while it runs the live definition, the
//! [`QemuProcess`] and a monitor task that turns QMP events and the process's exit into state
//! changes and lifecycle events (a broadcast every connection subscribes to).
//!
//! Concurrency: every modifying call on a domain (start, stop, suspend, …) holds that domain's
//! job lock (waited for at most [`JOB_WAIT`]); queries (`list`, state, info, XML) only take a
//! short non-async lock and never wait for QEMU, and every QMP call has a timeout — so a hung
//! QEMU blocks neither other domains nor listing. State changes coming from QEMU (STOP, RESUME,
//! SHUTDOWN, exit) are applied by the monitor task alone, idempotently with the API's own.
//!
//! Start: the founding disk rule first (every disk's backing chain resolved with rvirt-storage;
//! a refusal is libvirt's exact error), then the command line ([`crate::argv`]) with `-S`, the
//! process, the terminals of its `pty` chardevs (QMP `query-chardev`, into the live XML and the
//! status record; [`crate::console`] opens them for `virDomainOpenConsole`), the live status file
//! (under the run directory, written atomically with the live XML), `cont`. A new driver on the same directories re-attaches to every QEMU its status files
//! name (pid + start time + command line, then QMP) and marks the dead ones shut off (crashed).

use crate::argv::{self, ArgvOptions};
use crate::caps::{self, CapsCache};
use crate::console;
use crate::process::{QemuProcess, SpawnConfig};
use crate::qmp::{Event as QmpEv, EventReceiver};
use crate::status::LiveStatus;
use async_trait::async_trait;
use rvirt::error::{code, domain as errdom, Error, Result};
use rvirt::types::*;
use rvirt_xml::domain::{self as xdom, DomainDef, FormatOpts, VirtType};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How long a modifying call waits for another one on the same domain.
pub const JOB_WAIT: Duration = Duration::from_secs(30);
/// Timeout of every QMP command.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long destroy waits after SIGTERM before SIGKILL.
const DESTROY_GRACE: Duration = Duration::from_secs(10);

/// `virDomainState` values.
mod st {
    pub const RUNNING: u8 = 1;
    pub const PAUSED: u8 = 3;
    pub const SHUTDOWN: u8 = 4;
    pub const SHUTOFF: u8 = 5;
}

use rvirt::types::{event_detail as detail, state_reason as reason};

/// Flags the entry points accept.
mod flag {
    pub const DEFINE_VALIDATE: u32 = 1;
    pub const START_PAUSED: u32 = 1;
    pub const START_AUTODESTROY: u32 = 2;
    pub const START_VALIDATE: u32 = 1 << 4;
    pub const DESTROY_GRACEFUL: u32 = 1;
    pub const UNDEFINE_ALL: u32 = 0x7f;
    pub const XML_INACTIVE: u32 = 2;
    pub const XML_UPDATE_CPU: u32 = 4;
    pub const XML_MIGRATABLE: u32 = 8;
    pub const XML_ALL: u32 = 0xf;
    pub const VCPU_MAXIMUM: u32 = 4;
    pub const CONSOLE_ALL: u32 =
        rvirt::driver::console_flags::FORCE | rvirt::driver::console_flags::SAFE;
}

/// Where the driver keeps its files.
#[derive(Debug, Clone)]
pub struct DriverPaths {
    /// Persistent definitions (`NAME.xml`) and `autostart/`.
    pub config: PathBuf,
    /// Live status files, monitor sockets, pid files.
    pub run: PathBuf,
    /// QEMU log files (`NAME.log`).
    pub log: PathBuf,
    /// The capability probe cache.
    pub cache: PathBuf,
}

impl DriverPaths {
    /// `qemu:///session`: `$XDG_CONFIG_HOME/rvirt/qemu`, `$XDG_RUNTIME_DIR/rvirt/qemu`, logs and
    /// capabilities under `$XDG_CACHE_HOME/rvirt/qemu`.
    pub fn session() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let xdg = |var: &str, fallback: PathBuf| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or(fallback)
        };
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let cache = xdg("XDG_CACHE_HOME", home.join(".cache")).join("rvirt/qemu");
        DriverPaths {
            config: xdg("XDG_CONFIG_HOME", home.join(".config")).join("rvirt/qemu"),
            run: xdg(
                "XDG_RUNTIME_DIR",
                PathBuf::from(format!("/tmp/rvirt-{uid}")),
            )
            .join("rvirt/qemu"),
            log: cache.join("log"),
            cache: cache.join("capabilities"),
        }
    }

    /// `qemu:///system`.
    pub fn system() -> Self {
        DriverPaths {
            config: "/etc/rvirt/qemu".into(),
            run: "/run/rvirt/qemu".into(),
            log: "/var/log/rvirt/qemu".into(),
            cache: "/var/cache/rvirt/qemu/capabilities".into(),
        }
    }

    /// Everything under one directory (tests).
    pub fn under(root: &Path) -> Self {
        DriverPaths {
            config: root.join("config"),
            run: root.join("run"),
            log: root.join("log"),
            cache: root.join("cache"),
        }
    }

    fn config_file(&self, name: &str) -> PathBuf {
        self.config.join(format!("{name}.xml"))
    }
    fn autostart_link(&self, name: &str) -> PathBuf {
        self.config.join("autostart").join(format!("{name}.xml"))
    }
    fn status_file(&self, name: &str) -> PathBuf {
        self.run.join(format!("{name}.xml"))
    }
}

/// What a running domain has.
struct Live {
    def: DomainDef,
    id: i32,
    /// The terminals of the `pty` chardevs (chardev id → `/dev/pts/N`), for the status file.
    ptys: BTreeMap<String, String>,
    proc: Arc<QemuProcess>,
    /// Set by destroy: the exit is reported as destroyed and QEMU's SHUTDOWN is not an event.
    destroying: bool,
    /// QEMU reported SHUTDOWN (guest or host power-off).
    shutdown_seen: bool,
    /// A reboot is in progress (QEMU pauses at SHUTDOWN, the monitor task resets and resumes).
    fake_reboot: bool,
    /// Becomes `true` once the monitor task has finished with this process.
    done: watch::Receiver<bool>,
}

struct DomState {
    def: DomainDef,
    persistent: bool,
    autostart: bool,
    state: u8,
    reason: i32,
    live: Option<Live>,
    /// Removed from the list (undefined while inactive, or transient and stopped).
    gone: bool,
}

struct Dom {
    uuid: [u8; 16],
    /// The job lock; the name of the call holding it is kept beside it for the timeout message.
    job: tokio::sync::Mutex<()>,
    job_owner: Mutex<&'static str>,
    st: Mutex<DomState>,
    /// Open console sessions (they outlive a run only until its terminals hang up).
    consoles: console::Sessions,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Dom {
    fn identity(&self) -> DomainRef {
        let s = lock(&self.st);
        ident(&s)
    }
}

fn ident(s: &DomState) -> DomainRef {
    DomainRef {
        name: s.def.name.clone(),
        uuid: rvirt_proto::xdr::FixedOpaque(s.def.uuid),
        id: s.live.as_ref().map_or(-1, |l| l.id),
    }
}

struct Inner {
    paths: DriverPaths,
    doms: Mutex<Vec<Arc<Dom>>>,
    next_id: Mutex<i32>,
    events: broadcast::Sender<Event>,
    caps: CapsCache,
    /// `connect_get_uri`.
    uri: String,
    /// QMP command timeout and job-lock wait ([`QMP_TIMEOUT`], [`JOB_WAIT`] unless changed).
    timeouts: Mutex<(Duration, Duration)>,
    /// `true` once the driver is dropped: monitor tasks stop without touching anything, leaving
    /// QEMU running for the next driver to re-attach to.
    closing: watch::Sender<bool>,
}

impl Inner {
    fn qmp_timeout(&self) -> Duration {
        lock(&self.timeouts).0
    }
    fn job_wait(&self) -> Duration {
        lock(&self.timeouts).1
    }
}

/// The QEMU driver. Dropping it leaves running guests running.
pub struct QemuDriver {
    inner: Arc<Inner>,
}

impl Drop for QemuDriver {
    fn drop(&mut self) {
        // send_replace stores the value even when no monitor task has subscribed yet.
        self.inner.closing.send_replace(true);
    }
}

fn no_domain(dom: &DomainRef) -> Error {
    Error::new(
        code::NO_DOMAIN,
        errdom::QEMU,
        format!(
            "no domain with matching uuid '{}' ({})",
            uuid_to_string(&dom.uuid),
            dom.name
        ),
    )
}

fn not_running() -> Error {
    Error::new(
        code::OPERATION_INVALID,
        errdom::DOMAIN,
        "domain is not running",
    )
}

fn check_flags(flags: u32, supported: u32, func: &str) -> Result<()> {
    let bad = flags & !supported;
    if bad != 0 {
        return Err(Error::raw(
            code::INVALID_ARG,
            errdom::QEMU,
            format!("unsupported flags (0x{bad:x}) in function {func}"),
        ));
    }
    Ok(())
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        code::SYSTEM_ERROR,
        errdom::QEMU,
        format!("cannot {what} '{}': {e}", path.display()),
    )
}

fn state_name(s: u8) -> &'static str {
    match s {
        st::RUNNING => "running",
        st::PAUSED => "paused",
        st::SHUTDOWN => "shutdown",
        _ => "shutoff",
    }
}

fn state_from_name(s: &str) -> u8 {
    match s {
        "paused" => st::PAUSED,
        "shutdown" => st::SHUTDOWN,
        _ => st::RUNNING,
    }
}

/// QEMU-specific defaults applied on define (libvirt's qemuDomainDefPostParse, the parts rvirt
/// models): machine `pc`, the emulator found on PATH, serial target types and models, a virtio
/// memory balloon.
fn qemu_post_parse(def: &mut DomainDef) -> Result<()> {
    match def.virt_type {
        VirtType::Qemu | VirtType::Kvm => {}
        t => {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                errdom::QEMU,
                format!(
                    "Emulator '{}' does not support virt type '{}'",
                    def.devices
                        .emulator
                        .as_deref()
                        .unwrap_or("/usr/bin/qemu-system-x86_64"),
                    t.as_str()
                ),
            ))
        }
    }
    if def.os.machine.is_none() {
        def.os.machine = Some("pc".into());
    }
    if def.devices.emulator.is_none() {
        let found = caps::find_in_path("qemu-system-x86_64")
            .unwrap_or_else(|| PathBuf::from("/usr/bin/qemu-system-x86_64"));
        def.devices.emulator = Some(found.display().to_string());
    }
    // Serial ports get their device type and model named (qemuDomainChrDefPostParse, x86).
    for s in &mut def.devices.serials {
        use xdom::devices::ChrTargetType as T;
        if s.target_type == T::None {
            s.target_type = T::IsaSerial;
        }
        if s.target_model.is_none() {
            s.target_model = match s.target_type {
                T::IsaSerial => Some("isa-serial".into()),
                T::PciSerial => Some("pci-serial".into()),
                T::UsbSerial => Some("usb-serial".into()),
                _ => None,
            };
        }
    }
    if def.devices.memballoon.is_none() {
        def.devices.memballoon = Some(xdom::devices::Memballoon {
            model: xdom::devices::MemballoonModel::Virtio,
            autodeflate: None,
            free_page_reporting: None,
            period: 0,
            virtio: Default::default(),
            info: Default::default(),
        });
    }
    Ok(())
}

fn parse_def(xml: &str) -> Result<DomainDef> {
    let mut def = xdom::parse(xml).map_err(Error::from)?;
    qemu_post_parse(&mut def)?;
    Ok(def)
}

/// Process CPU time (user + system) in nanoseconds.
fn cpu_time_ns(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command: state is field 3; utime and stime are 14 and 15.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

impl QemuDriver {
    /// `virQEMUCapsCacheLookupDefault` + `virQEMUDriverGetDomainCapabilities`: the binary
    /// (given, or the default one for the architecture), the domain type (given, or KVM when
    /// the binary offers it) and the machine (given, or the default), with libvirt's errors.
    async fn domain_caps_lookup(
        &self,
        emulatorbin: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
    ) -> Result<rvirt_xml::domcaps::DomainCaps> {
        use rvirt_xml::domcaps::{EnumValue, VirtType as DcVirt};
        let invalid = |m: String| Error::new(code::INVALID_ARG, errdom::QEMU, m);
        if let Some(v) = virttype {
            if DcVirt::from_name(v).is_none() {
                return Err(invalid(format!("unknown virttype: {v}")));
            }
        }
        let host = crate::host::host_arch();
        let want_arch = arch.unwrap_or(host);
        if rvirt_xml::domcaps::Arch::from_name(want_arch).is_none() {
            return Err(invalid(format!("unknown architecture: {want_arch}")));
        }
        let binary = match emulatorbin {
            Some(b) => PathBuf::from(b),
            None => {
                let candidates: &[&str] = match want_arch {
                    "i686" => &["qemu-system-i386", "qemu-system-x86_64"],
                    "x86_64" => &["qemu-system-x86_64"],
                    "aarch64" => &["qemu-system-aarch64"],
                    "ppc64" | "ppc64le" => &["qemu-system-ppc64"],
                    "s390x" => &["qemu-system-s390x"],
                    "riscv64" => &["qemu-system-riscv64"],
                    _ => &[],
                };
                candidates
                    .iter()
                    .find_map(|n| caps::find_in_path(n))
                    .ok_or_else(|| {
                        Error::new(
                            code::CONFIG_UNSUPPORTED,
                            errdom::QEMU,
                            format!(
                                "unable to find any emulator to serve '{}' architecture",
                                arch.unwrap_or("(null)")
                            ),
                        )
                    })?
            }
        };
        let qc = self.inner.caps.get(&binary).await.map_err(Error::from)?;
        let x86 = |a: &str| matches!(a, "i686" | "x86_64");
        if qc.arch != want_arch && !(x86(&qc.arch) && x86(want_arch)) {
            return Err(invalid(format!(
                "architecture from emulator '{}' doesn't match given architecture '{want_arch}'",
                qc.arch
            )));
        }
        let kvm = crate::capabilities_xml::kvm_offered(&qc);
        let vt = match virttype {
            None if kvm => "kvm",
            None => "qemu",
            Some("kvm") if !kvm => {
                return Err(invalid(format!(
                    "the accel 'kvm' is not supported by '{}' on this host",
                    binary.display()
                )))
            }
            Some(v) => v,
        };
        if let Some(m) = machine {
            if qc.machine(m).is_none() {
                return Err(invalid(format!(
                    "the machine '{m}' is not supported by emulator '{}'",
                    binary.display()
                )));
            }
        }
        Ok(crate::capabilities_xml::domain_caps(&qc, vt, machine)?)
    }
}

impl QemuDriver {
    /// Opens the driver on `paths`: loads the persistent definitions, re-attaches to every QEMU
    /// still running from a previous driver (marking the dead ones shut off, reason crashed),
    /// then starts the autostart domains that are not running.
    pub async fn open(paths: DriverPaths) -> Result<QemuDriver> {
        Self::open_as(paths, "qemu:///session").await
    }

    /// The process-wide driver for `qemu:///session` or `qemu:///system`, opened on first use
    /// and shared by every connection (rvirtd's hosting hook).
    pub async fn for_uri(uri: &str) -> Result<Arc<QemuDriver>> {
        static DRIVERS: tokio::sync::Mutex<Vec<(String, Arc<QemuDriver>)>> =
            tokio::sync::Mutex::const_new(Vec::new());
        let key = uri.trim_end_matches('/').to_string();
        let paths = match key.as_str() {
            "qemu:///session" => DriverPaths::session(),
            "qemu:///system" => DriverPaths::system(),
            _ => return Err(Error::new(code::NO_CONNECT, errdom::NONE, uri)),
        };
        let mut all = DRIVERS.lock().await;
        if let Some((_, d)) = all.iter().find(|(k, _)| *k == key) {
            return Ok(d.clone());
        }
        let d = Arc::new(Self::open_as(paths, &key).await?);
        all.push((key, d.clone()));
        Ok(d)
    }

    /// [`QemuDriver::open`] answering `connect_get_uri` with `uri`.
    pub async fn open_as(paths: DriverPaths, uri: &str) -> Result<QemuDriver> {
        Self::open_with(paths, uri, None).await
    }

    /// [`QemuDriver::open_as`] raising its events on `events` (a host's shared channel, as
    /// rvirtd's composite host driver has) instead of a channel of its own.
    pub async fn open_with(
        paths: DriverPaths,
        uri: &str,
        events: Option<broadcast::Sender<Event>>,
    ) -> Result<QemuDriver> {
        for d in [&paths.config, &paths.run, &paths.log] {
            std::fs::create_dir_all(d).map_err(|e| io_err("create directory", d, e))?;
        }
        let events = events.unwrap_or_else(|| broadcast::channel(1024).0);
        let (closing, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            caps: CapsCache::new(paths.cache.clone()),
            paths,
            doms: Mutex::new(Vec::new()),
            next_id: Mutex::new(1),
            events,
            uri: uri.to_string(),
            timeouts: Mutex::new((QMP_TIMEOUT, JOB_WAIT)),
            closing,
        });
        let drv = QemuDriver { inner };
        drv.load_configs();
        drv.reattach_all().await;
        drv.autostart().await;
        Ok(drv)
    }

    fn load_configs(&self) {
        let p = &self.inner.paths;
        let Ok(rd) = std::fs::read_dir(&p.config) else {
            return;
        };
        let mut doms = lock(&self.inner.doms);
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().map_or(true, |x| x != "xml") {
                continue;
            }
            let def = match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_def(&t).map_err(|e| e.message))
            {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("rvirt-qemu: ignoring {}: {e}", path.display());
                    continue;
                }
            };
            let autostart = p.autostart_link(&def.name).exists();
            doms.push(Arc::new(Dom {
                uuid: def.uuid,
                job: tokio::sync::Mutex::new(()),
                job_owner: Mutex::new("none"),
                consoles: Default::default(),
                st: Mutex::new(DomState {
                    def,
                    persistent: true,
                    autostart,
                    state: st::SHUTOFF,
                    reason: reason::UNKNOWN,
                    live: None,
                    gone: false,
                }),
            }));
        }
    }

    async fn reattach_all(&self) {
        let p = self.inner.paths.clone();
        let Ok(rd) = std::fs::read_dir(&p.run) else {
            return;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().map_or(true, |x| x != "xml") {
                continue;
            }
            if let Err(err) = self.reattach(&path).await {
                eprintln!("rvirt-qemu: {}: {}", path.display(), err.message);
            }
        }
    }

    async fn reattach(&self, status_path: &Path) -> Result<()> {
        let status = LiveStatus::load(status_path)?;
        let xml = status.domain_xml.clone().ok_or_else(|| {
            Error::new(
                code::INTERNAL_ERROR,
                errdom::QEMU,
                format!("status file {} has no domain", status_path.display()),
            )
        })?;
        let id = roxmltree::Document::parse(&xml)
            .ok()
            .and_then(|d| {
                d.root_element()
                    .attribute("id")
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        let mut live_def = parse_def(&xml)?;
        live_def.id = Some(id);
        console::assign_aliases(&mut live_def);
        let dom = match self.find_uuid(&live_def.uuid) {
            Some(d) => d,
            None => {
                let d = Arc::new(Dom {
                    uuid: live_def.uuid,
                    job: tokio::sync::Mutex::new(()),
                    job_owner: Mutex::new("none"),
                    consoles: Default::default(),
                    st: Mutex::new(DomState {
                        def: DomainDef {
                            id: None,
                            ..live_def.clone()
                        },
                        persistent: false,
                        autostart: false,
                        state: st::SHUTOFF,
                        reason: reason::UNKNOWN,
                        live: None,
                        gone: false,
                    }),
                });
                lock(&self.inner.doms).push(d.clone());
                d
            }
        };
        match QemuProcess::attach(&live_def.name, &status, self.inner.qmp_timeout()).await {
            Ok((proc, events)) => {
                {
                    let mut n = lock(&self.inner.next_id);
                    *n = (*n).max(id + 1);
                }
                let state = state_from_name(&status.state);
                let why = status.reason.parse().unwrap_or(reason::UNKNOWN);
                // QEMU may have changed state while nobody listened.
                let actual = match proc
                    .qmp()
                    .execute("query-status", None, self.inner.qmp_timeout())
                    .await
                {
                    Ok(v) if v["running"].as_bool() == Some(true) => Some(st::RUNNING),
                    Ok(v) if v["status"].as_str() == Some("paused") => Some(st::PAUSED),
                    _ => None,
                };
                let (state, why) = match actual {
                    Some(a) if a != state => (a, reason::UNKNOWN),
                    _ => (state, why),
                };
                // The status file's terminals; a record that lacks them (written before they
                // were kept) is completed from QEMU.
                let mut ptys = status.ptys.clone();
                if console::apply_ptys(&mut live_def, &ptys).is_err() {
                    match self.lookup_ptys(&proc, &mut live_def).await {
                        Ok(p) => ptys = p,
                        Err(e) => eprintln!(
                            "rvirt-qemu: {}: consoles unavailable: {}",
                            live_def.name, e.message
                        ),
                    }
                }
                self.go_live(&dom, live_def, ptys, id, Arc::new(proc), events, state, why);
                Ok(())
            }
            Err(e) => {
                // Dead (or not ours): shut off, reason crashed; clean what it left.
                let _ = std::fs::remove_file(&status.monitor);
                let _ = std::fs::remove_file(&status.pid_file);
                let _ = std::fs::remove_file(status_path);
                let mut s = lock(&dom.st);
                s.state = st::SHUTOFF;
                s.reason = reason::SHUTOFF_CRASHED;
                if !s.persistent {
                    s.gone = true;
                    drop(s);
                    lock(&self.inner.doms).retain(|d| !Arc::ptr_eq(d, &dom));
                }
                Err(e.into())
            }
        }
    }

    async fn autostart(&self) {
        let doms: Vec<Arc<Dom>> = lock(&self.inner.doms).clone();
        for d in doms {
            let want = {
                let s = lock(&d.st);
                s.autostart && s.live.is_none()
            };
            if want {
                let id = d.identity();
                if let Err(e) = self.start(&d, 0).await {
                    eprintln!(
                        "rvirt-qemu: autostart of '{}' failed: {}",
                        id.name, e.message
                    );
                }
            }
        }
    }

    fn find_uuid(&self, uuid: &[u8; 16]) -> Option<Arc<Dom>> {
        lock(&self.inner.doms)
            .iter()
            .find(|d| &d.uuid == uuid)
            .cloned()
    }

    fn find(&self, dom: &DomainRef) -> Result<Arc<Dom>> {
        self.find_uuid(&dom.uuid.0).ok_or_else(|| no_domain(dom))
    }

    fn emit(&self, dom: DomainRef, event: i32, detail: i32) {
        let _ = self
            .inner
            .events
            .send(Event::DomainLifecycle { dom, event, detail });
    }

    /// Takes the domain's job lock, waiting at most [`JOB_WAIT`].
    async fn job<'a>(
        &self,
        d: &'a Dom,
        name: &'static str,
    ) -> Result<tokio::sync::MutexGuard<'a, ()>> {
        match tokio::time::timeout(self.inner.job_wait(), d.job.lock()).await {
            Ok(g) => {
                *lock(&d.job_owner) = name;
                Ok(g)
            }
            Err(_) => {
                let holder = *lock(&d.job_owner);
                Err(Error::new(
                    code::OPERATION_TIMEOUT,
                    errdom::QEMU,
                    format!("cannot acquire state change lock (held by {holder})"),
                ))
            }
        }
    }

    /// Starts an inactive domain (the caller holds its job).
    async fn start(&self, d: &Arc<Dom>, flags: u32) -> Result<()> {
        self.start_def(d, flags, None).await
    }

    /// Starts an inactive domain with `def` as its live definition (its own definition when
    /// `None`).
    async fn start_def(&self, d: &Arc<Dom>, flags: u32, def: Option<DomainDef>) -> Result<()> {
        let def = {
            let s = lock(&d.st);
            if s.live.is_some() {
                return Err(Error::new(
                    code::OPERATION_INVALID,
                    errdom::QEMU,
                    "domain is already running",
                ));
            }
            def.unwrap_or_else(|| s.def.clone())
        };
        // The founding disk rule: every chain resolved before anything is spawned.
        let chains = {
            let def = def.clone();
            tokio::task::spawn_blocking(move || argv::resolve_disks(&def))
                .await
                .map_err(|e| Error::new(code::INTERNAL_ERROR, errdom::QEMU, e.to_string()))??
        };
        let binary = PathBuf::from(
            def.devices
                .emulator
                .clone()
                .unwrap_or_else(|| "/usr/bin/qemu-system-x86_64".into()),
        );
        let caps = self.inner.caps.get(&binary).await.map_err(Error::from)?;
        if def.virt_type == VirtType::Kvm && !caps.kvm_enabled {
            return Err(Error::new(
                code::CONFIG_UNSUPPORTED,
                errdom::QEMU,
                "domain requires KVM, but it is not available. Check that virtualization is \
                 enabled in the host BIOS, and host configuration is setup to load the kvm \
                 modules.",
            ));
        }
        // Tap devices for bridge interfaces, open until QEMU has inherited them.
        let mut taps = Vec::new();
        for (i, n) in def.devices.nets.iter().enumerate() {
            if let xdom::devices::NetSource::Bridge { bridge } = &n.source {
                let template = n.ifname.as_deref().unwrap_or("vnet%d");
                let vnet_hdr = n.model.as_deref() == Some("virtio");
                let tap = crate::tap::create_in_bridge(template, bridge, n.mac.0, vnet_hdr)?;
                taps.push((i, tap));
            }
        }
        let cmd = argv::build(
            &def,
            &chains,
            &ArgvOptions {
                sandbox: caps.sandbox,
                tap_fds: taps.iter().map(|(i, t)| (*i, t.fd.as_raw_fd())).collect(),
            },
        )?;
        let p = &self.inner.paths;
        let name = def.name.clone();
        let cfg = SpawnConfig {
            name: name.clone(),
            binary: cmd.binary.clone(),
            args: cmd.args.iter().map(Into::into).collect(),
            monitor: p.run.join(format!("{name}.monitor")),
            pid_file: p.run.join(format!("{name}.pid")),
            log_file: p.log.join(format!("{name}.log")),
            env: vec![],
            start_timeout: Duration::from_secs(60),
            pass_fds: taps.iter().map(|(_, t)| t.fd.as_raw_fd()).collect(),
        };
        let spawned = QemuProcess::spawn(&cfg).await;
        let tap_names: Vec<(usize, String)> =
            taps.iter().map(|(i, t)| (*i, t.name.clone())).collect();
        // QEMU holds its own copies now (or failed): the devices live as long as it does.
        drop(taps);
        let (proc, events) = spawned?;
        let proc = Arc::new(proc);
        let id = {
            let mut n = lock(&self.inner.next_id);
            let id = *n;
            *n += 1;
            id
        };
        let mut live_def = def.clone();
        live_def.id = Some(id);
        for (i, name) in tap_names {
            live_def.devices.nets[i].ifname = Some(name);
        }
        console::assign_aliases(&mut live_def);
        // Where QEMU put each pty chardev (libvirt asks `query-chardev` at the same point).
        let ptys = match self.lookup_ptys(&proc, &mut live_def).await {
            Ok(p) => p,
            Err(e) => {
                let _ = proc.stop(Duration::from_secs(2)).await;
                proc.cleanup();
                return Err(e);
            }
        };
        let paused = flags & flag::START_PAUSED != 0;
        // Record the process before `cont`, so a crash of ours from here on leaves a status.
        let status_path = p.status_file(&name);
        let write_status = |state: u8, why: i32| {
            let mut s = proc.status();
            s.state = state_name(state).into();
            s.reason = why.to_string();
            s.ptys = ptys.clone();
            s.domain_xml = Some(xdom::format(&live_def, FormatOpts::default()));
            s.save(&status_path)
        };
        let setup = async {
            write_status(st::PAUSED, reason::UNKNOWN)?;
            if !paused {
                proc.qmp()
                    .execute("cont", None, self.inner.qmp_timeout())
                    .await
                    .map_err(Error::from)?;
            }
            Ok::<(), Error>(())
        };
        if let Err(e) = setup.await {
            let _ = proc.stop(Duration::from_secs(2)).await;
            proc.cleanup();
            let _ = std::fs::remove_file(&status_path);
            return Err(e);
        }
        let (state, why) = if paused {
            (st::PAUSED, reason::PAUSED_USER)
        } else {
            (st::RUNNING, reason::RUNNING_BOOTED)
        };
        let _ = write_status(state, why);
        self.go_live(d, live_def, ptys, id, proc, events, state, why);
        let me = d.identity();
        self.emit(me.clone(), lifecycle::STARTED, detail::STARTED_BOOTED);
        if paused {
            self.emit(me, lifecycle::SUSPENDED, detail::SUSPENDED_PAUSED);
        }
        Ok(())
    }

    /// Records a running process and starts its monitor task.
    #[allow(clippy::too_many_arguments)]
    fn go_live(
        &self,
        d: &Arc<Dom>,
        def: DomainDef,
        ptys: BTreeMap<String, String>,
        id: i32,
        proc: Arc<QemuProcess>,
        events: EventReceiver,
        state: u8,
        why: i32,
    ) {
        let (done_tx, done_rx) = watch::channel(false);
        {
            let mut s = lock(&d.st);
            s.state = state;
            s.reason = why;
            s.live = Some(Live {
                def,
                id,
                ptys,
                proc: proc.clone(),
                destroying: false,
                shutdown_seen: false,
                fake_reboot: false,
                done: done_rx,
            });
        }
        let task = Monitor {
            inner: self.inner.clone(),
            dom: d.clone(),
            proc,
        };
        tokio::spawn(task.run(events, done_tx));
    }

    /// Asks QEMU which terminals its `pty` chardevs got and writes them into `def` (no QMP
    /// call when there are none). Returns the chardev id → path map for the status file.
    async fn lookup_ptys(
        &self,
        proc: &QemuProcess,
        def: &mut DomainDef,
    ) -> Result<BTreeMap<String, String>> {
        let d = &def.devices;
        let any_pty = [&d.serials, &d.parallels, &d.consoles, &d.channels]
            .into_iter()
            .flatten()
            .any(|c| c.source.type_ == xdom::devices::ChrSourceType::Pty);
        if !any_pty {
            return Ok(BTreeMap::new());
        }
        let answer = proc
            .qmp()
            .execute("query-chardev", None, self.inner.qmp_timeout())
            .await
            .map_err(Error::from)?;
        let ptys = console::ptys_from_query(&answer);
        console::apply_ptys(def, &ptys)?;
        Ok(ptys)
    }

    /// The running process, or "domain is not running".
    fn live_proc(&self, d: &Dom) -> Result<Arc<QemuProcess>> {
        let s = lock(&d.st);
        s.live
            .as_ref()
            .map(|l| l.proc.clone())
            .ok_or_else(not_running)
    }

    async fn qmp(&self, d: &Dom, cmd: &str, args: Option<serde_json::Value>) -> Result<()> {
        let proc = self.live_proc(d)?;
        proc.qmp()
            .execute(cmd, args, self.inner.qmp_timeout())
            .await
            .map(|_| ())
            .map_err(Error::from)
    }

    fn save_config(&self, def: &DomainDef) -> Result<()> {
        let path = self.inner.paths.config_file(&def.name);
        let text = xdom::format(
            def,
            FormatOpts {
                inactive: true,
                secure: true,
                migratable: false,
            },
        );
        crate::atomic_file::write(&path, text.as_bytes(), 0o600)
            .map_err(|e| io_err("write configuration file", &path, e))
    }

    /// Adds or replaces a definition (`virDomainObjListAdd`'s rules). Returns the domain and, when
    /// it existed, its previous definition and persistence (for a rollback). Starting a transient
    /// definition over an inactive persistent domain leaves the persistent definition alone.
    #[allow(clippy::type_complexity)]
    fn add_def(
        &self,
        def: DomainDef,
        persistent: bool,
    ) -> Result<(Arc<Dom>, Option<(DomainDef, bool)>)> {
        let mut doms = lock(&self.inner.doms);
        if let Some(d) = doms.iter().find(|d| d.uuid == def.uuid).cloned() {
            let mut s = lock(&d.st);
            if s.def.name != def.name {
                return Err(Error::new(
                    code::OPERATION_FAILED,
                    errdom::DOMAIN,
                    format!(
                        "domain '{}' is already defined with uuid {}",
                        s.def.name,
                        xdom::uuid_format(&s.def.uuid)
                    ),
                ));
            }
            if !persistent {
                if s.live.is_some() {
                    return Err(Error::new(
                        code::OPERATION_INVALID,
                        errdom::DOMAIN,
                        format!("domain '{}' is already active", s.def.name),
                    ));
                }
                if !s.persistent {
                    return Err(Error::new(
                        code::OPERATION_INVALID,
                        errdom::DOMAIN,
                        format!("domain '{}' is already being started", s.def.name),
                    ));
                }
            }
            let old = (s.def.clone(), s.persistent);
            if persistent {
                s.def = def;
                s.persistent = true;
            }
            drop(s);
            return Ok((d, Some(old)));
        }
        if let Some(d) = doms.iter().find(|d| lock(&d.st).def.name == def.name) {
            return Err(Error::new(
                code::OPERATION_FAILED,
                errdom::DOMAIN,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name,
                    xdom::uuid_format(&d.uuid)
                ),
            ));
        }
        let d = Arc::new(Dom {
            uuid: def.uuid,
            job: tokio::sync::Mutex::new(()),
            job_owner: Mutex::new("none"),
            consoles: Default::default(),
            st: Mutex::new(DomState {
                def,
                persistent,
                autostart: false,
                state: st::SHUTOFF,
                reason: reason::UNKNOWN,
                live: None,
                gone: false,
            }),
        });
        doms.push(d.clone());
        Ok((d, None))
    }

    fn remove(&self, d: &Arc<Dom>) {
        lock(&d.st).gone = true;
        lock(&self.inner.doms).retain(|x| !Arc::ptr_eq(x, d));
    }

    /// Stops a domain for destroy: SIGTERM, SIGKILL after the grace period (unless graceful).
    async fn destroy_inner(&self, d: &Arc<Dom>, graceful: bool) -> Result<()> {
        // The monitor task's completion signal is taken now: once the process is gone the task
        // clears `live` before it reports STOPPED, and destroy must return after that report.
        let (proc, mut done) = {
            let mut s = lock(&d.st);
            let Some(l) = s.live.as_mut() else {
                return Err(not_running());
            };
            l.destroying = true;
            (l.proc.clone(), l.done.clone())
        };
        if graceful {
            proc.stop(Duration::from_secs(3600)).await?;
        } else {
            proc.stop(DESTROY_GRACE).await?;
        }
        let _ = done.wait_for(|v| *v).await;
        Ok(())
    }
}

/// The per-process task: QMP events and the process's exit → state and lifecycle events.
struct Monitor {
    inner: Arc<Inner>,
    dom: Arc<Dom>,
    proc: Arc<QemuProcess>,
}

impl Monitor {
    fn emit(&self, event: i32, detail: i32) {
        let dom = self.dom.identity();
        let _ = self
            .inner
            .events
            .send(Event::DomainLifecycle { dom, event, detail });
    }

    fn save_status(&self) {
        save_status(&self.inner.paths, &self.dom);
    }

    async fn run(self, mut events: EventReceiver, done: watch::Sender<bool>) {
        let mut closing = self.inner.closing.subscribe();
        let proc = self.proc.clone();
        let mut monitor_open = true;
        loop {
            tokio::select! {
                ev = events.recv(), if monitor_open => match ev {
                    Some(ev) => self.on_event(ev.event).await,
                    // Monitor gone: the process is exiting; wait for it.
                    None => monitor_open = false,
                },
                _ = proc.wait() => break,
                _ = async { let _ = closing.wait_for(|c| *c).await; } => return,
            }
        }
        // Drain what QEMU said before exiting (the SHUTDOWN event races the exit).
        while let Ok(ev) = events.try_recv() {
            self.on_event(ev.event).await;
        }
        self.finish();
        let _ = done.send(true);
    }

    async fn on_event(&self, ev: QmpEv) {
        match ev {
            QmpEv::Stop => {
                let changed = {
                    let mut s = lock(&self.dom.st);
                    let reboot = s.live.as_ref().is_some_and(|l| l.fake_reboot);
                    if s.state == st::RUNNING && !reboot {
                        s.state = st::PAUSED;
                        s.reason = reason::UNKNOWN;
                        true
                    } else {
                        false
                    }
                };
                if changed {
                    self.save_status();
                    self.emit(lifecycle::SUSPENDED, detail::SUSPENDED_PAUSED);
                }
            }
            QmpEv::Resume => {
                let changed = {
                    let mut s = lock(&self.dom.st);
                    // The `cont` that ends a reboot: the domain never stopped running.
                    if let Some(l) = s.live.as_mut().filter(|l| l.fake_reboot) {
                        l.fake_reboot = false;
                        return;
                    }
                    if s.state == st::PAUSED {
                        s.state = st::RUNNING;
                        s.reason = reason::RUNNING_UNPAUSED;
                        true
                    } else {
                        false
                    }
                };
                if changed {
                    self.save_status();
                    self.emit(lifecycle::RESUMED, detail::RESUMED_UNPAUSED);
                }
            }
            QmpEv::Shutdown { guest, reason: why } => {
                let (emit, reboot) = {
                    let mut s = lock(&self.dom.st);
                    let Some(l) = s.live.as_mut() else { return };
                    if l.fake_reboot {
                        (false, true)
                    } else if l.destroying || l.shutdown_seen {
                        l.shutdown_seen = true;
                        (false, false)
                    } else {
                        l.shutdown_seen = true;
                        s.state = st::SHUTDOWN;
                        s.reason = reason::UNKNOWN;
                        (true, false)
                    }
                };
                if reboot {
                    self.finish_reboot().await;
                } else if emit {
                    let d = if guest {
                        detail::SHUTDOWN_GUEST
                    } else if why.starts_with("host") {
                        detail::SHUTDOWN_HOST
                    } else {
                        detail::SHUTDOWN_FINISHED
                    };
                    self.save_status();
                    self.emit(lifecycle::SHUTDOWN, d);
                }
            }
            QmpEv::Reset { .. } => {
                let dom = self.dom.identity();
                let _ = self.inner.events.send(Event::DomainReboot { dom });
            }
            _ => {}
        }
    }

    /// The guest powered off for a reboot: reset it, restore the shutdown action, resume.
    async fn finish_reboot(&self) {
        let q = self.proc.qmp();
        let _ = q
            .execute("system_reset", None, self.inner.qmp_timeout())
            .await;
        let _ = q
            .execute(
                "set-action",
                Some(json!({"shutdown": "poweroff"})),
                self.inner.qmp_timeout(),
            )
            .await;
        // fake_reboot stays set until the RESUME this `cont` causes, so the STOP that QEMU
        // reports after SHUTDOWN is not taken for a suspend.
        let _ = q.execute("cont", None, self.inner.qmp_timeout()).await;
    }

    /// The process exited: shut off with the reason its end implies.
    fn finish(&self) {
        self.proc.cleanup();
        let (why, det, name, transient) = {
            let mut s = lock(&self.dom.st);
            let Some(l) = s.live.take() else { return };
            let (why, det) = if l.destroying {
                (reason::SHUTOFF_DESTROYED, detail::STOPPED_DESTROYED)
            } else if l.shutdown_seen {
                (reason::SHUTOFF_SHUTDOWN, detail::STOPPED_SHUTDOWN)
            } else {
                (reason::SHUTOFF_CRASHED, detail::STOPPED_CRASHED)
            };
            s.state = st::SHUTOFF;
            s.reason = why;
            (why, det, s.def.name.clone(), !s.persistent)
        };
        let _ = std::fs::remove_file(self.inner.paths.status_file(&name));
        let dom = self.dom.identity();
        if transient {
            lock(&self.dom.st).gone = true;
            lock(&self.inner.doms).retain(|x| !Arc::ptr_eq(x, &self.dom));
        }
        let _ = why;
        let _ = self.inner.events.send(Event::DomainLifecycle {
            dom,
            event: lifecycle::STOPPED,
            detail: det,
        });
    }
}

/// Rewrites a running domain's live status file with its current state.
fn save_status(paths: &DriverPaths, dom: &Dom) {
    let s = lock(&dom.st);
    if let Some(l) = &s.live {
        let mut rec = l.proc.status();
        rec.state = state_name(s.state).into();
        rec.reason = s.reason.to_string();
        rec.ptys = l.ptys.clone();
        rec.domain_xml = Some(xdom::format(&l.def, FormatOpts::default()));
        if let Err(e) = rec.save(&paths.status_file(&s.def.name)) {
            eprintln!("rvirt-qemu: {e}");
        }
    }
}

fn matches_filter(s: &DomState, f: u32) -> bool {
    use list_domains::*;
    let any = |mask: u32| f & mask != 0;
    let active = s.live.is_some();
    if any(ACTIVE | INACTIVE) && !((any(ACTIVE) && active) || (any(INACTIVE) && !active)) {
        return false;
    }
    if any(PERSISTENT | TRANSIENT)
        && !((any(PERSISTENT) && s.persistent) || (any(TRANSIENT) && !s.persistent))
    {
        return false;
    }
    if any(RUNNING | PAUSED | SHUTOFF | OTHER) {
        let st = s.state;
        let ok = (any(RUNNING) && st == st::RUNNING)
            || (any(PAUSED) && st == st::PAUSED)
            || (any(SHUTOFF) && st == st::SHUTOFF)
            || (any(OTHER) && st != st::RUNNING && st != st::PAUSED && st != st::SHUTOFF);
        if !ok {
            return false;
        }
    }
    if any(MANAGEDSAVE | NO_MANAGEDSAVE) && !any(NO_MANAGEDSAVE) {
        return false;
    }
    if any(AUTOSTART | NO_AUTOSTART)
        && !((any(AUTOSTART) && s.autostart) || (any(NO_AUTOSTART) && !s.autostart))
    {
        return false;
    }
    if any(HAS_SNAPSHOT | NO_SNAPSHOT) && !any(NO_SNAPSHOT) {
        return false;
    }
    if any(HAS_CHECKPOINT | NO_CHECKPOINT) && !any(NO_CHECKPOINT) {
        return false;
    }
    true
}

#[async_trait]
impl rvirt::Driver for QemuDriver {
    async fn connect_get_type(&self) -> Result<String> {
        Ok("QEMU".into())
    }

    async fn connect_get_uri(&self) -> Result<String> {
        Ok(self.inner.uri.clone())
    }

    async fn connect_get_hostname(&self) -> Result<String> {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
        let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if r != 0 {
            return Err(Error::new(
                code::SYSTEM_ERROR,
                errdom::NONE,
                format!(
                    "failed to determine host name: {}",
                    std::io::Error::last_os_error()
                ),
            ));
        }
        let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    async fn connect_get_version(&self) -> Result<u64> {
        let caps = self.default_caps().await?;
        Ok(caps.version_number())
    }

    async fn connect_get_capabilities(&self) -> Result<String> {
        let mut guests = Vec::new();
        for b in caps::find_binaries() {
            if let Ok(c) = self.inner.caps.get(&b).await {
                guests.push(c);
            }
        }
        let host = tokio::task::spawn_blocking(crate::host::HostInfo::probe)
            .await
            .map_err(|e| Error::new(code::INTERNAL_ERROR, errdom::QEMU, e.to_string()))?;
        Ok(crate::capabilities_xml::capabilities(&host, &guests))
    }

    async fn connect_get_domain_capabilities(
        &self,
        emulatorbin: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        check_flags(flags, 0, "qemuConnectGetDomainCapabilities")?;
        let caps = self
            .domain_caps_lookup(emulatorbin, arch, machine, virttype)
            .await?;
        Ok(caps.format())
    }

    async fn list_all_domains(&self, flags: u32) -> Result<Vec<DomainRef>> {
        let doms = lock(&self.inner.doms).clone();
        Ok(doms
            .iter()
            .filter_map(|d| {
                let s = lock(&d.st);
                matches_filter(&s, flags).then(|| ident(&s))
            })
            .collect())
    }

    async fn list_domain_ids(&self, max: i32) -> Result<Vec<i32>> {
        let doms = lock(&self.inner.doms).clone();
        Ok(doms
            .iter()
            .filter_map(|d| lock(&d.st).live.as_ref().map(|l| l.id))
            .take(max.max(0) as usize)
            .collect())
    }

    async fn num_of_domains(&self) -> Result<i32> {
        Ok(self.list_domain_ids(i32::MAX).await?.len() as i32)
    }

    async fn list_defined_domains(&self, max: i32) -> Result<Vec<String>> {
        let doms = lock(&self.inner.doms).clone();
        Ok(doms
            .iter()
            .filter_map(|d| {
                let s = lock(&d.st);
                s.live.is_none().then(|| s.def.name.clone())
            })
            .take(max.max(0) as usize)
            .collect())
    }

    async fn num_of_defined_domains(&self) -> Result<i32> {
        Ok(self.list_defined_domains(i32::MAX).await?.len() as i32)
    }

    async fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let doms = lock(&self.inner.doms).clone();
        doms.iter()
            .find(|d| lock(&d.st).live.as_ref().is_some_and(|l| l.id == id))
            .map(|d| d.identity())
            .ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    errdom::QEMU,
                    format!("no domain with matching id {id}"),
                )
            })
    }

    async fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let doms = lock(&self.inner.doms).clone();
        doms.iter()
            .find(|d| lock(&d.st).def.name == name)
            .map(|d| d.identity())
            .ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    errdom::QEMU,
                    format!("no domain with matching name '{name}'"),
                )
            })
    }

    async fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.find_uuid(&uuid.0)
            .map(|d| d.identity())
            .ok_or_else(|| {
                Error::new(
                    code::NO_DOMAIN,
                    errdom::QEMU,
                    format!("no domain with matching uuid '{}'", uuid_to_string(uuid)),
                )
            })
    }

    async fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, flag::DEFINE_VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = parse_def(xml)?;
        let (d, old) = self.add_def(def.clone(), true)?;
        if let Err(e) = self.save_config(&def) {
            match old {
                Some((old_def, was_persistent)) => {
                    let mut s = lock(&d.st);
                    s.def = old_def;
                    s.persistent = was_persistent;
                }
                None => self.remove(&d),
            }
            return Err(e);
        }
        let replaced = old.is_some();
        let me = d.identity();
        self.emit(
            me.clone(),
            lifecycle::DEFINED,
            if replaced {
                detail::DEFINED_UPDATED
            } else {
                detail::DEFINED_ADDED
            },
        );
        Ok(me)
    }

    async fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, flag::UNDEFINE_ALL, "qemuDomainUndefineFlags")?;
        let d = self.find(dom)?;
        let _job = self.job(&d, "undefine").await?;
        let (name, active) = {
            let s = lock(&d.st);
            if !s.persistent {
                return Err(Error::new(
                    code::OPERATION_INVALID,
                    errdom::QEMU,
                    "cannot undefine transient domain",
                ));
            }
            (s.def.name.clone(), s.live.is_some())
        };
        let p = &self.inner.paths;
        let _ = std::fs::remove_file(p.autostart_link(&name));
        let cfg = p.config_file(&name);
        if let Err(e) = std::fs::remove_file(&cfg) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(io_err("remove config", &cfg, e));
            }
        }
        let me = d.identity();
        {
            let mut s = lock(&d.st);
            s.autostart = false;
            s.persistent = false;
        }
        if !active {
            self.remove(&d);
        }
        self.emit(me, lifecycle::UNDEFINED, detail::UNDEFINED_REMOVED);
        Ok(())
    }

    async fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        check_flags(
            flags,
            flag::START_PAUSED | flag::START_AUTODESTROY | flag::START_VALIDATE,
            "qemuDomainCreateWithFlags",
        )?;
        let d = self.find(dom)?;
        let _job = self.job(&d, "start").await?;
        if lock(&d.st).gone {
            return Err(no_domain(dom));
        }
        self.start(&d, flags).await?;
        Ok(d.identity())
    }

    async fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(
            flags,
            flag::START_PAUSED | flag::START_AUTODESTROY | flag::START_VALIDATE,
            "qemuDomainCreateXML",
        )?;
        let def = parse_def(xml)?;
        let (d, _) = self.add_def(def.clone(), false)?;
        let _job = self.job(&d, "create").await?;
        if let Err(e) = self.start_def(&d, flags, Some(def)).await {
            if !lock(&d.st).persistent {
                self.remove(&d);
            }
            return Err(e);
        }
        Ok(d.identity())
    }

    async fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, flag::DESTROY_GRACEFUL, "qemuDomainDestroyFlags")?;
        let d = self.find(dom)?;
        // Destroy does not wait for a hung job: it kills first, as libvirt does.
        self.destroy_inner(&d, flags & flag::DESTROY_GRACEFUL != 0)
            .await
    }

    async fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0x1f, "qemuDomainShutdownFlags")?;
        let d = self.find(dom)?;
        let _job = self.job(&d, "shutdown").await?;
        self.qmp(&d, "system_powerdown", None).await
    }

    async fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0x1f, "qemuDomainReboot")?;
        let d = self.find(dom)?;
        let _job = self.job(&d, "reboot").await?;
        let proc = self.live_proc(&d)?;
        // libvirt's "fake reboot": the guest powers off by ACPI, QEMU pauses instead of
        // exiting, the monitor task resets and resumes it.
        proc.qmp()
            .execute(
                "set-action",
                Some(json!({"shutdown": "pause"})),
                self.inner.qmp_timeout(),
            )
            .await?;
        if let Some(l) = lock(&d.st).live.as_mut() {
            l.fake_reboot = true;
        }
        self.qmp(&d, "system_powerdown", None).await
    }

    async fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainReset")?;
        let d = self.find(dom)?;
        let _job = self.job(&d, "reset").await?;
        self.qmp(&d, "system_reset", None).await
    }

    async fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        let d = self.find(dom)?;
        let _job = self.job(&d, "suspend").await?;
        self.qmp(&d, "stop", None).await?;
        let changed = {
            let mut s = lock(&d.st);
            if s.live.is_some() && s.state != st::PAUSED {
                s.state = st::PAUSED;
                s.reason = reason::PAUSED_USER;
                true
            } else {
                if s.state == st::PAUSED {
                    s.reason = reason::PAUSED_USER;
                }
                false
            }
        };
        save_status(&self.inner.paths, &d);
        if changed {
            self.emit(d.identity(), lifecycle::SUSPENDED, detail::SUSPENDED_PAUSED);
        }
        Ok(())
    }

    async fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        let d = self.find(dom)?;
        let _job = self.job(&d, "resume").await?;
        self.qmp(&d, "cont", None).await?;
        let changed = {
            let mut s = lock(&d.st);
            if s.live.is_some() && s.state == st::PAUSED {
                s.state = st::RUNNING;
                s.reason = reason::RUNNING_UNPAUSED;
                true
            } else {
                false
            }
        };
        save_status(&self.inner.paths, &d);
        if changed {
            self.emit(d.identity(), lifecycle::RESUMED, detail::RESUMED_UNPAUSED);
        }
        Ok(())
    }

    async fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let d = self.find(dom)?;
        let s = lock(&d.st);
        let def = s.live.as_ref().map_or(&s.def, |l| &l.def);
        Ok(DomainInfo {
            state: s.state,
            max_mem: def.memory.total,
            memory: if s.live.is_some() {
                def.memory.current.max(1).min(def.memory.total)
            } else {
                def.memory.current
            },
            nr_virt_cpu: def.vcpus.current as u16,
            cpu_time: s.live.as_ref().map_or(0, |l| cpu_time_ns(l.proc.pid())),
        })
    }

    async fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<(i32, i32)> {
        check_flags(flags, 0, "qemuDomainGetState")?;
        let d = self.find(dom)?;
        let s = lock(&d.st);
        Ok((s.state as i32, s.reason))
    }

    async fn domain_get_xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(flags, flag::XML_ALL, "qemuDomainGetXMLDesc")?;
        let d = self.find(dom)?;
        let s = lock(&d.st);
        let def = match &s.live {
            Some(l) if flags & flag::XML_INACTIVE == 0 => &l.def,
            _ => &s.def,
        };
        if flags & (flag::XML_UPDATE_CPU | flag::XML_MIGRATABLE) == 0 {
            return Ok(xdom::format(def, FormatOpts::from_flags(flags)));
        }
        let mut def = def.clone();
        if flags & flag::XML_UPDATE_CPU != 0 {
            crate::xml_flags::update_cpu(&mut def)?;
        }
        if flags & flag::XML_MIGRATABLE != 0 {
            crate::xml_flags::make_migratable(&mut def);
        }
        Ok(xdom::format(&def, FormatOpts::from_flags(flags)))
    }

    async fn domain_get_autostart(&self, dom: &DomainRef) -> Result<bool> {
        let d = self.find(dom)?;
        let a = lock(&d.st).autostart;
        Ok(a)
    }

    async fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        let d = self.find(dom)?;
        let _job = self.job(&d, "autostart").await?;
        let (name, persistent) = {
            let s = lock(&d.st);
            (s.def.name.clone(), s.persistent)
        };
        if !persistent {
            return Err(Error::new(
                code::OPERATION_INVALID,
                errdom::QEMU,
                "cannot set autostart for transient domain",
            ));
        }
        let p = &self.inner.paths;
        let link = p.autostart_link(&name);
        if autostart {
            let dir = p.config.join("autostart");
            std::fs::create_dir_all(&dir).map_err(|e| io_err("create directory", &dir, e))?;
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(p.config_file(&name), &link)
                .map_err(|e| io_err("create symlink", &link, e))?;
        } else if let Err(e) = std::fs::remove_file(&link) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(io_err("delete symlink", &link, e));
            }
        }
        lock(&d.st).autostart = autostart;
        Ok(())
    }

    async fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        let d = self.find(dom)?;
        let t = lock(&d.st).def.os.type_.as_str().to_string();
        Ok(t)
    }

    async fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        let d = self.find(dom)?;
        let m = lock(&d.st).def.memory.total;
        Ok(m)
    }

    async fn domain_get_vcpus_flags(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        check_flags(
            flags,
            1 | 2 | flag::VCPU_MAXIMUM | 8 | 16,
            "qemuDomainGetVcpusFlags",
        )?;
        let d = self.find(dom)?;
        let s = lock(&d.st);
        let def = match &s.live {
            Some(l) if flags & 2 == 0 => &l.def,
            _ => &s.def,
        };
        Ok(if flags & flag::VCPU_MAXIMUM != 0 {
            def.vcpus.max
        } else {
            def.vcpus.current
        } as i32)
    }

    async fn domain_is_active(&self, dom: &DomainRef) -> Result<bool> {
        let d = self.find(dom)?;
        let a = lock(&d.st).live.is_some();
        Ok(a)
    }

    async fn domain_is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        let d = self.find(dom)?;
        let p = lock(&d.st).persistent;
        Ok(p)
    }

    async fn domain_is_updated(&self, dom: &DomainRef) -> Result<bool> {
        self.find(dom)?;
        Ok(false)
    }

    async fn domain_has_managed_save_image(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainHasManagedSaveImage")?;
        self.find(dom)?;
        Ok(false)
    }

    async fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<rvirt::stream::DuplexStream> {
        check_flags(flags, flag::CONSOLE_ALL, "qemuDomainOpenConsole")?;
        let d = self.find(dom)?;
        // No job: like libvirt, a console opens beside whatever else runs on the domain.
        let path = {
            let s = lock(&d.st);
            let Some(l) = &s.live else {
                return Err(not_running());
            };
            console::find_console(&l.def, dev_name)?
        };
        let force = flags & rvirt::driver::console_flags::FORCE != 0;
        d.consoles.open(&path, force).map_err(Error::from)
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Event>> {
        Some(self.inner.events.subscribe())
    }
}

impl QemuDriver {
    /// Changes the QMP command timeout and the job-lock wait (tests use short ones).
    pub fn set_timeouts(&self, qmp: Duration, job_wait: Duration) {
        *lock(&self.inner.timeouts) = (qmp, job_wait);
    }

    async fn default_caps(&self) -> Result<Arc<caps::QemuCaps>> {
        let bin = caps::find_in_path("qemu-system-x86_64").ok_or_else(|| {
            Error::new(
                code::INTERNAL_ERROR,
                errdom::QEMU,
                "Cannot find QEMU binary qemu-system-x86_64: No such file or directory \
                 (scripts/install-qemu.sh installs it)",
            )
        })?;
        self.inner.caps.get(&bin).await.map_err(Error::from)
    }

    /// The log file of domain `name` (QEMU's stdout/stderr and the command line it ran).
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.inner.paths.log.join(format!("{name}.log"))
    }

    /// The driver's directories.
    pub fn paths(&self) -> &DriverPaths {
        &self.inner.paths
    }

    /// The pid of a running domain's QEMU.
    pub fn pid(&self, dom: &DomainRef) -> Option<i32> {
        let d = self.find(dom).ok()?;
        let s = lock(&d.st);
        s.live.as_ref().map(|l| l.proc.pid())
    }
}
