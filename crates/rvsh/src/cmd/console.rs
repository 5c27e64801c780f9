//! `console`: an interactive session on a guest's console (virsh's `cmdConsole` and
//! `virshRunConsole`), also behind `start --console` and `create --console`.
//!
//! As virsh 9.0 does: the domain must not be shut off ("The domain is not running") and stdin
//! must be a terminal ("Cannot run interactive console without a controlling TTY"); then
//! "Connected to domain 'NAME'" and the escape character are printed, the terminal goes raw
//! (no echo, no line editing, ^C and ^Z go to the guest), and bytes flow between the terminal
//! and the stream `virDomainOpenConsole` returns. A read from the terminal that starts with the
//! escape character (`^]` unless `-e` chose another) finishes the stream and ends the session
//! successfully; so does the guest side ending the stream (the guest shut down). The terminal
//! and signal dispositions are restored on every exit path, also when opening fails.

use crate::ctl::Ctl;
use crate::parse::{CmdDef, OptDef, ParsedCmd};
use rvirt::error::{code, domain as errdom};
use rvirt::stream::{Chunk, DuplexStream};
use rvirt::{Domain, Error};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
use tokio::sync::mpsc;

/// `VIR_DOMAIN_CONSOLE_FORCE`, `VIR_DOMAIN_CONSOLE_SAFE`.
const FORCE: u32 = 1;
const SAFE: u32 = 2;

/// `VIR_DOMAIN_SHUTOFF`.
const SHUTOFF: i32 = 5;

/// How long leaving the session waits for the server to confirm the end of the stream.
const FINISH_WAIT: Duration = Duration::from_secs(30);

static CONSOLE_OPTS: [OptDef; 4] = [
    super::opt_data("domain", "domain name, id or uuid"),
    super::opt_string("devname", "character device name"),
    super::opt_bool(
        "force",
        "force console connection (disconnect already connected sessions)",
    ),
    super::opt_bool("safe", "only connect if safe console handling is supported"),
];

/// The `console` command, for the Domain Management table.
pub const CMD: CmdDef = CmdDef {
    name: "console",
    help: "connect to the guest console",
    desc: "Connect the virtual serial console for the guest",
    opts: &CONSOLE_OPTS,
    handler: cmd_console,
    flags: 0,
};

fn cmd_console(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let Some((dom, _)) = super::opt_domain(ctl, cmd) else {
        return false;
    };
    let Ok(devname) = cmd.string_req(ctl, "devname") else {
        return false;
    };
    let mut flags = 0;
    if cmd.has("force") {
        flags |= FORCE;
    }
    if cmd.has("safe") {
        flags |= SAFE;
    }
    run_console(ctl, &dom, devname, flags)
}

/// virsh's `cmdRunConsole`: the checks and banner, then the session.
pub fn run_console(ctl: &mut Ctl, dom: &Domain, devname: Option<&str>, flags: u32) -> bool {
    let Some((state, _)) = super::monitor::dom_state(ctl, dom) else {
        ctl.error("Unable to get domain status");
        return false;
    };
    if state == SHUTOFF {
        ctl.error("The domain is not running");
        return false;
    }
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(libc::STDIN_FILENO) } != 1 {
        ctl.error("Cannot run interactive console without a controlling TTY");
        return false;
    }
    let escape = ctl.escape_char.clone();
    ctl.print_extra(&format!("Connected to domain '{}'\n", dom.name()));
    ctl.print_extra(&format!("Escape character is {escape}"));
    if let Some(c) = escape.strip_prefix('^').and_then(|r| r.chars().next()) {
        ctl.print_extra(&format!(" (Ctrl + {c})"));
    }
    ctl.print_extra("\n");
    match session(ctl, dom, devname, flags, escape_byte(&escape)) {
        Ok(()) => true,
        Err(e) => {
            ctl.save_error(e);
            false
        }
    }
}

/// `virshGetEscapeChar`: `^X` is the control character of X, anything else its first byte.
pub fn escape_byte(s: &str) -> u8 {
    match s.as_bytes() {
        [b'^', c, ..] => c.to_ascii_uppercase() ^ 0x40,
        [c, ..] => *c,
        [] => 0x1d,
    }
}

fn internal(msg: &str) -> Error {
    Error::new(code::INTERNAL_ERROR, errdom::NONE, msg)
}

fn system(what: &str, e: &std::io::Error) -> Error {
    Error::new(code::SYSTEM_ERROR, errdom::NONE, format!("{what}: {e}"))
}

/// `virshRunConsole`: raw terminal and quiet signals for the whole session, then the stream.
fn session(
    ctl: &mut Ctl,
    dom: &Domain,
    devname: Option<&str>,
    flags: u32,
    escape: u8,
) -> rvirt::Result<()> {
    let _tty = RawTty::enter(libc::STDIN_FILENO)
        .map_err(|e| internal(&format!("unable to set tty attributes: {e}")))?;
    let _signals = QuietSignals::install();
    let stream = ctl.block_on(dom.open_console(devname, flags))?;
    let input = StdinReader::spawn().map_err(|e| system("cannot read from stdin", &e))?;
    let (reader, rx) = input;
    let result = ctl.block_on(pump(stream, rx, escape));
    reader.stop();
    result
}

