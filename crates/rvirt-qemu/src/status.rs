//! The live-status record of a running QEMU: what a restarted daemon needs to find its process
//! again and prove it is the same one.
//!
//! One record per running domain, written atomically (see [`crate::atomic_file`]) beside the
//! monitor socket whenever the process starts or its state changes, and removed when it stops.
//! The format is a small XML document in the spirit of libvirt's `domstatus` files:
//!
//! ```xml
//! <domstatus state='running' reason='booted' pid='4242'>
//!   <process starttime='123456' started='1700000000123'/>
//!   <emulator path='/usr/bin/qemu-system-x86_64'/>
//!   <monitor path='/run/rvirt/qemu/demo.monitor' type='unix'/>
//!   <pidfile path='/run/rvirt/qemu/demo.pid'/>
//!   <logfile path='/var/log/rvirt/qemu/demo.log'/>
//!   <pty chardev='charserial0' path='/dev/pts/3'/>
//!   <domain type='qemu'>…the live definition, verbatim…</domain>
//! </domstatus>
//! ```
//!
//! `starttime` is the process's start time in clock ticks since boot (field 22 of
//! `/proc/PID/stat`): with the pid it identifies the process across pid reuse, which is what
//! [`crate::process::QemuProcess::attach`] checks before it signals or reconnects to anything.
//! The `<pty>` elements are the terminals QEMU allocated for its `pty` chardevs (from QMP
//! `query-chardev` at start): the embedded definition is read back with the inactive parser,
//! which drops live-only data such as a pty's path, so the re-attach path re-applies them.

use rvirt_xml::writer::XmlWriter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Problems reading or writing a status file.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The file could not be read or written.
    #[error("cannot {action} status file {path}: {reason}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The status file.
        path: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// The file is not a status record we can use.
    #[error("status file {path} is invalid ({detail}); remove it if the domain is not running")]
    Invalid {
        /// The status file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl From<StatusError> for rvirt::Error {
    fn from(e: StatusError) -> Self {
        use rvirt::error::{code, domain};
        let c = match e {
            StatusError::Io { action: "read", .. } => code::READ_FAILED,
            StatusError::Io { .. } => code::WRITE_FAILED,
            StatusError::Invalid { .. } => code::INTERNAL_ERROR,
        };
        rvirt::Error::new(c, domain::QEMU, e.to_string())
    }
}

/// The live state of one running QEMU process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    /// QEMU's pid.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
    /// When the process was started, in milliseconds since the UNIX epoch.
    pub started_unix_ms: u64,
    /// The QEMU binary as it was executed.
    pub binary: PathBuf,
    /// The QMP monitor socket.
    pub monitor: PathBuf,
    /// QEMU's pid file (also appears on its command line, which is part of the identity check).
    pub pid_file: PathBuf,
    /// The log file holding QEMU's stdout and stderr.
    pub log_file: PathBuf,
    /// Domain state name (`running`, `paused`, …), as the lifecycle layer last recorded it.
    pub state: String,
    /// Reason for that state (`booted`, `user`, …).
    pub reason: String,
    /// The pseudo-terminals of the `pty` chardevs: chardev id → `/dev/pts/N`.
    pub ptys: BTreeMap<String, String>,
    /// The live domain definition, kept verbatim (a `<domain>` element), if recorded.
    pub domain_xml: Option<String>,
}

