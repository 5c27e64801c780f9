//! Creating the UNIX listening sockets: directory, stale-socket cleanup, permissions, group.
//!
//! Before binding, a leftover socket file is probed: if a daemon answers on it, rvirtd refuses to
//! start (two daemons on one socket would split the clients between them); if nobody answers it
//! is stale and removed. The socket is created under a umask that yields the configured mode, so
//! there is no window in which it is more open than configured, then given the configured group.

use crate::paths::SocketSpec;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a socket could not be set up.
#[derive(Debug, Error)]
pub enum ListenError {
    /// Another daemon accepts connections on the path.
    #[error(
        "another daemon is already listening on {0}; stop it, or choose another unix_sock_dir"
    )]
    InUse(PathBuf),
    /// Something that is not a socket is in the way.
    #[error("{0} exists and is not a socket; remove it or choose another unix_sock_dir")]
    NotASocket(PathBuf),
    /// The configured group does not exist.
    #[error("unix_sock_group: no group named '{0}'")]
    NoGroup(String),
    /// An I/O error on a path.
    #[error("cannot {what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A bound socket and what it serves.
#[derive(Debug)]
pub struct Listener {
    /// Path and kind.
    pub spec: SocketSpec,
    /// The bound, listening socket (std, to be handed to tokio inside the runtime).
    pub socket: std::os::unix::net::UnixListener,
}

/// Looks up a group id by name.
pub fn group_id(name: &str) -> Result<u32, ListenError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let cname = CString::new(name).map_err(|_| ListenError::NoGroup(name.to_string()))?;
    let mut grp: libc::group = libc::group {
        gr_name: std::ptr::null_mut(),
        gr_passwd: std::ptr::null_mut(),
        gr_gid: 0,
        gr_mem: std::ptr::null_mut(),
    };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call: `cname` is NUL-terminated, `grp` and `result`
    // are live locals, and `buf` is a writable buffer of the length passed.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(ListenError::NoGroup(name.to_string()));
    }
    Ok(grp.gr_gid)
}

/// Removes a leftover socket at `path` unless a daemon answers on it.
fn clear_stale(path: &Path) -> Result<(), ListenError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ListenError::Io {
                what: "inspect",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket(path.to_path_buf()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ListenError::InUse(path.to_path_buf())),
        Err(_) => std::fs::remove_file(path).map_err(|source| ListenError::Io {
            what: "remove stale socket",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Binds one socket with `mode` and optional group `gid`.
pub fn bind(spec: &SocketSpec, mode: u32, gid: Option<u32>) -> Result<Listener, ListenError> {
    let path = &spec.path;
    clear_stale(path)?;
    // The umask is process-wide; sockets are bound during start-up, before any other thread
    // creates files, so narrowing it briefly is safe.
    // SAFETY: umask has no preconditions.
    let old = unsafe { libc::umask((!mode & 0o777) as libc::mode_t) };
    let bound = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let socket = bound.map_err(|source| ListenError::Io {
        what: "listen on",
        path: path.clone(),
        source,
    })?;
    // The umask cannot add bits (setgid, sticky), and some filesystems ignore it: set the mode
    // explicitly too.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        ListenError::Io {
            what: "set permissions of",
            path: path.clone(),
            source,
        }
    })?;
    if let Some(gid) = gid {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| ListenError::Io {
            what: "change group of",
            path: path.clone(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
        // SAFETY: `c` is a valid NUL-terminated path; uid -1 leaves the owner unchanged.
        if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
            return Err(ListenError::Io {
                what: "change group of",
                path: path.clone(),
                source: io::Error::last_os_error(),
            });
        }
    }
    socket
        .set_nonblocking(true)
        .map_err(|source| ListenError::Io {
            what: "configure",
            path: path.clone(),
            source,
        })?;
    Ok(Listener {
        spec: spec.clone(),
        socket,
    })
}

/// Creates the socket directory (`dir_mode` for a new one).
pub fn ensure_dir(dir: &Path, dir_mode: u32) -> Result<(), ListenError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)
        .map_err(|source| ListenError::Io {
            what: "create directory",
            path: dir.to_path_buf(),
            source,
        })
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::SocketKind;

    #[test]
    fn stale_sockets_are_replaced_and_live_ones_refused() {
        let dir = std::env::temp_dir().join(format!("rvirtd-listen-{}", std::process::id()));
        ensure_dir(&dir, 0o700).unwrap();
        let spec = SocketSpec {
            path: dir.join("s"),
            kind: SocketKind::ReadWrite,
        };
        let l = bind(&spec, 0o660, None).unwrap();
        let mode = std::fs::metadata(&spec.path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o660);
        // Live: refused.
        assert!(matches!(
            bind(&spec, 0o660, None),
            Err(ListenError::InUse(_))
        ));
        // Stale (listener closed, file left behind): replaced.
        drop(l);
        assert!(spec.path.exists());
        let _l2 = bind(&spec, 0o600, None).unwrap();
        // A regular file is never removed.
        let file = SocketSpec {
            path: dir.join("f"),
            kind: SocketKind::ReadWrite,
        };
        std::fs::write(&file.path, "x").unwrap();
        assert!(matches!(
            bind(&file, 0o600, None),
            Err(ListenError::NotASocket(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn groups_resolve() {
        assert_eq!(group_id("0").unwrap(), 0);
        assert_eq!(group_id("root").unwrap(), 0);
        assert!(matches!(
            group_id("no-such-group-rvirtd"),
            Err(ListenError::NoGroup(_))
        ));
    }
}
