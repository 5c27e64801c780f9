//! The pid file: claimed with a write lock held for the daemon's life, as libvirt's
//! `virPidFileAcquirePath` does, so that a second daemon refuses to start and a stale file left
//! by a crash is simply taken over.
//!
//! The lock lives on the file's inode, so the file is never replaced by rename (that would drop
//! the lock's meaning). Instead: open, lock, check that the path still names the locked inode
//! (another daemon may have removed it meanwhile), then write `PID\n` with a single `pwrite` at
//! offset 0 and cut the file to that length. A stale file taken over is never seen empty, and
//! its first line is always a whole pid (the old one before the write, the new one after).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why the pid file could not be claimed.
#[derive(Debug, Error)]
pub enum PidFileError {
    /// Another process holds the lock.
    #[error("pid file {path} is locked by another running daemon (pid {pid}); stop it first or use -p to choose another pid file")]
    Locked {
        /// The file.
        path: PathBuf,
        /// The pid written in it, as text.
        pid: String,
    },
    /// An I/O error.
    #[error("cannot claim pid file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A claimed pid file; removed and unlocked on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: Option<File>,
}

fn lock(f: &File) -> io::Result<bool> {
    let fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    // SAFETY: the fd is open for the lifetime of `f`, and `fl` is a valid flock struct that
    // outlives the call.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

impl PidFile {
    /// Claims `path` for process `pid`.
    pub fn acquire(path: &Path, pid: u32) -> Result<Self, PidFileError> {
        let io_err = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        loop {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
                .map_err(io_err)?;
            if !lock(&f).map_err(io_err)? {
                let pid = std::fs::read_to_string(path).unwrap_or_default();
                return Err(PidFileError::Locked {
                    path: path.to_path_buf(),
                    pid: pid.trim().to_string(),
                });
            }
            // Another daemon may have unlinked the file between our open and lock; then our
            // lock is on an orphan inode and we must start over.
            let ours = f.metadata().map_err(io_err)?;
            match std::fs::metadata(path) {
                Ok(m) if m.dev() == ours.dev() && m.ino() == ours.ino() => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(e)),
            }
            let text = format!("{pid}\n");
            std::os::unix::fs::FileExt::write_all_at(&f, text.as_bytes(), 0).map_err(io_err)?;
            f.set_len(text.len() as u64).map_err(io_err)?;
            return Ok(Self {
                path: path.to_path_buf(),
                file: Some(f),
            });
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Unlink while still holding the lock, then close (virPidFileReleasePath's order).
        let _ = std::fs::remove_file(&self.path);
        self.file.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pid_and_removes_on_drop() {
        let dir = std::env::temp_dir().join(format!("rvirtd-pidfile-{}", std::process::id()));
        let path = dir.join("sub").join("rvirtd.pid");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sub-stale"), "x").unwrap();
        {
            let p = PidFile::acquire(&path, 4242).unwrap();
            assert_eq!(std::fs::read_to_string(p.path()).unwrap(), "4242\n");
        }
        assert!(!path.exists());
        // A stale file with a longer old pid is overwritten, not appended to.
        std::fs::write(&path, "123456789\n").unwrap();
        let p = PidFile::acquire(&path, 7).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "7\n");
        drop(p);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
