//! Starting, watching and stopping QEMU processes.
//!
//! [`QemuProcess::spawn`] runs `qemu-system-*` supervised rather than with `-daemonize`: QEMU's
//! own daemonizing points stderr at /dev/null, and its runtime errors belong in the domain's log
//! file. The process gets its own session (`setsid`), stdin from /dev/null and stdout/stderr
//! appended to the log file, so it outlives the daemon that started it; a restarted daemon finds
//! it again from its [`LiveStatus`] record with [`QemuProcess::attach`].
//!
//! The monitor socket is created and listening before QEMU starts and is handed to it as an
//! inherited descriptor (`-chardev socket,fd=N,server=on`), as libvirt does: connecting never
//! races QEMU's start-up and needs no polling for the socket file. QEMU also writes a pid file
//! (`-pidfile`), whose path on its command line is part of the identity check on re-attach.
//!
//! Signals go only to processes we started or verified: every process is held through a pidfd
//! opened while it was known to be ours (our unreaped child, or a pid whose start time and
//! command line match the status record), so a recycled pid can never be signalled. The pidfd
//! also tells when the process exits, whether or not it is our child.

use crate::qmp::{EventReceiver, Qmp, QmpError};
use crate::status::LiveStatus;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

/// How long [`QemuProcess::stop`] waits after SIGKILL before giving up.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Bytes of the log file quoted when QEMU fails to start.
const LOG_TAIL: u64 = 4096;

/// What can go wrong starting, finding or stopping a QEMU process.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A file or socket we set up for QEMU could not be created.
    #[error("cannot create {what} {path} for domain '{name}': {reason}")]
    Setup {
        /// Domain name.
        name: String,
        /// `monitor socket`, `log file`, …
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// The binary could not be executed.
    #[error(
        "cannot execute QEMU binary {binary} for domain '{name}': {reason}; install it \
         (scripts/install-qemu.sh) or fix the domain's <emulator>"
    )]
    Exec {
        /// Domain name.
        name: String,
        /// The binary.
        binary: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// QEMU exited before its monitor answered (libvirt's wording, with the log's tail).
    #[error("process exited while connecting to monitor: {log}")]
    ExitedDuringStartup {
        /// Domain name.
        name: String,
        /// Exit status.
        status: String,
        /// The tail of the log file since this start.
        log: String,
    },
    /// The monitor did not come up.
    #[error("QEMU for domain '{name}' started but its monitor failed")]
    Monitor {
        /// Domain name.
        name: String,
        /// The QMP error.
        #[source]
        source: QmpError,
    },
    /// The recorded process is gone.
    #[error("QEMU process {pid} of domain '{name}' is not running")]
    NotRunning {
        /// Domain name.
        name: String,
        /// The recorded pid.
        pid: i32,
    },
    /// The recorded pid now belongs to another process.
    #[error(
        "process {pid} recorded for domain '{name}' is not the QEMU rvirt started ({detail}); \
         the status record is stale"
    )]
    NotOurs {
        /// Domain name.
        name: String,
        /// The recorded pid.
        pid: i32,
        /// What did not match.
        detail: String,
    },
    /// A signal could not be delivered or did not end the process.
    #[error("Failed to terminate process {pid} with {signal}: {reason}")]
    Signal {
        /// The pid.
        pid: i32,
        /// `SIGTERM` or `SIGKILL`.
        signal: &'static str,
        /// Why.
        reason: String,
    },
}

impl From<ProcessError> for rvirt::Error {
    fn from(e: ProcessError) -> Self {
        use rvirt::error::{code, domain};
        let c = match &e {
            ProcessError::Setup { .. }
            | ProcessError::Exec { .. }
            | ProcessError::Signal { .. } => code::SYSTEM_ERROR,
            ProcessError::ExitedDuringStartup { .. } | ProcessError::NotOurs { .. } => {
                code::INTERNAL_ERROR
            }
            ProcessError::Monitor { source, .. } => {
                return rvirt::Error::from(source.clone());
            }
            ProcessError::NotRunning { .. } => code::OPERATION_INVALID,
        };
        rvirt::Error::new(c, domain::QEMU, e.to_string())
    }
}

