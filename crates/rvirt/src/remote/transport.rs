//! Byte transports under the RPC engine: a connected socket, split into a read half and a write
//! half the engine owns.
//!
//! UNIX sockets (local daemons) and plain TCP are implemented. TLS and SSH would produce the same
//! [`Stream`] (boxed halves plus what the transport guarantees), so the engine above never
//! changes when they are added; until then [`unsupported`] reports them clearly.

use crate::error::{code, domain, Error, Result};
use crate::uri::Transport;
use std::io;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// The receiving side of a connection.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The sending side of a connection.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A connected transport.
pub struct Stream {
    /// Bytes from the daemon.
    pub reader: ReadHalf,
    /// Bytes to the daemon.
    pub writer: WriteHalf,
    /// Whether the transport itself is secure from eavesdroppers (`priv->is_secure`): local
    /// sockets, TLS and SSH are; plain TCP is not.
    pub secure: bool,
    /// Whether the transport encrypts (TLS, SASL with a security layer).
    pub encrypted: bool,
}

impl Stream {
    /// Wraps a connected UNIX socket.
    pub fn unix(s: UnixStream) -> Self {
        let (r, w) = s.into_split();
        Self {
            reader: Box::new(r),
            writer: Box::new(w),
            secure: true,
            encrypted: false,
        }
    }

    /// Wraps a connected plain TCP socket.
    pub fn tcp(s: TcpStream) -> Self {
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        Self {
            reader: Box::new(r),
            writer: Box::new(w),
            secure: false,
            encrypted: false,
        }
    }
}

/// The C library's text for an I/O error (`strerror`), without Rust's "(os error N)" suffix, so
/// that messages read like libvirt's.
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => s[..i].to_string(),
        _ => s,
    }
}

/// Connects to a UNIX socket. A path starting with `@` names a socket in the abstract namespace,
/// as libvirt allows.
pub async fn connect_unix_raw(path: &Path) -> io::Result<UnixStream> {
    if let Some(name) = path.to_str().and_then(|p| p.strip_prefix('@')) {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        let s = std::os::unix::net::UnixStream::connect_addr(&addr)?;
        s.set_nonblocking(true)?;
        return UnixStream::from_std(s);
    }
    UnixStream::connect(path).await
}

/// libvirt's error for a failed UNIX connect (`virNetSocketNewConnectUNIX`).
pub fn unix_connect_error(path: &Path, e: &io::Error, hint: &str) -> Error {
    let mut msg = format!(
        "Failed to connect socket to '{}': {}",
        path.display(),
        strerror(e)
    );
    if !hint.is_empty() {
        msg.push_str(" (");
        msg.push_str(hint);
        msg.push(')');
    }
    Error::new(code::SYSTEM_ERROR, domain::RPC, msg)
}

/// Connects to `host:port` over plain TCP, trying each address the name resolves to.
pub async fn connect_tcp(host: &str, port: u16) -> Result<Stream> {
    match TcpStream::connect((host, port)).await {
        Ok(s) => Ok(Stream::tcp(s)),
        Err(e) => Err(Error::new(
            code::SYSTEM_ERROR,
            domain::RPC,
            format!(
                "unable to connect to server at '{host}:{port}': {}",
                strerror(&e)
            ),
        )),
    }
}

/// The transport's name as it appears in URIs.
pub fn name(t: Transport) -> &'static str {
    match t {
        Transport::Unix => "unix",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        Transport::Ssh => "ssh",
        Transport::Ext => "ext",
        Transport::Libssh2 => "libssh2",
        Transport::Libssh => "libssh",
    }
}

/// The error for a transport rvirt's client does not implement yet.
pub fn unsupported(t: Transport, uri: &str) -> Error {
    let alt = match t {
        Transport::Tls => "; use 'tcp' (unencrypted) or tunnel the daemon's UNIX socket",
        _ => "; connect to a local UNIX socket ('X+unix:///…?socket=PATH') or use 'tcp'",
    };
    Error::new(
        code::NO_SUPPORT,
        domain::REMOTE,
        format!(
            "the '{}' transport of URI '{uri}' is not implemented by rvirt's remote driver yet{alt}",
            name(t)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_rust_suffix() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strerror(&e), "No such file or directory");
        let e = unix_connect_error(Path::new("/x/y"), &e, "");
        assert_eq!(
            e.message,
            "Failed to connect socket to '/x/y': No such file or directory"
        );
        assert_eq!(e.code, code::SYSTEM_ERROR);
        assert_eq!(e.domain, domain::RPC);
    }
}
