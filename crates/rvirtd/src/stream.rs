//! The daemon side of libvirt's stream protocol (`remote_daemon_stream.c`).
//!
//! A call such as `STORAGE_VOL_UPLOAD` is dispatched like any other; its driver method returns
//! an rvirt stream end, the call is answered REPLY OK, and from then on one task per stream runs
//! [`serve`]: STREAM packets from the client with the call's serial (routed here by
//! [`Streams::route`]) feed the driver's [`StreamSink`] (upload, console input), and what the
//! driver's [`StreamSource`] yields goes to the client as STREAM CONTINUE packets of at most
//! [`CHUNK_MAX`] bytes, holes as STREAM_HOLE when the call was sparse, the end as a zero-length
//! CONTINUE. The client's STREAM OK finishes its direction (confirmed with STREAM OK, or STREAM
//! ERROR carrying the driver's error); its STREAM ERROR aborts (confirmed with STREAM OK).
//! Like libvirtd, only one outgoing frame per stream waits for the socket at a time, and a full
//! incoming queue stops the connection's reader: neither a fast driver nor a fast client can
//! grow the daemon's memory. Packets for a serial with no open stream are dropped silently.

use async_trait::async_trait;
use rvirt::stream::{Chunk, StreamSink, StreamSource, CHUNK_MAX};
use rvirt_proto::packet::{Header, MessageType, Packet, Status};
use rvirt_proto::remote::{RemoteError, StreamHole};
use rvirt_proto::xdr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

use crate::wire_error;

/// Incoming packets one stream may have waiting before the connection's reader waits.
const IN_QUEUE: usize = 8;

/// How a stream task writes to its client.
#[async_trait]
pub(crate) trait Wire: Send + Sync + 'static {
    /// Queues `frame` and waits until the connection has room for more; `false` once the
    /// connection is closed.
    async fn send_frame(&self, frame: Vec<u8>) -> bool;
}

/// A client's open streams, by the serial of the call that opened each.
#[derive(Default)]
pub(crate) struct Streams {
    routes: Mutex<HashMap<u32, mpsc::Sender<Packet>>>,
    /// Stream payload bytes sent to and received from this client (data only; holes are not
    /// transferred), for the debug log and tests.
    pub(crate) bytes_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
}

impl Streams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, mpsc::Sender<Packet>>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the route for the stream of call `serial` (before its reply is sent, so nothing
    /// the client sends right after the reply is lost).
    pub(crate) fn open(&self, serial: u32) -> mpsc::Receiver<Packet> {
        let (tx, rx) = mpsc::channel(IN_QUEUE);
        self.lock().insert(serial, tx);
        rx
    }

    /// Forgets the stream of `serial`.
    pub(crate) fn close(&self, serial: u32) {
        self.lock().remove(&serial);
    }

    /// Forgets every stream (the connection closed): their tasks abort the driver side.
    pub(crate) fn close_all(&self) {
        self.lock().clear();
    }

    /// Hands a STREAM/STREAM_HOLE packet to its stream, waiting while that stream is
    /// [`IN_QUEUE`] packets behind. A packet for no open stream is dropped, as libvirtd does.
    pub(crate) async fn route(&self, p: Packet) {
        let route = self.lock().get(&p.header.serial).cloned();
        if let Some(route) = route {
            if p.header.message_type() == Some(MessageType::Stream) {
                self.bytes_in
                    .fetch_add(p.payload.len() as u64, Ordering::Relaxed);
            }
            let _ = route.send(p).await;
        }
    }
}

/// A stream whose call succeeded: its route (opened before the reply was queued) and the
/// driver's ends, to be served once the reply is queued.
pub(crate) struct Pending {
    pub rx: mpsc::Receiver<Packet>,
    pub ends: Ends,
}

/// What crossed the wire on one stream, for the debug log: payload bytes of STREAM packets and
/// the lengths announced by STREAM_HOLE packets (holes themselves carry no data).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub data_out: AtomicU64,
    pub holes_out: AtomicU64,
    pub data_in: AtomicU64,
    pub holes_in: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    /// `(data_out, holes_out, data_in, holes_in)`.
    pub fn get(&self) -> (u64, u64, u64, u64) {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        (
            g(&self.data_out),
            g(&self.holes_out),
            g(&self.data_in),
            g(&self.holes_in),
        )
    }
}