/// How to start one QEMU process.
#[derive(Debug, Clone)]
pub struct SpawnConfig {
    /// Domain name, for messages and the log header.
    pub name: String,
    /// The `qemu-system-*` binary.
    pub binary: PathBuf,
    /// Every argument except the monitor and pid file ones, which spawn adds.
    pub args: Vec<OsString>,
    /// Where the QMP socket is created (any stale socket there is replaced).
    pub monitor: PathBuf,
    /// QEMU's pid file.
    pub pid_file: PathBuf,
    /// Log file for QEMU's stdout and stderr (appended to).
    pub log_file: PathBuf,
    /// Environment beyond the minimal one (`LC_ALL=C`, `PATH`) QEMU gets.
    pub env: Vec<(OsString, OsString)>,
    /// How long QEMU may take to answer on its monitor.
    pub start_timeout: Duration,
    /// Open descriptors QEMU inherits under the same numbers (tap devices named in its
    /// arguments as `fd=N`); the caller keeps them open until spawn returns.
    pub pass_fds: Vec<RawFd>,
}

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The process had already exited.
    AlreadyExited,
    /// It exited after SIGTERM.
    Terminated,
    /// It needed SIGKILL.
    Killed,
}

/// A pidfd: a handle on one specific process that survives pid reuse.
#[derive(Debug)]
struct PidFd(AsyncFd<OwnedFd>);

