//! Capability probing of `qemu-system-*` binaries, and the on-disk cache that spares a restarted
//! daemon from probing again.
//!
//! A probe starts the binary with `-S -no-user-config -nodefaults -nographic -machine none`
//! through [`crate::process`] and asks over QMP for its version, target architecture, KVM state,
//! machine types, CPU models, QOM types (devices, accelerators, backends), commands and
//! command-line options. When KVM is usable, a second process with `-accel tcg` runs beside the
//! first, because CPU model usability differs between accelerators (domain type `qemu` uses the
//! TCG answers, type `kvm` the KVM ones), as libvirt also probes both.
//!
//! [`CapsCache`] keeps one JSON file per binary in a cache directory, keyed by the binary's
//! path, mtime and ctime, the QEMU module directory's mtime, whether `/dev/kvm` is usable, and
//! rvirt's own version and cache format. Files are written atomically; an unreadable or stale
//! file simply causes a new probe.

use crate::process::{ProcessError, QemuProcess, SpawnConfig};
use crate::qmp::{Qmp, QmpError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bumped whenever [`QemuCaps`] changes shape or meaning, invalidating old cache files.
const CACHE_FORMAT: u32 = 2;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where QEMU's loadable modules live (a change there changes the available types).
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/qemu",
    "/usr/lib64/qemu",
    "/usr/lib/qemu",
];

/// What can go wrong probing a binary.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// The binary cannot be inspected.
    #[error("Cannot check QEMU binary {binary}: {reason}")]
    Binary {
        /// The binary.
        binary: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// The probe process failed.
    #[error("Failed to probe capabilities for {binary}")]
    Start {
        /// The binary.
        binary: PathBuf,
        /// Why.
        #[source]
        source: ProcessError,
    },
    /// A query failed.
    #[error("Failed to probe capabilities for {binary}: '{query}' failed")]
    Query {
        /// The binary.
        binary: PathBuf,
        /// The QMP command.
        query: &'static str,
        /// Why.
        #[source]
        source: QmpError,
    },
    /// The binary answered something we cannot use.
    #[error("Failed to probe capabilities for {binary}: {detail}")]
    Invalid {
        /// The binary.
        binary: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A probe scratch directory could not be made.
    #[error(
        "cannot create probe directory {path}: {reason}; check the cache directory's permissions"
    )]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// A request names something the binary does not have.
    #[error("{0}")]
    Unsupported(String),
}

impl From<CapsError> for rvirt::Error {
    fn from(e: CapsError) -> Self {
        use rvirt::error::{code, domain};
        let c = match &e {
            CapsError::Binary { .. } | CapsError::Scratch { .. } => code::SYSTEM_ERROR,
            CapsError::Unsupported(_) => code::INVALID_ARG,
            _ => code::INTERNAL_ERROR,
        };
        // The libvirt error carries one message: the chain, outermost first.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        rvirt::Error::new(c, domain::QEMU, msg)
    }
}

/// A machine type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Canonical name, e.g. `pc-q35-10.0`.
    pub name: String,
    /// Alias, e.g. `q35`.
    pub alias: Option<String>,
    /// QEMU's default machine.
    pub is_default: bool,
    /// Maximum vCPUs.
    pub cpu_max: u32,
    /// Deprecated by QEMU.
    pub deprecated: bool,
    /// Default CPU QOM type.
    pub default_cpu_type: Option<String>,
    /// Default RAM backend id.
    pub default_ram_id: Option<String>,
    /// vCPU hotplug.
    pub hotpluggable_cpus: bool,
    /// Whether `-numa node,mem=` is still accepted.
    pub numa_mem_supported: bool,
    /// ACPI support (QEMU ≥ 8.0 reports it).
    pub acpi: Option<bool>,
}

/// A CPU model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuModel {
    /// Name, e.g. `Skylake-Client`.
    pub name: String,
    /// Features the accelerator cannot provide; empty means usable.
    pub unavailable_features: Vec<String>,
    /// QOM type name.
    pub typename: String,
    /// `static` (never changes across machine types).
    pub is_static: bool,
    /// Migration-safe.
    pub migration_safe: bool,
    /// Deprecated by QEMU.
    pub deprecated: bool,
    /// The versioned model this name is an alias of (e.g. `Skylake-Client-v1`).
    pub alias_of: Option<String>,
}

