//! `rvirt-qemu`: rvirt's QEMU/KVM driver.
//!
//! This crate sits between the driver trait (`rvirt::driver`) and the `qemu-system-*` processes it
//! runs:
//!
//! - [`driver`]: `QemuDriver`, the domain methods of `rvirt::Driver` (definitions, lifecycle,
//!   events, status files and re-attach);
//! - [`argv`]: domain XML → QEMU command line, with every disk's backing chain resolved first;
//! - [`qmp`]: the asynchronous QMP client (handshake, commands with ids and per-call timeouts,
//!   events on a channel, monitor loss);
//! - [`caps`]: capability probing of a QEMU binary over QMP and the on-disk probe cache;
//! - [`host`]: the host facts (CPU, NUMA cells, pages, caches) the capabilities XML reports;
//! - [`capabilities_xml`]: the `capabilities` and `domcapabilities` documents built from both;
//! - [`process`]: spawning and supervising a QEMU process (monitor socket, pid and log files,
//!   liveness, graceful stop then SIGKILL), signalling only processes we started or recorded;
//! - [`status`]: the live-status record written beside each running QEMU and the re-attach check
//!   that a daemon restart uses to find its QEMU processes again.
//!
//! Every module has its own error enum; each converts into [`rvirt::Error`] with libvirt's
//! `VIR_FROM_QEMU` domain in one `From` impl.
#![warn(missing_docs)]

pub mod argv;
pub mod atomic_file;
pub mod capabilities_xml;
pub mod caps;
pub mod driver;
pub mod host;
pub mod process;
pub mod qmp;
pub mod status;
pub mod xml_flags;
