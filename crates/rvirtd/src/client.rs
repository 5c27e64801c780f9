//! One client connection: framing, routing by program, concurrency, replies.
//!
//! Each connection gets three tasks. The reader reads one packet at a time (length word checked
//! before anything is allocated; a bad length or header closes the connection, as libvirtd does),
//! answers keepalive PINGs, drops packets that are not calls, and hands each call to a spawned
//! task — at most `max_client_requests` at once; when that many are running it stops reading,
//! like libvirtd. Calls that change the connection's state (open, close, auth, event
//! registration) wait for the running calls to finish and run alone, so pipelined requests keep
//! their order. The writer sends replies, events and keepalives as they come, and the keepalive
//! task pings a silent client and drops a dead one. A slow call holds only its own task: other
//! calls of the client and other clients go on.

use crate::events::Registry;
use crate::keepalive::{self, KeepAlive, Tick};
use crate::paths::SocketKind;
use crate::server::Shared;
use crate::wire_error::rpc;
use crate::{admin, dispatch};
use rvirt::Driver;
use rvirt_proto::packet::{
    body_len, Header, MessageType, Packet, Status, ADMIN_PROGRAM, FDS_MAX, HEADER_SIZE,
    LXC_PROGRAM, PROTOCOL_VERSION, QEMU_PROGRAM, REMOTE_PROGRAM,
};
use rvirt_proto::remote::RemoteError;
use rvirt_proto::xdr::Xdr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// Frames waiting for the writer. Replies wait for room; events and keepalives that find the
/// queue full mean the client stopped reading, and it is dropped.
const OUT_QUEUE: usize = 1024;

/// Something for the writer task.
#[derive(Debug)]
enum Outgoing {
    Frame(Vec<u8>),
    /// Send, then close the connection (CONNECT_CLOSE).
    FrameThenClose(Vec<u8>),
}

/// The connection-level state a call can change.
#[derive(Default)]
pub(crate) struct Session {
    /// The driver opened by CONNECT_OPEN.
    pub(crate) driver: Option<Arc<dyn Driver>>,
    /// Read-only because of the socket or CONNECT_OPEN's RO flag.
    pub(crate) read_only: bool,
    /// CONNECT_REGISTER_CLOSE_CALLBACK was called.
    pub(crate) close_callback: bool,
}

/// One connected client, shared by its tasks.
pub(crate) struct Client {
    /// Daemon-wide id (libvirt's client id).
    pub(crate) id: u64,
    /// The daemon.
    pub(crate) shared: Arc<Shared>,
    /// The socket it came in on.
    pub(crate) kind: SocketKind,
    out: mpsc::Sender<Outgoing>,
    session: Mutex<Session>,
    keepalive: Mutex<KeepAlive>,
    keepalive_wake: Notify,
    closed: watch::Sender<bool>,
    /// Calls read and not yet answered.
    in_flight: watch::Sender<usize>,
    /// Event callbacks registered by this client.
    pub(crate) events: Mutex<Registry>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a call task must not take the whole connection down with poisoned locks.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    /// The session state.
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// Asks every task of this connection to stop.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves when the connection is closing.
    pub(crate) async fn closing(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Resolves when every call read so far has been answered.
    pub(crate) async fn calls_done(&self) {
        let mut rx = self.in_flight.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Starts keepalive pings (CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)).
    pub(crate) fn start_keepalive(&self) {
        if lock(&self.keepalive).start() {
            debug!("keepalive", "client {}: keepalive started", self.id);
            self.keepalive_wake.notify_one();
        }
    }

    /// Queues an asynchronous message (event, keepalive). A client that lets 1024 frames pile
    /// up is not reading: it is disconnected rather than allowed to grow the daemon's memory.
    pub(crate) fn send_async(&self, frame: Vec<u8>) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(Outgoing::Frame(frame)) {
            warn!(
                "client",
                "client {}: not reading its messages ({OUT_QUEUE} queued), disconnecting", self.id
            );
            self.close();
        }
    }

    /// Adds a task to abort when the connection ends.
    pub(crate) fn own_task(&self, t: JoinHandle<()>) {
        lock(&self.tasks).push(t);
    }

