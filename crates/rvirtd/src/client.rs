//! One client connection: framing, routing by program, concurrency, replies.
//!
//! The connection's reader cuts packets out of a buffer (one `read` usually brings a whole call;
//! the length word is checked before anything is allocated for it, and a bad length or header
//! closes the connection, as libvirtd does), answers keepalive PINGs, hands STREAM and STREAM_HOLE
//! packets to their stream's task ([`crate::stream`]), drops other packets that are not calls, and
//! runs each call. A call that opens a stream (volume upload/download, console) is answered like
//! any other, and its stream then runs as a task of the connection. A call starts in the reader
//! itself: one that completes without waiting (every test-driver call, most calls that only look at
//! daemon state) is answered right there, with no task spawned and no other thread woken. A call
//! that has to wait — for I/O, the blocking pool, a lock — moves to a task of its own at its first
//! wait, so a slow call still holds only itself: the reader goes on with the client's next call,
//! and other clients are never affected. A call with a large argument (a big XML document, slow to
//! parse) runs on the blocking pool from the start, off the daemon's one event-loop thread. At most
//! `max_client_requests` calls run at once; with that many waiting, the reader stops reading, like
//! libvirtd. Calls that change the connection's state (open, close, auth, event registration) wait
//! for the running calls to finish and run alone, so pipelined requests keep their order.
//!
//! Replies, events and keepalives are written by whoever produces them, in the order they are
//! queued, straight to the socket when it takes them; a writer task takes over only when the
//! socket is full. A client that does not read its replies stops being read once
//! [`OUT_QUEUE`] frames are waiting; one that lets events and keepalives pile up that far is
//! disconnected. A watchdog task pings a silent client and drops a dead one, and closes the
//! connection when the daemon stops. Closing shuts the socket down, which is how the reader
//! learns of it: nothing else is watched while it waits for the next call.

use crate::events::Registry;
use crate::keepalive::{self, KeepAlive, Tick};
use crate::paths::SocketKind;
use crate::server::Shared;
use crate::stream::{self, Streams};
use crate::wire_error::rpc;
use crate::{admin, dispatch};
use async_trait::async_trait;
use rvirt::Driver;
use rvirt_proto::packet::{
    body_len, Header, MessageType, Packet, Status, ADMIN_PROGRAM, FDS_MAX, HEADER_SIZE, LEN_SIZE,
    LXC_PROGRAM, PROTOCOL_VERSION, QEMU_PROGRAM, REMOTE_PROGRAM,
};
use rvirt_proto::remote::RemoteError;
use rvirt_proto::xdr::{Encoder, Xdr};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// Frames waiting for the socket. Replies are never dropped: with this many waiting, the
/// connection stops reading calls until the client catches up. Events and keepalives that find
/// the queue this full mean the client stopped reading, and it is dropped.
const OUT_QUEUE: usize = 1024;

/// A connection's read buffer: its size at rest, and the most it grows by per read towards a
/// long packet's announced size (so a length word alone cannot make the daemon allocate 32 MiB).
const READ_BUF: usize = 8 * 1024;
const READ_GROW: usize = 256 * 1024;

/// Calls with arguments this large (a big XML document) run on the blocking pool instead of
/// the event loop: parsing them takes long enough to hold up other clients.
const HEAVY_PAYLOAD: usize = 16 * 1024;

/// At most this many queued frames go to one `writev`.
const WRITE_BATCH: usize = 16;

