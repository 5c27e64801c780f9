//! The QMP client: rvirt's only way of talking to a running QEMU.
//!
//! A [`Qmp`] handle wraps one UNIX-socket connection to a QEMU monitor. Connecting reads QEMU's
//! greeting and negotiates capabilities (`qmp_capabilities`); after that, any number of tasks may
//! issue commands concurrently through cheap clones of the handle. Each command carries a numeric
//! `id`, so replies are matched to callers in any order, and each call has its own timeout: a
//! QEMU that stops answering makes only the calls waiting on it fail (with [`QmpError::Timeout`]),
//! never other users of the client, `list`, or other domains. Writes go through one writer task,
//! so a caller that gives up (timeout or cancellation) never leaves half a command on the socket.
//!
//! Asynchronous events (SHUTDOWN, STOP, RESUME, RESET, POWERDOWN, …) arrive on the channel
//! returned by [`Qmp::connect`], typed as [`Event`]. When the monitor goes away (QEMU exited or
//! closed the socket), every pending call fails with [`QmpError::Closed`], the event channel ends,
//! and [`Qmp::closed`] resolves with the reason.

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The timeout rvirt uses for ordinary monitor commands.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest line accepted from QEMU. The largest legitimate replies (`query-qmp-schema`,
/// `query-cpu-model-expansion`) are a few hundred KiB; a peer sending more is broken.
const MAX_LINE: usize = 64 << 20;

/// What can go wrong talking to a QEMU monitor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QmpError {
    /// The socket could not be connected.
    #[error("failed to connect to monitor socket {path}: {reason}")]
    Connect {
        /// Monitor socket path.
        path: PathBuf,
        /// The system error text.
        reason: String,
    },
    /// QEMU did not send its greeting in time.
    #[error(
        "QEMU monitor {path} sent no greeting within {} ms; check that the process is a QEMU \
         and see its log file",
        timeout.as_millis()
    )]
    GreetingTimeout {
        /// Monitor socket path.
        path: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
    /// The peer broke the QMP protocol (bad greeting, unparsable line, oversized reply).
    #[error("QEMU monitor {path} broke the QMP protocol: {detail}")]
    Protocol {
        /// Monitor socket path.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// No reply to a command within its timeout. The command may still run in QEMU.
    #[error(
        "timed out after {} ms waiting for QEMU to answer '{command}' on monitor {path}; the QEMU \
         process may be hung (see its log file); destroying the domain recovers",
        timeout.as_millis()
    )]
    Timeout {
        /// The QMP command.
        command: String,
        /// Monitor socket path.
        path: PathBuf,
        /// The call's timeout.
        timeout: Duration,
    },
    /// QEMU answered the command with an error (libvirt's wording).
    #[error("unable to execute QEMU command '{command}': {desc}")]
    Command {
        /// The QMP command.
        command: String,
        /// QMP error class, e.g. `GenericError`, `CommandNotFound`.
        class: String,
        /// QEMU's description.
        desc: String,
    },
    /// The monitor connection is gone (QEMU exited or closed it).
    #[error("QEMU monitor {path} was closed: {reason}")]
    Closed {
        /// Monitor socket path.
        path: PathBuf,
        /// Why it closed (end of file, read error, …).
        reason: String,
    },
}

impl From<QmpError> for rvirt::Error {
    fn from(e: QmpError) -> Self {
        use rvirt::error::{code, domain};
        let c = match &e {
            QmpError::Connect { .. } => code::SYSTEM_ERROR,
            QmpError::GreetingTimeout { .. } | QmpError::Timeout { .. } => code::OPERATION_TIMEOUT,
            QmpError::Protocol { .. } => code::INTERNAL_ERROR,
            QmpError::Command { class, .. } if class == "CommandNotFound" => {
                code::OPERATION_UNSUPPORTED
            }
            QmpError::Command { .. } => code::INTERNAL_ERROR,
            QmpError::Closed { .. } => code::OPERATION_FAILED,
        };
        rvirt::Error::new(c, domain::QEMU, e.to_string())
    }
}

/// QEMU's version from the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Micro.
    pub micro: u32,
}

