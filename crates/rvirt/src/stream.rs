//! Data streams: libvirt's `virStream` as a bounded, async channel pair.
//!
//! A stream carries data chunks and (for sparse streams) holes in one direction, then ends with a
//! *finish* (the sender says "that was all" and waits for the receiver to confirm it stored
//! everything) or an *abort*/error. The same types serve every transport: in-process a driver hands
//! one end to the caller and keeps the other; over RPC the remote driver and `rvirtd` pump STREAM
//! packets between a [`StreamSink`] and a [`StreamSource`]. The channel is bounded
//! ([`DEFAULT_DEPTH`] chunks), so a slow receiver slows the sender down instead of buffering
//! the whole volume in memory.
//!
//! Protocol of one direction, mirroring libvirt's `virStreamSend`/`virStreamFinish`:
//! the sender calls [`StreamSink::send`] for each chunk, then [`StreamSink::finish`], which waits
//! until the receiver calls [`StreamSource::complete`] with the outcome of storing the data. The
//! receiver's [`StreamSource::recv`] yields chunks and then `None` at the finish.

use crate::error::{code, domain, Error, Result};
use tokio::sync::{mpsc, oneshot};

/// Largest data chunk on the wire (`VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`); senders split at this.
pub const CHUNK_MAX: usize = 262_120;

/// How many chunks a stream buffers before the sender waits.
pub const DEFAULT_DEPTH: usize = 8;

/// One unit carried by a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes.
    Data(Vec<u8>),
    /// A hole of this many bytes (sparse streams only).
    Hole(u64),
}

#[derive(Debug)]
enum Msg {
    Chunk(Chunk),
    Finish,
    Abort,
    Error(Error),
}

/// The sending half of one stream direction.
#[derive(Debug)]
pub struct StreamSink {
    tx: Option<mpsc::Sender<Msg>>,
    done: Option<oneshot::Receiver<Result<()>>>,
}

/// The receiving half of one stream direction.
#[derive(Debug)]
pub struct StreamSource {
    rx: mpsc::Receiver<Msg>,
    done: Option<oneshot::Sender<Result<()>>>,
    ended: bool,
}

/// A bidirectional stream (a console): what we send and what the peer sends.
#[derive(Debug)]
pub struct DuplexStream {
    /// Data towards the peer (keystrokes for a console).
    pub tx: StreamSink,
    /// Data from the peer (console output).
    pub rx: StreamSource,
}

/// A new stream direction with room for `depth` chunks in flight.
pub fn channel(depth: usize) -> (StreamSink, StreamSource) {
    let (tx, rx) = mpsc::channel(depth.max(1));
    let (done_tx, done_rx) = oneshot::channel();
    (
        StreamSink {
            tx: Some(tx),
            done: Some(done_rx),
        },
        StreamSource {
            rx,
            done: Some(done_tx),
            ended: false,
        },
    )
}

/// Two stream directions joined as the two ends of a bidirectional stream: `(near, far)`.
pub fn duplex(depth: usize) -> (DuplexStream, DuplexStream) {
    let (a_tx, b_rx) = channel(depth);
    let (b_tx, a_rx) = channel(depth);
    (
        DuplexStream { tx: a_tx, rx: a_rx },
        DuplexStream { tx: b_tx, rx: b_rx },
    )
}

/// The error a stream operation gets when the other end went away without saying why.
pub fn closed_error() -> Error {
    Error::new(
        code::RPC,
        domain::STREAMS,
        "stream is closed by the other end",
    )
}

/// The error the receiver sees when the sender aborted (`virStreamAbort`).
pub fn aborted_error() -> Error {
    Error::new(code::OPERATION_ABORTED, domain::STREAMS, "stream aborted")
}

impl StreamSink {
    async fn push(&mut self, msg: Msg) -> Result<()> {
        let Some(tx) = &self.tx else {
            return Err(closed_error());
        };
        if tx.send(msg).await.is_err() {
            self.tx = None;
            return Err(self.receiver_error().await);
        }
        Ok(())
    }

    fn push_blocking(&mut self, msg: Msg) -> Result<()> {
        let Some(tx) = &self.tx else {
            return Err(closed_error());
        };
        if tx.blocking_send(msg).is_err() {
            self.tx = None;
            return Err(match self.done.take().map(|d| d.blocking_recv()) {
                Some(Ok(Err(e))) => e,
                _ => closed_error(),
            });
        }
        Ok(())
    }

