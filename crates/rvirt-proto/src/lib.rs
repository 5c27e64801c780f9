//! `rvirt-proto`: libvirt's RPC wire protocol, with no I/O.
//!
//! Bytes in, typed messages out, and back: the XDR codec ([`xdr`]), packet framing ([`packet`]),
//! the REMOTE procedure table ([`procedure`]), libvirt's error numbers ([`error`]) and the message
//! bodies ([`remote`]). Transports, clients and the daemon sit on top of this crate.
#![warn(missing_docs)]

pub mod error;
mod error_codes;
pub mod packet;
pub mod procedure;
mod procedures;
pub mod remote;
pub mod xdr;

pub use packet::{Header, MessageType, Packet, Status};
pub use xdr::{Decoder, Encoder, Xdr, XdrBounded, XdrError};