impl Version {
    /// libvirt's integer form: `major * 1_000_000 + minor * 1_000 + micro`.
    pub fn as_number(&self) -> u64 {
        self.major as u64 * 1_000_000 + self.minor as u64 * 1_000 + self.micro as u64
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The QMP greeting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Greeting {
    /// QEMU's version.
    pub version: Version,
    /// Distribution package string, e.g. `Debian 1:10.0.2+ds-2`.
    pub package: String,
    /// Capabilities QEMU offers (e.g. `oob`); rvirt enables none of them.
    pub capabilities: Vec<String>,
}

/// An asynchronous QMP event, typed where rvirt acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// QEMU is shutting down (guest poweroff, `quit`, a signal, …). `guest` tells whether the
    /// guest asked for it; `reason` is QEMU's `ShutdownCause` (`guest-shutdown`, `host-signal`, …).
    Shutdown {
        /// Initiated by the guest.
        guest: bool,
        /// QEMU's shutdown cause.
        reason: String,
    },
    /// `system_powerdown` was delivered (ACPI power button pressed).
    Powerdown,
    /// The machine was reset.
    Reset {
        /// Initiated by the guest.
        guest: bool,
        /// QEMU's reset cause.
        reason: String,
    },
    /// vCPUs stopped (paused).
    Stop,
    /// vCPUs resumed.
    Resume,
    /// The guest entered S3/S4 suspend.
    Suspend,
    /// The guest woke from suspend.
    Wakeup,
    /// The guest kernel panicked (pvpanic).
    GuestPanicked {
        /// What QEMU did about it (`pause`, `poweroff`, …).
        action: String,
    },
    /// A device finished unplugging.
    DeviceDeleted {
        /// The device id, if it had one.
        device: Option<String>,
        /// The QOM path.
        path: String,
    },
    /// Any other event, untyped.
    Other {
        /// Event name.
        name: String,
        /// Its `data` member (`null` when absent).
        data: Value,
    },
}

/// An event with QEMU's timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// The event.
    pub event: Event,
    /// When QEMU emitted it: microseconds since the UNIX epoch.
    pub timestamp_us: i64,
}

