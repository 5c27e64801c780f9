//! rvirt-storage: disk image inspection and backing-chain resolution.
//!
//! This crate carries one of rvirt's founding rules: a host is never tricked into opening a file
//! it was not told to open because it guessed an image's format. [`inspect`] reads one image's
//! header (at most [`MAX_HEADER`] bytes) and reports what it says, including every file it
//! refers to; [`chain::resolve_chain`] walks a disk's backing chain with libvirt 9.0's rules for
//! when a format may be probed, and returns the typed [`chain::Chain`] that the QEMU command-line
//! builder and the XML writers use. [`pool`] holds the storage pool backends on real files
//! (`dir`, `fs`, `netfs`: directories, mounted file systems, volume files and `qemu-img`), and
//! [`driver::StorageDriver`] is the storage driver on top of them, an [`rvirt::Driver`] the
//! daemon hosts. Nothing here depends on the daemon or a hypervisor driver.

pub mod backing;
pub mod chain;
pub mod driver;
pub mod error;
pub mod format;
mod header;
pub mod inspect;
pub mod json;
pub mod luks;
mod others;
pub mod pool;
pub mod probe;
pub mod qcow2;
pub mod qed;
pub mod uri;
pub mod vmdk;

pub use chain::{resolve_chain, resolve_chain_with, Chain, ChainEnd, FormatOrigin, Layer, Source};
pub use driver::StorageDriver;
pub use error::{AccessIds, Error};
pub use format::Format;
pub use header::MAX_HEADER;
pub use inspect::{inspect, inspect_file, BackingFormat, BackingRef, ImageInfo};
