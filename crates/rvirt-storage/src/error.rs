//! Errors of image inspection and chain resolution, each with libvirt's code, domain and text.
//!
//! `Display` gives libvirt's detail text (what `virReportError` is passed); [`Error::message`]
//! gives the full message a libvirt client prints, built from the code's format. The mapping to
//! `(code, domain)` lives here and nowhere else.

use rvirt_proto::error::{code, domain, format_message};

use crate::backing::BackingError;
use crate::inspect::HeaderError;

/// libvirt's `strerror` text for an I/O error ("No such file or directory").
pub(crate) fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => s[..i].to_string(),
        _ => s,
    }
}

/// The user and group a chain is checked as (libvirt reports them when a file is inaccessible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessIds {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl AccessIds {
    /// This process's effective user and group (from `/proc/self/status`; 0 if unreadable).
    pub fn current() -> AccessIds {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let effective = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        AccessIds {
            uid: effective("Uid:"),
            gid: effective("Gid:"),
        }
    }
}

fn as_ids(ids: &Option<AccessIds>) -> String {
    match ids {
        Some(i) => format!(" (as uid:{}, gid:{})", i.uid, i.gid),
        None => String::new(),
    }
}

/// An inspection or chain-resolution failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `stat` of an image failed.
    #[error("cannot stat file '{path}': {reason}")]
    Stat {
        /// The image.
        path: String,
        /// strerror text.
        reason: String,
    },
    /// Opening an image failed.
    #[error("Failed to open file '{path}': {reason}")]
    Open {
        /// The image.
        path: String,
        /// strerror text.
        reason: String,
    },
    /// Reading an image's header failed.
    #[error("cannot read header '{path}': {reason}")]
    Read {
        /// The image.
        path: String,
        /// strerror text.
        reason: String,
    },
    /// The header cannot be read as its format.
    #[error("cannot read header '{path}': {source}")]
    Header {
        /// The image.
        path: String,
        /// What is wrong with it.
        source: HeaderError,
    },
    /// The top image of a chain does not exist or is not accessible.
    #[error("Cannot access storage file '{path}'{}: {reason}", as_ids(.ids))]
    StorageFileInaccessible {
        /// The image.
        path: String,
        /// Who it was checked as, when libvirt says so.
        ids: Option<AccessIds>,
        /// strerror text.
        reason: String,
    },
    /// A backing file does not exist or is not accessible.
    #[error("Cannot access backing file '{path}' of storage file '{top}'{}: {reason}", as_ids(.ids))]
    BackingFileInaccessible {
        /// The backing file, as resolved.
        path: String,
        /// The image the chain was resolved from.
        top: String,
        /// Who it was checked as.
        ids: Option<AccessIds>,
        /// strerror text.
        reason: String,
    },
    /// A backing image's format is not recorded and probing it is not safe.
    #[error(
        "format of backing image '{backing}' of image '{image}' was not specified in the image \
         metadata (See https://libvirt.org/kbase/backing_chains.html for troubleshooting)"
    )]
    BackingFormatUnrecorded {
        /// The backing name as written in the overlay.
        backing: String,
        /// The overlay's path.
        image: String,
    },
    /// The chain loops or is deeper than the limit (200).
    #[error("backing store for {path} is self-referential or too deeply nested")]
    TooDeep {
        /// The layer at which the limit was passed.
        path: String,
    },
    /// A chain given partly in XML is longer than 200 layers.
    #[error("backing chains more than 200 layers deep are not supported{}",
            .disk.as_ref().map(|d| format!(" for disk '{d}'")).unwrap_or_default())]
    ChainTooLong {
        /// The disk target (vda), when known.
        disk: Option<String>,
    },
    /// A qcow2 image records its backing format as "none" (libvirt's wording).
    #[error("unknown storage file meta->format 0: Invalid argument")]
    BackingFormatNone {
        /// The image whose backing says "none".
        image: String,
    },
    /// A backing name that cannot be understood.
    #[error(transparent)]
    Backing(#[from] BackingError),
}

impl Error {
    /// libvirt's `virErrorNumber`.
    pub fn code(&self) -> i32 {
        match self {
            Error::Stat { .. }
            | Error::Open { .. }
            | Error::Read { .. }
            | Error::StorageFileInaccessible { .. }
            | Error::BackingFileInaccessible { .. }
            | Error::BackingFormatNone { .. } => code::SYSTEM_ERROR,
            Error::Header { .. } | Error::TooDeep { .. } => code::INTERNAL_ERROR,
            Error::BackingFormatUnrecorded { .. } => code::OPERATION_INVALID,
            Error::ChainTooLong { .. } => code::OPERATION_UNSUPPORTED,
            Error::Backing(b) => b.code(),
        }
    }

    /// libvirt's `virErrorDomain`.
    pub fn domain(&self) -> i32 {
        match self {
            // Raised by the QEMU driver (qemuDomainStorageSourceValidateDepth).
            Error::ChainTooLong { .. } => domain::QEMU,
            _ => domain::STORAGE,
        }
    }

    /// The full message as a libvirt client shows it ("Requested operation is not valid: …").
    pub fn message(&self) -> String {
        format_message(self.code(), Some(&self.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_libvirt() {
        let e = Error::BackingFormatUnrecorded {
            backing: "b.qcow2".into(),
            image: "/i/a.qcow2".into(),
        };
        assert_eq!(e.code(), code::OPERATION_INVALID);
        assert_eq!(
            e.message(),
            "Requested operation is not valid: format of backing image 'b.qcow2' of image \
             '/i/a.qcow2' was not specified in the image metadata (See \
             https://libvirt.org/kbase/backing_chains.html for troubleshooting)"
        );
        let e = Error::BackingFileInaccessible {
            path: "/x/b".into(),
            top: "/x/a".into(),
            ids: Some(AccessIds { uid: 107, gid: 108 }),
            reason: "No such file or directory".into(),
        };
        assert_eq!(
            e.message(),
            "Cannot access backing file '/x/b' of storage file '/x/a' (as uid:107, gid:108): \
             No such file or directory"
        );
        let e = Error::TooDeep {
            path: "/x/a".into(),
        };
        assert_eq!(
            e.message(),
            "internal error: backing store for /x/a is self-referential or too deeply nested"
        );
        assert_eq!(
            Error::ChainTooLong {
                disk: Some("vda".into())
            }
            .message(),
            "Operation not supported: backing chains more than 200 layers deep are not supported \
             for disk 'vda'"
        );
        let io = std::io::Error::from_raw_os_error(2);
        assert_eq!(errno_text(&io), "No such file or directory");
    }
}
