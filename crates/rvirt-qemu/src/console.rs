//! Guest consoles: `virDomainOpenConsole` for QEMU domains.
//!
//! Three parts, in the order a console's life needs them:
//!
//! - At start (QEMU still paused) the driver asks QMP `query-chardev` which pseudo-terminal QEMU
//!   allocated for each `pty` chardev ([`ptys_from_query`]) and writes the paths into the live
//!   definition ([`apply_ptys`], libvirt's `qemuProcessFindCharDevicePTYsMonitor`), so live XML
//!   shows `<source path='/dev/pts/N'/>` and `<console tty=…>`; the same map is kept in the
//!   status record for a restarted daemon.
//! - [`find_console`] picks the device a call means (`qemuDomainOpenConsole`): the first console
//!   when no name is given, else the console, serial or parallel port with that alias; only
//!   `pty` sources can be opened.
//! - [`Sessions`] are a domain's open consoles (libvirt's `virChrdevs`): one session per device,
//!   a second one refused unless forced, a forced one ending its predecessor as libvirtd does
//!   (that client's stream fails with "stream had I/O failure"). Each session opens the PTY's
//!   slave side in raw mode and pumps bytes both ways between it and a [`DuplexStream`] — over
//!   RPC, rvirtd's stream task is the other end. When QEMU exits the PTY hangs up and the stream
//!   ends with an end-of-file (virsh leaves quietly); a client that finishes or aborts just
//!   closes the slave, which QEMU and the guest do not notice. Like libvirt, a UUCP lock file
//!   (`/var/lock/LCK..pts_N`) keeps other programs that honour them off the same terminal.

use rvirt::error::{code, domain as errdom, Error, Result};
use rvirt::stream::{self, Chunk, DuplexStream, StreamSink, StreamSource};
use rvirt_xml::domain::devices::{Chr, ChrDeviceType, ChrSourceType, ChrTargetType};
use rvirt_xml::domain::DomainDef;
use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};

/// Where UUCP-style device lock files live (libvirt's `VIR_CHRDEV_LOCK_FILE_PATH` on Linux).
const LOCK_DIR: &str = "/var/lock";

/// Bytes read from the terminal at a time.
const READ_CHUNK: usize = 16 * 1024;

/// How long a taken-over session may take to tell its client before it is dropped anyway.
const TAKEOVER_NOTICE: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The alias QEMU domains give the `index`-th device of a kind (`qemuAssignDeviceChrAlias`).
fn default_alias(kind: ChrDeviceType, index: usize) -> String {
    format!("{}{index}", kind.as_str())
}

/// Gives every serial, parallel, console and channel device of a live definition its alias
/// (`serial0`, `console0`, …) unless it has one; live XML shows them as libvirtd's does.
pub fn assign_aliases(def: &mut DomainDef) {
    let d = &mut def.devices;
    for list in [
        &mut d.serials,
        &mut d.parallels,
        &mut d.consoles,
        &mut d.channels,
    ] {
        for (i, c) in list.iter_mut().enumerate() {
            if c.info.alias.is_none() {
                c.info.alias = Some(default_alias(c.device, i));
            }
        }
    }
}

/// The `-chardev` id of the `index`-th device of a kind: `char` + its default alias, as the
/// command line builder ([`crate::argv`]) names them.
pub fn chardev_id(kind: ChrDeviceType, index: usize) -> String {
    format!("char{}", default_alias(kind, index))
}

/// The pty-backed chardevs in a `query-chardev` answer: chardev id → `/dev/pts/N`.
pub fn ptys_from_query(answer: &serde_json::Value) -> BTreeMap<String, String> {
    answer
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let label = c["label"].as_str()?;
            let path = c["filename"].as_str()?.strip_prefix("pty:")?;
            Some((label.to_string(), path.to_string()))
        })
        .collect()
}

fn no_pty(id: &str) -> Error {
    Error::new(
        code::INTERNAL_ERROR,
        errdom::QEMU,
        format!("no assigned pty for device {id}"),
    )
}