/// What one stream connects: the driver's ends and the opening call's header.
pub(crate) struct Ends {
    /// Where the client's data goes (upload, console input).
    pub incoming: Option<StreamSink>,
    /// What the driver sends to the client (download, console output).
    pub outgoing: Option<StreamSource>,
    /// The call had its sparse flag set: holes may cross the wire.
    pub sparse: bool,
}

struct Out<'a> {
    wire: &'a dyn Wire,
    call: Header,
    streams: &'a Streams,
    counters: &'a Counters,
}

impl Out<'_> {
    fn header(&self, type_: MessageType, status: Status) -> Header {
        Header::new(
            self.call.prog,
            self.call.proc_,
            type_,
            self.call.serial,
            status,
        )
    }
    async fn raw(&self, type_: MessageType, status: Status, payload: Vec<u8>) -> bool {
        let header = self.header(type_, status);
        self.wire
            .send_frame(Packet { header, payload }.encode())
            .await
    }
    async fn data(&self, d: &[u8]) -> bool {
        self.streams
            .bytes_out
            .fetch_add(d.len() as u64, Ordering::Relaxed);
        Counters::add(&self.counters.data_out, d.len() as u64);
        self.raw(MessageType::Stream, Status::Continue, d.to_vec())
            .await
    }
    async fn ok(&self) -> bool {
        self.raw(MessageType::Stream, Status::Ok, Vec::new()).await
    }
    async fn error(&self, e: RemoteError) -> bool {
        let header = self.header(MessageType::Stream, Status::Error);
        self.wire.send_frame(Packet::new(header, &e).encode()).await
    }
}