    /// Whether calls are read-only.
    pub(crate) fn read_only(&self) -> bool {
        self.kind == SocketKind::ReadOnly || self.session().read_only
    }
}

/// The result of one call: the reply body or an error, and whether to close afterwards.
pub(crate) struct Outcome {
    pub(crate) result: Result<Vec<u8>, RemoteError>,
    pub(crate) close_after: bool,
}

impl Outcome {
    pub(crate) fn ok<T: Xdr>(ret: &T) -> Self {
        Self {
            result: Ok(rvirt_proto::xdr::to_bytes(ret)),
            close_after: false,
        }
    }
    pub(crate) fn err(e: RemoteError) -> Self {
        Self {
            result: Err(e),
            close_after: false,
        }
    }
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("{0}")]
    Frame(#[from] rvirt_proto::packet::FrameError),
    #[error("connection closed in the middle of a packet")]
    Truncated,
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} file descriptors announced, at most {FDS_MAX} allowed")]
    TooManyFds(u32),
}

/// Reads one packet; `None` at a clean end of stream.
async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Packet>, ReadError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut len[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(ReadError::Truncated)
            };
        }
        got += n;
    }
    let n = body_len(len)?;
    // Grow the buffer as bytes arrive instead of trusting the length word with 32 MiB at once.
    let mut body = Vec::with_capacity(n.min(64 * 1024));
    (&mut *r).take(n as u64).read_to_end(&mut body).await?;
    if body.len() < n {
        return Err(ReadError::Truncated);
    }
    let header = Header::decode(&mut rvirt_proto::Decoder::new(&body[..HEADER_SIZE]))
        .map_err(rvirt_proto::packet::FrameError::from)?;
    body.drain(..HEADER_SIZE);
    Ok(Some(Packet {
        header,
        payload: body,
    }))
}

/// Encodes the reply to `req`.
pub(crate) fn reply_frame(req: &Header, result: &Result<Vec<u8>, RemoteError>) -> Vec<u8> {
    let (status, payload) = match result {
        Ok(body) => (Status::Ok, body.clone()),
        Err(e) => (Status::Error, rvirt_proto::xdr::to_bytes(e)),
    };
    Packet {
        header: Header {
            type_: MessageType::Reply as i32,
            status: status as i32,
            ..*req
        },
        payload,
    }
    .encode()
}

/// Calls that must run alone, in order (they change the connection's state).
fn is_barrier(kind: SocketKind, h: &Header) -> bool {
    use rvirt_proto::procedure::remote_proc as p;
    match kind {
        SocketKind::Admin => h.prog == ADMIN_PROGRAM && matches!(h.proc_, 1 | 2),
        _ => {
            h.prog == REMOTE_PROGRAM
                && matches!(
                    h.proc_ as u32,
                    p::CONNECT_OPEN
                        | p::CONNECT_CLOSE
                        | p::AUTH_LIST
                        | p::AUTH_SASL_INIT
                        | p::AUTH_SASL_START
                        | p::AUTH_SASL_STEP
                        | p::AUTH_POLKIT
                        | p::CONNECT_DOMAIN_EVENT_REGISTER
                        | p::CONNECT_DOMAIN_EVENT_DEREGISTER
                        | p::CONNECT_DOMAIN_EVENT_REGISTER_ANY
                        | p::CONNECT_DOMAIN_EVENT_DEREGISTER_ANY
                        | p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY
                        | p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY
                        | p::CONNECT_NETWORK_EVENT_REGISTER_ANY
                        | p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY
                        | p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY
                        | p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY
                )
        }
    }
}

