//! Where a URI's daemon listens, and starting the session daemon when nobody does.
//!
//! The rules are libvirt's (`remote_sockets.c`), pointed at rvirt's own sockets first:
//! - `?socket=P` is used verbatim, never autostarted.
//! - A session URI (`…:///session`, or any `test+…` URI) from a non-root user goes to the session
//!   daemon: `$XDG_RUNTIME_DIR/rvirt/rvirt-sock`, or libvirt's `$XDG_RUNTIME_DIR/libvirt/virtqemud-sock`
//!   / `libvirt-sock` when those exist and ours does not. If none is there, `rvirtd --session
//!   --timeout 120` is started (unless `LIBVIRT_AUTOSTART=0`) and waited for.
//! - Everything else goes to the system daemon: `/run/rvirt/rvirt-sock` (`-ro` when read-only),
//!   falling back to `/var/run/libvirt/virtqemud-sock` and `libvirt-sock` (`-ro`).
//!
//! The flags computed here also travel in `CONNECT_OPEN`, exactly as libvirt's client sends them.

use super::transport::{self, strerror, unix_connect_error};
use crate::error::{code, domain, Error, Result};
use crate::uri::{Transport, Uri};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `remoteDriverOpenFlags`: the `flags` word of `CONNECT_OPEN`.
pub mod open_flags {
    /// Read-only connection (`VIR_CONNECT_RO`).
    pub const RO: u32 = 1;
    /// The per-user session daemon is wanted.
    pub const USER: u32 = 2;
    /// The session daemon may be started on demand.
    pub const AUTOSTART: u32 = 4;
}

/// Default port of `X+tcp://` (`LIBVIRTD_TCP_PORT`).
pub const TCP_PORT: u16 = 16509;
/// rvirt's system socket directory.
pub const SYSTEM_SOCKET_DIR: &str = "/run/rvirt";
/// libvirt's system socket directory (`$LOCALSTATEDIR/run/libvirt`).
pub const LIBVIRT_SYSTEM_SOCKET_DIR: &str = "/var/run/libvirt";
/// The daemon started for session URIs.
pub const SESSION_DAEMON: &str = "rvirtd";
/// How long to wait for an autostarted daemon to listen.
pub const AUTOSTART_TIMEOUT: Duration = Duration::from_secs(10);

/// The facts about the calling process that decide the socket: kept apart so tests can vary them.
#[derive(Debug, Clone)]
pub struct Env {
    /// Effective uid.
    pub euid: u32,
    /// `LIBVIRT_AUTOSTART`.
    pub autostart: Option<String>,
    /// The user's runtime directory (`$XDG_RUNTIME_DIR`, else the cache directory, as GLib's
    /// `g_get_user_runtime_dir`).
    pub runtime_dir: PathBuf,
}

impl Env {
    /// The current process's environment.
    pub fn current() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        Self {
            euid,
            autostart: std::env::var("LIBVIRT_AUTOSTART").ok(),
            runtime_dir: user_runtime_dir(),
        }
    }
}

fn user_runtime_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_RUNTIME_DIR")
        .or_else(|| var("XDG_CACHE_HOME"))
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// rvirt's session socket directory: `$XDG_RUNTIME_DIR/rvirt`.
pub fn session_socket_dir() -> PathBuf {
    user_runtime_dir().join("rvirt")
}

/// The flags libvirt's client derives from the URI (`remoteGetURIDaemonInfo`), plus RO.
pub fn daemon_flags(uri: &Uri, read_only: bool, env: &Env) -> u32 {
    let mut flags = 0;
    let scheme_has_transport = uri.transport.is_some();
    if (uri.path == "/session" || (uri.driver == "test" && scheme_has_transport)) && env.euid > 0 {
        flags |= open_flags::USER;
        if uri.server.is_none()
            && uri.effective_transport() == Transport::Unix
            && env.autostart.as_deref() != Some("0")
        {
            flags |= open_flags::AUTOSTART;
        }
    }
    if read_only {
        flags |= open_flags::RO;
    }
    flags
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A UNIX socket; `autostart` when the session daemon may be started if nobody listens.
    Unix {
        /// Socket path (`@name` for the abstract namespace).
        path: PathBuf,
        /// Start the session daemon if needed.
        autostart: bool,
        /// Who is expected to listen there, for error messages.
        kind: SocketKind,
    },
    /// Plain TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

/// Whose socket a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Given by `?socket=`.
    Explicit,
    /// The per-user session daemon's.
    Session,
    /// The system daemon's.
    System,
}

