//! A scripted daemon for unit tests: the other end of a socketpair, reading whole packets the
//! client sends and writing whatever packets a test wants back.

use super::client::Client;
use super::driver::auth_type;
use super::transport::Stream;
use rvirt_proto::packet::{self, Packet, Status, LEN_SIZE};
use rvirt_proto::procedure::remote_proc as rp;
use rvirt_proto::remote::{AuthListRet, ConnectOpenArgs, IntArgs, IntRet, StringRet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Socket for T {}

/// The daemon side of a test connection.
pub struct Peer {
    sock: Box<dyn Socket>,
}

impl Peer {
    /// Wraps an accepted socket (TCP tests).
    pub fn new(sock: impl AsyncRead + AsyncWrite + Send + Unpin + 'static) -> Self {
        Self {
            sock: Box::new(sock),
        }
    }

    /// A connected socketpair; returns the client's end wrapped in a [`Stream`].
    pub fn streams() -> (Stream, Peer) {
        let (a, b) = UnixStream::pair().expect("socketpair");
        (Stream::unix(a), Peer::new(b))
    }

    /// A [`Client`] connected to a new peer.
    pub fn pair() -> (Client, Peer) {
        let (s, p) = Self::streams();
        (Client::new(s), p)
    }

    /// Reads one whole packet's bytes, length word included.
    pub async fn recv_bytes(&mut self) -> Vec<u8> {
        let mut len = [0u8; LEN_SIZE];
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.sock.read_exact(&mut len),
        )
        .await
        .expect("client sent nothing within 10 s")
        .expect("read length");
        let n = packet::body_len(len).expect("valid length");
        let mut out = len.to_vec();
        out.resize(LEN_SIZE + n, 0);
        self.sock
            .read_exact(&mut out[LEN_SIZE..])
            .await
            .expect("read body");
        out
    }

    /// Reads one packet.
    pub async fn recv(&mut self) -> Packet {
        Packet::decode(&self.recv_bytes().await).expect("decodable packet")
    }

    /// Writes a packet.
    pub async fn send(&mut self, p: &Packet) {
        self.send_raw(&p.encode()).await
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, b: &[u8]) {
        self.sock.write_all(b).await.expect("write to client");
    }
}

/// Decodes a hex string.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() & 1 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn reply<T: rvirt_proto::Xdr>(call: &Packet, body: &T) -> Packet {
    Packet::new(call.header.reply(Status::Ok), body)
}

/// Answers the handshake with the given auth list and feature answers; returns the peer
/// after CONNECT_OPEN's probes, and the CONNECT_OPEN arguments seen.
pub async fn serve_handshake(peer: &mut Peer, auth: Vec<i32>, features: bool) -> ConnectOpenArgs {
    let p = peer.recv().await;
    assert_eq!(p.header.proc_, 66);
    peer.send(&reply(
        &p,
        &AuthListRet {
            types: auth.clone(),
        },
    ))
    .await;
    if auth.first() == Some(&auth_type::POLKIT) {
        let p = peer.recv().await;
        assert_eq!(p.header.proc_, 70);
        peer.send(&reply(&p, &IntRet { value: 1 })).await;
    }
    let p = peer.recv().await;
    assert_eq!(p.body::<IntArgs>().unwrap().value, 10);
    peer.send(&reply(
        &p,
        &IntRet {
            value: features.into(),
        },
    ))
    .await;
    let p = peer.recv().await;
    assert_eq!(p.header.proc_, 1);
    let open: ConnectOpenArgs = p.body().unwrap();
    peer.send(&reply(&p, &())).await;
    if open.name.as_deref() == Some("") {
        let p = peer.recv().await;
        assert_eq!(p.header.proc_, rp::CONNECT_GET_URI as i32);
        peer.send(&reply(
            &p,
            &StringRet {
                value: "qemu:///system".into(),
            },
        ))
        .await;
    }
    for f in [14, 15] {
        let p = peer.recv().await;
        assert_eq!(p.body::<IntArgs>().unwrap().value, f);
        peer.send(&reply(
            &p,
            &IntRet {
                value: features.into(),
            },
        ))
        .await;
    }
    if features {
        let p = peer.recv().await;
        assert_eq!(p.header.proc_, 360);
        peer.send(&reply(&p, &())).await;
    }
    open
}
