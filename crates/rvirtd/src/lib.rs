//! `rvirtd`: the rvirt daemon, a drop-in for libvirtd.
//!
//! It listens on UNIX sockets (rvirt's or libvirt's names, system or session mode), speaks
//! libvirt's RPC protocol byte for byte to any libvirt client, and maps each REMOTE procedure
//! onto the [`rvirt::Driver`] trait of the driver the client opened. The request path:
//! [`listen`] creates the sockets, [`server`] accepts connections, `client` frames packets and
//! runs calls concurrently, `dispatch` (REMOTE program) and `admin` (ADMIN program) turn calls
//! into driver calls, `events` forwards driver events, `keepalive` pings idle clients. The
//! `rvirtd` binary only parses the command line ([`cli`]) and calls [`daemon::run`].
#![warn(missing_docs)]

#[macro_use]
pub mod log;
mod admin;
pub mod cli;
mod client;
pub mod config;
pub mod daemon;
mod dispatch;
pub mod drivers;
mod events;
pub mod host_driver;
pub mod keepalive;
pub mod listen;
pub mod paths;
pub mod pidfile;
mod readonly;
pub mod server;
// Wired into the call path (client.rs/dispatch.rs) once the reader rework lands there.
#[allow(dead_code)]
mod stream;
mod wire_error;

/// The version `rvirtd -V` prints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
