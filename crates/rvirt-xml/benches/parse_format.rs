//! Times parse + format of the largest domain document in libvirt's test corpora
//! (`qemuxml2xmloutdata/pci-bridge-many-disks.xml` in 9.0, 30 KB, 100+ disks and PCI
//! controllers). Target: under 1 ms for both together in a release build.
//!
//! The corpora come from `$RVIRT_LIBVIRT_SRC` or the cache the conformance test fills
//! (`<target>/libvirt-src/libvirt-*`, see `scripts/fetch-libvirt-src.sh`); without either, the
//! largest golden input under `tests/data/domain` is used instead.
//!
//! Then parse + format of generated domains with 250 … 4000 virtio disks, per disk, to show
//! that the cost grows linearly with the document.
//!
//! Run with `cargo bench -p rvirt-xml --bench parse_format` (`-- ITERATIONS` to change the count).

use rvirt_xml::domain::{format, parse, FormatOpts};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CORPORA: [&str; 3] = [
    "genericxml2xmlindata",
    "qemuxml2argvdata",
    "qemuxml2xmloutdata",
];

fn libvirt_tree() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RVIRT_LIBVIRT_SRC") {
        return Some(PathBuf::from(p));
    }
    // <target>/<profile>/deps/<bench>
    let exe = std::env::current_exe().ok()?;
    let cache = exe.parent()?.parent()?.parent()?.join("libvirt-src");
    let mut trees: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("tests/qemuxml2argvdata").is_dir())
        .collect();
    trees.sort();
    trees.pop()
}

fn largest(dirs: &[PathBuf], accept: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    dirs.iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml") && accept(p))
        .max_by_key(|p| {
            (
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                p.clone(),
            )
        })
}

fn document() -> (PathBuf, String) {
    let parses = |p: &Path| {
        std::fs::read_to_string(p)
            .ok()
            .is_some_and(|s| parse(&s).is_ok())
    };
    let found = libvirt_tree().and_then(|t| {
        let dirs: Vec<PathBuf> = CORPORA.iter().map(|c| t.join("tests").join(c)).collect();
        largest(&dirs, parses)
    });
    let path = found.unwrap_or_else(|| {
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/domain");
        largest(&[golden], |p| {
            let n = p.to_string_lossy();
            !n.ends_with(".out.xml")
                && !n.ends_with(".live.xml")
                && !n.ends_with(".redefine.xml")
                && parses(p)
        })
        .expect("no domain document to time")
    });
    let text = std::fs::read_to_string(&path).expect("read document");
    (path, text)
}

/// `virtio-disk` target name number `i` (vda … vdz, vdaa, …), as libvirt counts them.
fn disk_name(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    format!("vd{}", String::from_utf8(s).unwrap())
}

/// A domain with `n` file-backed virtio disks.
fn many_disks(n: usize) -> String {
    let mut x = String::from(
        "<domain type='kvm'><name>many</name><memory>1048576</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>",
    );
    for i in 0..n {
        let t = disk_name(i);
        x.push_str(&format!(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='/var/lib/images/{t}.img'/><target dev='{t}' bus='virtio'/></disk>"
        ));
    }
    x.push_str("</devices></domain>");
    x
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    (v[0], v[v.len() / 2], mean)
}

fn main() {
    // `cargo bench` passes `--bench`; a bare number sets the iteration count.
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let (path, text) = document();
    for _ in 0..iterations / 10 + 1 {
        let def = parse(&text).expect("document parses");
        std::hint::black_box(format(&def, FormatOpts::default()));
    }
    let (mut p, mut f, mut t) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let start = Instant::now();
        let def = std::hint::black_box(parse(std::hint::black_box(&text)).unwrap());
        let mid = Instant::now();
        let out = std::hint::black_box(format(&def, FormatOpts::default()));
        let end = Instant::now();
        drop(out);
        p.push(mid - start);
        f.push(end - mid);
        t.push(end - start);
    }
    println!(
        "{} ({} bytes), {iterations} iterations",
        path.display(),
        text.len()
    );
    for (name, v) in [("parse", p), ("format", f), ("parse + format", t.clone())] {
        let (min, median, mean) = stats(v);
        println!("  {name:15} min {min:>10.2?}  median {median:>10.2?}  mean {mean:>10.2?}");
    }
    let (_, median, _) = stats(t);
    println!(
        "  target < 1 ms for parse + format: {}",
        if median < Duration::from_millis(1) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!("generated domains, parse + format (median of 5):");
    for n in [250, 500, 1000, 2000, 4000] {
        let text = many_disks(n);
        let v: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let def = parse(&text).expect("generated document parses");
                std::hint::black_box(format(&def, FormatOpts::default()));
                start.elapsed()
            })
            .collect();
        let (_, median, _) = stats(v);
        println!(
            "  {n:5} disks  {median:>10.2?}  {:>8.2?} per disk",
            median / n as u32
        );
    }
}
