//! Choosing a driver for a URI (`virConnectOpenInternal`).
//!
//! As in libvirt's client library, `test:///…` is served in-process by the test driver; every other
//! URI goes to the remote driver, which talks to a daemon (`rvirtd`, or libvirtd) over RPC.

use crate::auth::Auth;
use crate::connect::Connect;
use crate::error::{code, domain, Error, Result};
use crate::uri::Uri;

/// The default URI when none is given: `LIBVIRT_DEFAULT_URI`, else the QEMU driver of the
/// session (unprivileged) or system (root) daemon.
pub fn default_uri() -> String {
    if let Ok(u) = std::env::var("LIBVIRT_DEFAULT_URI") {
        if !u.is_empty() {
            return u;
        }
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        "qemu:///system".into()
    } else {
        "qemu:///session".into()
    }
}

pub(crate) async fn open(
    uri: Option<&str>,
    read_only: bool,
    auth: Option<&Auth>,
) -> Result<Connect> {
    let text = match uri {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => default_uri(),
    };
    let parsed = Uri::parse(&text)?;
    if parsed.driver == "test" && parsed.transport.is_none() && parsed.server.is_none() {
        let driver = crate::test_driver::open(&parsed, auth)?;
        return Ok(Connect::from_driver(driver, read_only));
    }
    if parsed.driver.is_empty() {
        return Err(Error::new(code::NO_CONNECT, domain::NONE, &text));
    }
    let driver = crate::remote::open(&parsed, read_only, auth).await?;
    Ok(Connect::from_driver(driver, read_only))
}
