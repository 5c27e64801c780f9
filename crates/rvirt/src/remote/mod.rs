//! The remote driver: the client side of libvirt's RPC protocol.
//!
//! Every URI the library does not serve in-process goes here (`open.rs`). [`sockets`] turns the
//! URI into a socket (starting the session daemon if needed), [`transport`] connects it,
//! [`client`] runs the RPC engine over it, [`driver`] maps each [`Driver`] method to its REMOTE
//! procedure and performs libvirt's open handshake, and [`events`] registers for and decodes
//! event messages. The same code talks to `rvirtd` and to a real libvirtd.

pub mod client;
pub mod driver;
pub mod events;
pub mod sockets;
#[cfg(test)]
mod testpeer;
pub mod transport;

pub use client::{Client, KeepaliveConfig};
pub use driver::{OpenParams, RemoteDriver};

use crate::auth::Auth;
use crate::driver::Driver;
use crate::error::{domain, Error, Result};
use crate::uri::Uri;
use sockets::Target;
use std::sync::Arc;

/// Connects to the daemon serving `uri` and opens its driver.
pub async fn open(uri: &Uri, read_only: bool, auth: Option<&Auth>) -> Result<Arc<dyn Driver>> {
    Ok(open_remote(uri, read_only, auth).await?)
}

/// As [`open`], returning the concrete driver (for callers that need [`RemoteDriver::client`]).
pub async fn open_remote(
    uri: &Uri,
    read_only: bool,
    _auth: Option<&Auth>,
) -> Result<Arc<RemoteDriver>> {
    let env = sockets::Env::current();
    let flags = sockets::daemon_flags(uri, read_only, &env);
    let target = sockets::resolve(uri, flags, &env, &|p| p.exists())?;
    let stream = match target {
        Target::Unix {
            path,
            autostart,
            kind,
        } => {
            // Abstract sockets need no autostart logic and connect without blocking.
            if path.to_str().is_some_and(|p| p.starts_with('@')) {
                let s = transport::connect_unix_raw(&path)
                    .await
                    .map_err(|e| transport::unix_connect_error(&path, &e, ""))?;
                transport::Stream::unix(s)
            } else {
                let s = tokio::task::spawn_blocking(move || {
                    sockets::connect_unix_blocking(&path, autostart, kind)
                })
                .await
                .map_err(|e| Error::internal(domain::REMOTE, e.to_string()))??;
                s.set_nonblocking(true)
                    .map_err(|e| Error::internal(domain::RPC, transport::strerror(&e)))?;
                let s = tokio::net::UnixStream::from_std(s)
                    .map_err(|e| Error::internal(domain::RPC, transport::strerror(&e)))?;
                transport::Stream::unix(s)
            }
        }
        Target::Tcp { host, port } => transport::connect_tcp(&host, port).await?,
    };
    let params = OpenParams {
        name: Some(uri.remote_name()),
        uri: Some(uri.original.clone()),
        flags,
        auth: uri.param("auth").map(str::to_owned),
        keepalive: KeepaliveConfig::default(),
    };
    Ok(Arc::new(RemoteDriver::handshake(stream, params).await?))
}