impl QmpEvent {
    fn from_json(obj: &Map<String, Value>) -> Option<Self> {
        let name = obj.get("event")?.as_str()?;
        let data = obj.get("data").cloned().unwrap_or(Value::Null);
        let ts = obj.get("timestamp");
        let secs = ts
            .and_then(|t| t.get("seconds"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let micros = ts
            .and_then(|t| t.get("microseconds"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let s = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let b = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
        let event = match name {
            "SHUTDOWN" => Event::Shutdown {
                guest: b("guest"),
                reason: s("reason"),
            },
            "POWERDOWN" => Event::Powerdown,
            "RESET" => Event::Reset {
                guest: b("guest"),
                reason: s("reason"),
            },
            "STOP" => Event::Stop,
            "RESUME" => Event::Resume,
            "SUSPEND" => Event::Suspend,
            "WAKEUP" => Event::Wakeup,
            "GUEST_PANICKED" => Event::GuestPanicked {
                action: s("action"),
            },
            "DEVICE_DELETED" => Event::DeviceDeleted {
                device: data
                    .get("device")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                path: s("path"),
            },
            _ => Event::Other {
                name: name.to_string(),
                data,
            },
        };
        Some(QmpEvent {
            event,
            timestamp_us: secs * 1_000_000 + micros,
        })
    }

    /// The event's QMP name.
    pub fn name(&self) -> &str {
        match &self.event {
            Event::Shutdown { .. } => "SHUTDOWN",
            Event::Powerdown => "POWERDOWN",
            Event::Reset { .. } => "RESET",
            Event::Stop => "STOP",
            Event::Resume => "RESUME",
            Event::Suspend => "SUSPEND",
            Event::Wakeup => "WAKEUP",
            Event::GuestPanicked { .. } => "GUEST_PANICKED",
            Event::DeviceDeleted { .. } => "DEVICE_DELETED",
            Event::Other { name, .. } => name,
        }
    }
}

/// Receiving end of a monitor's events; ends when the monitor closes.
pub type EventReceiver = mpsc::UnboundedReceiver<QmpEvent>;

type Reply = Result<Value, (String, String)>;

#[derive(Default)]
struct Pending {
    waiting: HashMap<u64, oneshot::Sender<Reply>>,
    /// Set once the connection is gone; no new calls are accepted after that.
    closed: Option<String>,
}

struct Shared {
    path: PathBuf,
    greeting: Greeting,
    next_id: AtomicU64,
    pending: Arc<Mutex<Pending>>,
    writes: mpsc::UnboundedSender<Vec<u8>>,
    closed: watch::Receiver<Option<String>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: stop reading and writing; dropping the halves closes the socket.
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A connected, negotiated QMP monitor. Clones share the connection.
#[derive(Clone)]
pub struct Qmp {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// Removes a call's reply slot when the call ends by any route (reply, timeout, cancellation).
struct SlotGuard<'a> {
    pending: &'a Mutex<Pending>,
    id: u64,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        lock(self.pending).waiting.remove(&self.id);
    }
}

fn lock(m: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Qmp {
    /// Connects to the monitor socket at `path`, reads the greeting and negotiates capabilities,
    /// all within `timeout`.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<(Qmp, EventReceiver), QmpError> {
        let deadline = Instant::now() + timeout;
        let stream = match tokio::time::timeout_at(deadline, UnixStream::connect(path)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(QmpError::Connect {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(QmpError::Connect {
                    path: path.to_path_buf(),
                    reason: format!("no answer within {} ms", timeout.as_millis()),
                })
            }
        };
        Self::handshake(stream, path, deadline).await
    }

    /// Runs the greeting and capabilities handshake on an already connected stream (a socket
    /// QEMU inherited, or a test peer). `label` names the monitor in errors.
    pub async fn from_stream(
        stream: UnixStream,
        label: &Path,
        timeout: Duration,
    ) -> Result<(Qmp, EventReceiver), QmpError> {
        Self::handshake(stream, label, Instant::now() + timeout).await
    }

    async fn handshake(
        stream: UnixStream,
        path: &Path,
        deadline: Instant,
    ) -> Result<(Qmp, EventReceiver), QmpError> {
        let (rd, wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        let timeout = deadline.saturating_duration_since(Instant::now());
        let line = match tokio::time::timeout_at(deadline, read_line(&mut rd)).await {
            Err(_) => {
                return Err(QmpError::GreetingTimeout {
                    path: path.to_path_buf(),
                    timeout,
                })
            }
            Ok(Err(detail)) => {
                return Err(QmpError::Protocol {
                    path: path.to_path_buf(),
                    detail,
                })
            }
            Ok(Ok(None)) => {
                return Err(QmpError::Closed {
                    path: path.to_path_buf(),
                    reason: "end of file before the QMP greeting".into(),
                })
            }
            Ok(Ok(Some(l))) => l,
        };
        let greeting = parse_greeting(&line).map_err(|detail| QmpError::Protocol {
            path: path.to_path_buf(),
            detail,
        })?;
        let qmp = Self::start(rd, wr, path, greeting);
        let (qmp, events) = qmp;
        let left = deadline.saturating_duration_since(Instant::now());
        qmp.execute("qmp_capabilities", None, left.max(Duration::from_millis(1)))
            .await?;
        Ok((qmp, events))
    }

    fn start(
        rd: BufReader<OwnedReadHalf>,
        wr: OwnedWriteHalf,
        path: &Path,
        greeting: Greeting,
    ) -> (Qmp, EventReceiver) {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (writes_tx, writes_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = watch::channel(None);
        let closed_tx = Arc::new(closed_tx);
        let reader = tokio::spawn(reader_task(
            rd,
            pending.clone(),
            events_tx,
            closed_tx.clone(),
        ));
        let writer = tokio::spawn(writer_task(wr, writes_rx, pending.clone(), closed_tx));
        let shared = Shared {
            path: path.to_path_buf(),
            greeting,
            next_id: AtomicU64::new(1),
            pending,
            writes: writes_tx,
            closed: closed_rx,
            tasks: [reader, writer],
        };
        (
            Qmp {
                shared: Arc::new(shared),
            },
            events_rx,
        )
    }

    /// The monitor's socket path (or label).
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// QEMU's greeting.
    pub fn greeting(&self) -> &Greeting {
        &self.shared.greeting
    }

    /// Runs `command` with optional `arguments` (a JSON object) and returns its `return` member.
    /// Fails with [`QmpError::Timeout`] if no reply arrives within `timeout`.
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        let deadline = Instant::now() + timeout;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&self.shared.pending);
            if let Some(reason) = &p.closed {
                return Err(self.closed_error(reason.clone()));
            }
            p.waiting.insert(id, tx);
        }
        let _slot = SlotGuard {
            pending: &self.shared.pending,
            id,
        };
        let mut msg = Map::new();
        msg.insert("execute".into(), Value::String(command.into()));
        if let Some(args) = arguments {
            msg.insert("arguments".into(), args);
        }
        msg.insert("id".into(), json!(id));
        let mut line = serde_json::to_vec(&Value::Object(msg)).expect("JSON value serializes");
        line.push(b'\n');
        if self.shared.writes.send(line).is_err() {
            let reason = lock(&self.shared.pending).closed.clone();
            return Err(self.closed_error(reason.unwrap_or_else(|| "writer stopped".into())));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err((class, desc)))) => Err(QmpError::Command {
                command: command.to_string(),
                class,
                desc,
            }),
            Ok(Err(_)) => {
                let reason = lock(&self.shared.pending).closed.clone();
                Err(self.closed_error(reason.unwrap_or_else(|| "connection lost".into())))
            }
            Err(_) => Err(QmpError::Timeout {
                command: command.to_string(),
                path: self.shared.path.clone(),
                timeout,
            }),
        }
    }

    /// [`execute`](Self::execute) with [`DEFAULT_TIMEOUT`].
    pub async fn call(&self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        self.execute(command, arguments, DEFAULT_TIMEOUT).await
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.borrow().is_some()
    }

    /// Resolves, with the reason, once the connection is gone.
    pub async fn closed(&self) -> String {
        let mut rx = self.shared.closed.clone();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                return lock(&self.shared.pending)
                    .closed
                    .clone()
                    .unwrap_or_else(|| "connection lost".into());
            }
        }
    }

