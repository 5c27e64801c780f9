//! `rvirt`: libvirt's API in Rust.
//!
//! Open a [`Connect`] by URI (`test:///default` in-process, `qemu:///session`, `qemu+unix:///…?socket=`,
//! …), then manage domains, networks and storage through handles. The same [`Driver`] trait is
//! implemented by the in-process test driver, by the remote driver (which speaks libvirt's RPC to
//! `rvirtd` or to a real libvirtd), and by the daemon's drivers.
#![warn(missing_docs)]

pub mod auth;
mod connect;
pub mod driver;
pub mod error;
mod open;
pub mod remote;
pub mod stream;
pub mod test_driver;
pub mod types;
pub mod uri;

pub use auth::{Auth, Credential, CredentialType};
pub use connect::{Connect, Domain, Network, StoragePool, StorageVol};
pub use driver::Driver;
pub use error::{Error, Result};
pub use open::default_uri;
pub use stream::{Chunk, DuplexStream, StreamSink, StreamSource};
pub use types::*;

/// The libvirt API level rvirt implements and reports as its library version (9.0.0).
pub const LIB_VERSION: u64 = 9_000_000;