/// Routes a call to its program (libvirt's virNetServerDispatchNewMessage and
/// virNetServerProgramDispatchCall checks, in their order).
async fn route(client: &Arc<Client>, h: &Header, payload: &[u8]) -> Outcome {
    let main = client.kind != SocketKind::Admin;
    let known = h.vers == PROTOCOL_VERSION
        && match h.prog {
            REMOTE_PROGRAM | QEMU_PROGRAM | LXC_PROGRAM => main,
            ADMIN_PROGRAM => !main,
            _ => false,
        };
    if !known {
        // %d of the unsigned values, as libvirt prints them.
        return Outcome::err(rpc(&format!(
            "Cannot find program {} version {}",
            h.prog as i32, h.vers as i32
        )));
    }
    if h.status != Status::Ok as i32 {
        return Outcome::err(rpc(&format!(
            "Unexpected message status {}",
            h.status as u32
        )));
    }
    match h.prog {
        REMOTE_PROGRAM => dispatch::call(client, h.proc_, payload).await,
        ADMIN_PROGRAM => admin::call(client, h.proc_, payload),
        // The QEMU and LXC programs have no procedures in rvirtd yet.
        _ => Outcome::err(rpc(&format!("unknown procedure: {}", h.proc_))),
    }
}

async fn handle_call(client: Arc<Client>, h: Header, payload: Vec<u8>) {
    let outcome = route(&client, &h, &payload).await;
    let frame = reply_frame(&h, &outcome.result);
    let msg = if outcome.close_after {
        Outgoing::FrameThenClose(frame)
    } else {
        Outgoing::Frame(frame)
    };
    let _ = client.out.send(msg).await;
    client.in_flight.send_modify(|n| *n -= 1);
}

async fn writer_loop(
    client: Arc<Client>,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = client.closing() => break,
        };
        let (frame, then_close) = match msg {
            Some(Outgoing::Frame(f)) => (f, false),
            Some(Outgoing::FrameThenClose(f)) => (f, true),
            None => break,
        };
        let written = tokio::select! {
            r = wr.write_all(&frame) => r.is_ok(),
            _ = client.closing() => false,
        };
        if !written || then_close {
            break;
        }
    }
    let _ = wr.shutdown().await;
    client.close();
}

async fn keepalive_loop(client: Arc<Client>) {
    loop {
        let tick = lock(&client.keepalive).tick(Instant::now());
        match tick {
            Tick::Wait(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = client.keepalive_wake.notified() => {}
                    _ = client.closing() => return,
                }
            }
            Tick::Ping => client.send_async(keepalive::ping()),
            Tick::Dead => {
                warn!(
                    "keepalive",
                    "client {}: connection closed due to keepalive timeout", client.id
                );
                client.close();
                return;
            }
        }
    }
}