impl PidFd {
    fn open(pid: i32) -> std::io::Result<Self> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory
        // is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the syscall just returned this descriptor to us; nothing else owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        // SAFETY: `owned` is an open descriptor that the AsyncFd owns from here on; OwnedFd's
        // as_raw_fd always returns that same descriptor until it is dropped with the AsyncFd.
        let registered =
            unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) };
        Ok(PidFd(registered?))
    }

    fn signal(&self, sig: i32) -> std::io::Result<()> {
        // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, a null siginfo and no
        // flags reads no memory of ours.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the process has exited (a pidfd polls readable once it has).
    fn exited(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let r = unsafe { libc::poll(&mut p, 1, 0) };
        r > 0 && p.revents & libc::POLLIN != 0
    }

    async fn wait(&self) {
        loop {
            if self.exited() {
                return;
            }
            match self.0.readable().await {
                Ok(mut g) => {
                    if self.exited() {
                        return;
                    }
                    g.clear_ready();
                }
                Err(_) => {
                    // Not pollable (cannot happen for a pidfd); fall back to polling.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// A running QEMU process we started or re-attached to, with its QMP connection.
#[derive(Debug)]
pub struct QemuProcess {
    name: String,
    pid: i32,
    start_time: u64,
    started_unix_ms: u64,
    binary: PathBuf,
    monitor: PathBuf,
    pid_file: PathBuf,
    log_file: PathBuf,
    pidfd: Arc<PidFd>,
    /// Exit status, for a process that is our child (`None` while running or when re-attached).
    child_exit: Option<watch::Receiver<Option<ExitStatus>>>,
    qmp: Qmp,
}

impl QemuProcess {
    /// Starts QEMU as `cfg` says and connects to its monitor. Returns the process and the
    /// monitor's event channel. On failure nothing is left running.
    pub async fn spawn(cfg: &SpawnConfig) -> Result<(QemuProcess, EventReceiver), ProcessError> {
        let name = &cfg.name;
        let setup = |what: &'static str, path: &Path, e: std::io::Error| ProcessError::Setup {
            name: name.clone(),
            what,
            path: path.to_path_buf(),
            reason: e.to_string(),
        };

        remove_stale_socket(&cfg.monitor).map_err(|e| setup("monitor socket", &cfg.monitor, e))?;
        let listener = std::os::unix::net::UnixListener::bind(&cfg.monitor)
            .map_err(|e| setup("monitor socket", &cfg.monitor, e))?;
        std::fs::set_permissions(
            &cfg.monitor,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .map_err(|e| setup("monitor socket", &cfg.monitor, e))?;
        let listen_fd = listener.as_raw_fd();

        let mut log = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&cfg.log_file)
            .map_err(|e| setup("log file", &cfg.log_file, e))?;
        let log_start = log
            .seek(SeekFrom::End(0))
            .map_err(|e| setup("log file", &cfg.log_file, e))?;

        let mut args = cfg.args.clone();
        args.extend(
            [
                "-chardev".into(),
                format!("socket,id=charmonitor,fd={listen_fd},server=on,wait=off").into(),
                "-mon".into(),
                "chardev=charmonitor,id=monitor,mode=control".into(),
                "-pidfile".into(),
            ]
            .into_iter()
            .chain([cfg.pid_file.clone().into_os_string()]),
        );
        let path_env = std::env::var_os("PATH").unwrap_or_else(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        let started = SystemTime::now();
        // The log header, like libvirt's: when, who, and the exact command line.
        let header = format!(
            "{}: starting up rvirt version: {}\n{}\n",
            rfc3339_utc(started),
            env!("CARGO_PKG_VERSION"),
            shell_line(&cfg.env, &cfg.binary, &args)
        );
        log.write_all(header.as_bytes())
            .map_err(|e| setup("log file", &cfg.log_file, e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| setup("log file", &cfg.log_file, e))?;

        let mut cmd = tokio::process::Command::new(&cfg.binary);
        cmd.args(&args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", path_env)
            .envs(cfg.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let pass_fds = cfg.pass_fds.clone();
        // SAFETY: the closure runs in the forked child before exec and only calls setsid and
        // fcntl, which are async-signal-safe, and reads its own copy of the descriptor list
        // (allocated before the fork); it touches no memory shared with other threads.
        unsafe {
            cmd.pre_exec(move || {
                // Own session: no terminal signals, and the daemon's process group can die
                // without taking QEMU along.
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Let QEMU inherit the listening monitor socket and the passed descriptors.
                for &fd in std::iter::once(&listen_fd).chain(pass_fds.iter()) {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_file(&cfg.monitor);
            ProcessError::Exec {
                name: name.clone(),
                binary: cfg.binary.clone(),
                reason: e.to_string(),
            }
        })?;
        drop(listener);
        let pid = child.id().expect("a just-spawned child has a pid") as i32;
        // Our unreaped child cannot be recycled, so this pidfd is certainly QEMU's.
        let pidfd = match PidFd::open(pid) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                let _ = child.start_kill();
                let _ = std::fs::remove_file(&cfg.monitor);
                return Err(setup("pidfd for", &cfg.binary, e));
            }
        };
        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                let _ = exit_tx.send(Some(status));
            }
        });

        let mut exit_watch = exit_rx.clone();
        let connect = Qmp::connect(&cfg.monitor, cfg.start_timeout);
        let result = tokio::select! {
            r = connect => r.map_err(|source| ProcessError::Monitor { name: name.clone(), source }),
            _ = exit_watch.wait_for(|s| s.is_some()) => {
                let status = exit_rx.borrow().map(|s| s.to_string()).unwrap_or_default();
                Err(ProcessError::ExitedDuringStartup {
                    name: name.clone(),
                    status,
                    log: log_since(&cfg.log_file, log_start),
                })
            }
        };
        let failed = |e: ProcessError| {
            let _ = pidfd.signal(libc::SIGKILL);
            let _ = std::fs::remove_file(&cfg.monitor);
            let _ = std::fs::remove_file(&cfg.pid_file);
            e
        };
        let (qmp, events) = match result {
            Ok(x) => x,
            Err(ProcessError::Monitor { source, .. }) => {
                // A monitor that fails during start-up (reset, end of file) usually means QEMU
                // is exiting; give it a moment, and if it does exit, report QEMU's own words.
                let _ = tokio::time::timeout(Duration::from_secs(2), pidfd.wait()).await;
                if !pidfd.exited() {
                    return Err(failed(ProcessError::Monitor {
                        name: name.clone(),
                        source,
                    }));
                }
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    exit_watch.wait_for(|s| s.is_some()),
                )
                .await;
                let status = exit_rx.borrow().map(|s| s.to_string()).unwrap_or_default();
                return Err(failed(ProcessError::ExitedDuringStartup {
                    name: name.clone(),
                    status,
                    log: log_since(&cfg.log_file, log_start),
                }));
            }
            Err(e) => return Err(failed(e)),
        };
        let start_time = match proc_start_time(pid) {
            Ok(t) => t,
            Err(e) => return Err(failed(e.into_error(name, pid))),
        };
        Ok((
            QemuProcess {
                name: name.clone(),
                pid,
                start_time,
                started_unix_ms: unix_ms(started),
                binary: cfg.binary.clone(),
                monitor: cfg.monitor.clone(),
                pid_file: cfg.pid_file.clone(),
                log_file: cfg.log_file.clone(),
                pidfd,
                child_exit: Some(exit_rx),
                qmp,
            },
            events,
        ))
    }

    /// Finds the QEMU process a status record describes, proves it is the same process (pid,
    /// start time, binary and pid file on its command line) and reconnects to its monitor.
    pub async fn attach(
        name: &str,
        status: &LiveStatus,
        timeout: Duration,
    ) -> Result<(QemuProcess, EventReceiver), ProcessError> {
        let pid = status.pid;
        let not_running = || ProcessError::NotRunning {
            name: name.to_string(),
            pid,
        };
        let not_ours = |detail: String| ProcessError::NotOurs {
            name: name.to_string(),
            pid,
            detail,
        };
        // Open the pidfd first, then verify: if the checks pass, the pidfd refers to the process
        // that passed them, even if it exits and its pid is reused later.
        let pidfd = PidFd::open(pid).map_err(|e| match e.raw_os_error() {
            Some(libc::ESRCH) => not_running(),
            _ => not_ours(format!("cannot open it: {e}")),
        })?;
        let start_time = proc_start_time(pid).map_err(|e| e.into_error(name, pid))?;
        if pidfd.exited() {
            return Err(not_running());
        }
        if start_time != status.start_time {
            return Err(not_ours(format!(
                "it started at tick {start_time}, the record says {}",
                status.start_time
            )));
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|_| not_running())?;
        let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if argv.first().copied() != Some(status.binary.as_os_str().as_bytes()) {
            return Err(not_ours(format!(
                "it runs {}, not {}",
                String::from_utf8_lossy(argv.first().copied().unwrap_or_default()),
                status.binary.display()
            )));
        }
        let has_pidfile = argv
            .windows(2)
            .any(|w| w[0] == b"-pidfile" && w[1] == status.pid_file.as_os_str().as_bytes());
        if !has_pidfile {
            return Err(not_ours(format!(
                "its command line lacks -pidfile {}",
                status.pid_file.display()
            )));
        }
        let (qmp, events) = Qmp::connect(&status.monitor, timeout)
            .await
            .map_err(|source| ProcessError::Monitor {
                name: name.to_string(),
                source,
            })?;
        Ok((
            QemuProcess {
                name: name.to_string(),
                pid,
                start_time,
                started_unix_ms: status.started_unix_ms,
                binary: status.binary.clone(),
                monitor: status.monitor.clone(),
                pid_file: status.pid_file.clone(),
                log_file: status.log_file.clone(),
                pidfd: Arc::new(pidfd),
                child_exit: None,
                qmp,
            },
            events,
        ))
    }

    /// The status record for this process (state `running`, reason `booted`; the lifecycle
    /// layer adjusts both and embeds the domain definition).
    pub fn status(&self) -> LiveStatus {
        LiveStatus {
            pid: self.pid,
            start_time: self.start_time,
            started_unix_ms: self.started_unix_ms,
            binary: self.binary.clone(),
            monitor: self.monitor.clone(),
            pid_file: self.pid_file.clone(),
            log_file: self.log_file.clone(),
            state: "running".into(),
            reason: "booted".into(),
            ptys: Default::default(),
            domain_xml: None,
        }
    }

    /// QEMU's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The monitor connection.
    pub fn qmp(&self) -> &Qmp {
        &self.qmp
    }

    /// The log file.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The monitor socket.
    pub fn monitor(&self) -> &Path {
        &self.monitor
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        !self.pidfd.exited()
    }

    /// Waits until the process exits. Returns its exit status when it was our child.
    pub async fn wait(&self) -> Option<ExitStatus> {
        self.pidfd.wait().await;
        match &self.child_exit {
            Some(rx) => {
                let mut rx = rx.clone();
                // The reaper task records the status right after the exit; wait briefly for it.
                let waited =
                    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| s.is_some()))
                        .await;
                waited.ok().and_then(|r| r.ok().and_then(|s| *s))
            }
            None => None,
        }
    }

    /// Stops the process: SIGTERM (QEMU shuts down cleanly, flushing disks), then SIGKILL if it
    /// is still running after `grace`.
    pub async fn stop(&self, grace: Duration) -> Result<StopOutcome, ProcessError> {
        if self.pidfd.exited() {
            return Ok(StopOutcome::AlreadyExited);
        }
        let send = |sig: i32, signal: &'static str| -> Result<bool, ProcessError> {
            match self.pidfd.signal(sig) {
                Ok(()) => Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
                Err(e) => Err(ProcessError::Signal {
                    pid: self.pid,
                    signal,
                    reason: e.to_string(),
                }),
            }
        };
        if !send(libc::SIGTERM, "SIGTERM")? {
            return Ok(StopOutcome::AlreadyExited);
        }
        if tokio::time::timeout(grace, self.pidfd.wait()).await.is_ok() {
            return Ok(StopOutcome::Terminated);
        }
        if !send(libc::SIGKILL, "SIGKILL")? {
            return Ok(StopOutcome::Terminated);
        }
        match tokio::time::timeout(KILL_WAIT, self.pidfd.wait()).await {
            Ok(()) => Ok(StopOutcome::Killed),
            Err(_) => Err(ProcessError::Signal {
                pid: self.pid,
                signal: "SIGKILL",
                reason: format!(
                    "still running {} s after it (stuck in the kernel?)",
                    KILL_WAIT.as_secs()
                ),
            }),
        }
    }

    /// Sends SIGKILL at once, without waiting (for destroy paths and cleanup guards that cannot
    /// await). Succeeds when the process has already exited.
    pub fn kill(&self) -> Result<(), ProcessError> {
        match self.pidfd.signal(libc::SIGKILL) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(ProcessError::Signal {
                pid: self.pid,
                signal: "SIGKILL",
                reason: e.to_string(),
            }),
        }
    }

    /// Removes what this process leaves behind once it has exited: the monitor socket and the
    /// pid file. Does nothing while it runs.
    pub fn cleanup(&self) {
        if !self.pidfd.exited() {
            return;
        }
        if let Ok(m) = std::fs::symlink_metadata(&self.monitor) {
            if m.file_type().is_socket() {
                let _ = std::fs::remove_file(&self.monitor);
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }

    /// Domain name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Why /proc could not tell a start time.
enum ProcStat {
    Gone,
    Zombie,
    Unreadable(String),
}

impl ProcStat {
    fn into_error(self, name: &str, pid: i32) -> ProcessError {
        match self {
            ProcStat::Gone | ProcStat::Zombie => ProcessError::NotRunning {
                name: name.to_string(),
                pid,
            },
            ProcStat::Unreadable(detail) => ProcessError::NotOurs {
                name: name.to_string(),
                pid,
                detail: format!("/proc/{pid}/stat: {detail}"),
            },
        }
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot); zombies count as gone.
fn proc_start_time(pid: i32) -> Result<u64, ProcStat> {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ProcStat::Gone),
        Err(e) => return Err(ProcStat::Unreadable(e.to_string())),
    };
    // The command name (field 2) is parenthesised and may contain spaces or ')'.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or(ProcStat::Unreadable("no ')'".into()))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); field 22 is fields[19].
    match fields.first() {
        Some(&"Z") | Some(&"X") | Some(&"x") => return Err(ProcStat::Zombie),
        None => return Err(ProcStat::Unreadable("empty".into())),
        _ => {}
    }
    fields
        .get(19)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ProcStat::Unreadable("no start time field".into()))
}

/// Removes a leftover socket at `path` (from a QEMU that died uncleanly); refuses to remove
/// anything that is not a socket.
fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a file that is not a socket is in the way",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The log's text from `start`, at most its last [`LOG_TAIL`] bytes, trimmed.
fn log_since(path: &Path, start: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let end = f.seek(SeekFrom::End(0)).unwrap_or(start);
    let from = start.max(end.saturating_sub(LOG_TAIL));
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_ok() {
        let _ = f.take(LOG_TAIL).read_to_end(&mut buf);
    }
    let text = String::from_utf8_lossy(&buf);
    // Skip our own header (timestamp line and command line) when it is in range.
    let body: Vec<&str> = text
        .lines()
        .skip(if from == start { 2 } else { 0 })
        .filter(|l| !l.trim().is_empty())
        .collect();
    body.join("\n")
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS.mmm+0000`, the form libvirt's log headers use.
fn rfc3339_utc(t: SystemTime) -> String {
    let ms = unix_ms(t);
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The command line as a shell would take it, for the log.
fn shell_line(env: &[(OsString, OsString)], binary: &Path, args: &[OsString]) -> String {
    fn quote(s: &OsStr) -> String {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=,./:@+%".contains(&b))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    }
    let mut parts: Vec<String> = vec!["LC_ALL=C".into()];
    for (k, v) in env {
        parts.push(format!("{}={}", k.to_string_lossy(), quote(v)));
    }
    parts.push(quote(binary.as_os_str()));
    parts.extend(args.iter().map(|a| quote(a)));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_log_timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339_utc(t), "2023-11-14 22:13:20.123+0000");
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01 00:00:00.000+0000");
    }

    #[test]
    fn quotes_the_logged_command_line() {
        let line = shell_line(
            &[("HOME".into(), "/var/lib/rvirt/qemu/a b".into())],
            Path::new("/usr/bin/qemu-system-x86_64"),
            &[
                "-name".into(),
                "guest=it's".into(),
                "-m".into(),
                "256".into(),
            ],
        );
        assert_eq!(
            line,
            "LC_ALL=C HOME='/var/lib/rvirt/qemu/a b' /usr/bin/qemu-system-x86_64 -name \
             'guest=it'\\''s' -m 256"
        );
    }

    #[test]
    fn reads_own_start_time_and_rejects_missing_pids() {
        let me = std::process::id() as i32;
        assert!(proc_start_time(me).is_ok());
        assert!(matches!(proc_start_time(i32::MAX), Err(ProcStat::Gone)));
    }

    #[test]
    fn refuses_to_replace_a_regular_file_with_the_monitor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mon");
        std::fs::write(&p, b"precious").unwrap();
        assert!(remove_stale_socket(&p).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"precious");
        std::fs::remove_file(&p).unwrap();
        let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        remove_stale_socket(&p).unwrap();
        assert!(!p.exists());
    }

    #[tokio::test]
    async fn a_binary_that_is_not_qemu_fails_with_its_output() {
        // /bin/sh exits at once complaining about QEMU's options: the error quotes the log.
        let dir = tempfile::tempdir().unwrap();
        let cfg = SpawnConfig {
            name: "demo".into(),
            binary: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo 'qemu: could not open disk image /x' >&2; exit 1".into(),
            ],
            monitor: dir.path().join("demo.monitor"),
            pid_file: dir.path().join("demo.pid"),
            log_file: dir.path().join("demo.log"),
            env: vec![],
            start_timeout: Duration::from_secs(10),
            pass_fds: vec![],
        };
        let e = QemuProcess::spawn(&cfg).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "process exited while connecting to monitor: qemu: could not open disk image /x"
        );
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::INTERNAL_ERROR);
        assert_eq!(v.domain, rvirt::error::domain::QEMU);
        assert!(!cfg.monitor.exists(), "monitor socket removed on failure");
        let log = std::fs::read_to_string(&cfg.log_file).unwrap();
        assert!(log.contains("starting up rvirt version"), "{log}");
    }

    #[tokio::test]
    async fn missing_binary_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SpawnConfig {
            name: "demo".into(),
            binary: "/nonexistent/qemu-system-x86_64".into(),
            args: vec![],
            monitor: dir.path().join("demo.monitor"),
            pid_file: dir.path().join("demo.pid"),
            log_file: dir.path().join("demo.log"),
            env: vec![],
            start_timeout: Duration::from_secs(10),
            pass_fds: vec![],
        };
        let e = QemuProcess::spawn(&cfg).await.unwrap_err();
        assert!(
            e.to_string().starts_with(
                "cannot execute QEMU binary /nonexistent/qemu-system-x86_64 for domain 'demo': No such file"
            ),
            "{e}"
        );
        assert!(!cfg.monitor.exists());
    }

    #[tokio::test]
    async fn attach_refuses_a_pid_that_is_not_the_recorded_process() {
        // Our own test process: alive, but with a different start time and command line.
        let me = std::process::id() as i32;
        let mut st = LiveStatus {
            pid: me,
            start_time: 1,
            started_unix_ms: 0,
            binary: "/usr/bin/qemu-system-x86_64".into(),
            monitor: "/nonexistent.monitor".into(),
            pid_file: "/nonexistent.pid".into(),
            log_file: "/nonexistent.log".into(),
            state: "running".into(),
            reason: "booted".into(),
            ptys: Default::default(),
            domain_xml: None,
        };
        let e = QemuProcess::attach("demo", &st, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, ProcessError::NotOurs { .. }), "{e}");
        assert!(e.to_string().contains("the record says 1"), "{e}");
        st.start_time = proc_start_time(me).ok().unwrap();
        let e = QemuProcess::attach("demo", &st, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("not /usr/bin/qemu-system-x86_64"),
            "{e}"
        );
        // A pid that does not exist.
        st.pid = i32::MAX - 1;
        let e = QemuProcess::attach("demo", &st, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, ProcessError::NotRunning { .. }), "{e}");
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::OPERATION_INVALID);
    }
}
