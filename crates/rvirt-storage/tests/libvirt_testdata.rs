//! libvirt 9.0's own chain tests (`tests/virstoragetest.c` TEST_CHAIN cases) run against our
//! resolver, on libvirt's test images and expected outputs (`tests/virstoragetestdata/`), read
//! from the unpacked libvirt source tree (LIBVIRT_SRC, set by the test command; see src_tree). Compared per layer: path, type and format.

use std::path::{Path, PathBuf};

use rvirt_storage::{resolve_chain, Format, Source};

/// libvirt's unpacked source tree: `LIBVIRT_SRC` (the test command sets it after fetching the
/// tree with scripts/fetch-libvirt-src.sh, and then it must exist), else the fetch script's cache
/// under `target/libvirt-src` if a developer has fetched it.
fn src_tree() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIBVIRT_SRC") {
        let p = PathBuf::from(p);
        assert!(
            p.join("tests/virstoragetestdata").is_dir(),
            "LIBVIRT_SRC={} has no tests/virstoragetestdata: run scripts/fetch-libvirt-src.sh",
            p.display()
        );
        return Some(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/libvirt-src/libvirt-9.0.0"
    ));
    p.join("tests/virstoragetestdata").is_dir().then_some(p)
}

/// (path, type, format) triples from an expected-output file.
fn expected(tests: &Path, name: &str) -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string(tests.join("virstoragetestdata/out").join(name)).unwrap();
    let srcdir = tests.display().to_string();
    let mut out = Vec::new();
    let mut cur = (String::new(), 0, 0);
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("path:") {
            cur.0 = p.replace("ABS_SRCDIR", &srcdir);
        } else if let Some(t) = line.strip_prefix("type:") {
            cur.1 = t.parse().unwrap();
        } else if let Some(f) = line.strip_prefix("format:") {
            cur.2 = f.parse().unwrap();
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

fn actual(top: &Path, format: Option<Format>) -> Result<Vec<(String, u32, u32)>, String> {
    let c = resolve_chain(top, format, None).map_err(|e| e.to_string())?;
    Ok(c.layers
        .iter()
        .map(|l| {
            let ty = match l.source {
                Source::File(_) => 1,
                Source::Block(_) => 2,
                Source::Dir(_) => 3,
                Source::Network(_) => 4,
                Source::Nvme { .. } => 6,
            };
            (l.source.display(), ty, l.format.number() as u32)
        })
        .collect())
}

#[test]
fn virstoragetest_chains() {
    let Some(root) = src_tree() else {
        eprintln!("libvirt source tree not found; set LIBVIRT_SRC to run libvirt's chain cases");
        return;
    };
    let tests = root.join("tests");
    let img = |n: &str| tests.join("virstoragetestdata/images").join(n);
    let q = Some(Format::Qcow2);
    // (expected-output name, start, format); None = libvirt's AUTO/NONE (raw, or dir).
    let pass: &[(&str, PathBuf, Option<Format>)] = &[
        ("raw-raw", img("raw"), Some(Format::Raw)),
        ("raw-auto", img("raw"), None),
        (
            "qcow2-qcow2_raw-raw-relative",
            img("qcow2_raw-raw-relative.qcow2"),
            q,
        ),
        (
            "qcow2-auto_raw-raw-relative",
            img("qcow2_raw-raw-relative.qcow2"),
            None,
        ),
        (
            "qcow2-qcow2_qcow2-qcow2_qcow2-auto",
            img("qcow2_qcow2-qcow2_qcow2-auto.qcow2"),
            q,
        ),
        (
            "qcow2-qcow2_qcow2-qcow2_raw-auto",
            img("qcow2_qcow2-qcow2_raw-auto.qcow2"),
            q,
        ),
        ("qcow2-qcow2_qcow2-auto", img("qcow2_qcow2-auto.qcow2"), q),
        ("qcow2-qcow2_nbd-raw", img("qcow2_nbd-raw.qcow2"), q),
        (
            "qed-qed_raw",
            img("qed_raw-raw-relative"),
            Some(Format::Qed),
        ),
        ("qed-auto_raw", img("qed_raw-raw-relative"), None),
        (
            "directory-raw",
            tests.join("virstoragetestdata/images/"),
            Some(Format::Raw),
        ),
        (
            "directory-none",
            tests.join("virstoragetestdata/images/"),
            None,
        ),
        (
            "directory-dir",
            tests.join("virstoragetestdata/images/"),
            Some(Format::Dir),
        ),
        ("qcow2-symlinks", img("sub/link2"), q),
    ];
    for (name, start, fmt) in pass {
        assert_eq!(
            actual(start, *fmt).unwrap_or_else(|e| panic!("{name}: {e}")),
            expected(&tests, name),
            "{name}"
        );
    }
    let fail: &[(&str, PathBuf)] = &[
        ("missing", PathBuf::from("bogus")),
        (
            "qcow2-qcow2_qcow2-auto_qcow2-auto",
            img("qcow2_qcow2-auto_qcow2-auto.qcow2"),
        ),
        ("qcow2-qcow2_missing", img("qcow2_qcow2-missing.qcow2")),
        ("qcow2-qcow2_infinite-self", img("loop-self.qcow2")),
        ("qcow2-qcow2_infinite-mutual", img("loop-2.qcow2")),
    ];
    for (name, start) in fail {
        let fmt = if *name == "missing" {
            Some(Format::Raw)
        } else {
            q
        };
        assert!(actual(start, fmt).is_err(), "{name} must fail");
    }
}