fn lookup_ptys(list: &mut [Chr], skip: usize, ptys: &BTreeMap<String, String>) -> Result<()> {
    for (i, c) in list.iter_mut().enumerate().skip(skip) {
        if c.source.type_ != ChrSourceType::Pty {
            continue;
        }
        let id = chardev_id(c.device, i);
        match ptys.get(&id) {
            Some(p) => c.source.path = Some(p.clone()),
            None if c.source.path.is_some() => {}
            None => return Err(no_pty(&id)),
        }
    }
    Ok(())
}

/// Writes the PTY paths QEMU reported into a live definition
/// (`qemuProcessFindCharDevicePTYsMonitor`). The first console of a domain with serial ports
/// is only an alias of the first one and gets a copy of its source. A pty device QEMU has no
/// terminal for is libvirt's "no assigned pty for device charserial0" error.
pub fn apply_ptys(def: &mut DomainDef, ptys: &BTreeMap<String, String>) -> Result<()> {
    let d = &mut def.devices;
    lookup_ptys(&mut d.serials, 0, ptys)?;
    lookup_ptys(&mut d.parallels, 0, ptys)?;
    lookup_ptys(&mut d.channels, 0, ptys)?;
    let mut skip = 0;
    if let (Some(console), Some(serial)) = (d.consoles.first_mut(), d.serials.first()) {
        if console.target_type == ChrTargetType::Serial {
            console.source = serial.source.clone();
            skip = 1;
        }
    }
    lookup_ptys(&mut d.consoles, skip, ptys)
}

fn alias_of(c: &Chr, index: usize) -> String {
    c.info
        .alias
        .clone()
        .unwrap_or_else(|| default_alias(c.device, index))
}

/// The PTY path of the device `dev_name` means in a running domain's live definition
/// (`qemuDomainOpenConsole`): with no name the first console (or else the first serial port),
/// else the console, serial or parallel port with that alias. libvirt's errors: "cannot find
/// character device NAME", "character device NAME is not using a PTY", "PTY device is not yet
/// assigned".
pub fn find_console(def: &DomainDef, dev_name: Option<&str>) -> Result<String> {
    let d = &def.devices;
    let found: Option<(&Chr, usize)> = match dev_name {
        Some(name) => [&d.consoles, &d.serials, &d.parallels]
            .into_iter()
            .find_map(|list| {
                list.iter()
                    .enumerate()
                    .find(|(i, c)| alias_of(c, *i) == name)
                    .map(|(i, c)| (c, i))
            }),
        None => d
            .consoles
            .first()
            .or_else(|| d.serials.first())
            .map(|c| (c, 0)),
    };
    let Some((chr, index)) = found else {
        return Err(Error::new(
            code::INTERNAL_ERROR,
            errdom::QEMU,
            format!(
                "cannot find character device {}",
                dev_name.unwrap_or("<null>")
            ),
        ));
    };
    if chr.source.type_ != ChrSourceType::Pty {
        let name = dev_name
            .map(str::to_string)
            .unwrap_or_else(|| alias_of(chr, index));
        return Err(Error::new(
            code::INTERNAL_ERROR,
            errdom::QEMU,
            format!("character device {name} is not using a PTY"),
        ));
    }
    chr.source.path.clone().ok_or_else(|| {
        Error::new(
            code::OPERATION_FAILED,
            errdom::NONE,
            "PTY device is not yet assigned",
        )
    })
}

/// The error a session's client gets when another client forces the console away from it
/// (libvirtd's wording for an aborted device stream).
fn taken_over() -> Error {
    Error::new(code::RPC, errdom::STREAMS, "stream had I/O failure")
}

/// Why [`Sessions::open`] did not open a console.
#[derive(Debug)]
pub enum OpenError {
    /// Another session holds the device and the call did not force it away.
    Busy,
    /// Opening failed.
    Failed(Error),
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Busy => Error::new(
                code::OPERATION_FAILED,
                errdom::QEMU,
                "Active console session exists for this domain",
            ),
            OpenError::Failed(e) => e,
        }
    }
}

