//! libvirt RPC packet framing: the length word, the 24-byte header and the payload.
//!
//! A packet on the wire is `u32 length` (counting itself), then [`Header`], then the XDR payload.
//! This module turns bytes into [`Packet`]s and back; it knows nothing of procedures or sockets.

use crate::xdr::{Decoder, Encoder, Xdr, XdrError, XdrResult};
use thiserror::Error;

/// Size of the length word.
pub const LEN_SIZE: usize = 4;
/// Size of the header that follows the length word.
pub const HEADER_SIZE: usize = 24;
/// The most a packet may hold after its length word (`VIR_NET_MESSAGE_MAX`, 32 MiB).
pub const MESSAGE_MAX: usize = 32 * 1024 * 1024;
/// The largest payload: [`MESSAGE_MAX`] less the header.
pub const PAYLOAD_MAX: usize = MESSAGE_MAX - HEADER_SIZE;
/// Stream data is sent in chunks of at most this many bytes (`VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`).
pub const STREAM_CHUNK_MAX: usize = 262120;
/// The most file descriptors one message may carry.
pub const FDS_MAX: usize = 32;

/// The REMOTE program: hypervisor, network, storage, … APIs.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
/// The QEMU-specific program.
pub const QEMU_PROGRAM: u32 = 0x2000_8087;
/// The LXC-specific program.
pub const LXC_PROGRAM: u32 = 0x0006_8000;
/// The keepalive program ("keep").
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
/// The admin program, served on the admin socket.
pub const ADMIN_PROGRAM: u32 = 0x0690_0690;
/// Version of every program above.
pub const PROTOCOL_VERSION: u32 = 1;

/// Keepalive procedure: ping.
pub const KEEPALIVE_PROC_PING: i32 = 1;
/// Keepalive procedure: pong.
pub const KEEPALIVE_PROC_PONG: i32 = 2;

/// Message type in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum MessageType {
    /// A call expecting a reply.
    Call = 0,
    /// The reply to a call.
    Reply = 1,
    /// An asynchronous message (events, keepalive).
    Message = 2,
    /// Stream data or control.
    Stream = 3,
    /// A call followed by file descriptors.
    CallWithFds = 4,
    /// A reply followed by file descriptors.
    ReplyWithFds = 5,
    /// A hole in a sparse stream.
    StreamHole = 6,
}

impl MessageType {
    /// The type for a raw header value.
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Call,
            1 => Self::Reply,
            2 => Self::Message,
            3 => Self::Stream,
            4 => Self::CallWithFds,
            5 => Self::ReplyWithFds,
            6 => Self::StreamHole,
            _ => return None,
        })
    }
}

/// Status in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// Success, or a call.
    Ok = 0,
    /// The payload is a `remote_error`.
    Error = 1,
    /// More stream data follows.
    Continue = 2,
}

impl Status {
    /// The status for a raw header value.
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Ok,
            1 => Self::Error,
            2 => Self::Continue,
            _ => return None,
        })
    }
}

/// The 24-byte packet header. Type and status are kept raw so that a peer can answer a packet
/// with values it does not understand with the right error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_: i32,
    /// Raw [`MessageType`].
    pub type_: i32,
    /// Serial, matching a reply to its call.
    pub serial: u32,
    /// Raw [`Status`].
    pub status: i32,
}

impl Header {
    /// A header for `prog` version 1.
    pub fn new(prog: u32, proc_: i32, type_: MessageType, serial: u32, status: Status) -> Self {
        Self {
            prog,
            vers: PROTOCOL_VERSION,
            proc_,
            type_: type_ as i32,
            serial,
            status: status as i32,
        }
    }

    /// The message type, if known.
    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::from_i32(self.type_)
    }

    /// The status, if known.
    pub fn status(&self) -> Option<Status> {
        Status::from_i32(self.status)
    }

    /// The header of the reply to this call, with the given status.
    pub fn reply(&self, status: Status) -> Self {
        Self {
            type_: MessageType::Reply as i32,
            status: status as i32,
            ..*self
        }
    }
}

impl Xdr for Header {
    fn encode(&self, e: &mut Encoder) {
        self.prog.encode(e);
        self.vers.encode(e);
        self.proc_.encode(e);
        self.type_.encode(e);
        self.serial.encode(e);
        self.status.encode(e);
    }
    fn decode(d: &mut Decoder<'_>) -> XdrResult<Self> {
        Ok(Self {
            prog: u32::decode(d)?,
            vers: u32::decode(d)?,
            proc_: i32::decode(d)?,
            type_: i32::decode(d)?,
            serial: u32::decode(d)?,
            status: i32::decode(d)?,
        })
    }
}

