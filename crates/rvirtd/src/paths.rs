//! Where the daemon puts its sockets, pid file and configuration, by mode.
//!
//! rvirtd runs either as the system daemon (root: `/run/rvirt/…`) or as a per-user session
//! daemon (`$XDG_RUNTIME_DIR/rvirt/…`), like libvirtd. In drop-in mode it takes libvirt's socket
//! names (`libvirt-sock`, `virtqemud-sock`, …) in libvirt's directories, so unmodified clients that
//! look for libvirtd or virtqemud find it.

use std::path::{Path, PathBuf};

/// System or session daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The privileged daemon serving `qemu:///system`.
    System,
    /// A per-user daemon serving `qemu:///session`.
    Session,
}

impl Mode {
    /// The default mode for this process: system when running as root.
    pub fn for_current_user() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            Mode::System
        } else {
            Mode::Session
        }
    }
}

/// What clients on a socket may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Read-write: the full REMOTE, QEMU and LXC programs.
    ReadWrite,
    /// Read-only: mutating calls are refused.
    ReadOnly,
    /// The ADMIN program.
    Admin,
}

/// One socket to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    /// Its path.
    pub path: PathBuf,
    /// What it serves.
    pub kind: SocketKind,
}

/// The per-user runtime directory (`$XDG_RUNTIME_DIR`, else `~/.cache`, as GLib decides).
fn user_runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => home_dir().join(".cache"),
    }
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The default socket directory: `/run/rvirt` or `$XDG_RUNTIME_DIR/rvirt`; in drop-in mode
/// libvirt's `/run/libvirt` or `$XDG_RUNTIME_DIR/libvirt`.
pub fn default_socket_dir(mode: Mode, libvirt_names: bool) -> PathBuf {
    let leaf = if libvirt_names { "libvirt" } else { "rvirt" };
    match mode {
        Mode::System => Path::new("/run").join(leaf),
        Mode::Session => user_runtime_dir().join(leaf),
    }
}

/// The sockets to listen on in `dir`.
///
/// rvirt's names: `rvirt-sock`, `rvirt-sock-ro`, `rvirt-admin-sock`. libvirt's (drop-in):
/// `libvirt-sock`, `libvirt-admin-sock` and `virtqemud-sock`, and their `-ro` twins.
pub fn sockets(dir: &Path, libvirt_names: bool) -> Vec<SocketSpec> {
    let spec = |name: &str, kind| SocketSpec {
        path: dir.join(name),
        kind,
    };
    if !libvirt_names {
        return vec![
            spec("rvirt-sock", SocketKind::ReadWrite),
            spec("rvirt-sock-ro", SocketKind::ReadOnly),
            spec("rvirt-admin-sock", SocketKind::Admin),
        ];
    }
    // A session libvirtd has no read-only socket; rvirtd offers one in both modes (clients
    // that do not look for it are not affected).
    vec![
        spec("libvirt-sock", SocketKind::ReadWrite),
        spec("libvirt-sock-ro", SocketKind::ReadOnly),
        spec("virtqemud-sock", SocketKind::ReadWrite),
        spec("virtqemud-sock-ro", SocketKind::ReadOnly),
        spec("libvirt-admin-sock", SocketKind::Admin),
    ]
}

/// The default pid file: `/run/rvirtd.pid`, or `$XDG_RUNTIME_DIR/rvirt/rvirtd.pid`.
pub fn default_pid_file(mode: Mode) -> PathBuf {
    match mode {
        Mode::System => PathBuf::from("/run/rvirtd.pid"),
        Mode::Session => user_runtime_dir().join("rvirt").join("rvirtd.pid"),
    }
}

/// The configuration file read when `-f` is not given: `/etc/rvirt/rvirtd.conf`, or
/// `$XDG_CONFIG_HOME/rvirt/rvirtd.conf` (`~/.config/rvirt/rvirtd.conf`).
pub fn default_config_file(mode: Mode) -> PathBuf {
    match mode {
        Mode::System => PathBuf::from("/etc/rvirt/rvirtd.conf"),
        Mode::Session => {
            let base = match std::env::var_os("XDG_CONFIG_HOME") {
                Some(d) if !d.is_empty() => PathBuf::from(d),
                _ => home_dir().join(".config"),
            };
            base.join("rvirt").join("rvirtd.conf")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_by_mode() {
        let d = Path::new("/d");
        let names = |l| {
            sockets(d, l)
                .into_iter()
                .map(|s| {
                    (
                        s.path.file_name().unwrap().to_str().unwrap().to_string(),
                        s.kind,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(false),
            vec![
                ("rvirt-sock".to_string(), SocketKind::ReadWrite),
                ("rvirt-sock-ro".to_string(), SocketKind::ReadOnly),
                ("rvirt-admin-sock".to_string(), SocketKind::Admin),
            ]
        );
        let system = names(true);
        assert!(system.contains(&("libvirt-sock-ro".to_string(), SocketKind::ReadOnly)));
        assert!(system.contains(&("virtqemud-sock".to_string(), SocketKind::ReadWrite)));
        assert_eq!(
            default_socket_dir(Mode::System, false),
            Path::new("/run/rvirt")
        );
        assert_eq!(
            default_socket_dir(Mode::System, true),
            Path::new("/run/libvirt")
        );
    }
}