    fn closed_error(&self, reason: String) -> QmpError {
        QmpError::Closed {
            path: self.shared.path.clone(),
            reason,
        }
    }
}

fn parse_greeting(line: &str) -> Result<Greeting, String> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| format!("greeting is not JSON ({e}): {line}"))?;
    let qmp = v
        .get("QMP")
        .ok_or_else(|| format!("expected a QMP greeting, got: {line}"))?;
    let ver = qmp.get("version").ok_or("greeting has no version")?;
    let q = ver.get("qemu").ok_or("greeting has no qemu version")?;
    let n = |k: &str| q.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    Ok(Greeting {
        version: Version {
            major: n("major"),
            minor: n("minor"),
            micro: n("micro"),
        },
        package: ver
            .get("package")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string(),
        capabilities: qmp
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads one newline-terminated line (without the newline); `None` at end of file.
async fn read_line(rd: &mut BufReader<OwnedReadHalf>) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    loop {
        let chunk = match rd.fill_buf().await {
            Ok(c) => c,
            // QEMU closing its end while our last bytes were unread shows up as a reset: it is
            // the same event as an end of file.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && buf.is_empty() => {
                return Ok(None)
            }
            Err(e) => return Err(format!("read error: {e}")),
        };
        if chunk.is_empty() {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err("end of file in the middle of a message".into())
            };
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        buf.extend_from_slice(&chunk[..take]);
        rd.consume(take);
        if buf.len() > MAX_LINE {
            return Err(format!("a message exceeds {MAX_LINE} bytes"));
        }
        if done {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return String::from_utf8(buf)
                .map(Some)
                .map_err(|_| "a message is not UTF-8".into());
        }
    }
}

fn close_all(pending: &Mutex<Pending>, closed_tx: &watch::Sender<Option<String>>, reason: String) {
    let waiting = {
        let mut p = lock(pending);
        if p.closed.is_none() {
            p.closed = Some(reason.clone());
        }
        std::mem::take(&mut p.waiting)
    };
    // Dropping the senders wakes every caller with "closed".
    drop(waiting);
    closed_tx.send_if_modified(|c| {
        if c.is_none() {
            *c = Some(reason);
            true
        } else {
            false
        }
    });
}