    /// Why the receiver went away: its reported error, or a generic "closed".
    async fn receiver_error(&mut self) -> Error {
        match self.done.take() {
            Some(done) => match done.await {
                Ok(Err(e)) => e,
                _ => closed_error(),
            },
            None => closed_error(),
        }
    }

    /// Sends one chunk, waiting while the receiver is `depth` chunks behind. Fails with the
    /// receiver's error if it stopped (e.g. the disk is full).
    pub async fn send(&mut self, chunk: Chunk) -> Result<()> {
        self.push(Msg::Chunk(chunk)).await
    }

    /// [`send`](Self::send) from a blocking thread (must not be called inside the async runtime).
    pub fn blocking_send(&mut self, chunk: Chunk) -> Result<()> {
        self.push_blocking(Msg::Chunk(chunk))
    }

    /// Ends the stream successfully and waits for the receiver's verdict (`virStreamFinish`).
    pub async fn finish(mut self) -> Result<()> {
        self.push(Msg::Finish).await?;
        self.tx = None;
        match self.done.take() {
            Some(done) => done.await.unwrap_or_else(|_| Err(closed_error())),
            None => Err(closed_error()),
        }
    }

    /// [`finish`](Self::finish) from a blocking thread.
    pub fn blocking_finish(mut self) -> Result<()> {
        self.push_blocking(Msg::Finish)?;
        self.tx = None;
        match self.done.take() {
            Some(done) => done.blocking_recv().unwrap_or_else(|_| Err(closed_error())),
            None => Err(closed_error()),
        }
    }

    /// Tells the receiver the sender gave up (`virStreamAbort`); does not wait.
    pub fn abort(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Msg::Abort);
        }
    }

    /// Ends the stream with an error the receiver will report (a failing producer).
    pub async fn fail(mut self, err: Error) {
        let _ = self.push(Msg::Error(err)).await;
    }

    /// [`fail`](Self::fail) from a blocking thread.
    pub fn blocking_fail(mut self, err: Error) {
        let _ = self.push_blocking(Msg::Error(err));
    }
}

impl Drop for StreamSink {
    fn drop(&mut self) {
        // A sink dropped without finish() is an abort, as when a virStream is freed mid-transfer.
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Msg::Abort);
        }
    }
}

impl StreamSource {
    fn take(&mut self, msg: Option<Msg>) -> Result<Option<Chunk>> {
        match msg {
            Some(Msg::Chunk(c)) => Ok(Some(c)),
            Some(Msg::Finish) => {
                self.ended = true;
                Ok(None)
            }
            Some(Msg::Abort) => {
                self.ended = true;
                Err(aborted_error())
            }
            Some(Msg::Error(e)) => {
                self.ended = true;
                Err(e)
            }
            None => {
                self.ended = true;
                Err(closed_error())
            }
        }
    }

    /// The next chunk; `None` once the sender finished. An abort or a sender's error is an `Err`.
    pub async fn recv(&mut self) -> Result<Option<Chunk>> {
        if self.ended {
            return Ok(None);
        }
        let msg = self.rx.recv().await;
        self.take(msg)
    }

    /// [`recv`](Self::recv) from a blocking thread.
    pub fn blocking_recv(&mut self) -> Result<Option<Chunk>> {
        if self.ended {
            return Ok(None);
        }
        let msg = self.rx.blocking_recv();
        self.take(msg)
    }

    /// Reports the outcome of consuming the stream to the sender's [`StreamSink::finish`]
    /// (or, for an error before the finish, to its next `send`).
    pub fn complete(mut self, outcome: Result<()>) {
        if let Some(done) = self.done.take() {
            let _ = done.send(outcome);
        }
    }
}

/// Local file transfers over a stream (`virStreamSendAll`/`virStreamSparseSendAll` and the
/// receiving pair, as `virsh vol-upload`/`vol-download` use them). Blocking: call them from a
/// thread outside the async runtime.
pub mod file {
    use super::{Chunk, StreamSink, StreamSource, CHUNK_MAX};
    use crate::error::{code, domain, Error, Result};
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;

    fn io_error(what: &str, e: &std::io::Error) -> Error {
        Error::new(code::SYSTEM_ERROR, domain::STREAMS, format!("{what}: {e}"))
    }

