//! Shared helpers for the integration tests: the host fixtures (temporary directories, the
//! reference libvirtd, loop devices and LVM; in `fixtures`, which rvirtd's storage tests share),
//! the real `qemu-img`, header edits that reproduce images written by older tools, and a storage
//! driver on temporary directories with its events and volume names.
#![allow(dead_code)]

mod fixtures;

use std::path::Path;
use std::process::Command;

pub use fixtures::*;
use rvirt::types::{Event, VolRef};
use rvirt_storage::driver::Config;
use rvirt_storage::pool::state::Dirs;
use rvirt_storage::StorageDriver;

/// Runs the real qemu-img; the tests need it (scripts/install-deps.sh installs it).
pub fn qemu_img(dir: &Path, args: &[&str]) {
    let out = Command::new("qemu-img")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("qemu-img must be installed (Debian package qemu-utils)");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `qemu-img create -f FMT [-F BFMT -b BACKING] NAME [SIZE]` in `dir`, with -u so the backing
/// need not exist.
pub fn create(
    dir: &Path,
    fmt: &str,
    name: &str,
    backing: Option<(&str, &str)>,
    size: Option<&str>,
) {
    let mut args = vec!["create", "-q", "-f", fmt];
    if let Some((b, bf)) = backing {
        args.extend(["-u", "-F", bf, "-b", b]);
    }
    args.push(name);
    if let Some(s) = size {
        args.push(s);
    } else if backing.is_some() {
        args.push("1M");
    }
    qemu_img(dir, &args);
}

/// `qemu-img create -q -f FMT [--object SECRET] -o OPTIONS NAME SIZE` in `dir`: an image made
/// with creation options; encryption options name the `secret` object given.
pub fn create_with_options(
    dir: &Path,
    fmt: &str,
    secret: Option<&str>,
    options: &str,
    name: &str,
    size: &str,
) {
    let mut args = vec!["create", "-q", "-f", fmt];
    if let Some(s) = secret {
        args.extend(["--object", s]);
    }
    args.extend(["-o", options, name, size]);
    qemu_img(dir, &args);
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes(b[o..o + 4].try_into().unwrap())
}

/// Offsets of the qcow2 header extension with `magic`.
fn find_extension(b: &[u8], magic: u32) -> Option<(usize, usize)> {
    let version = be32(b, 4);
    let mut off = if version == 2 {
        72
    } else {
        be32(b, 100) as usize
    };
    while off + 8 <= b.len() {
        let (m, len) = (be32(b, off), be32(b, off + 4) as usize);
        if m == 0 {
            return None;
        }
        if m == magic {
            return Some((off, len));
        }
        off += 8 + len.div_ceil(8) * 8;
    }
    None
}

/// Makes a qcow2's backing format unrecorded, as qemu-img before 6.1 could leave it: renames the
/// 0xE2792ACA extension to an unknown type (QEMU and libvirt both skip unknown extensions).
pub fn unrecord_backing_format(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let (off, _) = find_extension(&b, 0xE279_2ACA).expect("backing format extension present");
    b[off..off + 4].copy_from_slice(&0x7276_6972u32.to_be_bytes());
    std::fs::write(path, b).unwrap();
}

/// Overwrites the recorded backing format string (same length).
pub fn set_backing_format_string(path: &Path, s: &str) {
    let mut b = std::fs::read(path).unwrap();
    let (off, len) = find_extension(&b, 0xE279_2ACA).expect("backing format extension present");
    assert_eq!(len, s.len());
    b[off + 8..off + 8 + len].copy_from_slice(s.as_bytes());
    std::fs::write(path, b).unwrap();
}

pub fn abs(p: &Path) -> String {
    p.display().to_string()
}

/// A storage driver whose configuration and state directories are `base/cfg` and `base/run`.
pub fn driver(base: &Path, autostart: bool) -> StorageDriver {
    StorageDriver::open(
        Config {
            dirs: Dirs::new(base.join("cfg"), base.join("run")),
            autostart,
        },
        None,
    )
    .unwrap()
}

/// The pool events received so far: lifecycle events by number, a refresh as -1, anything
/// else as -2.
pub fn events(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<i32> {
    let mut v = Vec::new();
    while let Ok(e) = rx.try_recv() {
        v.push(match e {
            Event::PoolLifecycle { event, .. } => event,
            Event::PoolRefresh { .. } => -1,
            _ => -2,
        });
    }
    v
}

/// The volumes' names, sorted.
pub fn names(v: Vec<VolRef>) -> Vec<String> {
    let mut n: Vec<String> = v.into_iter().map(|v| v.name).collect();
    n.sort();
    n
}