async fn reader_task(
    mut rd: BufReader<OwnedReadHalf>,
    pending: Arc<Mutex<Pending>>,
    events: mpsc::UnboundedSender<QmpEvent>,
    closed_tx: Arc<watch::Sender<Option<String>>>,
) {
    let reason = loop {
        let line = match read_line(&mut rd).await {
            Ok(Some(l)) => l,
            Ok(None) => break "end of file from QEMU monitor".to_string(),
            Err(e) => break e,
        };
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => break format!("unparsable message ({e}): {line}"),
        };
        let Some(obj) = v.as_object() else {
            break format!("message is not a JSON object: {line}");
        };
        if obj.contains_key("event") {
            if let Some(ev) = QmpEvent::from_json(obj) {
                // Nobody listening is fine: events are advisory for the handle's owner.
                let _ = events.send(ev);
            }
            continue;
        }
        let Some(id) = obj.get("id").and_then(Value::as_u64) else {
            // A reply without our id (we always send one) cannot be routed; ignore it.
            continue;
        };
        let reply = if let Some(r) = obj.get("return") {
            Ok(r.clone())
        } else if let Some(e) = obj.get("error") {
            let class = e
                .get("class")
                .and_then(Value::as_str)
                .unwrap_or("GenericError");
            let desc = e
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            Err((class.to_string(), desc.to_string()))
        } else {
            Err((
                "GenericError".into(),
                format!("reply has neither 'return' nor 'error': {line}"),
            ))
        };
        // A reply whose caller timed out has no slot any more; it is dropped here.
        if let Some(tx) = lock(&pending).waiting.remove(&id) {
            let _ = tx.send(reply);
        }
    };
    close_all(&pending, &closed_tx, reason);
}