/// Chooses the socket for `uri` (`remoteGetUNIXSocket`), given `flags` from [`daemon_flags`] and
/// a probe for which sockets exist.
pub fn resolve(uri: &Uri, flags: u32, env: &Env, exists: &dyn Fn(&Path) -> bool) -> Result<Target> {
    let transport = uri.effective_transport();
    if transport == Transport::Unix && uri.server.is_some() && uri.transport.is_some() {
        return Err(Error::invalid_arg(
            domain::REMOTE,
            format!(
                "using unix socket and remote server '{}' is not supported.",
                uri.server.as_deref().unwrap_or_default()
            ),
        ));
    }
    match transport {
        Transport::Unix => {}
        Transport::Tcp => {
            return Ok(Target::Tcp {
                host: uri.server.clone().unwrap_or_else(|| "localhost".into()),
                port: uri.port.unwrap_or(TCP_PORT),
            })
        }
        other => return Err(transport::unsupported(other, &uri.original)),
    }
    if let Some(p) = uri.param("socket") {
        return Ok(Target::Unix {
            path: PathBuf::from(p),
            autostart: false,
            kind: SocketKind::Explicit,
        });
    }
    let direct = match uri.driver.as_str() {
        "" | "remote" => None,
        "xen" => Some("virtxend".to_string()),
        d => Some(format!("virt{d}d")),
    };
    let (ours, fallbacks, kind) = if flags & open_flags::USER != 0 {
        let lv = env.runtime_dir.join("libvirt");
        let mut fb: Vec<PathBuf> = direct
            .iter()
            .map(|d| lv.join(format!("{d}-sock")))
            .collect();
        fb.push(lv.join("libvirt-sock"));
        (
            env.runtime_dir.join("rvirt").join("rvirt-sock"),
            fb,
            SocketKind::Session,
        )
    } else {
        let suffix = if flags & open_flags::RO != 0 {
            "sock-ro"
        } else {
            "sock"
        };
        let lv = Path::new(LIBVIRT_SYSTEM_SOCKET_DIR);
        let mut fb: Vec<PathBuf> = direct
            .iter()
            .map(|d| lv.join(format!("{d}-{suffix}")))
            .collect();
        fb.push(lv.join(format!("libvirt-{suffix}")));
        (
            Path::new(SYSTEM_SOCKET_DIR).join(format!("rvirt-{suffix}")),
            fb,
            SocketKind::System,
        )
    };
    if !exists(&ours) {
        if let Some(f) = fallbacks.into_iter().find(|f| exists(f)) {
            return Ok(Target::Unix {
                path: f,
                autostart: false,
                kind,
            });
        }
    }
    Ok(Target::Unix {
        path: ours,
        autostart: flags & open_flags::AUTOSTART != 0,
        kind,
    })
}

fn hint(kind: SocketKind) -> &'static str {
    match kind {
        SocketKind::Explicit => "check the URI's socket= path and that its daemon is running",
        SocketKind::Session => {
            "the session daemon is not running; start it with 'rvirtd --session', or unset LIBVIRT_AUTOSTART=0 to let clients start it"
        }
        SocketKind::System => {
            "the system daemon is not running; start rvirtd (or libvirtd) as root"
        }
    }
}

