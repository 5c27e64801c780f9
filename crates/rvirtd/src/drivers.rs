//! Which driver serves a `CONNECT_OPEN` URI inside the daemon.
//!
//! Only the test driver exists so far (`test:///default` is the process-wide shared instance,
//! `test:///path/node.xml` a private one). Every other URI gets libvirt's
//! `VIR_ERR_NO_CONNECT` "no connection driver available for URI" until its driver lands.

use crate::paths::Mode;
use rvirt::error::{code, domain};
use rvirt::uri::Uri;
use rvirt::{Driver, Error};
use std::sync::Arc;

/// The URI an empty `CONNECT_OPEN` name means: `LIBVIRT_DEFAULT_URI` in the daemon's
/// environment, else the mode's QEMU URI (what libvirtd's driver probing would pick).
pub fn default_uri(mode: Mode) -> String {
    match std::env::var("LIBVIRT_DEFAULT_URI") {
        Ok(u) if !u.is_empty() => u,
        _ => match mode {
            Mode::System => "qemu:///system".into(),
            Mode::Session => "qemu:///session".into(),
        },
    }
}

/// Opens the driver for `name` (empty: [`default_uri`]).
pub fn open(name: &str, mode: Mode) -> Result<Arc<dyn Driver>, Error> {
    let name = if name.is_empty() {
        default_uri(mode)
    } else {
        name.to_string()
    };
    let no_driver = || Error::new(code::NO_CONNECT, domain::NONE, &name);
    let uri = Uri::parse(&name).map_err(|_| no_driver())?;
    if uri.driver == "test" && uri.transport.is_none() && uri.server.is_none() {
        return rvirt::test_driver::open(&uri, None);
    }
    Err(no_driver())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_drivers_get_libvirts_error() {
        let e = open("qemu:///system", Mode::System).err().unwrap();
        assert_eq!((e.code, e.domain), (code::NO_CONNECT, domain::NONE));
        assert_eq!(
            e.message,
            "no connection driver available for qemu:///system"
        );
        let e = open("lxc:///", Mode::System).err().unwrap();
        assert_eq!(e.message, "no connection driver available for lxc:///");
        let e = open("foo:///bar", Mode::System).err().unwrap();
        assert_eq!(e.message, "no connection driver available for foo:///bar");
    }
}
