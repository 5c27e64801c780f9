//! The client side of libvirt's stream protocol: pumps between an rvirt stream and the wire.
//!
//! After the opening call's REPLY OK (see [`super::client::Client::open_stream`]) one task per
//! stream runs [`pump`]: what the application sends into its [`StreamSink`] goes out as STREAM
//! CONTINUE packets of at most [`CHUNK_MAX`] bytes (holes as STREAM_HOLE when the call was
//! sparse), its finish as STREAM OK, whose confirmation (STREAM OK, or STREAM ERROR with a
//! `remote_error`) becomes the result of `finish()`. What the server sends arrives in the
//! application's [`StreamSource`]; the server's zero-length CONTINUE (end of data) is answered
//! with STREAM OK and, once the server confirms, ends the source. An abort is STREAM ERROR with an
//! empty payload, as `virNetClientStreamSendPacket` sends it.

use super::client::{error_from_remote, RpcStream};
use crate::error::{code, domain, Error, Result};
use crate::stream::{aborted_error, Chunk, StreamSink, StreamSource, CHUNK_MAX};
use rvirt_proto::packet::{MessageType, Packet, Status};
use rvirt_proto::remote::{RemoteError, StreamHole};
use rvirt_proto::xdr;

/// What the pump connects to the wire.
pub struct Ends {
    /// Data the application sends (upload, console keystrokes).
    pub outgoing: Option<StreamSource>,
    /// Where the server's data goes (download, console output).
    pub incoming: Option<StreamSink>,
    /// Whether the opening call asked for a sparse stream (holes allowed both ways).
    pub sparse: bool,
}

async fn recv_opt(src: &mut Option<StreamSource>) -> Result<Option<Chunk>> {
    match src {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn stream_error(p: &Packet) -> Error {
    match p.body::<RemoteError>() {
        Ok(e) => error_from_remote(e),
        Err(_) => Error::rpc("Unable to decode message payload"),
    }
}

/// Ends both application sides with `err`.
async fn fail_all(ends: &mut Ends, err: Error) {
    if let Some(src) = ends.outgoing.take() {
        src.complete(Err(err.clone()));
    }
    if let Some(sink) = ends.incoming.take() {
        sink.fail(err).await;
    }
}

/// Sends an abort and waits (briefly, for any confirmation) so the server is not left with a
/// half-open stream.
async fn abort(rpc: &mut RpcStream) {
    if rpc
        .send(MessageType::Stream, Status::Error, Vec::new())
        .await
        .is_err()
    {
        return;
    }
    let wait = async {
        while let Some(p) = rpc.recv().await {
            if p.header.message_type() == Some(MessageType::Stream)
                && p.header.status() != Some(Status::Continue)
            {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), wait).await;
}

/// Runs one stream until it is finished, aborted or the connection closes.
pub async fn pump(mut rpc: RpcStream, mut ends: Ends) {
    // We sent STREAM OK for our direction and wait for the server to confirm it.
    let mut finishing = false;
    loop {
        tokio::select! {
            chunk = recv_opt(&mut ends.outgoing), if !finishing => match chunk {
                Ok(Some(Chunk::Data(d))) => {
                    for piece in d.chunks(CHUNK_MAX) {
                        if let Err(e) = rpc.send(MessageType::Stream, Status::Continue, piece.to_vec()).await {
                            return fail_all(&mut ends, e).await;
                        }
                    }
                }
                Ok(Some(Chunk::Hole(n))) => {
                    if !ends.sparse {
                        let e = Error::new(code::INTERNAL_ERROR, domain::STREAMS,
                            "Unexpected stream hole");
                        abort(&mut rpc).await;
                        return fail_all(&mut ends, e).await;
                    }
                    let hole = StreamHole { length: n as i64, flags: 0 };
                    if let Err(e) = rpc.send(MessageType::StreamHole, Status::Continue, xdr::to_bytes(&hole)).await {
                        return fail_all(&mut ends, e).await;
                    }
                }
                Ok(None) => {
                    if let Err(e) = rpc.send(MessageType::Stream, Status::Ok, Vec::new()).await {
                        return fail_all(&mut ends, e).await;
                    }
                    finishing = true;
                }
                Err(_) => {
                    abort(&mut rpc).await;
                    return fail_all(&mut ends, aborted_error()).await;
                }
            },
            p = rpc.recv() => {
                let Some(p) = p else {
                    let e = rpc.closed();
                    return fail_all(&mut ends, e).await;
                };
                let h = p.header;
                match (h.message_type(), h.status()) {
                    (Some(MessageType::Stream), Some(Status::Continue)) if p.payload.is_empty() => {
                        // End of the server's data: confirm, and end the source once the
                        // server agrees.
                        if let Err(e) = rpc.send(MessageType::Stream, Status::Ok, Vec::new()).await {
                            return fail_all(&mut ends, e).await;
                        }
                        finishing = true;
                    }
                    (Some(MessageType::Stream), Some(Status::Continue)) => {
                        let Some(sink) = ends.incoming.as_mut() else { continue };
                        if sink.send(Chunk::Data(p.payload)).await.is_err() {
                            abort(&mut rpc).await;
                            return fail_all(&mut ends, aborted_error()).await;
                        }
                    }
                    (Some(MessageType::StreamHole), _) => {
                        let hole = p.body::<StreamHole>();
                        let (Some(sink), true, Ok(hole)) = (ends.incoming.as_mut(), ends.sparse, hole) else {
                            let e = Error::new(code::INTERNAL_ERROR, domain::STREAMS,
                                "Unexpected stream hole");
                            abort(&mut rpc).await;
                            return fail_all(&mut ends, e).await;
                        };
                        if sink.send(Chunk::Hole(hole.length.max(0) as u64)).await.is_err() {
                            abort(&mut rpc).await;
                            return fail_all(&mut ends, aborted_error()).await;
                        }
                    }
                    (Some(MessageType::Stream), Some(Status::Ok)) => {
                        // The server finished (or confirmed our finish): both directions end.
                        if let Some(src) = ends.outgoing.take() {
                            src.complete(Ok(()));
                        }
                        if let Some(sink) = ends.incoming.take() {
                            // Waits for the application to take the rest; its verdict stays local.
                            let _ = sink.finish().await;
                        }
                        return;
                    }
                    (Some(MessageType::Stream), Some(Status::Error)) => {
                        let e = if p.payload.is_empty() { aborted_error() } else { stream_error(&p) };
                        return fail_all(&mut ends, e).await;
                    }
                    _ => {}
                }
            }
        }
    }
}
