//! Benchmark: resolving a 200-layer chain (one raw base, 199 qcow2 overlays made by the real
//! `qemu-img`, each recording its backing format). The target is under 50 ms per resolution.
//!
//! Run: `cargo bench -p rvirt-storage --bench chain`. Prints min/median/max over 50 runs and exits
//! non-zero if the median is 50 ms or more.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rvirt_storage::{resolve_chain, Format};

fn qemu_img(args: &[&str]) {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img runs");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build(dir: &Path, layers: usize) -> PathBuf {
    let base = dir.join("l0.raw");
    qemu_img(&["create", "-q", "-f", "raw", base.to_str().unwrap(), "1M"]);
    let mut prev = ("l0.raw".to_string(), "raw");
    for i in 1..layers {
        let name = format!("l{i}.qcow2");
        let path = dir.join(&name);
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            prev.1,
            "-b",
            &prev.0,
            path.to_str().unwrap(),
        ]);
        prev = (name, "qcow2");
    }
    dir.join(prev.0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("rvirt-storage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let top = build(&dir, 200);
    let chain = resolve_chain(&top, Some(Format::Qcow2), None).expect("200 layers resolve");
    assert_eq!(chain.layers.len(), 200);

    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let c = resolve_chain(&top, Some(Format::Qcow2), None).unwrap();
            let e = t.elapsed();
            assert_eq!(c.layers.len(), 200);
            e
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "resolve_chain, 200 layers (199 qcow2 + raw): min {:.2} ms, median {:.2} ms, max {:.2} ms (target < 50 ms)",
        times[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    std::fs::remove_dir_all(&dir).ok();
    if median >= Duration::from_millis(50) {
        eprintln!("FAILED: median {median:?} is not under 50 ms");
        std::process::exit(1);
    }
}