async fn recv_opt(src: &mut Option<StreamSource>) -> rvirt::Result<Option<Chunk>> {
    match src {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn unexpected_hole() -> RemoteError {
    wire_error::report(
        rvirt::error::code::INTERNAL_ERROR,
        rvirt::error::domain::STREAMS,
        "Unexpected stream hole",
    )
}

/// Runs the stream opened by `call` until it finishes, aborts, fails or the client goes away;
/// returns what crossed the wire.
pub(crate) async fn serve(
    wire: Arc<dyn Wire>,
    streams: Arc<Streams>,
    call: Header,
    mut rx: mpsc::Receiver<Packet>,
    mut ends: Ends,
) -> Counters {
    let counters = Counters::default();
    let out = Out {
        wire: &*wire,
        call,
        streams: &streams,
        counters: &counters,
    };
    // The driver's data ended (EOF sent); the client's STREAM OK is awaited.
    let mut eof_sent = false;
    loop {
        tokio::select! {
            chunk = recv_opt(&mut ends.outgoing), if !eof_sent => match chunk {
                Ok(Some(Chunk::Data(d))) => {
                    for piece in d.chunks(CHUNK_MAX) {
                        if !out.data(piece).await {
                            break;
                        }
                    }
                }
                Ok(Some(Chunk::Hole(n))) => {
                    if ends.sparse {
                        Counters::add(&counters.holes_out, n);
                        let hole = StreamHole { length: n as i64, flags: 0 };
                        out.raw(MessageType::StreamHole, Status::Continue, xdr::to_bytes(&hole)).await;
                    } else {
                        // A driver hole on a non-sparse stream: send the zeroes.
                        let zeroes = vec![0u8; CHUNK_MAX];
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(CHUNK_MAX as u64) as usize;
                            if !out.data(&zeroes[..k]).await {
                                break;
                            }
                            left -= k as u64;
                        }
                    }
                }
                Ok(None) => {
                    out.raw(MessageType::Stream, Status::Continue, Vec::new()).await;
                    eof_sent = true;
                }
                Err(e) => {
                    out.error(wire_error::from_driver(&e)).await;
                    if let Some(sink) = ends.incoming.take() {
                        sink.abort();
                    }
                    break;
                }
            },
            p = rx.recv() => {
                let Some(p) = p else {
                    // The connection is gone: the driver's transfers stop.
                    if let Some(sink) = ends.incoming.take() {
                        sink.abort();
                    }
                    break;
                };
                let h = p.header;
                match (h.message_type(), h.status()) {
                    (Some(MessageType::Stream), Some(Status::Continue)) => {
                        let Some(sink) = ends.incoming.as_mut() else { continue };
                        if p.payload.is_empty() {
                            continue;
                        }
                        Counters::add(&counters.data_in, p.payload.len() as u64);
                        if let Err(e) = sink.send(Chunk::Data(p.payload)).await {
                            out.error(wire_error::from_driver(&e)).await;
                            break;
                        }
                    }
                    (Some(MessageType::StreamHole), Some(Status::Continue)) => {
                        let hole = p.body::<StreamHole>();
                        let (Some(sink), true, Ok(hole)) = (ends.incoming.as_mut(), ends.sparse, hole) else {
                            out.error(unexpected_hole()).await;
                            if let Some(sink) = ends.incoming.take() {
                                sink.abort();
                            }
                            break;
                        };
                        Counters::add(&counters.holes_in, hole.length.max(0) as u64);
                        if let Err(e) = sink.send(Chunk::Hole(hole.length.max(0) as u64)).await {
                            out.error(wire_error::from_driver(&e)).await;
                            break;
                        }
                    }
                    (Some(MessageType::Stream), Some(Status::Ok)) => {
                        // The client's finish: the driver confirms the data it took.
                        let res = match ends.incoming.take() {
                            Some(sink) => sink.finish().await,
                            None => Ok(()),
                        };
                        if let Some(src) = ends.outgoing.take() {
                            src.complete(res.clone());
                        }
                        match res {
                            Ok(()) => out.ok().await,
                            Err(e) => out.error(wire_error::from_driver(&e)).await,
                        };
                        break;
                    }
                    (Some(MessageType::Stream), Some(Status::Error)) => {
                        // The client's abort: confirmed with an empty STREAM OK.
                        if let Some(sink) = ends.incoming.take() {
                            sink.abort();
                        }
                        if let Some(src) = ends.outgoing.take() {
                            src.complete(Err(rvirt::stream::aborted_error()));
                        }
                        out.ok().await;
                        break;
                    }
                    _ => {
                        let e = wire_error::rpc(&format!(
                            "stream aborted with unexpected status {}", h.status
                        ));
                        out.error(e).await;
                        if let Some(sink) = ends.incoming.take() {
                            sink.abort();
                        }
                        break;
                    }
                }
            }
        }
    }
    streams.close(call.serial);
    counters
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt::stream::channel;
    use rvirt_proto::packet::REMOTE_PROGRAM;

    /// A client connection that records the frames the stream task writes.
    struct Recorder(mpsc::UnboundedSender<Packet>);

    #[async_trait]
    impl Wire for Recorder {
        async fn send_frame(&self, frame: Vec<u8>) -> bool {
            self.0.send(Packet::decode(&frame).unwrap()).is_ok()
        }
    }

    fn call(proc_: i32) -> Header {
        Header::new(REMOTE_PROGRAM, proc_, MessageType::Call, 7, Status::Ok)
    }

    fn pkt(proc_: i32, t: MessageType, st: Status, payload: Vec<u8>) -> Packet {
        Packet {
            header: Header::new(REMOTE_PROGRAM, proc_, t, 7, st),
            payload,
        }
    }

    #[tokio::test]
    async fn upload_feeds_the_driver_and_confirms_its_finish() {
        let streams = Arc::new(Streams::default());
        let (tx, mut frames) = mpsc::unbounded_channel();
        let (sink, mut source) = channel(4);
        let rx = streams.open(7);
        let task = tokio::spawn(serve(
            Arc::new(Recorder(tx)),
            streams.clone(),
            call(208),
            rx,
            Ends {
                incoming: Some(sink),
                outgoing: None,
                sparse: true,
            },
        ));
        let driver = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = source.recv().await.unwrap() {
                got.push(c);
            }
            source.complete(Ok(()));
            got
        });
        streams
            .route(pkt(
                208,
                MessageType::Stream,
                Status::Continue,
                b"abc".to_vec(),
            ))
            .await;
        let hole = xdr::to_bytes(&StreamHole {
            length: 4096,
            flags: 0,
        });
        streams
            .route(pkt(208, MessageType::StreamHole, Status::Continue, hole))
            .await;
        streams
            .route(pkt(208, MessageType::Stream, Status::Ok, Vec::new()))
            .await;
        task.await.unwrap();
        assert_eq!(
            driver.await.unwrap(),
            vec![Chunk::Data(b"abc".to_vec()), Chunk::Hole(4096)]
        );
        let confirm = frames.recv().await.unwrap();
        assert_eq!(confirm.header.message_type(), Some(MessageType::Stream));
        assert_eq!(confirm.header.status(), Some(Status::Ok));
        assert_eq!((confirm.header.proc_, confirm.header.serial), (208, 7));
        assert!(confirm.payload.is_empty());
        // The stream is closed: a stray packet is dropped without effect.
        streams
            .route(pkt(
                208,
                MessageType::Stream,
                Status::Continue,
                b"x".to_vec(),
            ))
            .await;
        assert_eq!(streams.bytes_in.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn download_sends_chunks_holes_and_eof_then_waits_for_finish() {
        let streams = Arc::new(Streams::default());
        let (tx, mut frames) = mpsc::unbounded_channel();
        let (mut sink, source) = channel(4);
        let rx = streams.open(7);
        let task = tokio::spawn(serve(
            Arc::new(Recorder(tx)),
            streams.clone(),
            call(209),
            rx,
            Ends {
                incoming: None,
                outgoing: Some(source),
                sparse: true,
            },
        ));
        let driver = tokio::spawn(async move {
            sink.send(Chunk::Data(vec![1; CHUNK_MAX + 10]))
                .await
                .unwrap();
            sink.send(Chunk::Hole(1 << 30)).await.unwrap();
            sink.finish().await
        });
        let mut seen = Vec::new();
        for _ in 0..4 {
            let p = frames.recv().await.unwrap();
            seen.push((p.header.type_, p.header.status, p.payload.len()));
        }
        assert_eq!(
            seen,
            vec![
                (
                    MessageType::Stream as i32,
                    Status::Continue as i32,
                    CHUNK_MAX
                ),
                (MessageType::Stream as i32, Status::Continue as i32, 10),
                (MessageType::StreamHole as i32, Status::Continue as i32, 12),
                (MessageType::Stream as i32, Status::Continue as i32, 0),
            ]
        );
        streams
            .route(pkt(209, MessageType::Stream, Status::Ok, Vec::new()))
            .await;
        task.await.unwrap();
        driver.await.unwrap().unwrap();
        let p = frames.recv().await.unwrap();
        assert_eq!(p.header.status(), Some(Status::Ok));
        assert_eq!(
            streams.bytes_out.load(Ordering::Relaxed),
            CHUNK_MAX as u64 + 10
        );
    }

    #[tokio::test]
    async fn hole_on_a_non_sparse_stream_is_refused() {
        let streams = Arc::new(Streams::default());
        let (tx, mut frames) = mpsc::unbounded_channel();
        let (sink, _source) = channel(4);
        let rx = streams.open(7);
        let task = tokio::spawn(serve(
            Arc::new(Recorder(tx)),
            streams.clone(),
            call(208),
            rx,
            Ends {
                incoming: Some(sink),
                outgoing: None,
                sparse: false,
            },
        ));
        let hole = xdr::to_bytes(&StreamHole {
            length: 1,
            flags: 0,
        });
        streams
            .route(pkt(208, MessageType::StreamHole, Status::Continue, hole))
            .await;
        task.await.unwrap();
        let p = frames.recv().await.unwrap();
        assert_eq!(p.header.status(), Some(Status::Error));
        let e = p.body::<RemoteError>().unwrap();
        assert_eq!(
            e.message.as_deref(),
            Some("internal error: Unexpected stream hole")
        );
    }
}