/// Moves bytes between the terminal and the stream until one side ends.
async fn pump(
    mut s: DuplexStream,
    mut input: mpsc::Receiver<Input>,
    escape: u8,
) -> rvirt::Result<()> {
    loop {
        tokio::select! {
            r = s.rx.recv() => match r {
                Ok(Some(Chunk::Data(d))) => {
                    let mut out = std::io::stdout().lock();
                    if let Err(e) = out.write_all(&d).and_then(|()| out.flush()) {
                        s.tx.abort();
                        return Err(system("cannot write to stdout", &e));
                    }
                }
                Ok(Some(Chunk::Hole(_))) => {}
                // The server ended the stream (the guest is gone): a clean end.
                Ok(None) => {
                    s.rx.complete(Ok(()));
                    return Ok(());
                }
                Err(e) => {
                    s.tx.abort();
                    return Err(e);
                }
            },
            i = input.recv() => match i {
                Some(Input::Data(d)) => {
                    // Like virsh, only the first byte of a read is checked for the escape.
                    if d.first() == Some(&escape) {
                        let _ = tokio::time::timeout(FINISH_WAIT, s.tx.finish()).await;
                        return Ok(());
                    }
                    s.tx.send(Chunk::Data(d)).await?;
                }
                Some(Input::Failed(e)) => {
                    s.tx.abort();
                    return Err(e);
                }
                None => {
                    s.tx.abort();
                    return Err(internal("EOF on stdin"));
                }
            },
        }
    }
}

/// The terminal in raw mode; the saved settings come back on drop (`vshTTYMakeRaw` /
/// `vshTTYRestore`).
struct RawTty {
    fd: i32,
    saved: libc::termios,
}

impl RawTty {
    fn enter(fd: i32) -> std::io::Result<RawTty> {
        // SAFETY: termios is plain data, filled by tcgetattr.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a descriptor and a pointer to our termios.
        if unsafe { libc::tcgetattr(fd, &mut saved) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw only edits the structure it is given.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: a descriptor and a pointer to initialised termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(RawTty { fd, saved })
    }
}

impl Drop for RawTty {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// virsh's console traps SIGQUIT, SIGTERM, SIGINT, SIGHUP and SIGPIPE with a handler that does
/// nothing, so none of them can end the program with the terminal left raw; the previous
/// dispositions come back on drop.
struct QuietSignals {
    saved: Vec<(libc::c_int, libc::sigaction)>,
}

impl QuietSignals {
    fn install() -> QuietSignals {
        let mut saved = Vec::new();
        for sig in [
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGPIPE,
        ] {
            // SAFETY: sigaction is plain data; zeroed is an empty mask and no flags.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: as above.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: installs a handler that touches nothing; `old` receives the previous one.
            if unsafe { libc::sigaction(sig, &act, &mut old) } == 0 {
                saved.push((sig, old));
            }
        }
        QuietSignals { saved }
    }
}

impl Drop for QuietSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.saved {
            // SAFETY: puts back the disposition sigaction gave us for this signal.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
    }
}

/// What the terminal gave.
enum Input {
    Data(Vec<u8>),
    Failed(Error),
}

/// A thread reading stdin while the session lasts. It waits in `poll` on stdin and a wake-up
/// pipe, so stopping it never leaves a read pending that would swallow the shell's next input.
struct StdinReader {
    wake: OwnedFd,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StdinReader {
    fn spawn() -> std::io::Result<(StdinReader, mpsc::Receiver<Input>)> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 just created both descriptors; each gets exactly one owner.
        let (wake_rx, wake_tx) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let (tx, rx) = mpsc::channel(16);
        let thread = std::thread::spawn(move || read_stdin(wake_rx, tx));
        Ok((
            StdinReader {
                wake: wake_tx,
                thread: Some(thread),
            },
            rx,
        ))
    }

    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        // SAFETY: one byte from a local to a pipe we own.
        unsafe { libc::write(self.wake.as_raw_fd(), [0u8].as_ptr().cast(), 1) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StdinReader {
    fn drop(&mut self) {
        self.halt();
    }
}

fn read_stdin(wake: OwnedFd, tx: mpsc::Sender<Input>) {
    let mut buf = [0u8; 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: libc::STDIN_FILENO,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds, no timeout.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        let ev = fds[0].revents;
        if ev & libc::POLLIN != 0 {
            // SAFETY: read into our buffer, at most its length.
            let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
            let msg = match n {
                0 => Input::Failed(internal("EOF on stdin")),
                n if n < 0 => {
                    let e = std::io::Error::last_os_error();
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                    ) {
                        continue;
                    }
                    Input::Failed(system("cannot read from stdin", &e))
                }
                n => Input::Data(buf[..n as usize].to_vec()),
            };
            let last = matches!(msg, Input::Failed(_));
            if tx.blocking_send(msg).is_err() || last {
                return;
            }
        } else if ev & libc::POLLERR != 0 {
            let _ = tx.blocking_send(Input::Failed(internal("IO error on stdin")));
            return;
        } else if ev & (libc::POLLHUP | libc::POLLNVAL) != 0 {
            let _ = tx.blocking_send(Input::Failed(internal("EOF on stdin")));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_characters_like_virsh() {
        assert_eq!(escape_byte("^]"), 0x1d);
        assert_eq!(escape_byte("^a"), 0x01);
        assert_eq!(escape_byte("^A"), 0x01);
        assert_eq!(escape_byte("~"), b'~');
    }
}