impl LiveStatus {
    /// The record as XML text.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        let pid = self.pid.to_string();
        w.open(
            "domstatus",
            &[
                ("state", &self.state),
                ("reason", &self.reason),
                ("pid", &pid),
            ],
        );
        w.empty(
            "process",
            &[
                ("starttime", &self.start_time.to_string()),
                ("started", &self.started_unix_ms.to_string()),
            ],
        );
        w.empty("emulator", &[("path", &path_str(&self.binary))]);
        w.empty(
            "monitor",
            &[("path", &path_str(&self.monitor)), ("type", "unix")],
        );
        w.empty("pidfile", &[("path", &path_str(&self.pid_file))]);
        w.empty("logfile", &[("path", &path_str(&self.log_file))]);
        for (id, path) in &self.ptys {
            w.empty("pty", &[("chardev", id), ("path", path)]);
        }
        if let Some(d) = &self.domain_xml {
            for line in d.trim_end().lines() {
                w.raw_line(line);
            }
        }
        w.close("domstatus");
        w.finish()
    }

    /// Parses a record; `path` names the file in errors.
    pub fn from_xml(text: &str, path: &Path) -> Result<Self, StatusError> {
        let invalid = |detail: String| StatusError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let doc = roxmltree::Document::parse(text).map_err(|e| invalid(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().name() != "domstatus" {
            return Err(invalid(format!(
                "root element is <{}>, not <domstatus>",
                root.tag_name().name()
            )));
        }
        let child = |name: &str| root.children().find(|n| n.has_tag_name(name));
        let attr = |elem: &str, a: &str| -> Result<String, StatusError> {
            let node = if elem == "domstatus" {
                Some(root)
            } else {
                child(elem)
            };
            node.and_then(|n| n.attribute(a))
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("missing {elem}/@{a}")))
        };
        let num = |elem: &str, a: &str| -> Result<u64, StatusError> {
            let v = attr(elem, a)?;
            v.parse()
                .map_err(|_| invalid(format!("{elem}/@{a} '{v}' is not a number")))
        };
        let pid = num("domstatus", "pid")?;
        if pid == 0 || pid > i32::MAX as u64 {
            return Err(invalid(format!("pid {pid} is out of range")));
        }
        Ok(LiveStatus {
            pid: pid as i32,
            start_time: num("process", "starttime")?,
            started_unix_ms: num("process", "started")?,
            binary: attr("emulator", "path")?.into(),
            monitor: attr("monitor", "path")?.into(),
            pid_file: attr("pidfile", "path")?.into(),
            log_file: attr("logfile", "path")?.into(),
            state: attr("domstatus", "state")?,
            reason: attr("domstatus", "reason")?,
            ptys: root
                .children()
                .filter(|n| n.has_tag_name("pty"))
                .map(|n| match (n.attribute("chardev"), n.attribute("path")) {
                    (Some(id), Some(p)) => Ok((id.to_string(), p.to_string())),
                    _ => Err(invalid("a <pty> lacks chardev or path".into())),
                })
                .collect::<Result<_, _>>()?,
            domain_xml: child("domain").map(|n| unindent(&text[n.range()])),
        })
    }

    /// Writes the record to `path` atomically (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), StatusError> {
        crate::atomic_file::write(path, self.to_xml().as_bytes(), 0o600).map_err(|e| {
            StatusError::Io {
                action: "write",
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })
    }

    /// Reads the record at `path`.
    pub fn load(path: &Path) -> Result<Self, StatusError> {
        let text = std::fs::read_to_string(path).map_err(|e| StatusError::Io {
            action: "read",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_xml(&text, path)
    }
}

/// Undoes the two-space indentation [`LiveStatus::to_xml`] gives the embedded domain's lines
/// (the first line starts at the element and carries none).
fn unindent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(if i > 0 {
            line.strip_prefix("  ").unwrap_or(line)
        } else {
            line
        });
    }
    out
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LiveStatus {
        LiveStatus {
            pid: 4242,
            start_time: 123456,
            started_unix_ms: 1_700_000_000_123,
            binary: "/usr/bin/qemu-system-x86_64".into(),
            monitor: "/run/rvirt/qemu/demo & 'co'.monitor".into(),
            pid_file: "/run/rvirt/qemu/demo.pid".into(),
            log_file: "/var/log/rvirt/qemu/demo.log".into(),
            state: "running".into(),
            reason: "booted".into(),
            ptys: [("charserial0".to_string(), "/dev/pts/3".to_string())].into(),
            domain_xml: Some("<domain type='qemu'>\n  <name>demo</name>\n</domain>".into()),
        }
    }

    #[test]
    fn formats_and_round_trips() {
        let s = sample();
        let xml = s.to_xml();
        assert_eq!(
            xml,
            "<domstatus state='running' reason='booted' pid='4242'>\n\
             \x20 <process starttime='123456' started='1700000000123'/>\n\
             \x20 <emulator path='/usr/bin/qemu-system-x86_64'/>\n\
             \x20 <monitor path='/run/rvirt/qemu/demo &amp; &apos;co&apos;.monitor' type='unix'/>\n\
             \x20 <pidfile path='/run/rvirt/qemu/demo.pid'/>\n\
             \x20 <logfile path='/var/log/rvirt/qemu/demo.log'/>\n\
             \x20 <pty chardev='charserial0' path='/dev/pts/3'/>\n\
             \x20 <domain type='qemu'>\n\
             \x20   <name>demo</name>\n\
             \x20 </domain>\n\
             </domstatus>\n"
        );
        let back = LiveStatus::from_xml(&xml, Path::new("x")).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_xml(), xml);
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("demo.xml");
        let mut s = sample();
        s.domain_xml = None;
        s.save(&p).unwrap();
        assert_eq!(LiveStatus::load(&p).unwrap(), s);
    }

    #[test]
    fn rejects_broken_records_naming_the_file() {
        let p = Path::new("/run/rvirt/qemu/demo.xml");
        let e =
            LiveStatus::from_xml("<domstatus state='running' reason='booted'/>", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "status file /run/rvirt/qemu/demo.xml is invalid (missing domstatus/@pid); remove it if \
             the domain is not running"
        );
        let e = LiveStatus::from_xml("<domstatus pid='0'/>", p).unwrap_err();
        assert!(e.to_string().contains("pid 0 is out of range"), "{e}");
        let e = LiveStatus::from_xml(
            "<domstatus state='running' reason='booted' pid='1'><process starttime='1' \
             started='1'/><emulator path='q'/><monitor path='m'/><pidfile path='p'/><logfile \
             path='l'/><pty chardev='charserial0'/></domstatus>",
            p,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("a <pty> lacks chardev or path"),
            "{e}"
        );
        let e = LiveStatus::from_xml("<domain/>", p).unwrap_err();
        assert!(e.to_string().contains("not <domstatus>"), "{e}");
        let e = LiveStatus::load(Path::new("/nonexistent/demo.xml")).unwrap_err();
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::READ_FAILED);
        assert_eq!(v.domain, rvirt::error::domain::QEMU);
    }
}
