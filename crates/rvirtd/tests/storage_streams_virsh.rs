//! End to end: volume upload and download streams through the real `rvirtd` (session mode, on
//! temporary `XDG_RUNTIME_DIR`/`XDG_CONFIG_HOME`), driven by Debian's `virsh` and by our `rvsh`.
//!
//! A dir pool is defined, built and started; a 1 GiB raw volume with nothing allocated is
//! created; a 1 GiB sparse file with three 64 KiB random regions is uploaded with `--sparse`
//! and downloaded again with `--sparse`. The download must equal the source byte for byte,
//! the volume and the downloaded file must stay sparse, and the daemon's own byte counters
//! (its debug log line for each stream) must show that only the data regions crossed the wire,
//! the holes as STREAM_HOLE lengths. Then clone, delete, and the pool is torn down.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rvirtd-streams-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A session rvirtd whose runtime and configuration directories are under `home`, logging
/// its streams at debug level to `home/rvirtd.log`.
struct Rvirtd {
    home: PathBuf,
    child: Option<Child>,
}

impl Rvirtd {
    fn start(home: &Path) -> Rvirtd {
        for d in ["run", "config"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        let conf = home.join("rvirtd.conf");
        std::fs::write(&conf, "log_filters = \"1:stream\"\n").unwrap();
        let log = std::fs::File::create(home.join("rvirtd.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
            .arg("--session")
            .arg("-f")
            .arg(&conf)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("HOME", home)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rvirtd");
        let d = Rvirtd {
            home: home.to_path_buf(),
            child: Some(child),
        };
        let t = Instant::now();
        while !d.socket().exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "rvirtd did not start: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }
    fn socket(&self) -> PathBuf {
        self.home.join("run/rvirt/rvirt-sock")
    }
    fn uri(&self) -> String {
        format!("qemu+unix:///session?socket={}", self.socket().display())
    }
    fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("rvirtd.log")).unwrap_or_default()
    }
    /// Runs `prog -c URI args…`; its stdout, or its stderr as the error.
    fn run(&self, prog: &Path, args: &[&str]) -> Result<String, String> {
        let out = Command::new(prog)
            .arg("-c")
            .arg(self.uri())
            .args(args)
            .env_remove("LIBVIRT_DEFAULT_URI")
            .output()
            .unwrap_or_else(|e| panic!("{} must be runnable: {e}", prog.display()));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
    fn ok(&self, prog: &Path, args: &[&str]) -> String {
        self.run(prog, args).unwrap_or_else(|e| {
            panic!(
                "{} {args:?}: {e}\n--- rvirtd log ---\n{}",
                prog.display(),
                self.log()
            )
        })
    }
    /// The stream lines of the daemon's log: (sent data, sent holes, received data,
    /// received holes) of every stream that ended, oldest first.
    fn stream_counters(&self) -> Vec<(u64, u64, u64, u64)> {
        self.log()
            .lines()
            .filter(|l| l.contains("stream") && l.contains("ended: sent"))
            .map(|l| {
                let nums: Vec<u64> = l
                    .split("ended:")
                    .nth(1)
                    .unwrap()
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|w| !w.is_empty())
                    .map(|w| w.parse().unwrap())
                    .collect();
                assert_eq!(nums.len(), 4, "unexpected stream log line: {l}");
                (nums[0], nums[1], nums[2], nums[3])
            })
            .collect()
    }
    /// Waits until the log holds `n` stream lines (a stream's task logs after its last frame).
    fn wait_streams(&self, n: usize) -> Vec<(u64, u64, u64, u64)> {
        let t = Instant::now();
        loop {
            let c = self.stream_counters();
            if c.len() >= n || t.elapsed() > Duration::from_secs(10) {
                assert_eq!(c.len(), n, "stream log lines:\n{}", self.log());
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill with a pid this test spawned.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

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
    d.ok(
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
    d.ok(
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
    let d = Rvirtd::start(&tmp.path("home"));
    let virsh = PathBuf::from("virsh");
    let rvsh = rvsh();
    let pool_dir = tmp.path("pool");
    let src = tmp.path("source.img");
    sparse_source(&src);
    assert!(allocated(&src) <= DATA_MAX, "the source must be sparse");

    d.ok(
        &virsh,
        &[
            "pool-define-as",
            "p",
            "dir",
            "--target",
            pool_dir.to_str().unwrap(),
        ],
    );
    d.ok(&virsh, &["pool-build", "p"]);
    d.ok(&virsh, &["pool-start", "p"]);
    for vol in ["v.img", "r.img"] {
        d.ok(
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

    d.ok(&virsh, &["vol-clone", "--pool", "p", "v.img", "c.img"]);
    same_content(&src, &pool_dir.join("c.img"));
    let list = d.ok(&virsh, &["vol-list", "p"]);
    for vol in ["v.img", "r.img", "c.img"] {
        assert!(list.contains(vol), "{list}");
    }
    for vol in ["c.img", "r.img", "v.img"] {
        d.ok(&virsh, &["vol-delete", "--pool", "p", vol]);
        assert!(!pool_dir.join(vol).exists());
    }
    d.ok(&virsh, &["pool-destroy", "p"]);
    d.ok(&virsh, &["pool-undefine", "p"]);
    assert!(d.run(&virsh, &["pool-info", "p"]).is_err());
}

#[test]
fn failed_stream_call_then_plain_round_trip_in_one_session() {
    let tmp = TempDir::new("err");
    let d = Rvirtd::start(&tmp.path("home"));
    let virsh = PathBuf::from("virsh");
    let pool_dir = tmp.path("pool");
    d.ok(
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
    d.ok(&virsh, &["vol-create-as", "q", "s.img", "1M"]);
    let src = tmp.path("small");
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let back = tmp.path("small.back");
    let script = format!(
        "vol-upload --pool q s.img {}; vol-download --pool q s.img {}; vol-list q",
        src.display(),
        back.display()
    );
    let out = d.ok(&virsh, &[&script]);
    assert!(out.contains("s.img"), "{out}");
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let c = d.wait_streams(2);
    assert_eq!(c[0], (0, 0, 1 << 20, 0));
    assert_eq!(c[1], (1 << 20, 0, 0, 0));
    d.ok(&virsh, &["pool-destroy", "q"]);
}