/// Connects to the UNIX socket of `target`, starting the session daemon first if it is allowed
/// and nobody listens. Blocking: run it on a blocking thread.
pub fn connect_unix_blocking(
    path: &Path,
    autostart: bool,
    kind: SocketKind,
) -> Result<std::os::unix::net::UnixStream> {
    use std::os::unix::net::UnixStream;
    let first = match UnixStream::connect(path) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let absent = matches!(
        first.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ECONNREFUSED)
    );
    if !autostart || !absent {
        return Err(unix_connect_error(path, &first, hint(kind)));
    }
    let daemon = find_daemon().ok_or_else(|| {
        unix_connect_error(
            path,
            &first,
            &format!(
                "could not start the session daemon: '{SESSION_DAEMON}' was found neither next to this program nor in PATH; install it or set RVIRTD_PATH"
            ),
        )
    })?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    create_private_dir(dir)?;
    // One client starts the daemon; others wait here and then find it listening (libvirt holds
    // the same kind of lock in virNetSocketNewConnectUNIX).
    let _lock = lock_file(&dir.join(format!("{SESSION_DAEMON}.lock")))?;
    if let Ok(s) = UnixStream::connect(path) {
        return Ok(s);
    }
    let log = dir.join(format!("{SESSION_DAEMON}-autostart.log"));
    let mut child = spawn_daemon(&daemon, &log)?;
    let deadline = Instant::now() + AUTOSTART_TIMEOUT;
    loop {
        match UnixStream::connect(path) {
            Ok(s) => {
                // The daemon outlives this call; reap it whenever it exits.
                std::thread::spawn(move || child.wait());
                return Ok(s);
            }
            Err(e) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(unix_connect_error(
                        path,
                        &e,
                        &format!(
                            "the session daemon {} exited ({status}) before listening; see {}",
                            daemon.display(),
                            log.display()
                        ),
                    ));
                }
                if Instant::now() >= deadline {
                    std::thread::spawn(move || child.wait());
                    return Err(unix_connect_error(
                        path,
                        &e,
                        &format!(
                            "the session daemon {} did not listen within {} s; see {}",
                            daemon.display(),
                            AUTOSTART_TIMEOUT.as_secs(),
                            log.display()
                        ),
                    ));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Finds the session daemon: `$RVIRTD_PATH`, then next to the running program (or its parent
/// directory, for test binaries under `target/*/deps`), then `PATH`, then the sbin directories
/// users' `PATH` often lacks.
pub fn find_daemon() -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if let Some(p) = std::env::var_os("RVIRTD_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let mut dirs = vec![dir.to_path_buf()];
            if dir.file_name().is_some_and(|n| n == "deps") {
                dirs.extend(dir.parent().map(Path::to_path_buf));
            }
            for d in dirs {
                let c = d.join(SESSION_DAEMON);
                if is_exec(&c) {
                    return Some(c);
                }
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(SESSION_DAEMON))
        .find(|c| is_exec(c))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::new(
                code::SYSTEM_ERROR,
                domain::RPC,
                format!(
                    "Cannot create user runtime directory '{}': {}",
                    dir.display(),
                    strerror(&e)
                ),
            )
        })
}

/// An exclusive `flock` held until dropped.
struct FileLock(#[allow(dead_code)] std::fs::File);

fn lock_file(path: &Path) -> Result<FileLock> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let fail = |what: &str, e: io::Error| {
        Error::new(
            code::SYSTEM_ERROR,
            domain::RPC,
            format!("Unable to {what} '{}': {}", path.display(), strerror(&e)),
        )
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail("create lock", e))?;
    loop {
        // SAFETY: the descriptor belongs to `f`, which outlives the call.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            return Ok(FileLock(f));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(fail("lock", e));
        }
    }
}