impl CpuModel {
    /// Usable with the accelerator it was probed under.
    pub fn usable(&self) -> bool {
        self.unavailable_features.is_empty()
    }
}

/// Everything rvirt knows about one QEMU binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuCaps {
    /// The binary.
    pub binary: PathBuf,
    /// (major, minor, micro).
    pub version: (u32, u32, u32),
    /// Distribution package string.
    pub package: String,
    /// Target architecture as libvirt names it (`x86_64`, `i686`, `aarch64`, …).
    pub arch: String,
    /// KVM compiled in and `/dev/kvm` opened.
    pub kvm_present: bool,
    /// KVM usable for guests (QEMU initialized the kvm accelerator).
    pub kvm_enabled: bool,
    /// Accelerators compiled in (`tcg`, `kvm`, `xen`, `qtest`, …).
    pub accelerators: Vec<String>,
    /// Machine types in QEMU's order, without `none`.
    pub machines: Vec<Machine>,
    /// CPU models as usable under TCG.
    pub cpu_models_tcg: Vec<CpuModel>,
    /// CPU models as usable under KVM (empty when KVM is not usable).
    pub cpu_models_kvm: Vec<CpuModel>,
    /// Every QOM type name.
    pub types: BTreeSet<String>,
    /// Device type names (QOM types implementing `device`).
    pub devices: BTreeSet<String>,
    /// QMP command names.
    pub commands: BTreeSet<String>,
    /// `-sandbox` is available (seccomp built in).
    pub sandbox: bool,
    /// `-blockdev` is available.
    pub blockdev: bool,
    /// `-spice` is available (the SPICE module is installed).
    pub spice: bool,
    /// Display backends compiled in (the `DisplayType` enum of the QMP schema: `none`, `vnc`,
    /// `sdl`, `egl-headless`, `dbus`, …).
    pub display_types: Vec<String>,
    /// How long the probe took, in milliseconds.
    pub probe_ms: u64,
}

impl QemuCaps {
    /// Version as libvirt's integer (`10000002` for 10.0.2).
    pub fn version_number(&self) -> u64 {
        let (a, b, c) = self.version;
        a as u64 * 1_000_000 + b as u64 * 1_000 + c as u64
    }

    /// Whether QEMU has the QOM type `name`.
    pub fn has_type(&self, name: &str) -> bool {
        self.types.contains(name)
    }

    /// Whether QEMU has the QMP command `name`.
    pub fn has_command(&self, name: &str) -> bool {
        self.commands.contains(name)
    }

    /// The machine libvirt would pick when the XML names none: `pc` on x86 (libvirt's historical
    /// preference), `virt` on Arm/RISC-V, else QEMU's default; returned canonical.
    pub fn default_machine(&self) -> Option<&Machine> {
        let preferred = match self.arch.as_str() {
            "i686" | "x86_64" => Some("pc"),
            "aarch64" | "armv7l" | "riscv64" | "riscv32" => Some("virt"),
            "s390x" => Some("s390-ccw-virtio"),
            "ppc64" | "ppc64le" => Some("pseries"),
            _ => None,
        };
        preferred
            .and_then(|p| {
                self.machines
                    .iter()
                    .find(|m| m.name == p || m.alias.as_deref() == Some(p))
            })
            .or_else(|| self.machines.iter().find(|m| m.is_default))
            .or_else(|| self.machines.first())
    }

    /// Resolves a machine name or alias.
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.name == name).or_else(|| {
            self.machines
                .iter()
                .find(|m| m.alias.as_deref() == Some(name))
        })
    }

    /// The CPU models for a domain type (`qemu` → TCG, `kvm` → KVM).
    pub fn cpu_models(&self, virt_type: &str) -> &[CpuModel] {
        if virt_type == "kvm" {
            &self.cpu_models_kvm
        } else {
            &self.cpu_models_tcg
        }
    }
}

