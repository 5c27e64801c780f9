//! Test harness: start the real `rvirtd` binary on a temporary directory and talk raw libvirt RPC
//! frames to it. The daemon is stopped (SIGTERM, then SIGKILL) when the handle drops, even when
//! a test panics.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const REMOTE: u32 = 0x2000_8086;
pub const QEMU: u32 = 0x2000_8087;
pub const LXC: u32 = 0x0006_8000;
pub const KEEPALIVE: u32 = 0x6b65_6570;
pub const ADMIN: u32 = 0x0690_0690;

pub const CALL: i32 = 0;
pub const REPLY: i32 = 1;
pub const MESSAGE: i32 = 2;
pub const STREAM: i32 = 3;
pub const CALL_WITH_FDS: i32 = 4;

/// Hex text → bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Bytes → hex text.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A whole frame: length word, header, payload.
pub fn frame(
    prog: u32,
    vers: u32,
    proc_: i32,
    type_: i32,
    serial: u32,
    status: i32,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + payload.len());
    v.extend_from_slice(&((28 + payload.len()) as u32).to_be_bytes());
    for w in [
        prog,
        vers,
        proc_ as u32,
        type_ as u32,
        serial,
        status as u32,
    ] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// A REMOTE call.
pub fn call(proc_: i32, serial: u32, payload: &[u8]) -> Vec<u8> {
    frame(REMOTE, 1, proc_, CALL, serial, 0, payload)
}

/// XDR string.
pub fn xstr(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v.resize(v.len() + (4 - s.len() % 4) % 4, 0);
    v
}

/// XDR int.
pub fn xint(i: i32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

/// CONNECT_OPEN args for `uri` with `flags`.
pub fn open_args(uri: &str, flags: u32) -> Vec<u8> {
    let mut v = xint(1);
    v.extend(xstr(uri));
    v.extend(flags.to_be_bytes());
    v
}

/// A received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub bytes: Vec<u8>,
}

impl Pkt {
    fn word(&self, i: usize) -> u32 {
        u32::from_be_bytes(self.bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap())
    }
    pub fn prog(&self) -> u32 {
        self.word(0)
    }
    pub fn proc_(&self) -> i32 {
        self.word(2) as i32
    }
    pub fn type_(&self) -> i32 {
        self.word(3) as i32
    }
    pub fn serial(&self) -> u32 {
        self.word(4)
    }
    pub fn status(&self) -> i32 {
        self.word(5) as i32
    }
    pub fn payload(&self) -> &[u8] {
        &self.bytes[28..]
    }
    /// The error message of an error reply.
    pub fn error_message(&self) -> String {
        let p = self.payload();
        assert_eq!(
            self.status(),
            1,
            "not an error reply: {}",
            to_hex(&self.bytes)
        );
        let n = u32::from_be_bytes(p[12..16].try_into().unwrap()) as usize;
        String::from_utf8(p[16..16 + n].to_vec()).unwrap()
    }
    /// (code, domain) of an error reply.
    pub fn error_code(&self) -> (i32, i32) {
        let p = self.payload();
        (
            i32::from_be_bytes(p[0..4].try_into().unwrap()),
            i32::from_be_bytes(p[4..8].try_into().unwrap()),
        )
    }
}

/// A raw client connection.
pub struct Client {
    pub s: UnixStream,
}

impl Client {
    pub fn connect(path: &Path) -> Self {
        let s =
            UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Self { s }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next packet; `None` at end of stream. Panics on timeout.
    pub fn recv(&mut self) -> Option<Pkt> {
        self.recv_within(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no packet within 10s"))
    }

    /// `Some(None)` at end of stream, `None` on timeout.
    pub fn recv_within(&mut self, t: Duration) -> Option<Option<Pkt>> {
        self.s.set_read_timeout(Some(t)).unwrap();
        let mut len = [0u8; 4];
        let r = match read_full(&mut self.s, &mut len) {
            Ok(0) => return Some(None),
            Ok(4) => {
                let n = u32::from_be_bytes(len) as usize;
                let mut rest = vec![0u8; n - 4];
                self.s
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                self.s.read_exact(&mut rest).expect("rest of packet");
                let mut bytes = len.to_vec();
                bytes.extend(rest);
                Some(Some(Pkt { bytes }))
            }
            Ok(_) => panic!("truncated length word"),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(None),
            Err(e) => panic!("read: {e}"),
        };
        r
    }

    /// Sends a frame and returns the next packet, which must exist.
    pub fn rpc(&mut self, bytes: &[u8]) -> Pkt {
        self.send(bytes);
        self.recv().expect("connection closed instead of a reply")
    }

    /// Whether the daemon closed the connection (within 10 s).
    pub fn closed(&mut self) -> bool {
        matches!(self.recv_within(Duration::from_secs(10)), Some(None))
    }

    /// Whether nothing arrives within `t`.
    pub fn silent_for(&mut self, t: Duration) -> bool {
        self.recv_within(t).is_none()
    }
}

fn read_full(s: &mut UnixStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => return Ok(got),
            Ok(n) => got += n,
            Err(e) if got > 0 && e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvirtd-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rvirtd")
}

/// A running rvirtd.
pub struct Daemon {
    pub dir: TempDir,
    pub child: Option<Child>,
}

impl Daemon {
    /// Starts rvirtd with `conf` appended to a config that puts the sockets in a temp dir.
    pub fn start(conf: &str) -> Self {
        Self::start_with(conf, &[])
    }

    pub fn start_with(conf: &str, args: &[&str]) -> Self {
        let dir = TempDir::new("d");
        let d = Self::spawn_in(dir, conf, args);
        // The admin socket is created last.
        d.wait_socket("rvirt-admin-sock");
        d
    }

    /// Spawns without waiting.
    pub fn spawn_in(dir: TempDir, conf: &str, args: &[&str]) -> Self {
        let conf_path = dir.0.join("rvirtd.conf");
        std::fs::write(
            &conf_path,
            format!(
                "unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0770\"\n{conf}\n",
                dir.0.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin())
            .arg("-f")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.0.join("rvirtd.pid"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.0.join("log")).unwrap())
            .spawn()
            .expect("spawn rvirtd");
        Self {
            dir,
            child: Some(child),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    pub fn wait_socket(&self, name: &str) {
        let p = self.path(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !p.exists() {
            assert!(
                Instant::now() < deadline,
                "rvirtd did not create {}: {}",
                p.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    pub fn rw(&self) -> Client {
        Client::connect(&self.path("rvirt-sock"))
    }

    pub fn ro(&self) -> Client {
        Client::connect(&self.path("rvirt-sock-ro"))
    }

    pub fn admin(&self) -> Client {
        Client::connect(&self.path("rvirt-admin-sock"))
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the PID of a child this test spawned and has not reaped.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the daemon to exit; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let c = self.child.as_mut().unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                // SAFETY: kill(2) on our own unreaped child.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Runs rvirtd to completion with `args` (for option and configuration errors).
pub fn run_rvirtd(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rvirtd")
}

/// Whether the in-process test driver can open `test:///default` yet (it is built by other
/// work streams; tests needing it skip with a message until it exists).
pub fn test_driver_ready() -> bool {
    let uri = rvirt::uri::Uri::parse("test:///default").unwrap();
    match rvirt::test_driver::open(&uri, None) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: the test driver cannot open test:///default yet ({e})");
            false
        }
    }
}