async fn writer_task(
    mut wr: OwnedWriteHalf,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Arc<Mutex<Pending>>,
    closed_tx: Arc<watch::Sender<Option<String>>>,
) {
    while let Some(line) = lines.recv().await {
        if let Err(e) = wr.write_all(&line).await {
            close_all(
                &pending,
                &closed_tx,
                format!("write to monitor failed: {e}"),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "Debian 1:10.0.2"}, "capabilities": ["oob"]}}"#;

    /// A scripted QMP peer: answers qmp_capabilities, then hands each later command line to `f`,
    /// which returns the lines to send back (if any).
    async fn fake_peer<F>(sock: UnixStream, mut f: F)
    where
        F: FnMut(Value) -> Vec<String> + Send + 'static,
    {
        let (rd, mut wr) = sock.into_split();
        let mut rd = BufReader::new(rd);
        wr.write_all(format!("{GREETING}\r\n").as_bytes())
            .await
            .unwrap();
        loop {
            let Ok(Some(line)) = read_line(&mut rd).await else {
                return;
            };
            let cmd: Value = serde_json::from_str(&line).unwrap();
            let out = if cmd["execute"] == "qmp_capabilities" {
                vec![json!({"return": {}, "id": cmd["id"]}).to_string()]
            } else {
                f(cmd)
            };
            for l in out {
                if wr.write_all(format!("{l}\r\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }

    async fn pair<F>(f: F) -> (Qmp, EventReceiver)
    where
        F: FnMut(Value) -> Vec<String> + Send + 'static,
    {
        let (a, b) = UnixStream::pair().unwrap();
        tokio::spawn(fake_peer(b, f));
        Qmp::from_stream(a, Path::new("fake.sock"), Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn greeting_and_reply() {
        let (qmp, _ev) = pair(|cmd| {
            vec![
                json!({"return": {"status": "running", "running": true}, "id": cmd["id"]})
                    .to_string(),
            ]
        })
        .await;
        assert_eq!(
            qmp.greeting().version,
            Version {
                major: 10,
                minor: 0,
                micro: 2
            }
        );
        assert_eq!(qmp.greeting().version.as_number(), 10_000_002);
        assert_eq!(qmp.greeting().package, "Debian 1:10.0.2");
        assert_eq!(qmp.greeting().capabilities, vec!["oob".to_string()]);
        let r = qmp.call("query-status", None).await.unwrap();
        assert_eq!(r["status"], "running");
    }

    #[tokio::test]
    async fn error_reply_uses_libvirt_wording() {
        let (qmp, _ev) = pair(|cmd| {
            vec![json!({"error": {"class": "GenericError", "desc": "Device 'x' not found"}, "id": cmd["id"]})
                .to_string()]
        })
        .await;
        let e = qmp
            .call("device_del", Some(json!({"id": "x"})))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to execute QEMU command 'device_del': Device 'x' not found"
        );
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::INTERNAL_ERROR);
        assert_eq!(v.domain, rvirt::error::domain::QEMU);
        assert_eq!(
            v.message,
            "internal error: unable to execute QEMU command 'device_del': Device 'x' not found"
        );
    }

    #[tokio::test]
    async fn replies_out_of_order_reach_their_callers() {
        // The peer holds the first command's reply until the second arrives, then answers both
        // in reverse order.
        let mut held: Option<Value> = None;
        let (qmp, _ev) = pair(move |cmd| match held.take() {
            None => {
                held = Some(cmd);
                vec![]
            }
            Some(first) => vec![
                json!({"return": cmd["execute"], "id": cmd["id"]}).to_string(),
                json!({"return": first["execute"], "id": first["id"]}).to_string(),
            ],
        })
        .await;
        let (a, b) = tokio::join!(qmp.call("first", None), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            qmp.call("second", None).await
        });
        assert_eq!(a.unwrap(), "first");
        assert_eq!(b.unwrap(), "second");
    }

    #[tokio::test]
    async fn timeout_fails_only_that_call() {
        // "hang" is never answered; everything else is answered at once.
        let (qmp, _ev) = pair(|cmd| {
            if cmd["execute"] == "hang" {
                vec![]
            } else {
                vec![json!({"return": {}, "id": cmd["id"]}).to_string()]
            }
        })
        .await;
        let q2 = qmp.clone();
        let hung = tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let r = q2.execute("hang", None, Duration::from_millis(300)).await;
            (r, t0.elapsed())
        });
        // While "hang" waits, other calls on the same client go through promptly.
        for _ in 0..5 {
            let t0 = std::time::Instant::now();
            qmp.execute("query-status", None, Duration::from_secs(5))
                .await
                .unwrap();
            assert!(t0.elapsed() < Duration::from_millis(250));
        }
        let (r, took) = hung.await.unwrap();
        let e = r.unwrap_err();
        assert!(matches!(e, QmpError::Timeout { .. }), "{e:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert_eq!(
            e.to_string(),
            "timed out after 300 ms waiting for QEMU to answer 'hang' on monitor fake.sock; the \
             QEMU process may be hung (see its log file); destroying the domain recovers"
        );
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::OPERATION_TIMEOUT);
        // The client is still usable after a timeout.
        qmp.call("query-status", None).await.unwrap();
        assert!(lock(&qmp.shared.pending).waiting.is_empty());
    }

    #[tokio::test]
    async fn silent_peer_times_out_the_greeting() {
        let (a, b) = UnixStream::pair().unwrap();
        let e = Qmp::from_stream(a, Path::new("mute.sock"), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, QmpError::GreetingTimeout { .. }), "{e:?}");
        drop(b);
    }

    #[tokio::test]
    async fn peer_not_speaking_qmp_is_a_protocol_error() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"SSH-2.0-OpenSSH\r\n").await.unwrap();
        let e = Qmp::from_stream(a, Path::new("x.sock"), Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(e, QmpError::Protocol { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn events_are_delivered_typed() {
        let (qmp, mut ev) = pair(|cmd| {
            vec![
                json!({"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "POWERDOWN"}).to_string(),
                json!({"return": {}, "id": cmd["id"]}).to_string(),
                json!({"timestamp": {"seconds": 1700000001, "microseconds": 0}, "event": "SHUTDOWN",
                       "data": {"guest": true, "reason": "guest-shutdown"}}).to_string(),
                json!({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "STOP"}).to_string(),
                json!({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "RESET",
                       "data": {"guest": false, "reason": "host-qmp-system-reset"}}).to_string(),
                json!({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "RTC_CHANGE",
                       "data": {"offset": 1}}).to_string(),
            ]
        })
        .await;
        qmp.call("system_powerdown", None).await.unwrap();
        let a = ev.recv().await.unwrap();
        assert_eq!(a.event, Event::Powerdown);
        assert_eq!(a.timestamp_us, 1_700_000_000_000_005);
        assert_eq!(
            ev.recv().await.unwrap().event,
            Event::Shutdown {
                guest: true,
                reason: "guest-shutdown".into()
            }
        );
        assert_eq!(ev.recv().await.unwrap().event, Event::Stop);
        assert_eq!(
            ev.recv().await.unwrap().event,
            Event::Reset {
                guest: false,
                reason: "host-qmp-system-reset".into()
            }
        );
        let other = ev.recv().await.unwrap();
        assert_eq!(other.name(), "RTC_CHANGE");
        assert_eq!(
            other.event,
            Event::Other {
                name: "RTC_CHANGE".into(),
                data: json!({"offset": 1})
            }
        );
    }

    #[tokio::test]
    async fn monitor_disappearing_fails_pending_and_later_calls() {
        let (a, b) = UnixStream::pair().unwrap();
        let peer = tokio::spawn(async move {
            let (rd, mut wr) = b.into_split();
            let mut rd = BufReader::new(rd);
            wr.write_all(format!("{GREETING}\n").as_bytes())
                .await
                .unwrap();
            let l = read_line(&mut rd).await.unwrap().unwrap();
            let cmd: Value = serde_json::from_str(&l).unwrap();
            wr.write_all(format!("{}\n", json!({"return": {}, "id": cmd["id"]})).as_bytes())
                .await
                .unwrap();
            // Read one more command, then vanish without answering.
            let _ = read_line(&mut rd).await;
        });
        let (qmp, mut ev) = Qmp::from_stream(a, Path::new("gone.sock"), Duration::from_secs(5))
            .await
            .unwrap();
        let e = qmp
            .execute("query-status", None, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            QmpError::Closed {
                path: "gone.sock".into(),
                reason: "end of file from QEMU monitor".into()
            }
        );
        peer.await.unwrap();
        assert!(
            ev.recv().await.is_none(),
            "event channel ends with the monitor"
        );
        assert!(qmp.is_closed());
        assert_eq!(qmp.closed().await, "end of file from QEMU monitor");
        let e = qmp.call("query-status", None).await.unwrap_err();
        assert!(matches!(e, QmpError::Closed { .. }));
        let v: rvirt::Error = e.into();
        assert_eq!(v.code, rvirt::error::code::OPERATION_FAILED);
        assert_eq!(
            v.message,
            "operation failed: QEMU monitor gone.sock was closed: end of file from QEMU monitor"
        );
    }

    #[tokio::test]
    async fn dropping_the_last_handle_closes_the_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let (rd, mut wr) = b.into_split();
        let peer = tokio::spawn(async move {
            let mut rd = BufReader::new(rd);
            wr.write_all(format!("{GREETING}\n").as_bytes())
                .await
                .unwrap();
            let l = read_line(&mut rd).await.unwrap().unwrap();
            let cmd: Value = serde_json::from_str(&l).unwrap();
            wr.write_all(format!("{}\n", json!({"return": {}, "id": cmd["id"]})).as_bytes())
                .await
                .unwrap();
            let mut rest = Vec::new();
            rd.read_to_end(&mut rest).await.unwrap();
            rest
        });
        let (qmp, _ev) = Qmp::from_stream(a, Path::new("d.sock"), Duration::from_secs(5))
            .await
            .unwrap();
        let q2 = qmp.clone();
        drop(qmp);
        drop(q2);
        let rest = tokio::time::timeout(Duration::from_secs(5), peer)
            .await
            .unwrap()
            .unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn connect_to_missing_socket_names_the_path() {
        let e = Qmp::connect(
            Path::new("/nonexistent/rvirt/qmp.sock"),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "failed to connect to monitor socket /nonexistent/rvirt/qmp.sock: No such file"
            ),
            "{e}"
        );
    }
}