/// libvirt's architecture name for a QEMU target.
fn libvirt_arch(target: &str) -> String {
    match target {
        "i386" => "i686".into(),
        "arm" => "armv7l".into(),
        "ppc" => "ppc".into(),
        other => other.into(),
    }
}

/// Whether `/dev/kvm` can be opened for reading and writing by us.
pub fn kvm_device_usable() -> bool {
    // SAFETY: access() reads the NUL-terminated path literal only.
    unsafe { libc::access(c"/dev/kvm".as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}

static PROBE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Probes `binary`, using `scratch` (an existing directory) for the probe processes' sockets,
/// pid and log files, which are removed afterwards.
pub async fn probe(binary: &Path, scratch: &Path) -> Result<QemuCaps, CapsError> {
    let t0 = Instant::now();
    let dir = scratch.join(format!(
        ".probe-{}-{}",
        std::process::id(),
        PROBE_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| CapsError::Scratch {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    let kvm = kvm_device_usable();
    let result = if kvm {
        let (a, b) = tokio::join!(
            probe_one(binary, &dir, "main", true),
            probe_one(binary, &dir, "tcg", false)
        );
        match (a, b) {
            (Ok(mut main), Ok(tcg)) => {
                main.cpu_models_kvm = std::mem::take(&mut main.cpu_models_tcg);
                main.cpu_models_tcg = tcg.cpu_models_tcg;
                if !main.kvm_enabled {
                    main.cpu_models_kvm.clear();
                }
                Ok(main)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    } else {
        probe_one(binary, &dir, "main", false).await
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut caps = result?;
    caps.probe_ms = t0.elapsed().as_millis() as u64;
    Ok(caps)
}

async fn probe_one(
    binary: &Path,
    dir: &Path,
    tag: &str,
    with_kvm: bool,
) -> Result<QemuCaps, CapsError> {
    let mut args: Vec<std::ffi::OsString> = [
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-nographic",
        "-machine",
        "none",
    ]
    .iter()
    .map(Into::into)
    .collect();
    if with_kvm {
        args.extend(["-accel".into(), "kvm".into()]);
    }
    args.extend(["-accel".into(), "tcg".into()]);
    let cfg = SpawnConfig {
        name: format!("capabilities probe of {}", binary.display()),
        binary: binary.to_path_buf(),
        args,
        monitor: dir.join(format!("{tag}.monitor")),
        pid_file: dir.join(format!("{tag}.pid")),
        log_file: dir.join(format!("{tag}.log")),
        env: vec![],
        start_timeout: PROBE_TIMEOUT,
        pass_fds: vec![],
    };
    let (proc_, _events) = QemuProcess::spawn(&cfg)
        .await
        .map_err(|source| CapsError::Start {
            binary: binary.to_path_buf(),
            source,
        })?;
    let result = query_all(binary, proc_.qmp()).await;
    // Done: ask QEMU to quit, and make sure it does.
    let _ = proc_
        .qmp()
        .execute("quit", None, Duration::from_secs(5))
        .await;
    if tokio::time::timeout(Duration::from_secs(5), proc_.wait())
        .await
        .is_err()
    {
        let _ = proc_.stop(Duration::from_secs(1)).await;
    }
    proc_.cleanup();
    result
}

async fn query_all(binary: &Path, qmp: &Qmp) -> Result<QemuCaps, CapsError> {
    let q = |query: &'static str, args: Option<Value>| async move {
        qmp.execute(query, args, PROBE_TIMEOUT)
            .await
            .map_err(|source| CapsError::Query {
                binary: binary.to_path_buf(),
                query,
                source,
            })
    };
    let invalid = |detail: &str| CapsError::Invalid {
        binary: binary.to_path_buf(),
        detail: detail.to_string(),
    };
    let g = qmp.greeting();
    let target = q("query-target", None).await?;
    let arch = target["arch"]
        .as_str()
        .ok_or_else(|| invalid("query-target has no arch"))?;
    let kvm = q("query-kvm", None).await?;

    let machines: Vec<Machine> = q("query-machines", None)
        .await?
        .as_array()
        .ok_or_else(|| invalid("query-machines did not return a list"))?
        .iter()
        .filter(|m| m["name"] != "none")
        .map(|m| Machine {
            name: m["name"].as_str().unwrap_or_default().to_string(),
            alias: m["alias"].as_str().map(str::to_string),
            is_default: m["is-default"].as_bool().unwrap_or(false),
            cpu_max: m["cpu-max"].as_u64().unwrap_or(0) as u32,
            deprecated: m["deprecated"].as_bool().unwrap_or(false),
            default_cpu_type: m["default-cpu-type"].as_str().map(str::to_string),
            default_ram_id: m["default-ram-id"].as_str().map(str::to_string),
            hotpluggable_cpus: m["hotpluggable-cpus"].as_bool().unwrap_or(false),
            numa_mem_supported: m["numa-mem-supported"].as_bool().unwrap_or(false),
            acpi: m["acpi"].as_bool(),
        })
        .collect();

    let cpu_models: Vec<CpuModel> = match qmp
        .execute("query-cpu-definitions", None, PROBE_TIMEOUT)
        .await
    {
        Ok(v) => v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| CpuModel {
                        name: c["name"].as_str().unwrap_or_default().to_string(),
                        unavailable_features: c["unavailable-features"]
                            .as_array()
                            .map(|f| {
                                f.iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        typename: c["typename"].as_str().unwrap_or_default().to_string(),
                        is_static: c["static"].as_bool().unwrap_or(false),
                        migration_safe: c["migration-safe"].as_bool().unwrap_or(false),
                        deprecated: c["deprecated"].as_bool().unwrap_or(false),
                        alias_of: c["alias-of"].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        // Targets without CPU model support answer CommandNotFound.
        Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => Vec::new(),
        Err(source) => {
            return Err(CapsError::Query {
                binary: binary.to_path_buf(),
                query: "query-cpu-definitions",
                source,
            })
        }
    };

    let names = |v: Value| -> BTreeSet<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let types = names(q("qom-list-types", Some(json!({"abstract": false}))).await?);
    let devices = names(
        q(
            "qom-list-types",
            Some(json!({"implements": "device", "abstract": false})),
        )
        .await?,
    );
    let commands = names(q("query-commands", None).await?);
    let sandbox = match qmp
        .execute(
            "query-command-line-options",
            Some(json!({"option": "sandbox"})),
            PROBE_TIMEOUT,
        )
        .await
    {
        Ok(v) => v.as_array().is_some_and(|a| !a.is_empty()),
        // QEMU built without seccomp has no such option.
        Err(QmpError::Command { .. }) => false,
        Err(source) => {
            return Err(CapsError::Query {
                binary: binary.to_path_buf(),
                query: "query-command-line-options",
                source,
            })
        }
    };
    let spice = match qmp
        .execute(
            "query-command-line-options",
            Some(json!({"option": "spice"})),
            PROBE_TIMEOUT,
        )
        .await
    {
        Ok(v) => v.as_array().is_some_and(|a| !a.is_empty()),
        Err(QmpError::Command { .. }) => false,
        Err(source) => {
            return Err(CapsError::Query {
                binary: binary.to_path_buf(),
                query: "query-command-line-options",
                source,
            })
        }
    };
    let schema = q("query-qmp-schema", None).await?;
    let display_types = schema_enum_of(&schema, "query-display-options", "type");
    let accelerators = types
        .iter()
        .filter_map(|t| t.strip_suffix("-accel").map(str::to_string))
        .collect();
    let v = g.version;
    Ok(QemuCaps {
        binary: binary.to_path_buf(),
        version: (v.major, v.minor, v.micro),
        package: g.package.clone(),
        arch: libvirt_arch(arch),
        kvm_present: kvm["present"].as_bool().unwrap_or(false),
        kvm_enabled: kvm["enabled"].as_bool().unwrap_or(false),
        accelerators,
        machines,
        cpu_models_tcg: cpu_models,
        cpu_models_kvm: Vec::new(),
        blockdev: commands.contains("blockdev-add"),
        types,
        devices,
        commands,
        sandbox,
        spice,
        display_types,
        probe_ms: 0,
    })
}

/// The values of the enum that is the type of member `member` of command `command`'s return
/// type, looked up in `query-qmp-schema` output (where type names are opaque).
fn schema_enum_of(schema: &Value, command: &str, member: &str) -> Vec<String> {
    let Some(entities) = schema.as_array() else {
        return Vec::new();
    };
    let by_name = |n: &str| entities.iter().find(|e| e["name"] == n);
    let Some(ret) = entities
        .iter()
        .find(|e| e["meta-type"] == "command" && e["name"] == command)
        .and_then(|c| c["ret-type"].as_str())
    else {
        return Vec::new();
    };
    let member_type = by_name(ret)
        .and_then(|o| o["members"].as_array())
        .and_then(|ms| ms.iter().find(|m| m["name"] == member))
        .and_then(|m| m["type"].as_str());
    let Some(enum_ty) = member_type.and_then(by_name) else {
        return Vec::new();
    };
    enum_ty["values"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The first `name` in a `PATH` directory.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What a cache file must match to be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    rvirt_version: String,
    binary: PathBuf,
    mtime_ns: i128,
    ctime_ns: i128,
    module_dir_mtime_ns: Option<i128>,
    kvm_usable: bool,
}

impl Stamp {
    fn of(binary: &Path) -> Result<Stamp, CapsError> {
        let md = std::fs::metadata(binary).map_err(|e| CapsError::Binary {
            binary: binary.to_path_buf(),
            reason: e.to_string(),
        })?;
        if !md.is_file() {
            return Err(CapsError::Binary {
                binary: binary.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
        let module_dir_mtime_ns = MODULE_DIRS
            .iter()
            .find_map(|d| std::fs::metadata(d).ok())
            .map(|m| ns(m.mtime(), m.mtime_nsec()));
        Ok(Stamp {
            format: CACHE_FORMAT,
            rvirt_version: env!("CARGO_PKG_VERSION").to_string(),
            binary: binary.to_path_buf(),
            mtime_ns: ns(md.mtime(), md.mtime_nsec()),
            ctime_ns: ns(md.ctime(), md.ctime_nsec()),
            module_dir_mtime_ns,
            kvm_usable: kvm_device_usable(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    stamp: Stamp,
    caps: QemuCaps,
}

/// Where a capability answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapsSource {
    /// Already in memory.
    Memory,
    /// Read from the cache file.
    Disk,
    /// Probed now.
    Probe,
}

/// Probe results per binary, in memory and in `dir` on disk.
#[derive(Debug)]
pub struct CapsCache {
    dir: PathBuf,
    memory: Mutex<HashMap<PathBuf, (Stamp, Arc<QemuCaps>)>>,
    /// One probe at a time: concurrent requests for the same binary wait for the first.
    probing: tokio::sync::Mutex<()>,
}

impl CapsCache {
    /// A cache storing its files in `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CapsCache {
            dir: dir.into(),
            memory: Mutex::new(HashMap::new()),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    /// The cache file for `binary`.
    pub fn file_for(&self, binary: &Path) -> PathBuf {
        // FNV-1a of the path: a stable, filesystem-safe name; the path itself is checked on load.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in binary.as_os_str().as_encoded_bytes() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.dir.join(format!("{h:016x}.json"))
    }

    /// The capabilities of `binary`, from memory, the cache file, or a new probe.
    pub async fn get(&self, binary: &Path) -> Result<Arc<QemuCaps>, CapsError> {
        self.get_with_source(binary).await.map(|(c, _)| c)
    }

    /// [`get`](Self::get), also telling where the answer came from.
    pub async fn get_with_source(
        &self,
        binary: &Path,
    ) -> Result<(Arc<QemuCaps>, CapsSource), CapsError> {
        let stamp = Stamp::of(binary)?;
        if let Some(c) = self.cached_in_memory(binary, &stamp) {
            return Ok((c, CapsSource::Memory));
        }
        let _probing = self.probing.lock().await;
        if let Some(c) = self.cached_in_memory(binary, &stamp) {
            return Ok((c, CapsSource::Memory));
        }
        let file = self.file_for(binary);
        if let Some(caps) = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
            .filter(|f| f.stamp == stamp)
            .map(|f| Arc::new(f.caps))
        {
            self.remember(binary, stamp, caps.clone());
            return Ok((caps, CapsSource::Disk));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| CapsError::Scratch {
            path: self.dir.clone(),
            reason: e.to_string(),
        })?;
        let caps = Arc::new(probe(binary, &self.dir).await?);
        let entry = CacheFile {
            stamp: stamp.clone(),
            caps: (*caps).clone(),
        };
        // A cache that cannot be written only costs a probe at the next start.
        if let Ok(bytes) = serde_json::to_vec(&entry) {
            let _ = crate::atomic_file::write(&file, &bytes, 0o644);
        }
        self.remember(binary, stamp, caps.clone());
        Ok((caps, CapsSource::Probe))
    }

    fn cached_in_memory(&self, binary: &Path, stamp: &Stamp) -> Option<Arc<QemuCaps>> {
        let m = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        m.get(binary)
            .filter(|(s, _)| s == stamp)
            .map(|(_, c)| c.clone())
    }

    fn remember(&self, binary: &Path, stamp: Stamp, caps: Arc<QemuCaps>) {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(binary.to_path_buf(), (stamp, caps));
    }
}

/// The `qemu-system-*` binaries on `PATH`, one per target, in a stable order.
pub fn find_binaries() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut seen = BTreeSet::new();
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("qemu-system-"))
                .collect();
            names.sort();
            for n in names {
                let p = dir.join(&n);
                if p.is_file() && seen.insert(n) {
                    found.push(p);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QemuCaps {
        let m = |name: &str, alias: Option<&str>, is_default: bool| Machine {
            name: name.into(),
            alias: alias.map(Into::into),
            is_default,
            cpu_max: 255,
            deprecated: false,
            default_cpu_type: None,
            default_ram_id: None,
            hotpluggable_cpus: true,
            numa_mem_supported: false,
            acpi: Some(true),
        };
        QemuCaps {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            version: (10, 0, 2),
            package: String::new(),
            arch: "x86_64".into(),
            kvm_present: false,
            kvm_enabled: false,
            accelerators: vec!["tcg".into()],
            machines: vec![
                m("pc-q35-10.0", Some("q35"), false),
                m("microvm", None, false),
                m("pc-i440fx-10.0", Some("pc"), true),
            ],
            cpu_models_tcg: vec![],
            cpu_models_kvm: vec![],
            types: BTreeSet::new(),
            devices: BTreeSet::new(),
            commands: BTreeSet::new(),
            sandbox: true,
            blockdev: true,
            spice: false,
            display_types: vec![],
            probe_ms: 0,
        }
    }

    #[test]
    fn machine_lookup_and_default() {
        let c = sample();
        assert_eq!(c.default_machine().unwrap().name, "pc-i440fx-10.0");
        assert_eq!(c.machine("q35").unwrap().name, "pc-q35-10.0");
        assert_eq!(c.machine("microvm").unwrap().name, "microvm");
        assert!(c.machine("virt").is_none());
        assert_eq!(c.version_number(), 10_000_002);
    }

    #[test]
    fn cache_file_names_are_stable_and_distinct() {
        let cache = CapsCache::new("/var/cache/rvirt/qemu/capabilities");
        let a = cache.file_for(Path::new("/usr/bin/qemu-system-x86_64"));
        assert_eq!(a, cache.file_for(Path::new("/usr/bin/qemu-system-x86_64")));
        assert_ne!(a, cache.file_for(Path::new("/usr/bin/qemu-system-i386")));
        assert!(a.starts_with("/var/cache/rvirt/qemu/capabilities"));
    }

    #[test]
    fn missing_binary_is_named() {
        let e = Stamp::of(Path::new("/nonexistent/qemu-system-x86_64")).unwrap_err();
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::SYSTEM_ERROR);
        assert!(
            v.message.starts_with(
                "Cannot check QEMU binary /nonexistent/qemu-system-x86_64: No such file"
            ),
            "{}",
            v.message
        );
    }
}
