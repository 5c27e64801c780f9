//! `rvirt-xml`: libvirt's XML documents as typed Rust, parsed, validated and formatted the way
//! libvirt 9.0 does, so that `dumpxml` output is byte-identical and what libvirt rejects we reject
//! with an error naming the element or attribute.
//!
//! Each document type lives in its own module; [`writer`] holds the shared formatting rules and
//! [`conf`] the shared reading rules (libvirt's attribute parsing and libxml2's error messages).
#![warn(missing_docs)]

pub mod capabilities;
mod capabilities_parse;
pub mod conf;
pub mod domain;
pub mod domcaps;
mod domcaps_parse;
mod error;
pub mod network;
pub mod secret;
pub mod storage;
pub mod writer;

pub use error::XmlError;
