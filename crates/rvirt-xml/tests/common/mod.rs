//! What the libvirt-corpus tests share: the Debian libvirt 9.0 source tree
//! (`$RVIRT_LIBVIRT_SRC` when set, else fetched once into `<target dir>/libvirt-src` by
//! `scripts/fetch-libvirt-src.sh`; never committed) and the XML documents of one of its test
//! directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The unpacked libvirt source tree.
pub fn libvirt_src() -> PathBuf {
    if let Some(p) = std::env::var_os("RVIRT_LIBVIRT_SRC") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // <target>/<profile>/deps/<test>
    let target = exe.ancestors().nth(3).expect("cargo target directory");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/fetch-libvirt-src.sh"))
        .arg(target.join("libvirt-src"))
        .output()
        .expect("run scripts/fetch-libvirt-src.sh");
    assert!(
        out.status.success(),
        "fetching Debian's libvirt source package failed (set RVIRT_LIBVIRT_SRC to an unpacked \
         libvirt 9.0 tree to use one already on disk):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// `(file name, text)` of every `*.xml` in the tree's `tests/<dir>`, sorted by name.
pub fn corpus(dir: &str) -> Vec<(String, String)> {
    let d = libvirt_src().join("tests").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no documents in {}", d.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}
