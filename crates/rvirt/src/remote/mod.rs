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
pub mod stream;
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

#[cfg(test)]
mod tests {
    use super::testpeer::{reply, serve_handshake, Peer};
    use super::*;
    use rvirt_proto::procedure::remote_proc as rp;
    use rvirt_proto::remote::IntRet;

    #[tokio::test]
    async fn opens_over_plain_tcp_and_reports_it_insecure() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let mut peer = Peer::new(sock);
            let open = serve_handshake(&mut peer, vec![0], true).await;
            let p = peer.recv().await;
            assert_eq!(p.header.proc_, rp::CONNECT_IS_SECURE as i32);
            peer.send(&reply(&p, &IntRet { value: 1 })).await;
            for want in [rp::CONNECT_UNREGISTER_CLOSE_CALLBACK, rp::CONNECT_CLOSE] {
                let p = peer.recv().await;
                assert_eq!(p.header.proc_, want as i32);
                peer.send(&reply(&p, &())).await;
            }
            open
        });
        let uri = Uri::parse(&format!("test+tcp://127.0.0.1:{port}/default?x=1")).unwrap();
        let drv = open_remote(&uri, false, None).await.unwrap();
        // The daemon's own connection is secure, but plain TCP is not.
        assert!(!drv.connect_is_secure().await.unwrap());
        drv.connect_close().await.unwrap();
        let open = server.await.unwrap();
        assert_eq!(open.name.as_deref(), Some("test:///default?x=1"));
        let flags = sockets::daemon_flags(&uri, false, &sockets::Env::current());
        assert_eq!(open.flags, flags);
    }

    #[tokio::test]
    async fn tcp_connect_failure_names_the_server() {
        // Bind then drop, so the port is very likely closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let uri = Uri::parse(&format!("qemu+tcp://127.0.0.1:{port}/system")).unwrap();
        let e = open(&uri, false, None).await.err().unwrap();
        assert_eq!(
            e.message,
            format!("unable to connect to server at '127.0.0.1:{port}': Connection refused")
        );
    }
}
