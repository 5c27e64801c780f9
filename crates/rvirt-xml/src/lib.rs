//! `rvirt-xml`: libvirt's XML documents as typed Rust.
#![warn(missing_docs)]

mod error;
pub use error::XmlError;
