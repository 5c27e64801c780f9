//! Differential tests: conversations recorded against Debian's libvirtd 9.0 (files in
//! tests/data, made by gen/record-reference.py) are replayed against rvirtd, which must answer
//! every call with the same bytes and raise the same events in the same order.
//!
//! They use the test driver with a node file holding networks and storage pools; until that
//! driver is built they are skipped with a message.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// The node file the recordings open (`test:///tmp/rvirtd-test-node.xml`).
const NODE_PATH: &str = "/tmp/rvirtd-test-node.xml";

fn install_node_file() {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = format!("{NODE_PATH}.{}.{n}", std::process::id());
    std::fs::write(&tmp, include_str!("data/node.xml")).unwrap();
    std::fs::rename(&tmp, NODE_PATH).unwrap();
}

fn node_driver_ready() -> bool {
    install_node_file();
    let uri = rvirt::uri::Uri::parse(&format!("test://{NODE_PATH}")).unwrap();
    match rvirt::test_driver::open(&uri, None) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: the test driver cannot load node files yet ({e})");
            false
        }
    }
}

/// Plays `file` against `d` and checks every reply and the events.
fn replay(d: &Daemon, file: &str) {
    let text = std::fs::read_to_string(format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let mut lines = text.lines().peekable();
    let mut c = match lines.peek() {
        Some(l) if l.starts_with("socket: ro") => d.ro(),
        _ => d.rw(),
    };
    let mut comment = String::new();
    let mut want_events = Vec::new();
    let mut got_events = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for line in lines {
        if let Some(cmt) = line.strip_prefix("# ") {
            comment = cmt.to_string();
        } else if let Some(req) = line.strip_prefix("C ") {
            let bytes = hex(req);
            let serial = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            c.send(&bytes);
            pending = Some((serial, comment.clone()));
        } else if let Some(want) = line.strip_prefix("R ") {
            let (serial, what) = pending.take().expect("R without C");
            let reply = loop {
                let p = c
                    .recv()
                    .unwrap_or_else(|| panic!("{file}: {what}: connection closed"));
                if p.type_() == MESSAGE {
                    got_events.push(to_hex(&p.bytes));
                    continue;
                }
                assert_eq!(
                    p.serial(),
                    serial,
                    "{file}: {what}: reply to the wrong call"
                );
                break p;
            };
            assert_eq!(to_hex(&reply.bytes), want, "{file}: {what}");
        } else if let Some(ev) = line.strip_prefix("E ") {
            want_events.push(ev.to_string());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while got_events.len() < want_events.len() && Instant::now() < deadline {
        match c.recv_within(Duration::from_millis(200)) {
            Some(Some(p)) if p.type_() == MESSAGE => got_events.push(to_hex(&p.bytes)),
            Some(Some(p)) => panic!("{file}: unexpected packet {}", to_hex(&p.bytes)),
            _ => {}
        }
    }
    assert_eq!(got_events, want_events, "{file}: events");
}

#[test]
fn networks_storage_host_and_events_match_libvirtd() {
    if !node_driver_ready() {
        return;
    }
    let d = Daemon::start("");
    replay(&d, "node-objects.txt");
}

#[test]
fn read_only_socket_matches_libvirtd() {
    if !node_driver_ready() {
        return;
    }
    let d = Daemon::start("");
    replay(&d, "node-read-only.txt");
}

#[test]
fn read_only_open_flag_on_the_read_write_socket() {
    if !node_driver_ready() {
        return;
    }
    let d = Daemon::start("");
    let mut c = d.rw();
    assert_eq!(
        c.rpc(&call(1, 1, &open_args(&format!("test://{NODE_PATH}"), 1)))
            .status(),
        0
    );
    let mut net = xstr("net1");
    net.extend(hex("004b22212d78c30f5aa5f03c87d21e69"));
    let r = c.rpc(&call(42, 2, &net));
    assert_eq!(
        r.error_message(),
        "operation forbidden: read only access prevents virNetworkDestroy"
    );
    assert_eq!(r.error_code(), (29, 19));
    assert_eq!(c.rpc(&call(152, 3, &net)).status(), 0);
}

/// A call stuck in its driver (here: CONNECT_OPEN reading a node file that is a FIFO nobody
/// writes yet) stalls only its own connection: more stuck clients than the daemon has worker
/// threads, and others are still served at once.
#[test]
fn a_stuck_call_does_not_stall_other_clients() {
    if !node_driver_ready() {
        return;
    }
    let d = Daemon::start("");
    let fifos: Vec<_> = (0..6).map(|i| d.path(&format!("node{i}.fifo"))).collect();
    let mut stuck: Vec<Client> = fifos
        .iter()
        .enumerate()
        .map(|(i, fifo)| {
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: mkfifo with a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let mut s = d.rw();
            s.send(&call(
                1,
                i as u32,
                &open_args(&format!("test://{}", fifo.display()), 0),
            ));
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let mut other = d.rw();
    assert_eq!(other.rpc(&call(66, 1, &[])).status(), 0);
    assert_eq!(
        other
            .rpc(&call(1, 2, &open_args(&format!("test://{NODE_PATH}"), 0)))
            .status(),
        0
    );
    assert_eq!(other.rpc(&call(46, 3, &xstr("net1"))).status(), 0);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // The stuck ones are still waiting, then all finish once the file has content.
    assert!(stuck[0].silent_for(Duration::from_millis(100)));
    let node = include_str!("data/node.xml");
    for fifo in &fifos {
        std::fs::write(fifo, node).unwrap();
    }
    for s in &mut stuck {
        assert_eq!(s.recv().unwrap().status(), 0);
    }
}
