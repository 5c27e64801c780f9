//! The remote driver: the client side of libvirt's RPC protocol.

use crate::auth::Auth;
use crate::driver::Driver;
use crate::error::{code, domain, Error, Result};
use crate::uri::Uri;
use std::sync::Arc;

/// Connects to the daemon serving `uri`.
pub async fn open(uri: &Uri, _read_only: bool, _auth: Option<&Auth>) -> Result<Arc<dyn Driver>> {
    Err(Error::new(
        code::NO_SUPPORT,
        domain::REMOTE,
        format!("remote driver not built yet: {}", uri.original),
    ))
}