/// A session's terminal. `revoked` is set when another session forces the device away: from
/// then on this session neither reads nor writes it, even before its tasks have noticed.
struct Pty {
    fd: AsyncFd<OwnedFd>,
    revoked: AtomicBool,
}

struct Session {
    id: u64,
    pty: Arc<Pty>,
    /// Fired to end the session when another one forces the device away.
    takeover: Option<oneshot::Sender<()>>,
    /// The UUCP lock file this session created, if any.
    lock_file: Option<PathBuf>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<String, Session>,
}

/// The open console sessions of one domain, by device path (libvirt's `virChrdevs`).
#[derive(Clone, Default)]
pub struct Sessions {
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = lock(&self.table);
        f.debug_struct("Sessions")
            .field("open", &t.open.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Sessions {
    /// Whether a session on `path` is open.
    pub fn is_open(&self, path: &str) -> bool {
        lock(&self.table).open.contains_key(path)
    }

    /// Opens a console session on the terminal `path` (`virChrdevOpen`): refused while another
    /// session has it, unless `force`, which ends that session first. Must run inside a tokio
    /// runtime; the returned stream's `tx` carries keystrokes to the guest, its `rx` the
    /// guest's output.
    pub fn open(&self, path: &str, force: bool) -> std::result::Result<DuplexStream, OpenError> {
        let mut t = lock(&self.table);
        if let Some(old) = t.open.get_mut(path) {
            if !force {
                return Err(OpenError::Busy);
            }
            old.pty.revoked.store(true, Ordering::SeqCst);
            if let Some(tx) = old.takeover.take() {
                let _ = tx.send(());
            }
            if let Some(l) = old.lock_file.take() {
                let _ = std::fs::remove_file(l);
            }
            t.open.remove(path);
        }
        let lock_file = create_lock_file(path).map_err(OpenError::Failed)?;
        let pty = match open_raw(path) {
            Ok(fd) => Arc::new(Pty {
                fd,
                revoked: AtomicBool::new(false),
            }),
            Err(e) => {
                if let Some(l) = &lock_file {
                    let _ = std::fs::remove_file(l);
                }
                return Err(OpenError::Failed(e));
            }
        };
        t.next_id += 1;
        let id = t.next_id;
        let (takeover_tx, takeover_rx) = oneshot::channel();
        t.open.insert(
            path.to_string(),
            Session {
                id,
                pty: pty.clone(),
                takeover: Some(takeover_tx),
                lock_file,
            },
        );
        drop(t);
        let (near, far) = stream::duplex(stream::DEFAULT_DEPTH);
        let guard = Arc::new(Closer {
            table: self.table.clone(),
            path: path.to_string(),
            id,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(pty_to_stream(
            pty.clone(),
            far.tx,
            takeover_rx,
            stop_rx,
            guard.clone(),
        ));
        tokio::spawn(stream_to_pty(pty, far.rx, stop_tx, guard));
        Ok(near)
    }
}

/// Forgets a session once both its tasks are done, unless another session has replaced it.
struct Closer {
    table: Arc<Mutex<Table>>,
    path: String,
    id: u64,
}

impl Drop for Closer {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        if t.open.get(&self.path).is_some_and(|s| s.id == self.id) {
            if let Some(s) = t.open.remove(&self.path) {
                if let Some(l) = s.lock_file {
                    let _ = std::fs::remove_file(l);
                }
            }
        }
    }
}

/// `/dev/pts/3` → `/var/lock/LCK.._pts_3` (`virChrdevLockFilePath`).
fn lock_file_path(dev: &str) -> PathBuf {
    let name = dev.strip_prefix("/dev").unwrap_or(dev).replace('/', "_");
    Path::new(LOCK_DIR).join(format!("LCK..{name}"))
}

/// Whether the pid written in a lock file names a live process.
fn lock_holder(path: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: i64 = text.trim().parse().ok()?;
    if pid <= 0 || pid > i32::MAX as i64 {
        return None;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as i32, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}

/// Creates the device's UUCP lock file (`virChrdevLockFileCreate`). `None` when an unprivileged
/// daemon may not write the lock directory, which libvirt also tolerates.
fn create_lock_file(dev: &str) -> Result<Option<PathBuf>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_file_path(dev);
    if let Some(pid) = lock_holder(&path) {
        return Err(Error::new(
            code::OPERATION_FAILED,
            errdom::NONE,
            format!(
                "Requested device '{dev}' is locked by lock file '{}' held by process {pid}",
                path.display()
            ),
        ));
    }
    let _ = std::fs::remove_file(&path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path);
    // SAFETY: geteuid has no preconditions.
    let privileged = unsafe { libc::geteuid() } == 0;
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && !privileged => {
            return Ok(None)
        }
        Err(e) => {
            return Err(Error::new(
                code::SYSTEM_ERROR,
                errdom::NONE,
                format!(
                    "Couldn't create lock file for device '{dev}' in path '{}': {e}",
                    path.display()
                ),
            ))
        }
    };
    // The FHS format: the pid right-aligned in ten columns.
    if let Err(e) = file.write_all(format!("{:>10}\n", std::process::id()).as_bytes()) {
        let _ = std::fs::remove_file(&path);
        return Err(Error::new(
            code::SYSTEM_ERROR,
            errdom::NONE,
            format!(
                "Couldn't write to lock file for device '{dev}' in path '{}': {e}",
                path.display()
            ),
        ));
    }
    Ok(Some(path))
}

fn stream_err(detail: String) -> Error {
    Error::new(code::SYSTEM_ERROR, errdom::STREAMS, detail)
}

/// Opens the terminal non-blocking and in raw mode, as libvirt's `virFDStreamOpenPTY` does.
fn open_raw(path: &str) -> Result<AsyncFd<OwnedFd>> {
    let c = CString::new(path).map_err(|_| stream_err(format!("invalid path '{path}'")))?;
    // SAFETY: open with a NUL-terminated path and flags; the result is checked.
    let raw = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        let e = std::io::Error::last_os_error();
        return Err(stream_err(format!(
            "Unable to open stream for '{path}': {e}"
        )));
    }
    // SAFETY: `raw` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: termios is plain data; tcgetattr fills it from a descriptor we own.
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a pointer to our termios.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut tio) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(stream_err(format!(
            "unable to get tty attributes: {path}: {e}"
        )));
    }
    // SAFETY: cfmakeraw only edits the structure it is given.
    unsafe { libc::cfmakeraw(&mut tio) };
    // SAFETY: a valid descriptor and a pointer to initialised termios.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &tio) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(stream_err(format!(
            "unable to set tty attributes: {path}: {e}"
        )));
    }
    // SAFETY: `fd` is an open descriptor the AsyncFd owns from here on; OwnedFd's as_raw_fd
    // returns that same descriptor until it is dropped with the AsyncFd.
    let registered = unsafe { AsyncFd::register(fd) };
    registered.map_err(|e| stream_err(format!("cannot watch '{path}': {e}")))
}