    fn seek(file: &File, pos: u64, whence: i32) -> std::io::Result<Option<u64>> {
        // SAFETY: lseek on a descriptor `file` owns; no memory is passed.
        let r = unsafe { libc::lseek(file.as_raw_fd(), pos as libc::off_t, whence) };
        if r >= 0 {
            return Ok(Some(r as u64));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            _ => Err(e),
        }
    }

    /// Sends all of `file` (from its start) into `sink`; with `sparse`, its holes go as holes.
    /// `progress` is told the bytes covered so far. The caller finishes the sink.
    pub fn send_file(
        sink: &mut StreamSink,
        file: &File,
        sparse: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let end = file
            .metadata()
            .map_err(|e| io_error("unable to stat file", &e))?
            .len();
        // Block devices report length 0 here: read them to their end.
        let end = if end == 0 { u64::MAX } else { end };
        let mut pos = 0u64;
        let mut buf = vec![0u8; CHUNK_MAX];
        while pos < end {
            let mut data_end = end;
            if sparse {
                match seek(file, pos, libc::SEEK_DATA) {
                    Ok(None) => {
                        sink.blocking_send(Chunk::Hole(end - pos))?;
                        progress(end);
                        return Ok(());
                    }
                    Ok(Some(d)) if d > pos => {
                        sink.blocking_send(Chunk::Hole(d - pos))?;
                        pos = d;
                        progress(pos);
                        continue;
                    }
                    Ok(Some(_)) => {
                        if let Ok(Some(h)) = seek(file, pos, libc::SEEK_HOLE) {
                            data_end = h.min(end);
                        }
                    }
                    // No hole reporting: treat it all as data.
                    Err(_) => {}
                }
            }
            while pos < data_end {
                let want = (data_end - pos).min(CHUNK_MAX as u64) as usize;
                let n = file
                    .read_at(&mut buf[..want], pos)
                    .map_err(|e| io_error("cannot read file", &e))?;
                if n == 0 {
                    return Ok(());
                }
                sink.blocking_send(Chunk::Data(buf[..n].to_vec()))?;
                pos += n as u64;
                progress(pos);
            }
        }
        Ok(())
    }

    /// Writes everything `source` yields into `file` from its start, turning holes into holes
    /// (the file is extended over a trailing hole, as virsh does). Returns the bytes covered.
    /// The caller completes the source.
    pub fn recv_file(
        source: &mut StreamSource,
        file: &File,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let mut pos = 0u64;
        while let Some(chunk) = source.blocking_recv()? {
            match chunk {
                Chunk::Data(d) => {
                    file.write_all_at(&d, pos)
                        .map_err(|e| io_error("cannot write file", &e))?;
                    pos += d.len() as u64;
                }
                Chunk::Hole(n) => {
                    pos += n;
                    file.set_len(pos)
                        .map_err(|e| io_error("cannot extend file", &e))?;
                }
            }
            progress(pos);
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_then_finish_confirmed() {
        let (mut tx, mut rx) = channel(2);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = rx.recv().await.unwrap() {
                got.push(c);
            }
            rx.complete(Ok(()));
            got
        });
        tx.send(Chunk::Data(b"ab".to_vec())).await.unwrap();
        tx.send(Chunk::Hole(10)).await.unwrap();
        tx.send(Chunk::Data(b"c".to_vec())).await.unwrap();
        tx.finish().await.unwrap();
        assert_eq!(
            reader.await.unwrap(),
            vec![
                Chunk::Data(b"ab".to_vec()),
                Chunk::Hole(10),
                Chunk::Data(b"c".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn receiver_error_reaches_sender() {
        let (mut tx, mut rx) = channel(1);
        let reader = tokio::spawn(async move {
            rx.recv().await.unwrap();
            rx.complete(Err(Error::internal(domain::STORAGE, "disk full")));
        });
        tx.send(Chunk::Data(vec![1])).await.unwrap();
        reader.await.unwrap();
        // The channel may still take one message; at the latest finish() reports the error.
        let err = match tx.send(Chunk::Data(vec![2])).await {
            Err(e) => e,
            Ok(()) => tx.finish().await.unwrap_err(),
        };
        assert!(err.message.contains("disk full"), "{err:?}");
    }

    #[tokio::test]
    async fn dropped_sink_is_abort() {
        let (tx, mut rx) = channel(1);
        drop(tx);
        let err = rx.recv().await.unwrap_err();
        assert_eq!(err.code, code::OPERATION_ABORTED);
    }
}
