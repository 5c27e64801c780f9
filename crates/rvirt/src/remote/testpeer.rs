//! A scripted daemon for unit tests: the other end of a socketpair, reading whole packets the
//! client sends and writing whatever packets a test wants back.

use super::client::Client;
use super::transport::Stream;
use rvirt_proto::packet::{self, Packet, LEN_SIZE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The daemon side of a test connection.
pub struct Peer {
    sock: UnixStream,
}

impl Peer {
    /// A connected socketpair; returns the client's end wrapped in a [`Stream`].
    pub fn streams() -> (Stream, Peer) {
        let (a, b) = UnixStream::pair().expect("socketpair");
        (Stream::unix(a), Peer { sock: b })
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