/// Frames waiting for the socket, oldest first.
#[derive(Default)]
struct OutQueue {
    frames: VecDeque<Vec<u8>>,
    /// Bytes of the first frame already written.
    head: usize,
    /// The socket was full and the writer task was asked to flush: until it has emptied the
    /// queue, others only append.
    writer_owns: bool,
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
    wr: OwnedWriteHalf,
    out: Mutex<OutQueue>,
    /// Tells the writer task the socket was full.
    out_wake: Notify,
    /// The writer task emptied the queue.
    out_drained: Notify,
    session: Mutex<Session>,
    keepalive: Mutex<KeepAlive>,
    keepalive_wake: Notify,
    /// When the connection was accepted ([`Instant`] and [`coarse_ms`]), and when its last
    /// packet came ([`coarse_ms`]).
    born: Instant,
    born_ms: u64,
    last_rx_ms: AtomicU64,
    closed: watch::Sender<bool>,
    is_closed: AtomicBool,
    /// Calls read and not yet answered, and the tasks waiting for that to be none.
    in_flight: AtomicUsize,
    idle_waiters: AtomicUsize,
    calls_idle: Notify,
    /// Event callbacks registered by this client.
    pub(crate) events: Mutex<Registry>,
    /// Open data streams (volume upload/download, consoles), by their call's serial.
    pub(crate) streams: Arc<Streams>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a call task must not take the whole connection down with poisoned locks.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds on the coarse monotonic clock: a few ms of resolution and no clock hardware to
/// read, cheap enough for every packet; keepalive counts in seconds.
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; the clock exists on
    // every Linux since 2.6.32, and on failure `ts` stays zero, which only delays a ping.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts);
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Counts a call as unanswered while alive.
struct Busy<'a>(&'a Client);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let c = self.0;
        // Only a waiting event forwarder needs the wake-up; with none, a call costs two atomics.
        if c.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && c.idle_waiters.load(Ordering::SeqCst) > 0
        {
            c.calls_idle.notify_waiters();
        }
    }
}

/// Counts a task waiting in [`Client::calls_done`] while alive.
struct IdleWaiter<'a>(&'a AtomicUsize);

impl Drop for IdleWaiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Client {
    /// The session state.
    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// Asks every task of this connection to stop. The socket is shut down at once: the
    /// reader sees the end of the stream (so it need not watch for this while reading), and
    /// the client sees it too.
    pub(crate) fn close(&self) {
        if !self.is_closed.swap(true, Ordering::SeqCst) {
            self.closed.send_replace(true);
            self.shut_socket();
        }
    }

    fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection is closing.
    pub(crate) async fn closing(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    fn busy(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// Resolves when every call read so far has been answered.
    pub(crate) async fn calls_done(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Announce the wait before looking again (Busy::drop reads the waiters after its
        // decrement; with both SeqCst one of the two sees the other).
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = IdleWaiter(&self.idle_waiters);
        loop {
            let idle = self.calls_idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Starts keepalive pings (CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)).
    pub(crate) fn start_keepalive(&self) {
        if lock(&self.keepalive).start() {
            debug!("keepalive", "client {}: keepalive started", self.id);
            self.keepalive_wake.notify_one();
        }
    }

    /// Queues a frame behind the ones waiting and writes what the socket takes now. Returns
    /// how many frames are left waiting.
    fn push(&self, frame: Vec<u8>) -> usize {
        if self.is_closed() {
            return 0;
        }
        let mut q = lock(&self.out);
        q.frames.push_back(frame);
        if !q.writer_owns {
            if let Err(e) = self.flush(&mut q) {
                drop(q);
                debug!("client", "client {}: write failed: {e}", self.id);
                self.close();
                return 0;
            }
            if !q.frames.is_empty() {
                q.writer_owns = true;
                self.out_wake.notify_one();
            }
        }
        q.frames.len()
    }

    /// Writes queued frames until the queue is empty or the socket full.
    fn flush(&self, q: &mut OutQueue) -> io::Result<()> {
        while !q.frames.is_empty() {
            let written = if q.frames.len() == 1 {
                self.wr.try_write(&q.frames[0][q.head..])
            } else {
                let mut bufs = [IoSlice::new(&[]); WRITE_BATCH];
                let mut n = 0;
                for (slot, f) in bufs.iter_mut().zip(&q.frames) {
                    *slot = IoSlice::new(if n == 0 { &f[q.head..] } else { f });
                    n += 1;
                }
                self.wr.try_write_vectored(&bufs[..n])
            };
            let mut n = match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while n > 0 {
                let rest = q.frames[0].len() - q.head;
                if n < rest {
                    q.head += n;
                    break;
                }
                n -= rest;
                q.frames.pop_front();
                q.head = 0;
            }
        }
        Ok(())
    }

    /// Frames waiting for the socket.
    fn queued(&self) -> usize {
        lock(&self.out).frames.len()
    }

    /// Resolves once every queued frame is written.
    async fn drained(&self) {
        loop {
            let done = self.out_drained.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            // A non-empty queue belongs to the writer task, which signals when it is empty.
            if self.queued() == 0 {
                return;
            }
            done.await;
        }
    }

    /// Queues an asynchronous message (event, keepalive). A client that lets 1024 frames pile
    /// up is not reading: it is disconnected rather than allowed to grow the daemon's memory.
    pub(crate) fn send_async(&self, frame: Vec<u8>) {
        if self.push(frame) > OUT_QUEUE {
            warn!(
                "client",
                "client {}: not reading its messages ({OUT_QUEUE} queued), disconnecting", self.id
            );
            self.close();
        }
    }

    /// Adds a task to abort when the connection ends.
    pub(crate) fn own_task(&self, t: JoinHandle<()>) {
        let mut tasks = lock(&self.tasks);
        // Streams come and go on a long-lived connection: forget the ones that ended.
        tasks.retain(|t| !t.is_finished());
        tasks.push(t);
    }

    /// Whether calls are read-only.
    pub(crate) fn read_only(&self) -> bool {
        self.kind == SocketKind::ReadOnly || self.session().read_only
    }

    /// Ends the conversation on the socket both ways. The descriptor itself closes when the
    /// last task holding the client (a call still running in its driver) lets go.
    fn shut_socket(&self) {
        let fd = self.wr.as_ref().as_raw_fd();
        // SAFETY: `fd` belongs to the stream `self.wr` keeps open; shutdown neither closes nor
        // invalidates it, and an error (already disconnected) is harmless.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}

/// Stream tasks write through the connection's queue, one frame at a time: a frame that has to
/// wait for the socket is written before the stream produces the next, so a fast driver cannot
/// fill the daemon's memory, and replies and events interleave with stream data in order.
#[async_trait]
impl stream::Wire for Client {
    async fn send_frame(&self, frame: Vec<u8>) -> bool {
        if self.push(frame) > 0 && unless_closed(self, self.drained()).await.is_none() {
            return false;
        }
        !self.is_closed()
    }
}

/// Serves the stream opened by call `call` (whose REPLY OK is queued) as a task of the
/// connection; a slow stream holds only itself.
fn start_stream(client: &Arc<Client>, call: Header, pending: stream::Pending) {
    let c = client.clone();
    let task = tokio::spawn(async move {
        let wire: Arc<dyn stream::Wire> = c.clone();
        let n = stream::serve(wire, c.streams.clone(), call, pending.rx, pending.ends).await;
        let (data_out, holes_out, data_in, holes_in) = n.get();
        debug!(
            "stream",
            "client {}: stream {} (procedure {}) ended: sent {data_out} data bytes, {holes_out} hole bytes; received {data_in} data bytes, {holes_in} hole bytes",
            c.id,
            call.serial,
            call.proc_
        );
    });
    client.own_task(task);
}

/// A reply payload, encoded behind room for the packet's length word and header, so that the
/// reply frame is finished in place, without another allocation or copy.
pub(crate) struct Body(Vec<u8>);

/// The length word and header in front of a payload.
const FRAME_HEAD: usize = LEN_SIZE + HEADER_SIZE;

impl Body {
    /// `v`, encoded.
    pub(crate) fn of<T: Xdr>(v: &T) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.resize(FRAME_HEAD, 0);
        let mut e = Encoder::with_buffer(buf);
        v.encode(&mut e);
        Body(e.into_bytes())
    }

    /// No payload (a procedure returning void).
    pub(crate) fn empty() -> Self {
        Body(vec![0; FRAME_HEAD])
    }

    /// The payload bytes.
    #[cfg(test)]
    pub(crate) fn payload(&self) -> &[u8] {
        &self.0[FRAME_HEAD..]
    }
}

/// The result of one call: the reply body or an error, and whether to close afterwards.
pub(crate) struct Outcome {
    pub(crate) result: Result<Body, RemoteError>,
    pub(crate) close_after: bool,
    /// The call opened a stream (its route is open): served once the reply is queued.
    pub(crate) stream: Option<stream::Pending>,
}

impl Outcome {
    pub(crate) fn ok<T: Xdr>(ret: &T) -> Self {
        Self {
            result: Ok(Body::of(ret)),
            close_after: false,
            stream: None,
        }
    }
    pub(crate) fn err(e: RemoteError) -> Self {
        Self {
            result: Err(e),
            close_after: false,
            stream: None,
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

/// A connection's incoming bytes, from which whole packets are cut; what one `read` brings
/// beyond a packet (pipelined calls) is kept for the next.
struct Incoming {
    buf: Vec<u8>,
    /// Where the unconsumed bytes start.
    start: usize,
}

impl Incoming {
    fn new() -> Self {
        Self {
            buf: Vec::with_capacity(READ_BUF),
            start: 0,
        }
    }

    /// The next packet's header and where its payload lies in [`Self::buf`] (valid until the
    /// next read); `None` at a clean end of stream.
    async fn packet<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> Result<Option<(Header, Range<usize>)>, ReadError> {
        loop {
            let avail = self.buf.len() - self.start;
            let need = if avail >= LEN_SIZE {
                let at = self.start;
                let word = [
                    self.buf[at],
                    self.buf[at + 1],
                    self.buf[at + 2],
                    self.buf[at + 3],
                ];
                let total = LEN_SIZE + body_len(word)?;
                if avail >= total {
                    let body = at + LEN_SIZE;
                    let header = Header::decode(&mut rvirt_proto::Decoder::new(
                        &self.buf[body..body + HEADER_SIZE],
                    ))
                    .map_err(rvirt_proto::packet::FrameError::from)?;
                    self.start = at + total;
                    return Ok(Some((header, body + HEADER_SIZE..at + total)));
                }
                total
            } else {
                LEN_SIZE
            };
            if self.read(r, need).await? == 0 {
                return if avail == 0 {
                    Ok(None)
                } else {
                    Err(ReadError::Truncated)
                };
            }
        }
    }

    /// Consumes the next `n` bytes of the stream.
    async fn skip<R: AsyncRead + Unpin>(&mut self, r: &mut R, n: usize) -> Result<(), ReadError> {
        while self.buf.len() - self.start < n {
            if self.read(r, n).await? == 0 {
                return Err(ReadError::Truncated);
            }
        }
        self.start += n;
        Ok(())
    }

    /// One read towards `need` unconsumed bytes.
    async fn read<R: AsyncRead + Unpin>(&mut self, r: &mut R, need: usize) -> io::Result<usize> {
        if self.start == self.buf.len() {
            self.buf.clear();
            if self.buf.capacity() > READ_GROW {
                self.buf.shrink_to(READ_BUF);
            }
        } else if self.start > 0 {
            self.buf.drain(..self.start);
        }
        self.start = 0;
        let missing = need.saturating_sub(self.buf.len()).min(READ_GROW);
        if self.buf.capacity() - self.buf.len() < missing {
            self.buf.reserve(missing);
        }
        r.read_buf(&mut self.buf).await
    }
}

/// The reply frame to `req`.
pub(crate) fn reply_frame(req: &Header, result: Result<Body, RemoteError>) -> Vec<u8> {
    let (status, Body(mut frame)) = match result {
        Ok(body) => (Status::Ok, body),
        Err(e) => (Status::Error, Body::of(&e)),
    };
    let len = frame.len() as u32;
    let words = [
        len,
        req.prog,
        req.vers,
        req.proc_ as u32,
        MessageType::Reply as u32,
        req.serial,
        status as u32,
    ];
    for (dst, w) in frame.chunks_exact_mut(4).zip(words) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
    frame
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
        REMOTE_PROGRAM => dispatch::call(client, h.proc_, h.serial, payload).await,
        ADMIN_PROGRAM => admin::call(client, h.proc_, payload),
        // The QEMU and LXC programs have no procedures in rvirtd yet.
        _ => Outcome::err(rpc(&format!("unknown procedure: {}", h.proc_))),
    }
}

/// Runs one call and queues its reply.
async fn answer(client: Arc<Client>, h: Header, payload: Vec<u8>) {
    let busy = client.busy();
    let outcome = route(&client, &h, &payload).await;
    client.push(reply_frame(&h, outcome.result));
    if let Some(pending) = outcome.stream {
        start_stream(&client, h, pending);
    }
    drop(busy);
    if outcome.close_after {
        client.drained().await;
        client.close();
    }
}

/// Polls `f` once, from the calling task.
fn poll_once<F: Future + Unpin>(f: &mut F) -> impl Future<Output = Poll<F::Output>> + '_ {
    std::future::poll_fn(move |cx| Poll::Ready(Pin::new(&mut *f).poll(cx)))
}

/// `f`'s output, or `None` if the connection closes first.
async fn unless_closed<F: Future>(client: &Client, f: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        v = f => Some(v),
        _ = client.closing() => None,
    }
}

/// A permit for a call leaving the reader. The reader checked for room before reading it and
/// is the only taker, so this does not wait.
async fn room(client: &Client, requests: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    match requests.clone().try_acquire_owned() {
        Ok(p) => Some(p),
        Err(_) => unless_closed(client, requests.clone().acquire_owned())
            .await?
            .ok(),
    }
}

/// Reads and runs calls until the stream ends or breaks.
async fn read_loop(client: &Arc<Client>, mut rd: OwnedReadHalf, max: usize) {
    // Permits for calls that went to tasks of their own; only this loop takes them.
    let requests = Arc::new(Semaphore::new(max));
    let mut incoming = Incoming::new();
    loop {
        // Room for one more call, and a client that reads its replies. (Reading stops by
        // itself when the connection closes; these waits need to be told.)
        if requests.available_permits() == 0
            && !matches!(unless_closed(client, requests.acquire()).await, Some(Ok(_)))
        {
            return;
        }
        if client.queued() >= OUT_QUEUE && unless_closed(client, client.drained()).await.is_none() {
            return;
        }
        let (h, at) = match incoming.packet(&mut rd).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                debug!("client", "client {}: end of stream", client.id);
                return;
            }
            Err(e) => {
                info!("client", "client {}: closing connection: {e}", client.id);
                return;
            }
        };
        client.last_rx_ms.store(coarse_ms(), Ordering::Relaxed);
        if keepalive::is_keepalive(&h) {
            if h.proc_ == keepalive::PING {
                client.send_async(keepalive::pong());
            }
            continue;
        }
        let mut payload = incoming.buf[at].to_vec();
        if h.type_ == MessageType::Stream as i32 || h.type_ == MessageType::StreamHole as i32 {
            // Data, holes, finish or abort of an open stream: to its task, which may make
            // the reader wait while that stream has a full queue (libvirtd stops reading too).
            let p = Packet { header: h, payload };
            if unless_closed(client, client.streams.route(p))
                .await
                .is_none()
            {
                return;
            }
            continue;
        }
        if h.type_ == MessageType::CallWithFds as i32 {
            if let Err(e) = take_fds(&mut incoming, &mut rd, &mut payload).await {
                info!("client", "client {}: closing connection: {e}", client.id);
                return;
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
        if is_barrier(client.kind, &h) {
            let Some(Ok(all)) = unless_closed(client, requests.acquire_many(max as u32)).await
            else {
                return;
            };
            unless_closed(client, answer(client.clone(), h, payload)).await;
            drop(all);
        } else if payload.len() >= HEAVY_PAYLOAD {
            // A document this large takes milliseconds or more to parse: the call runs on the
            // blocking pool, and the event loop goes on serving every other call and client.
            let Some(permit) = room(client, &requests).await else {
                return;
            };
            let call = answer(client.clone(), h, payload);
            let rt = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                rt.block_on(call);
                drop(permit);
            });
        } else {
            let mut call = Box::pin(answer(client.clone(), h, payload));
            if poll_once(&mut call).await.is_pending() {
                // It waits for something: from here on it runs as a task of its own.
                let Some(permit) = room(client, &requests).await else {
                    return;
                };
                tokio::spawn(async move {
                    call.await;
                    drop(permit);
                });
            }
        }
        if client.is_closed() {
            return;
        }
    }
}

/// Takes over writing when the socket was full, until the queue is empty again.
async fn writer_loop(client: Arc<Client>) {
    loop {
        tokio::select! {
            _ = client.out_wake.notified() => {}
            _ = client.closing() => return,
        }
        loop {
            let ready = tokio::select! {
                r = client.wr.writable() => r,
                _ = client.closing() => return,
            };
            let mut q = lock(&client.out);
            let flushed = ready.and_then(|()| client.flush(&mut q));
            if let Err(e) = flushed {
                drop(q);
                debug!("client", "client {}: write failed: {e}", client.id);
                client.close();
                return;
            }
            if q.frames.is_empty() {
                q.writer_owns = false;
                drop(q);
                client.out_drained.notify_waiters();
                break;
            }
        }
    }
}

/// Keepalive (pings a silent client, drops a dead one), and closes the connection when the
/// daemon stops.
async fn watchdog(client: Arc<Client>) {
    let mut shutdown = client.shared.shutdown_signal();
    let mut seen = client.last_rx_ms.load(Ordering::Relaxed);
    loop {
        let tick = {
            let mut ka = lock(&client.keepalive);
            let rx = client.last_rx_ms.load(Ordering::Relaxed);
            if rx != seen {
                seen = rx;
                ka.received(client.born + Duration::from_millis(rx.saturating_sub(client.born_ms)));
            }
            ka.tick(Instant::now())
        };
        match tick {
            Tick::Wait(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = client.keepalive_wake.notified() => {}
                    _ = client.closing() => return,
                    _ = shutdown.wait_for(|s| *s) => {
                        client.close();
                        return;
                    }
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
    let (born, born_ms) = (Instant::now(), coarse_ms());
    let client = Arc::new(Client {
        id: shared.next_client_id(),
        shared: shared.clone(),
        kind,
        wr,
        out: Mutex::new(OutQueue::default()),
        out_wake: Notify::new(),
        out_drained: Notify::new(),
        session: Mutex::new(Session::default()),
        keepalive: Mutex::new(KeepAlive::new(interval, count, born)),
        keepalive_wake: Notify::new(),
        born,
        born_ms,
        last_rx_ms: AtomicU64::new(born_ms),
        closed: watch::channel(false).0,
        is_closed: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        idle_waiters: AtomicUsize::new(0),
        calls_idle: Notify::new(),
        events: Mutex::new(Registry::default()),
        streams: Arc::new(Streams::default()),
        tasks: Mutex::new(Vec::new()),
    });
    let _counted = shared.client_connected();
    info!(
        "client",
        "client {} connected on a {:?} socket", client.id, kind
    );
    let writer = tokio::spawn(writer_loop(client.clone()));
    client.own_task(tokio::spawn(watchdog(client.clone())));

    // Closing (and the daemon stopping, see `watchdog`) shuts the socket, which ends this.
    read_loop(&client, rd, max_requests.max(1) as usize).await;
    // The streams' tasks see their routes close and abort the driver side of the transfers.
    client.streams.close_all();
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
async fn take_fds<R: AsyncRead + Unpin>(
    incoming: &mut Incoming,
    r: &mut R,
    payload: &mut Vec<u8>,
) -> Result<(), ReadError> {
    if payload.len() < 4 {
        return Err(ReadError::Truncated);
    }
    let n = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
    if n as usize > FDS_MAX {
        return Err(ReadError::TooManyFds(n));
    }
    payload.drain(..4);
    incoming.skip(r, n as usize).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt_proto::packet::{Packet, MESSAGE_MAX};

    async fn read_packet(mut r: &[u8]) -> Result<Option<(Header, Vec<u8>)>, ReadError> {
        let mut inc = Incoming::new();
        Ok(inc
            .packet(&mut r)
            .await?
            .map(|(h, at)| (h, inc.buf[at].to_vec())))
    }

    #[tokio::test]
    async fn framing_limits_close_the_stream() {
        let short: &[u8] = &[0, 0, 0, 27, 0, 0, 0];
        assert!(matches!(read_packet(short).await, Err(ReadError::Frame(_))));
        let long = ((MESSAGE_MAX + 5) as u32).to_be_bytes();
        assert!(matches!(read_packet(&long).await, Err(ReadError::Frame(_))));
        assert!(read_packet(&[]).await.unwrap().is_none());
        assert!(matches!(
            read_packet(&[0, 0]).await,
            Err(ReadError::Truncated)
        ));
        assert!(matches!(
            read_packet(&[0, 0, 0, 40, 1, 2, 3]).await,
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
        let (h, payload) = read_packet(&bytes).await.unwrap().unwrap();
        assert_eq!(h.serial, 7);
        assert_eq!(payload, vec![1, 2, 3, 4]);
        let reply = reply_frame(&h, Ok(Body::of(&1i32)));
        let mut expected = Packet {
            header: h.reply(Status::Ok),
            payload: vec![0, 0, 0, 1],
        }
        .encode();
        assert_eq!(reply, expected);
        let e = crate::wire_error::rpc("unknown procedure: 66");
        let reply = reply_frame(&h, Err(e.clone()));
        expected = Packet {
            header: h.reply(Status::Error),
            payload: rvirt_proto::xdr::to_bytes(&e),
        }
        .encode();
        assert_eq!(reply, expected);
        assert_eq!(reply_frame(&h, Ok(Body::empty())).len(), FRAME_HEAD);
    }

    #[tokio::test]
    async fn pipelined_packets_come_from_one_buffer() {
        let mut bytes = Vec::new();
        for serial in 0..50 {
            bytes.extend(
                Packet {
                    header: Header::new(REMOTE_PROGRAM, 66, MessageType::Call, serial, Status::Ok),
                    payload: vec![serial as u8; serial as usize * 4],
                }
                .encode(),
            );
        }
        // Dummy FD bytes after the last one, then a packet cut short.
        bytes.extend([9, 9]);
        bytes.extend([0, 0, 0, 60, 1]);
        let mut r = &bytes[..];
        let mut inc = Incoming::new();
        for serial in 0..50u32 {
            let (h, at) = inc.packet(&mut r).await.unwrap().unwrap();
            assert_eq!(h.serial, serial);
            assert_eq!(inc.buf[at], vec![serial as u8; serial as usize * 4][..]);
        }
        inc.skip(&mut r, 2).await.unwrap();
        assert!(matches!(
            inc.packet(&mut r).await,
            Err(ReadError::Truncated)
        ));
    }

    #[tokio::test]
    async fn long_packets_grow_the_buffer_step_by_step() {
        let payload = vec![7u8; 3 * READ_GROW];
        let bytes = Packet {
            header: Header::new(REMOTE_PROGRAM, 66, MessageType::Call, 1, Status::Ok),
            payload: payload.clone(),
        }
        .encode();
        let (_, got) = read_packet(&bytes).await.unwrap().unwrap();
        assert_eq!(got, payload);
        // A length word announcing 32 MiB with nothing behind it allocates one step, not 32 MiB.
        let mut inc = Incoming::new();
        let mut r: &[u8] = &(MESSAGE_MAX as u32).to_be_bytes();
        assert!(matches!(
            inc.packet(&mut r).await,
            Err(ReadError::Truncated)
        ));
        assert!(inc.buf.capacity() <= 2 * (READ_GROW + READ_BUF));
    }
}
