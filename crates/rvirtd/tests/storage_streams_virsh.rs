//! End to end: volume upload and download streams through the real `rvirtd` (session mode, on
//! temporary `XDG_RUNTIME_DIR`/`XDG_CONFIG_HOME`), driven by Debian's `virsh` and by our `rvsh`.
//!
//! A dir pool is defined, built and started; a 1 GiB raw volume with nothing allocated is
//! created; a 1 GiB sparse file with three 64 KiB random regions is uploaded with `--sparse`
//! and downloaded again with `--sparse`. The download must equal the source byte for byte,
//! the volume and the downloaded file must stay sparse, and the daemon's own byte counters
//! (its debug log line for each stream) must show that only the data regions crossed the wire,
//! the holes as STREAM_HOLE lengths. Then clone, delete, and the pool is torn down.

mod storage_harness;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use storage_harness::*;

const GIB: u64 = 1 << 30;
/// The data regions of the source file: (offset, length).
const REGIONS: [(u64, u64); 3] = [
    (0, 64 * 1024),
    (300 << 20, 64 * 1024),
    (GIB - 64 * 1024, 64 * 1024),
];
/// At most this much data may cross the wire per transfer (the regions, rounded up to the
/// filesystem's extent granularity); the rest must be holes.
const DATA_MAX: u64 = 16 << 20;
/// rvirtd's configuration: its streams log their byte counters at debug level.
const LOG_STREAMS: &str = "log_filters = \"1:stream\"\n";

/// A 1 GiB sparse file with random data in [`REGIONS`], made with dd like a user would.
fn sparse_source(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(GIB).unwrap();
    drop(f);
    for (off, len) in REGIONS {
        let st = Command::new("dd")
            .arg("if=/dev/urandom")
            .arg(format!("of={}", path.display()))
            .arg(format!("bs={len}"))
            .arg("count=1")
            .arg(format!("seek={}", off / len))
            .arg("conv=notrunc")
            .arg("status=none")
            .status()
            .unwrap();
        assert!(st.success(), "dd");
    }
    assert_eq!(std::fs::metadata(path).unwrap().len(), GIB);
}

/// Bytes the file has allocated on disk.
fn allocated(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

fn same_content(a: &Path, b: &Path) {
    let st = Command::new("cmp").arg(a).arg(b).status().unwrap();
    assert!(st.success(), "{} and {} differ", a.display(), b.display());
}

/// `rvsh`, built with the workspace next to `rvirtd`.
fn rvsh() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_rvirtd")).with_file_name("rvsh");
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build --workspace --bins)",
        p.display()
    );
    p
}

/// One upload/download round trip of `src` through volume `vol` of pool `pool` with `prog`;
/// checks the copy, the sparseness and the daemon's counters. `seen` is the number of stream
/// log lines before it.
fn round_trip(d: &Rvirtd, prog: &Path, tmp: &TempDir, src: &Path, vol: &str, seen: usize) {
    let back = tmp.path(&format!("back-{vol}.img"));
    d.run_ok(
        prog,
        &[
            "vol-upload",
            "--sparse",
            "--pool",
            "p",
            vol,
            src.to_str().unwrap(),
        ],
    );
    d.run_ok(
        prog,
        &[
            "vol-download",
            "--sparse",
            "--pool",
            "p",
            vol,
            back.to_str().unwrap(),
        ],
    );
    same_content(src, &back);
    let vol_path = tmp.path("pool").join(vol);
    same_content(src, &vol_path);
    assert_eq!(std::fs::metadata(&back).unwrap().len(), GIB);
    for f in [&vol_path, &back] {
        assert!(
            allocated(f) <= DATA_MAX,
            "{} is not sparse: {} bytes allocated",
            f.display(),
            allocated(f)
        );
    }
    let counters = d.wait_streams(seen + 2);
    let (up, down) = (counters[seen], counters[seen + 1]);
    eprintln!("{}: upload {up:?}, download {down:?}", prog.display());
    // Upload: the client's data and holes came in; nothing went out.
    let data: u64 = REGIONS.iter().map(|r| r.1).sum();
    assert!(up.2 >= data && up.2 <= DATA_MAX, "upload counters {up:?}");
    assert_eq!(up.2 + up.3, GIB, "upload counters {up:?}");
    assert_eq!((up.0, up.1), (0, 0), "upload counters {up:?}");
    // Download: the data regions went out as data, the rest as holes.
    assert!(
        down.0 >= data && down.0 <= DATA_MAX,
        "download counters {down:?}"
    );
    assert_eq!(down.0 + down.1, GIB, "download counters {down:?}");
    assert_eq!((down.2, down.3), (0, 0), "download counters {down:?}");
    std::fs::remove_file(back).unwrap();
}

