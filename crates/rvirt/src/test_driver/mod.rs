//! The in-memory test driver (`test:///default`, `test:///path/to/node.xml`).

use crate::auth::Auth;
use crate::driver::Driver;
use crate::error::{code, domain, Error, Result};
use crate::uri::Uri;
use std::sync::Arc;

/// Opens the test driver for `uri`.
pub fn open(uri: &Uri, _auth: Option<&Auth>) -> Result<Arc<dyn Driver>> {
    Err(Error::new(code::NO_SUPPORT, domain::TEST, format!("test driver not built yet: {}", uri.original)))
}