/// Serves one accepted connection until it closes. `_slot` is the connection's place under
/// `max_clients`, released when this returns.
pub(crate) async fn serve(
    stream: UnixStream,
    shared: Arc<Shared>,
    kind: SocketKind,
    _slot: OwnedSemaphorePermit,
) {
    let (interval, count, max_requests) = match kind {
        SocketKind::Admin => (
            shared.config.admin_keepalive_interval,
            shared.config.admin_keepalive_count,
            shared.config.admin_max_client_requests,
        ),
        _ => (
            shared.config.keepalive_interval,
            shared.config.keepalive_count,
            shared.config.max_client_requests,
        ),
    };
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    let client = Arc::new(Client {
        id: shared.next_client_id(),
        shared: shared.clone(),
        kind,
        out: tx,
        session: Mutex::new(Session::default()),
        keepalive: Mutex::new(KeepAlive::new(interval, count, Instant::now())),
        keepalive_wake: Notify::new(),
        closed: watch::channel(false).0,
        in_flight: watch::channel(0).0,
        events: Mutex::new(Registry::default()),
        tasks: Mutex::new(Vec::new()),
    });
    let _counted = shared.client_connected();
    info!(
        "client",
        "client {} connected on a {:?} socket", client.id, kind
    );
    let writer = tokio::spawn(writer_loop(client.clone(), wr, rx));
    client.own_task(tokio::spawn(keepalive_loop(client.clone())));

    let max = max_requests.max(1) as usize;
    let requests = Arc::new(Semaphore::new(max));
    let mut rd = rd;
    let mut shutdown = shared.shutdown_signal();
    loop {
        let permit = tokio::select! {
            p = requests.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = client.closing() => break,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let packet = tokio::select! {
            r = read_packet(&mut rd) => r,
            _ = client.closing() => break,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let mut packet = match packet {
            Ok(Some(p)) => p,
            Ok(None) => {
                debug!("client", "client {}: end of stream", client.id);
                break;
            }
            Err(e) => {
                info!("client", "client {}: closing connection: {e}", client.id);
                break;
            }
        };
        lock(&client.keepalive).received(Instant::now());
        let h = packet.header;
        if keepalive::is_keepalive(&h) {
            if h.proc_ == keepalive::PING {
                client.send_async(keepalive::pong());
            }
            continue;
        }
        if h.type_ == MessageType::CallWithFds as i32 {
            match take_fds(&mut rd, &mut packet.payload).await {
                Ok(()) => {}
                Err(e) => {
                    info!("client", "client {}: closing connection: {e}", client.id);
                    break;
                }
            }
        } else if h.type_ != MessageType::Call as i32 {
            // Not a call: nothing to answer (stray stream data, replies, unknown types).
            debug!(
                "rpc",
                "client {}: dropping message prog={:#x} proc={} type={} serial={}",
                client.id,
                h.prog,
                h.proc_,
                h.type_,
                h.serial
            );
            continue;
        }
        client.in_flight.send_modify(|n| *n += 1);
        if is_barrier(kind, &h) {
            let rest = tokio::select! {
                p = requests.clone().acquire_many_owned(max as u32 - 1) => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = client.closing() => break,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            handle_call(client.clone(), h, packet.payload).await;
            drop((rest, permit));
        } else {
            let c = client.clone();
            tokio::spawn(async move {
                handle_call(c, h, packet.payload).await;
                drop(permit);
            });
        }
    }
    client.close();
    let _ = writer.await;
    for t in lock(&client.tasks).drain(..) {
        t.abort();
    }
    let driver = client.session().driver.take();
    if let Some(d) = driver {
        if let Err(e) = d.connect_close().await {
            warn!(
                "client",
                "client {}: closing its driver connection: {e}", client.id
            );
        }
    }
    info!("client", "client {} disconnected", client.id);
}

/// Consumes the file descriptors of a CALL_WITH_FDS. rvirtd implements no FD-passing
/// procedure yet; the FDs (each sent with a one-byte dummy payload after the packet) are read
/// and closed so the stream stays in sync, and the call is answered like any other.
async fn take_fds<R: AsyncRead + Unpin>(r: &mut R, payload: &mut Vec<u8>) -> Result<(), ReadError> {
    if payload.len() < 4 {
        return Err(ReadError::Truncated);
    }
    let n = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
    if n as usize > FDS_MAX {
        return Err(ReadError::TooManyFds(n));
    }
    payload.drain(..4);
    let mut dummy = vec![0u8; n as usize];
    r.read_exact(&mut dummy).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn framing_limits_close_the_stream() {
        let short: &[u8] = &[0, 0, 0, 27, 0, 0, 0];
        assert!(matches!(
            read_packet(&mut &short[..]).await,
            Err(ReadError::Frame(_))
        ));
        let long = ((rvirt_proto::packet::MESSAGE_MAX + 5) as u32).to_be_bytes();
        assert!(matches!(
            read_packet(&mut &long[..]).await,
            Err(ReadError::Frame(_))
        ));
        let empty: &[u8] = &[];
        assert!(read_packet(&mut &empty[..]).await.unwrap().is_none());
        let partial: &[u8] = &[0, 0];
        assert!(matches!(
            read_packet(&mut &partial[..]).await,
            Err(ReadError::Truncated)
        ));
        let cut: &[u8] = &[0, 0, 0, 40, 1, 2, 3];
        assert!(matches!(
            read_packet(&mut &cut[..]).await,
            Err(ReadError::Truncated)
        ));
    }

    #[tokio::test]
    async fn reads_a_call() {
        let bytes = Packet {
            header: Header::new(REMOTE_PROGRAM, 66, MessageType::Call, 7, Status::Ok),
            payload: vec![1, 2, 3, 4],
        }
        .encode();
        let p = read_packet(&mut &bytes[..]).await.unwrap().unwrap();
        assert_eq!(p.header.serial, 7);
        assert_eq!(p.payload, vec![1, 2, 3, 4]);
        let reply = reply_frame(&p.header, &Ok(vec![0, 0, 0, 1]));
        assert_eq!(&reply[16..20], &[0, 0, 0, 1]);
    }
}
