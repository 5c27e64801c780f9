//! Start-up and tear-down: from parsed options to a serving daemon, in libvirtd's order.
//!
//! Configuration and logging are read first (errors go to the terminal), then the process
//! detaches if asked (`-d`: double fork, `setsid`, stdio to /dev/null; the parent waits for the
//! child to report that its sockets are up, and prints the child's error if they are not), claims
//! the pid file, creates the sockets and only then starts the async runtime and serves. Everything
//! is undone on the way out: sockets removed, pid file removed.

use crate::cli::Options;
use crate::config::{Config, ConfigError};
use crate::listen::{self, ListenError, Listener};
use crate::log::LogError;
use crate::paths::{self, Mode, SocketKind};
use crate::pidfile::{PidFile, PidFileError};
use crate::server::{self, Shared, Signals};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use thiserror::Error;

/// Why the daemon could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// `--system` without root.
    #[error("--system needs root privileges; run as root, or use --session")]
    NotRoot,
    /// The configuration file is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The log settings are unusable.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The pid file is taken or cannot be written.
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    /// A socket cannot be created.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// Detaching or starting the runtime failed.
    #[error("{what}")]
    Io {
        /// What failed.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The error and its causes on one line (`a: b: c`), as printed to the user.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The write end of the pipe a detached daemon reports its start-up result on.
struct StatusPipe(OwnedFd);

impl StatusPipe {
    fn report(self, result: Result<(), &str>) {
        let mut msg = vec![u8::from(result.is_err())];
        if let Err(text) = result {
            msg.extend_from_slice(text.as_bytes());
        }
        let _ = io::Write::write_all(&mut std::fs::File::from(self.0), &msg);
    }
}

fn os_err(what: &'static str) -> StartError {
    StartError::Io {
        what,
        source: io::Error::last_os_error(),
    }
}

/// Detaches from the terminal. Returns in the daemon (grandchild) process; the original process
/// waits for the start-up report and exits with it. Must run before any thread is started.
fn fork_into_background() -> Result<StatusPipe, StartError> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_err("cannot create the start-up status pipe"));
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the process is single-threaded here (the runtime starts later), so the child may
    // run arbitrary code.
    match unsafe { libc::fork() } {
        -1 => Err(os_err("cannot fork the daemon")),
        0 => {
            drop(rd);
            // SAFETY: plain syscalls on fds we own or the standard ones; the path is a valid C string.
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 0);
                    libc::dup2(null, 1);
                    libc::dup2(null, 2);
                    if null > 2 {
                        libc::close(null);
                    }
                }
                libc::setsid();
            }
            // SAFETY: still single-threaded, as above.
            match unsafe { libc::fork() } {
                0 => Ok(StatusPipe(wr)),
                // SAFETY: _exit ends the intermediate process without running destructors that
                // belong to the daemon.
                _ => unsafe { libc::_exit(0) },
            }
        }
        child => {
            drop(wr);
            let mut status = 0;
            // SAFETY: waits for our own child; `status` is a valid out-pointer.
            while unsafe { libc::waitpid(child, &mut status, 0) } < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
            let mut report = Vec::new();
            let _ = io::Read::read_to_end(&mut std::fs::File::from(rd), &mut report);
            match report.split_first() {
                Some((0, _)) => std::process::exit(0),
                Some((_, text)) => {
                    eprintln!("rvirtd: error: {}", String::from_utf8_lossy(text));
                    std::process::exit(1)
                }
                None => {
                    eprintln!("rvirtd: error: the daemon exited during start-up");
                    std::process::exit(1)
                }
            }
        }
    }
}

/// Everything decided before serving.
struct Plan {
    mode: Mode,
    config: Config,
    sockets: Vec<paths::SocketSpec>,
    socket_dir: std::path::PathBuf,
    pid_file: std::path::PathBuf,
    gid: Option<u32>,
}