fn spawn_daemon(daemon: &Path, log: &Path) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let fail = |e: io::Error| {
        Error::new(
            code::SYSTEM_ERROR,
            domain::RPC,
            format!(
                "Cannot start the session daemon {}: {}",
                daemon.display(),
                strerror(&e)
            ),
        )
    };
    let out = std::fs::File::create(log).map_err(fail)?;
    let err = out.try_clone().map_err(fail)?;
    Command::new(daemon)
        .args(["--session", "--timeout", "120"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl-C meant for the client must not stop the daemon.
        .process_group(0)
        .spawn()
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(euid: u32) -> Env {
        Env {
            euid,
            autostart: None,
            runtime_dir: PathBuf::from("/run/user/1000"),
        }
    }

    fn target(uri: &str, ro: bool, env: &Env, existing: &[&str]) -> (u32, Target) {
        let u = Uri::parse(uri).unwrap();
        let flags = daemon_flags(&u, ro, env);
        let t = resolve(&u, flags, env, &|p: &Path| {
            existing.iter().any(|e| Path::new(e) == p)
        })
        .unwrap();
        (flags, t)
    }

    fn unix(path: &str, autostart: bool, kind: SocketKind) -> Target {
        Target::Unix {
            path: path.into(),
            autostart,
            kind,
        }
    }

    #[test]
    fn flags_follow_libvirt() {
        let user = env(1000);
        let root = env(0);
        let f = |u: &str, ro: bool, e: &Env| daemon_flags(&Uri::parse(u).unwrap(), ro, e);
        assert_eq!(f("qemu:///session", false, &user), 6);
        assert_eq!(f("qemu:///session", true, &user), 7);
        assert_eq!(f("qemu:///session", false, &root), 0);
        assert_eq!(f("test+unix:///default", false, &user), 6);
        assert_eq!(f("test+unix:///default?socket=/x", false, &root), 0);
        assert_eq!(f("qemu:///system", true, &user), 1);
        assert_eq!(f("qemu+tcp://h/session", false, &user), 2);
        let off = Env {
            autostart: Some("0".into()),
            ..env(1000)
        };
        assert_eq!(f("qemu:///session", false, &off), 2);
    }

    #[test]
    fn chooses_sockets() {
        let user = env(1000);
        let root = env(0);
        assert_eq!(
            target("test+unix:///default?socket=/tmp/s", false, &user, &[]).1,
            unix("/tmp/s", false, SocketKind::Explicit)
        );
        assert_eq!(
            target("qemu:///session", false, &user, &[]).1,
            unix("/run/user/1000/rvirt/rvirt-sock", true, SocketKind::Session)
        );
        assert_eq!(
            target(
                "qemu:///session",
                false,
                &user,
                &["/run/user/1000/libvirt/libvirt-sock"]
            )
            .1,
            unix(
                "/run/user/1000/libvirt/libvirt-sock",
                false,
                SocketKind::Session
            )
        );
        assert_eq!(
            target(
                "qemu:///session",
                false,
                &user,
                &[
                    "/run/user/1000/libvirt/libvirt-sock",
                    "/run/user/1000/libvirt/virtqemud-sock"
                ]
            )
            .1,
            unix(
                "/run/user/1000/libvirt/virtqemud-sock",
                false,
                SocketKind::Session
            )
        );
        assert_eq!(
            target(
                "qemu:///session",
                false,
                &user,
                &[
                    "/run/user/1000/rvirt/rvirt-sock",
                    "/run/user/1000/libvirt/libvirt-sock"
                ]
            )
            .1,
            unix("/run/user/1000/rvirt/rvirt-sock", true, SocketKind::Session)
        );
        assert_eq!(
            target("qemu:///system", false, &user, &[]).1,
            unix("/run/rvirt/rvirt-sock", false, SocketKind::System)
        );
        assert_eq!(
            target(
                "qemu:///system",
                true,
                &root,
                &["/var/run/libvirt/libvirt-sock-ro"]
            )
            .1,
            unix(
                "/var/run/libvirt/libvirt-sock-ro",
                false,
                SocketKind::System
            )
        );
        assert_eq!(
            target(
                "qemu:///session",
                false,
                &root,
                &["/var/run/libvirt/virtqemud-sock"]
            )
            .1,
            unix("/var/run/libvirt/virtqemud-sock", false, SocketKind::System)
        );
        assert_eq!(
            target("qemu+tcp://example.org/system", false, &user, &[]).1,
            Target::Tcp {
                host: "example.org".into(),
                port: 16509
            }
        );
        assert_eq!(
            target("qemu+tcp://example.org:1234/system", false, &user, &[]).1,
            Target::Tcp {
                host: "example.org".into(),
                port: 1234
            }
        );
    }

    #[test]
    fn refuses_unimplemented_transports_clearly() {
        let e = env(1000);
        for u in [
            "qemu://host/system",
            "qemu+tls://host/system",
            "qemu+ssh://h/system",
        ] {
            let uri = Uri::parse(u).unwrap();
            let err = resolve(&uri, 0, &e, &|_| false).unwrap_err();
            assert_eq!(err.code, code::NO_SUPPORT, "{u}");
            assert!(err.message.contains("not implemented"), "{}", err.message);
        }
        let uri = Uri::parse("qemu+unix://host/system").unwrap();
        let err = resolve(&uri, 0, &e, &|_| false).unwrap_err();
        assert_eq!(
            err.message,
            "invalid argument: using unix socket and remote server 'host' is not supported."
        );
    }

    #[test]
    fn missing_socket_error_names_path_and_fix() {
        let dir = std::env::temp_dir().join(format!("rvirt-sock-test-{}", std::process::id()));
        let p = dir.join("nope-sock");
        let e = connect_unix_blocking(&p, false, SocketKind::Session).unwrap_err();
        assert_eq!(e.code, code::SYSTEM_ERROR);
        assert!(e.message.starts_with(&format!(
            "Failed to connect socket to '{}': No such file or directory (",
            p.display()
        )));
        assert!(e.message.contains("rvirtd --session"), "{}", e.message);
    }
}