/// A framing error: the packet cannot be read at all, so the connection must be closed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length word is smaller than length word + header.
    #[error("packet length {0} is shorter than the 28-byte minimum")]
    TooShort(usize),
    /// The length word exceeds 32 MiB plus the length word.
    #[error("packet length {0} exceeds the 32 MiB limit")]
    TooLong(usize),
    /// The header could not be decoded.
    #[error("packet header: {0}")]
    Header(#[from] XdrError),
}

/// Validates a length word and returns how many bytes follow it.
pub fn body_len(len_word: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(len_word) as usize;
    if len < LEN_SIZE + HEADER_SIZE {
        return Err(FrameError::TooShort(len));
    }
    if len > LEN_SIZE + MESSAGE_MAX {
        return Err(FrameError::TooLong(len));
    }
    Ok(len - LEN_SIZE)
}

/// One packet: header and raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// The XDR payload after the header.
    pub payload: Vec<u8>,
}

impl Packet {
    /// A packet whose payload is the encoding of `body`.
    pub fn new<T: Xdr>(header: Header, body: &T) -> Self {
        let mut e = Encoder::new();
        body.encode(&mut e);
        Self {
            header,
            payload: e.into_bytes(),
        }
    }

    /// Decodes the bytes after the length word.
    pub fn decode_body(body: &[u8]) -> Result<Self, FrameError> {
        if body.len() < HEADER_SIZE {
            return Err(FrameError::TooShort(body.len() + LEN_SIZE));
        }
        let mut d = Decoder::new(&body[..HEADER_SIZE]);
        let header = Header::decode(&mut d)?;
        Ok(Self {
            header,
            payload: body[HEADER_SIZE..].to_vec(),
        })
    }

    /// Decodes a whole packet, length word included.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        if bytes.len() < LEN_SIZE {
            return Err(FrameError::TooShort(bytes.len()));
        }
        let n = body_len([bytes[0], bytes[1], bytes[2], bytes[3]])?;
        if bytes.len() != LEN_SIZE + n {
            return Err(FrameError::Header(XdrError::Truncated {
                offset: bytes.len(),
                needed: (LEN_SIZE + n).saturating_sub(bytes.len()),
            }));
        }
        Self::decode_body(&bytes[LEN_SIZE..])
    }

    /// The packet's wire bytes, length word included.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_buffer(Vec::with_capacity(
            LEN_SIZE + HEADER_SIZE + self.payload.len(),
        ));
        e.put_u32(0);
        self.header.encode(&mut e);
        let mut buf = e.into_bytes();
        buf.extend_from_slice(&self.payload);
        let len = buf.len() as u32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        buf
    }

    /// Decodes the payload as `T`; trailing bytes are an error.
    pub fn body<T: Xdr>(&self) -> XdrResult<T> {
        crate::xdr::from_bytes(&self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn captured_auth_list_round_trips() {
        // From virsh-basic.log: C>S proc=66 CALL serial=0, and the S>C reply listing auth type NONE.
        let call = hex("0000001c200080860000000100000042000000000000000000000000");
        let p = Packet::decode(&call).unwrap();
        assert_eq!(
            p.header,
            Header::new(REMOTE_PROGRAM, 66, MessageType::Call, 0, Status::Ok)
        );
        assert!(p.payload.is_empty());
        assert_eq!(p.encode(), call);

        let reply = hex("000000242000808600000001000000420000000100000000000000000000000100000000");
        let r = Packet::decode(&reply).unwrap();
        assert_eq!(r.header, p.header.reply(Status::Ok));
        assert_eq!(r.body::<Vec<i32>>().unwrap(), vec![0]);
        assert_eq!(Packet::new(r.header, &vec![0i32]).encode(), reply);
    }

    #[test]
    fn length_limits() {
        assert_eq!(body_len(27u32.to_be_bytes()), Err(FrameError::TooShort(27)));
        assert_eq!(body_len(28u32.to_be_bytes()), Ok(24));
        let max = (LEN_SIZE + MESSAGE_MAX) as u32;
        assert_eq!(body_len(max.to_be_bytes()), Ok(MESSAGE_MAX));
        assert_eq!(
            body_len((max + 1).to_be_bytes()),
            Err(FrameError::TooLong(max as usize + 1))
        );
        assert!(Packet::decode(&[0, 0, 0, 28, 1, 2]).is_err());
    }
}