#[test]
fn sparse_upload_download_round_trip_with_virsh_and_rvsh() {
    let tmp = TempDir::new("rt");
    let d = Rvirtd::start_with_config(&tmp.path("home"), LOG_STREAMS);
    let virsh = PathBuf::from("virsh");
    let rvsh = rvsh();
    let pool_dir = tmp.path("pool");
    let src = tmp.path("source.img");
    sparse_source(&src);
    assert!(allocated(&src) <= DATA_MAX, "the source must be sparse");

    d.run_ok(
        &virsh,
        &[
            "pool-define-as",
            "p",
            "dir",
            "--target",
            pool_dir.to_str().unwrap(),
        ],
    );
    d.run_ok(&virsh, &["pool-build", "p"]);
    d.run_ok(&virsh, &["pool-start", "p"]);
    for vol in ["v.img", "r.img"] {
        d.run_ok(
            &virsh,
            &[
                "vol-create-as",
                "p",
                vol,
                "1G",
                "--format",
                "raw",
                "--allocation",
                "0",
            ],
        );
        assert!(allocated(&pool_dir.join(vol)) <= DATA_MAX);
    }

    round_trip(&d, &virsh, &tmp, &src, "v.img", 0);
    round_trip(&d, &rvsh, &tmp, &src, "r.img", 2);

    d.run_ok(&virsh, &["vol-clone", "--pool", "p", "v.img", "c.img"]);
    same_content(&src, &pool_dir.join("c.img"));
    let list = d.run_ok(&virsh, &["vol-list", "p"]);
    for vol in ["v.img", "r.img", "c.img"] {
        assert!(list.contains(vol), "{list}");
    }
    for vol in ["c.img", "r.img", "v.img"] {
        d.run_ok(&virsh, &["vol-delete", "--pool", "p", vol]);
        assert!(!pool_dir.join(vol).exists());
    }
    d.run_ok(&virsh, &["pool-destroy", "p"]);
    d.run_ok(&virsh, &["pool-undefine", "p"]);
    assert!(d.run(&virsh, &["pool-info", "p"]).is_err());
}

#[test]
fn failed_stream_call_then_plain_round_trip_in_one_session() {
    let tmp = TempDir::new("err");
    let d = Rvirtd::start_with_config(&tmp.path("home"), LOG_STREAMS);
    let virsh = PathBuf::from("virsh");
    let pool_dir = tmp.path("pool");
    d.run_ok(
        &virsh,
        &[
            "pool-create-as",
            "q",
            "dir",
            "--build",
            "--target",
            pool_dir.to_str().unwrap(),
        ],
    );
    // No such volume: the call itself fails, no stream is opened.
    let e = d
        .run(
            &virsh,
            &["vol-download", "--pool", "q", "nope", "/dev/null"],
        )
        .unwrap_err();
    assert!(e.contains("nope"), "{e}");
    // A non-sparse round trip of a small volume in one virsh session.
    d.run_ok(&virsh, &["vol-create-as", "q", "s.img", "1M"]);
    let src = tmp.path("small");
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let back = tmp.path("small.back");
    let script = format!(
        "vol-upload --pool q s.img {}; vol-download --pool q s.img {}; vol-list q",
        src.display(),
        back.display()
    );
    let out = d.run_ok(&virsh, &[&script]);
    assert!(out.contains("s.img"), "{out}");
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let c = d.wait_streams(2);
    assert_eq!(c[0], (0, 0, 1 << 20, 0));
    assert_eq!(c[1], (1 << 20, 0, 0, 0));
    d.run_ok(&virsh, &["pool-destroy", "q"]);
}