fn sys_read(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: read into our buffer, at most its length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn sys_write(fd: &OwnedFd, buf: &[u8]) -> std::io::Result<usize> {
    // SAFETY: write from our buffer, at most its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// What one read of the terminal gave.
enum Read {
    Data(Vec<u8>),
    /// The other side hung up: QEMU closed its end.
    Hangup,
    /// Another session has the terminal now.
    Revoked,
    Failed(std::io::Error),
}

async fn read_pty(pty: &Pty, buf: &mut [u8]) -> Read {
    loop {
        let mut g = match pty.fd.readable().await {
            Ok(g) => g,
            Err(e) => return Read::Failed(e),
        };
        if pty.revoked.load(Ordering::SeqCst) {
            return Read::Revoked;
        }
        match g.try_io(|f| sys_read(f.get_ref(), buf)) {
            Err(_would_block) => continue,
            // A hung-up terminal reads as end of file (or EIO, depending on the side).
            Ok(Ok(0)) => return Read::Hangup,
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Read::Hangup,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(Ok(n)) => return Read::Data(buf[..n].to_vec()),
            Ok(Err(e)) => return Read::Failed(e),
        }
    }
}

async fn write_pty(pty: &Pty, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let mut g = pty.fd.writable().await?;
        if pty.revoked.load(Ordering::SeqCst) {
            return Ok(());
        }
        match g.try_io(|f| sys_write(f.get_ref(), data)) {
            Err(_would_block) => continue,
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(())
}

/// Guest output → the client, until the terminal hangs up, the client is gone, or another
/// session takes the device over.
async fn pty_to_stream(
    pty: Arc<Pty>,
    mut tx: StreamSink,
    mut takeover: oneshot::Receiver<()>,
    mut stop: watch::Receiver<bool>,
    _closer: Arc<Closer>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut pending: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            r = &mut takeover => {
                if r.is_ok() {
                    let _ = tokio::time::timeout(TAKEOVER_NOTICE, tx.fail(taken_over())).await;
                }
                return;
            }
            // The client finished or aborted its side.
            _ = stop.changed() => return,
            r = tx.send(Chunk::Data(pending.clone().unwrap_or_default())),
                if pending.is_some() && !pty.revoked.load(Ordering::SeqCst) => {
                if r.is_err() {
                    return;
                }
                pending = None;
            }
            r = read_pty(&pty, &mut buf), if pending.is_none() => match r {
                Read::Data(d) => pending = Some(d),
                Read::Revoked => {
                    let _ = tokio::time::timeout(TAKEOVER_NOTICE, tx.fail(taken_over())).await;
                    return;
                }
                Read::Hangup => {
                    // The guest is gone: end of data, as libvirtd reports a hung-up device.
                    // The client's confirmation reaches the other task, so this cannot wait
                    // on itself.
                    let _ = tx.finish().await;
                    return;
                }
                Read::Failed(e) => {
                    tx.fail(stream_err(format!("cannot read from stream: {e}"))).await;
                    return;
                }
            },
        }
    }
}

/// The client's keystrokes → the guest, until the client finishes or aborts.
async fn stream_to_pty(
    pty: Arc<Pty>,
    mut rx: StreamSource,
    stop: watch::Sender<bool>,
    _closer: Arc<Closer>,
) {
    // After a write error (the guest side is gone) input is still taken, and dropped, so the
    // client's finish is confirmed rather than refused.
    let mut writable = true;
    loop {
        match rx.recv().await {
            Ok(Some(Chunk::Data(d))) => {
                if writable && write_pty(&pty, &d).await.is_err() {
                    writable = false;
                }
            }
            Ok(Some(Chunk::Hole(_))) => {}
            Ok(None) => {
                rx.complete(Ok(()));
                break;
            }
            Err(_) => break,
        }
    }
    let _ = stop.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_xml::domain::{self as xdom, FormatOpts};

    const XML: &str = "<domain type='qemu'><name>c</name><memory>65536</memory>\
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
        <serial type='pty'><log file='/tmp/c.log'/><target port='0'/></serial>\
        <serial type='file'><source path='/tmp/s1'/><target port='1'/></serial>\
        <console type='pty'/></devices></domain>";

    fn live(xml: &str) -> DomainDef {
        let mut def = xdom::parse(xml).unwrap();
        // A running domain's definition has an id (without one it is formatted as inactive).
        def.id = Some(1);
        assign_aliases(&mut def);
        def
    }

    fn ptys(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn query_chardev_answer_gives_the_pty_paths() {
        let v = serde_json::json!([
            {"frontend-open": true, "filename": "pty:/dev/pts/7", "label": "charserial0"},
            {"frontend-open": true, "filename": "disconnected:unix:/run/x.monitor,server=on",
             "label": "charmonitor"},
            {"frontend-open": false, "filename": "file", "label": "charserial1"},
        ]);
        assert_eq!(ptys_from_query(&v), ptys(&[("charserial0", "/dev/pts/7")]));
        assert!(ptys_from_query(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn live_xml_shows_the_pty_like_libvirtd() {
        let mut def = live(XML);
        apply_ptys(&mut def, &ptys(&[("charserial0", "/dev/pts/7")])).unwrap();
        let xml = xdom::format(&def, FormatOpts::default());
        assert!(
            xml.contains(
                "    <serial type='pty'>\n      <source path='/dev/pts/7'/>\n      \
                 <log file='/tmp/c.log'/>\n"
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                "    <console type='pty' tty='/dev/pts/7'>\n      <source path='/dev/pts/7'/>\n"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("      <alias name='serial0'/>\n    </console>"),
            "{xml}"
        );
        // The inactive view has neither the path nor the tty.
        let inactive = xdom::format(
            &def,
            FormatOpts {
                inactive: true,
                ..Default::default()
            },
        );
        assert!(!inactive.contains("/dev/pts/7"), "{inactive}");
    }

    #[test]
    fn a_pty_qemu_did_not_report_fails_the_start() {
        let mut def = live(XML);
        let e = apply_ptys(&mut def, &ptys(&[])).unwrap_err();
        assert_eq!(e.code, code::INTERNAL_ERROR);
        assert_eq!(e.domain, errdom::QEMU);
        assert_eq!(
            e.message,
            "internal error: no assigned pty for device charserial0"
        );
    }

    #[test]
    fn device_choice_and_libvirt_errors() {
        let mut def = live(XML);
        apply_ptys(&mut def, &ptys(&[("charserial0", "/dev/pts/7")])).unwrap();
        for name in [None, Some("console0"), Some("serial0")] {
            assert_eq!(find_console(&def, name).unwrap(), "/dev/pts/7", "{name:?}");
        }
        let msg = |n: Option<&str>| {
            let e = find_console(&def, n).unwrap_err();
            assert_eq!((e.code, e.domain), (code::INTERNAL_ERROR, errdom::QEMU));
            e.message
        };
        assert_eq!(
            msg(Some("serial1")),
            "internal error: character device serial1 is not using a PTY"
        );
        assert_eq!(
            msg(Some("parallel0")),
            "internal error: cannot find character device parallel0"
        );

        // A domain whose console is a file: named by its alias when no name was given.
        let file = XML
            .replace(
                "<serial type='pty'><log file='/tmp/c.log'/>",
                "<serial type='file'><source path='/tmp/s0'/>",
            )
            .replace("<console type='pty'/>", "");
        let mut def = live(&file);
        apply_ptys(&mut def, &ptys(&[])).unwrap();
        let e = find_console(&def, None).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: character device console0 is not using a PTY"
        );
        // No console and no serial port at all.
        let none = "<domain type='qemu'><name>n</name><memory>65536</memory>\
            <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>";
        let e = find_console(&live(none), None).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: cannot find character device <null>"
        );
        // A pty whose path is not known yet.
        let e = find_console(&live(XML), Some("serial0")).unwrap_err();
        assert_eq!((e.code, e.domain), (code::OPERATION_FAILED, errdom::NONE));
        assert_eq!(
            e.message,
            "operation failed: PTY device is not yet assigned"
        );
    }

    #[test]
    fn lock_file_names_follow_libvirt() {
        assert_eq!(
            lock_file_path("/dev/pts/3"),
            Path::new("/var/lock/LCK.._pts_3")
        );
        assert_eq!(lock_file_path("ttyS0"), Path::new("/var/lock/LCK..ttyS0"));
    }

    /// A pseudo-terminal pair: (master, slave path).
    fn openpty() -> (std::fs::File, String) {
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two descriptors; the name, termios and winsize are optional.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0);
        let path = std::fs::read_link(format!("/proc/self/fd/{s}")).unwrap();
        // SAFETY: the slave descriptor is ours and no longer needed (sessions open the path).
        unsafe { libc::close(s) };
        // SAFETY: openpty just gave us the master descriptor.
        let master = unsafe { std::fs::File::from_raw_fd(m) };
        (master, path.display().to_string())
    }

    async fn recv_text(s: &mut DuplexStream, want: &str) -> String {
        let mut got = Vec::new();
        let t = tokio::time::timeout(Duration::from_secs(10), async {
            while !String::from_utf8_lossy(&got).contains(want) {
                match s.rx.recv().await.unwrap() {
                    Some(Chunk::Data(d)) => got.extend(d),
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
        t.await.expect("console output");
        String::from_utf8_lossy(&got).into_owned()
    }

    fn unlocked(path: &str) {
        // Keep the test from touching a lock another program holds on a recycled pts number.
        let _ = lock_holder(&lock_file_path(path)).map(|p| panic!("{path} locked by {p}"));
    }

    #[tokio::test]
    async fn sessions_pump_both_ways_refuse_a_second_and_hand_over_when_forced() {
        use std::io::{Read as _, Write as _};
        let (mut master, path) = openpty();
        unlocked(&path);
        let sessions = Sessions::default();
        let mut first = sessions.open(&path, false).unwrap();
        assert!(sessions.is_open(&path));

        // Guest output reaches the client; the client's keystrokes reach the guest, unchanged
        // (the terminal is raw: no echo, no CR/LF translation).
        master.write_all(b"hello\n").unwrap();
        assert_eq!(recv_text(&mut first, "hello\n").await, "hello\n");
        first
            .tx
            .send(Chunk::Data(b"typed\r".to_vec()))
            .await
            .unwrap();
        let mut m2 = master.try_clone().unwrap();
        let got = tokio::task::spawn_blocking(move || {
            let mut b = [0u8; 6];
            m2.read_exact(&mut b).unwrap();
            b
        })
        .await
        .unwrap();
        assert_eq!(&got, b"typed\r");

        // A second session is refused with libvirt's words…
        let e: Error = sessions.open(&path, false).unwrap_err().into();
        assert_eq!((e.code, e.domain), (code::OPERATION_FAILED, errdom::QEMU));
        assert_eq!(
            e.message,
            "operation failed: Active console session exists for this domain"
        );
        // …and with force it takes over: the first client's stream fails as with libvirtd.
        let mut second = sessions.open(&path, true).unwrap();
        let e = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match first.rx.recv().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("first session ended without an error"),
                    Err(e) => break e,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((e.code, e.domain), (code::RPC, errdom::STREAMS));
        assert_eq!(e.message, "stream had I/O failure");
        master.write_all(b"again\n").unwrap();
        recv_text(&mut second, "again\n").await;
        assert!(sessions.is_open(&path));

        // The client finishing ends the session and frees the device.
        second.tx.finish().await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while sessions.is_open(&path) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        assert!(!lock_file_path(&path).exists());
        let mut third = sessions.open(&path, false).unwrap();

        // The terminal hanging up (QEMU exiting) ends the stream with a clean end of file.
        drop(master);
        let end = tokio::time::timeout(Duration::from_secs(10), third.rx.recv())
            .await
            .unwrap();
        assert!(matches!(end, Ok(None)), "{end:?}");
        third.rx.complete(Ok(()));
        drop(third.tx);
        tokio::time::timeout(Duration::from_secs(10), async {
            while sessions.is_open(&path) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_missing_terminal_is_a_stream_error() {
        let e: Error = Sessions::default()
            .open("/dev/pts/rvirt-no-such-pty", false)
            .unwrap_err()
            .into();
        assert_eq!((e.code, e.domain), (code::SYSTEM_ERROR, errdom::STREAMS));
        assert!(
            e.message.starts_with(
                "Unable to open stream for '/dev/pts/rvirt-no-such-pty': No such file"
            ),
            "{}",
            e.message
        );
    }
}
