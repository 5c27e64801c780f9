//! virsh's own conversations with Debian's libvirtd (captured through a logging proxy, in
//! tests/data/virsh-*.log) replayed against rvirtd from the client side: every reply and every
//! event must be byte-identical. They need the test driver's `test:///default`; until it exists
//! they are skipped with a message.

mod common;
use common::*;
use std::time::Duration;

/// One captured packet.
struct Captured {
    from_client: bool,
    bytes: Vec<u8>,
}

fn load(name: &str) -> Vec<Captured> {
    let text = std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let mut out = Vec::new();
    let mut dir = None;
    for line in text.lines() {
        if line.starts_with("C>S") {
            dir = Some(true);
        } else if line.starts_with("S>C") {
            dir = Some(false);
        } else if let Some(h) = line.strip_prefix("  ") {
            out.push(Captured {
                from_client: dir.take().expect("hex without header"),
                bytes: hex(h),
            });
        }
    }
    out
}

fn field(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap())
}

/// Procedures virsh used in the captures that rvirtd does not implement yet: the reply must
/// be libvirt's "not supported by the connection driver" error, which virsh tolerates there.
const NOT_YET: &[u32] = &[
    // DOMAIN_GET_MESSAGES (virsh dominfo)
    426, // DOMAIN_SNAPSHOT_NUM (virsh undefine)
    187,
];

/// Replays a capture. A connection starts at each AUTH_LIST with serial 0; connections are
/// replayed one after the other, except that a connection with event callbacks stays open and
/// receives the events the later ones cause.
///
/// `RVIRTD_REPLAY_SOCKET=/path/libvirt-sock` replays against that socket instead (a fresh
/// reference libvirtd, to check the harness itself).
fn replay(name: &str) {
    let packets = load(name);
    let other = std::env::var_os("RVIRTD_REPLAY_SOCKET").map(std::path::PathBuf::from);
    let d = other.is_none().then(|| Daemon::start(""));
    let connect = || match (&other, &d) {
        (Some(p), _) => Client::connect(p),
        (None, Some(d)) => d.rw(),
        (None, None) => unreachable!(),
    };
    let mut conns: Vec<Client> = Vec::new();
    let mut listener: Option<usize> = None;
    let mut want_events = Vec::new();
    let mut expected_replies: Vec<(usize, Vec<u8>)> = Vec::new();
    // First pass: assign packets to connections.
    let mut current = None;
    let mut script: Vec<(usize, Vec<u8>)> = Vec::new();
    for p in &packets {
        let (proc_, type_, serial) = (field(&p.bytes, 2), field(&p.bytes, 3), field(&p.bytes, 4));
        if p.from_client {
            if proc_ == 66 && serial == 0 {
                current = Some(conns.len());
                conns.push(connect());
            }
            let c = current.unwrap();
            if proc_ == 316 || proc_ == 105 || proc_ == 167 {
                listener = Some(c);
            }
            script.push((c, p.bytes.clone()));
        } else if type_ == 2 {
            want_events.push(to_hex(&p.bytes));
        } else {
            expected_replies.push((current.unwrap(), p.bytes.clone()));
        }
    }
    // Second pass: play the calls in order, matching each reply by serial and connection.
    let mut got_events = Vec::new();
    for (c, bytes) in script {
        let serial = field(&bytes, 4);
        let proc_ = field(&bytes, 2);
        conns[c].send(&bytes);
        let reply = loop {
            let p = conns[c].recv().expect("connection closed");
            if p.type_() == MESSAGE {
                if p.prog() != KEEPALIVE {
                    got_events.push(to_hex(&p.bytes));
                }
                continue;
            }
            break p;
        };
        let pos = expected_replies
            .iter()
            .position(|(ec, r)| *ec == c && field(r, 4) == serial && field(r, 2) == proc_)
            .expect("no captured reply");
        let (_, want) = expected_replies.remove(pos);
        if NOT_YET.contains(&proc_) && other.is_none() {
            let api = rvirt_proto::procedure::remote_procedure(proc_ as i32)
                .unwrap()
                .api;
            assert_eq!(
                reply.error_message(),
                format!("this function is not supported by the connection driver: {api}")
            );
            continue;
        }
        // DOMAIN_GET_INFO's cpuTime (the last 8 bytes) follows the host clock in the test driver.
        let cmp = |b: &[u8]| {
            let n = if proc_ == 16 && b.len() == 60 {
                52
            } else {
                b.len()
            };
            to_hex(&b[..n])
        };
        assert_eq!(
            cmp(&reply.bytes),
            cmp(&want),
            "{name}: connection {c}, proc {proc_}, serial {serial}"
        );
    }
    // The listener's events, in order (keepalive pings are not events).
    if let Some(l) = listener {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while got_events.len() < want_events.len() && std::time::Instant::now() < deadline {
            if let Some(Some(p)) = conns[l].recv_within(Duration::from_millis(100)) {
                if p.prog() != KEEPALIVE {
                    got_events.push(to_hex(&p.bytes));
                }
            }
        }
    }
    assert!(expected_replies.is_empty());
    assert_eq!(got_events, want_events, "{name}: events");
}

#[test]
fn virsh_basic_capture_replays_byte_for_byte() {
    if std::env::var_os("RVIRTD_REPLAY_SOCKET").is_none() && !test_driver_ready() {
        return;
    }
    replay("virsh-basic.log");
}

#[test]
fn virsh_lifecycle_events_capture_replays_byte_for_byte() {
    if std::env::var_os("RVIRTD_REPLAY_SOCKET").is_none() && !test_driver_ready() {
        return;
    }
    replay("virsh-lifecycle-events.log");
}