fn plan(opts: &Options) -> Result<Plan, StartError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mode = opts.mode.unwrap_or_else(Mode::for_current_user);
    if mode == Mode::System && !root {
        return Err(StartError::NotRoot);
    }
    let (config, warnings) = match &opts.config {
        Some(path) => Config::load(path)?,
        None => {
            let path = paths::default_config_file(mode);
            if path.exists() {
                Config::load(&path)?
            } else {
                (Config::default(), Vec::new())
            }
        }
    };
    for w in crate::log::init(
        config.log_level,
        opts.verbose,
        config.log_outputs.as_deref(),
        config.log_filters.as_deref(),
    )? {
        warn!("config", "{w}");
    }
    let file = opts
        .config
        .clone()
        .unwrap_or_else(|| paths::default_config_file(mode));
    for w in warnings {
        warn!("config", "{}: {w}", file.display());
    }
    let libvirt_names = opts.libvirt_paths || config.listen_libvirt_paths;
    let socket_dir = config
        .unix_sock_dir
        .clone()
        .unwrap_or_else(|| paths::default_socket_dir(mode, libvirt_names));
    let sockets = paths::sockets(&socket_dir, libvirt_names);
    let gid = config
        .unix_sock_group
        .as_deref()
        .map(listen::group_id)
        .transpose()?;
    let pid_file = opts
        .pid_file
        .clone()
        .unwrap_or_else(|| paths::default_pid_file(mode));
    Ok(Plan {
        mode,
        config,
        sockets,
        socket_dir,
        pid_file,
        gid,
    })
}

fn bind_all(p: &Plan) -> Result<Vec<Listener>, StartError> {
    let dir_mode = match p.mode {
        Mode::System => 0o755,
        Mode::Session => 0o700,
    };
    listen::ensure_dir(&p.socket_dir, dir_mode)?;
    let mut out = Vec::new();
    for spec in &p.sockets {
        let perms = match spec.kind {
            SocketKind::ReadWrite => p.config.unix_sock_rw_perms,
            SocketKind::ReadOnly => p.config.unix_sock_ro_perms,
            SocketKind::Admin => p.config.unix_sock_admin_perms,
        };
        match listen::bind(spec, perms, p.gid) {
            Ok(l) => out.push(l),
            Err(e) => {
                // Do not leave the sockets bound so far behind.
                for l in &out {
                    let _ = std::fs::remove_file(&l.spec.path);
                }
                return Err(e.into());
            }
        }
    }
    Ok(out)
}

/// Runs the daemon until it is told to stop.
pub fn run(opts: Options) -> Result<(), StartError> {
    let plan = plan(&opts)?;
    let status = if opts.daemon {
        if let Err(e) = std::env::set_current_dir("/") {
            return Err(StartError::Io {
                what: "cannot change to the root directory",
                source: e,
            });
        }
        Some(fork_into_background()?)
    } else {
        None
    };
    // One event-loop thread, as libvirtd has: a call takes microseconds, and handing work
    // between worker threads (wake-ups, work stealing) would cost more than the call. Blocking
    // work (opening a driver, large documents) goes to the blocking pool (see `client`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(source) => {
            let e = StartError::Io {
                what: "cannot start the async runtime",
                source,
            };
            if let Some(s) = status {
                s.report(Err(&describe(&e)));
            }
            return Err(e);
        }
    };
    let timeout = (opts.timeout > 0).then(|| Duration::from_secs(opts.timeout.into()));
    runtime.block_on(async move {
        let started = (|| {
            let signals = Signals::install().map_err(|source| StartError::Io {
                what: "cannot install signal handlers",
                source,
            })?;
            let pid = PidFile::acquire(&plan.pid_file, std::process::id())?;
            let listeners = bind_all(&plan)?;
            Ok::<_, StartError>((signals, pid, listeners))
        })();
        let (signals, pid, listeners) = match started {
            Ok(s) => s,
            Err(e) => {
                if let Some(s) = status {
                    s.report(Err(&describe(&e)));
                }
                return Err(e);
            }
        };
        for l in &listeners {
            info!(
                "daemon",
                "listening on {} ({:?})",
                l.spec.path.display(),
                l.spec.kind
            );
        }
        if let Some(s) = status {
            s.report(Ok(()));
        }
        // Restore pools and re-attach to running guests now, as libvirtd does at start-up,
        // without holding up the sockets: a first client waits for this on the same lock.
        let mode = plan.mode;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::drivers::start_host_drivers(mode) {
                warn!("daemon", "host drivers: {}", e.message);
            }
        });
        let shared = Shared::new(plan.config, plan.mode);
        if timeout.is_some() {
            tokio::spawn(crate::drivers::inhibit_while_guests_run(
                shared.clone(),
                mode,
            ));
        }
        server::serve(listeners, shared, signals, timeout).await;
        drop(pid);
        Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    info!("daemon", "stopped");
    Ok(())
}
