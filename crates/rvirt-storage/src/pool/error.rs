//! Errors of the storage pool backends, each carrying libvirt's code and detail text.
//!
//! The backends (directory, filesystem, volume files, `qemu-img`) report what libvirt's
//! `storage_util.c` and `storage_backend_fs.c` report, so a client sees the same message for the
//! same failure. The mapping to libvirt's `(code, domain)` lives in [`Error::code`] and in the one
//! `From<Error> for rvirt::Error` below; the driver adds its own state errors directly as
//! `rvirt::Error`.

use rvirt_proto::error::{code, domain, format_message};

use crate::error::errno_text;

/// A backend failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A system call failed (libvirt's `virReportSystemError`): what was being done, and the
    /// `strerror` text of the error.
    #[error("{what}: {reason}")]
    System {
        /// What failed, naming the file ("cannot open volume '/p/v'").
        what: String,
        /// `strerror` text.
        reason: String,
    },
    /// A helper program (`qemu-img`, `mount`, `mkfs`) failed (libvirt's `virCommandWait` text).
    #[error("Child process ({command}) unexpected {status}{}",
            if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Child {
        /// The command line, shell-quoted.
        command: String,
        /// "exit status N" or "fatal signal N".
        status: String,
        /// What the program wrote to stderr.
        stderr: String,
    },
    /// `qemu-img` reported success but the image it made is not what was asked for.
    #[error("qemu-img made '{path}' {problem}; the volume was removed")]
    ImageMismatch {
        /// The image.
        path: String,
        /// What differs ("with format raw instead of qcow2").
        problem: String,
    },
    /// A backing chain rvirt refuses to hand to QEMU (its format would have to be guessed).
    #[error(transparent)]
    Chain(#[from] crate::Error),
    /// An XML document libvirt rejects.
    #[error("{}", .0.message())]
    Xml(rvirt_xml::XmlError),
    /// Any other refusal, with libvirt's error number and detail text.
    #[error("{detail}")]
    Refused {
        /// `virErrorNumber`.
        code: i32,
        /// The detail text (what `virReportError` is given).
        detail: String,
    },
}

/// Result of backend operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `virReportSystemError(errno, "<what>")`.
    pub fn sys(what: impl Into<String>, err: &std::io::Error) -> Error {
        Error::System {
            what: what.into(),
            reason: errno_text(err),
        }
    }

    /// `virReportSystemError` with an errno value.
    pub fn errno(what: impl Into<String>, errno: i32) -> Error {
        Error::sys(what, &std::io::Error::from_raw_os_error(errno))
    }

    /// `virReportError(code, "<detail>")`.
    pub fn refused(code: i32, detail: impl Into<String>) -> Error {
        Error::Refused {
            code,
            detail: detail.into(),
        }
    }

    /// `VIR_ERR_INTERNAL_ERROR` with detail.
    pub fn internal(detail: impl Into<String>) -> Error {
        Error::refused(code::INTERNAL_ERROR, detail)
    }

    /// libvirt's `virErrorNumber`.
    pub fn code(&self) -> i32 {
        match self {
            Error::System { .. } => code::SYSTEM_ERROR,
            Error::Child { .. } | Error::ImageMismatch { .. } => code::INTERNAL_ERROR,
            Error::Chain(e) => e.code(),
            Error::Xml(e) => e.code(),
            Error::Refused { code, .. } => *code,
        }
    }

    /// libvirt's `virErrorDomain`.
    pub fn domain(&self) -> i32 {
        match self {
            Error::Chain(e) => e.domain(),
            Error::Xml(e) => e.domain(),
            _ => domain::STORAGE,
        }
    }

    /// The full message a client prints.
    pub fn message(&self) -> String {
        match self {
            Error::Xml(e) => e.message(),
            Error::Chain(e) => e.message(),
            _ => format_message(self.code(), Some(&self.to_string())),
        }
    }
}

impl From<rvirt_xml::XmlError> for Error {
    fn from(e: rvirt_xml::XmlError) -> Self {
        Error::Xml(e)
    }
}

impl From<Error> for rvirt::Error {
    fn from(e: Error) -> Self {
        rvirt::Error::raw(e.code(), e.domain(), e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_libvirt() {
        let e = Error::errno("cannot open volume '/p/v'", libc::ENOENT);
        assert_eq!(
            e.message(),
            "cannot open volume '/p/v': No such file or directory"
        );
        assert_eq!(
            (e.code(), e.domain()),
            (code::SYSTEM_ERROR, domain::STORAGE)
        );
        let e = Error::Child {
            command: "/usr/bin/qemu-img create -f qcow2 /p/v 1K".into(),
            status: "exit status 1".into(),
            stderr: "qemu-img: boom\n".into(),
        };
        assert_eq!(
            e.message(),
            "internal error: Child process (/usr/bin/qemu-img create -f qcow2 /p/v 1K) \
             unexpected exit status 1: qemu-img: boom\n"
        );
        let e = Error::refused(code::STORAGE_VOL_EXIST, "'v'");
        let r = rvirt::Error::from(e);
        assert_eq!(r.message, "storage volume 'v' exists already");
        assert_eq!(r.domain, domain::STORAGE);
    }
}
