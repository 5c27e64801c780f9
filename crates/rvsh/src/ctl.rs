//! The shell's control state (virsh's `vshControl` + `virshControl`): the connection, the
//! global options, where output goes, and virsh's error model.
//!
//! Every command handler gets a `&mut Ctl`. Output goes through [`Ctl::print`] (always) and
//! [`Ctl::print_extra`] (suppressed by `--quiet`); shell errors through [`Ctl::error`]
//! (`error: …` on stderr). Library errors follow virsh's "last error" model: [`Ctl::call`] runs an
//! rvirt call and remembers its error, and when a command fails the runner reports the remembered
//! error after whatever the command printed itself. Lookups that deliberately discard the library
//! error call [`Ctl::reset_error`], which is why e.g. a missing domain prints one line and a
//! missing network two, exactly as virsh does.

use rvirt::{Connect, Error};
use std::future::Future;
use std::io::Write;

/// Control state shared by all commands.
pub struct Ctl {
    rt: tokio::runtime::Runtime,
    /// The open connection, if any.
    pub conn: Option<Connect>,
    /// The URI to (re)connect to; `None` means the default URI.
    pub connname: Option<String>,
    /// Whether the connection is (to be) read-only.
    pub readonly: bool,
    /// `--quiet`: no table headers, no informational messages, no blank line after commands.
    pub quiet: bool,
    /// `--timing`: print each command's duration.
    pub timing: bool,
    /// Interactive mode; `quit` clears it.
    pub imode: bool,
    /// The program name used in messages (`basename argv[0]`).
    pub progname: String,
    /// Set when the connection is believed lost; the next command reconnects.
    pub disconnected: bool,
    /// The console escape sequence (`-e`; `^]` by default).
    pub escape_char: String,
    last_error: Option<Error>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Ctl {
    /// A control writing to the process's stdout and stderr.
    pub fn new() -> std::io::Result<Self> {
        Self::with_output(Box::new(std::io::stdout()), Box::new(std::io::stderr()))
    }

    /// A control writing to the given streams (tests capture output this way).
    pub fn with_output(out: Box<dyn Write>, err: Box<dyn Write>) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        Ok(Self {
            rt,
            conn: None,
            connname: None,
            readonly: false,
            quiet: false,
            timing: false,
            imode: false,
            progname: "rvsh".into(),
            disconnected: false,
            escape_char: "^]".into(),
            last_error: None,
            out,
            err,
        })
    }

    /// A handle to the shell's runtime, for running futures while `self` is borrowed.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.rt.handle().clone()
    }

    /// Runs a future to completion on the shell's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Runs an rvirt call; on failure remembers the error (virsh's error handler) and returns
    /// `None`.
    pub fn call<T, F: Future<Output = rvirt::Result<T>>>(&mut self, f: F) -> Option<T> {
        match self.rt.block_on(f) {
            Ok(v) => Some(v),
            Err(e) => {
                self.last_error = Some(e);
                None
            }
        }
    }

    /// Remembers a library error without having made the call through [`Ctl::call`].
    pub fn save_error(&mut self, e: Error) {
        self.last_error = Some(e);
    }

    /// The remembered library error, if any.
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    /// Forgets the remembered library error (`vshResetLibvirtError`).
    pub fn reset_error(&mut self) {
        self.last_error = None;
    }

    /// Prints the remembered library error, if any, and forgets it (`vshReportError`).
    pub fn report_error(&mut self) {
        if let Some(e) = self.last_error.take() {
            let msg = if e.code == 0 {
                "unknown error".to_string()
            } else {
                e.message
            };
            self.error(&msg);
        }
    }

    /// The connection; commands run only after the runner made sure there is one.
    pub fn conn(&self) -> Connect {
        self.conn
            .clone()
            .expect("commands needing a connection run only when connected")
    }

    /// Writes to stdout (`vshPrint`).
    pub fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// Writes to stdout unless quiet (`vshPrintExtra`).
    pub fn print_extra(&mut self, s: &str) {
        if !self.quiet {
            self.print(s);
        }
    }

    /// Prints `error: MSG` on stderr (`vshError`).
    pub fn error(&mut self, msg: &str) {
        let _ = self.out.flush();
        let _ = writeln!(self.err, "error: {msg}");
        let _ = self.err.flush();
    }

    /// Writes raw bytes to stderr (for `echo --err`-like output that is not an error line).
    pub fn print_err(&mut self, s: &str) {
        let _ = self.out.flush();
        let _ = self.err.write_all(s.as_bytes());
        let _ = self.err.flush();
    }

    /// Opens the connection (`virshConnect`): read-only when asked, with the terminal
    /// credential prompt for authentication.
    fn open(&mut self, uri: Option<&str>, readonly: bool) -> Option<Connect> {
        let auth = crate::auth::terminal_auth();
        let uri = uri.map(str::to_string);
        self.call(async move { Connect::open_auth(uri.as_deref(), &auth, readonly).await })
    }

    /// (Re)connects (`virshReconnect`): `name` replaces the URI when given; `force` suppresses
    /// the "Reconnected" notice (explicit `connect`). Returns whether a connection is open.
    pub fn reconnect(&mut self, name: Option<&str>, readonly: bool, force: bool) -> bool {
        let readonly = if !readonly && name.is_none() {
            self.readonly
        } else {
            readonly
        };
        let mut connected = false;
        if let Some(c) = self.conn.take() {
            connected = true;
            if self.call(c.close()).is_none() {
                self.error("Failed to disconnect from the hypervisor");
            }
        }
        let uri = name.map(str::to_string).or_else(|| self.connname.clone());
        match self.open(uri.as_deref(), readonly) {
            None => {
                if self.disconnected {
                    self.error("Failed to reconnect to the hypervisor");
                } else {
                    self.error("failed to connect to the hypervisor");
                }
                false
            }
            Some(c) => {
                self.conn = Some(c);
                if let Some(n) = name {
                    self.connname = Some(n.to_string());
                }
                self.readonly = readonly;
                if connected && !force {
                    self.error("Reconnected to the hypervisor");
                }
                self.disconnected = false;
                true
            }
        }
    }

    /// Makes sure a usable connection exists before a command runs (`virshConnectionHandler`).
    pub fn ensure_connected(&mut self) -> bool {
        if (self.conn.is_none() || self.disconnected) && !self.reconnect(None, false, false) {
            return false;
        }
        if self.conn.is_none() {
            self.error("no valid connection");
            return false;
        }
        true
    }

    /// Closes the connection at exit (`virshDeinit`).
    pub fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.call(c.close()).is_none() {
                self.error("Failed to disconnect from the hypervisor");
            }
        }
        self.reset_error();
        let _ = self.out.flush();
    }
}

/// A writer appending to a shared buffer, for capturing a [`Ctl`]'s output (tests, embedding).
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// The text written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
