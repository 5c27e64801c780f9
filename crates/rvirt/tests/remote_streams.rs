//! Streams of the `rvirt` remote driver against Debian's real libvirtd 9.0: volume upload and
//! download (plain and sparse) through libvirtd's storage driver on a `dir` pool in a temp
//! directory (its daemon is started by `scripts/ref-libvirtd.sh`).

use rvirt::driver::vol_stream::SPARSE;
use rvirt::{Chunk, Connect, StreamSource};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running reference libvirtd; stopped by PID on drop.
struct RefDaemon {
    dir: PathBuf,
    pid: i32,
}

impl RefDaemon {
    /// Starts a daemon in a fresh directory, or `None` (with a message) when libvirtd is not
    /// installed or cannot run here.
    fn start(name: &str) -> Option<Self> {
        let installed = ["/usr/sbin/libvirtd", "/usr/bin/libvirtd"]
            .iter()
            .any(|p| Path::new(p).exists());
        if !installed {
            eprintln!("SKIP: libvirtd is not installed (scripts/install-deps.sh installs it)");
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh");
        let dir = std::env::temp_dir().join(format!("rvirt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .output()
            .expect("run ref-libvirtd.sh");
        assert!(
            out.status.success(),
            "ref-libvirtd.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid: i32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("ref-libvirtd.sh prints the daemon's PID");
        Some(Self { dir, pid })
    }
}

impl Drop for RefDaemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a PID we started and a valid signal number has no memory effects.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        for _ in 0..50 {
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(self.pid, 0) } != 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above; a no-op if it is already gone.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn read_all(mut src: StreamSource) -> (Vec<u8>, u64, u64) {
    let (mut out, mut data, mut holes) = (Vec::new(), 0u64, 0u64);
    while let Some(c) = src.recv().await.expect("download chunk") {
        match c {
            Chunk::Data(d) => {
                data += d.len() as u64;
                out.extend_from_slice(&d);
            }
            Chunk::Hole(n) => {
                holes += n;
                out.resize(out.len() + n as usize, 0);
            }
        }
    }
    src.complete(Ok(()));
    (out, data, holes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vol_upload_download_sparse_against_libvirtd() {
    let Some(d) = RefDaemon::start("remote-streams") else {
        return;
    };
    let uri = format!(
        "qemu+unix:///system?socket={}",
        d.dir.join("libvirt-sock").display()
    );
    let conn = Connect::open(Some(&uri)).await.expect("open");
    let pooldir = d.dir.join("pool");
    std::fs::create_dir_all(&pooldir).unwrap();
    let pool = conn
        .storage_pool_create_xml(
            &format!(
                "<pool type='dir'><name>rvirt-streams</name><target><path>{}</path></target></pool>",
                pooldir.display()
            ),
            0,
        )
        .await
        .expect("pool-create");
    const SIZE: usize = 16 << 20;
    let vol = pool
        .volume_create_xml(
            &format!("<volume><name>v.raw</name><capacity>{SIZE}</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>"),
            0,
        )
        .await
        .expect("vol-create");

    // Sparse upload: 1 MiB of data, a 10 MiB hole, 300 KB of data (more than one wire chunk),
    // and a trailing hole.
    let mut expect = vec![0u8; SIZE];
    let a: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..300_000).map(|i| (i % 13 + 1) as u8).collect();
    expect[..a.len()].copy_from_slice(&a);
    let boff = a.len() + (10 << 20);
    expect[boff..boff + b.len()].copy_from_slice(&b);
    let mut sink = vol.upload(0, 0, SPARSE).await.expect("upload");
    sink.send(Chunk::Data(a.clone())).await.unwrap();
    sink.send(Chunk::Hole(10 << 20)).await.unwrap();
    sink.send(Chunk::Data(b.clone())).await.unwrap();
    sink.send(Chunk::Hole((SIZE - boff - b.len()) as u64))
        .await
        .unwrap();
    sink.finish().await.expect("upload finish");
    let on_disk = std::fs::read(pooldir.join("v.raw")).unwrap();
    assert!(on_disk == expect, "libvirtd stored what was uploaded");

    // Sparse download: the holes come back as holes, the data as data.
    let (got, data, holes) = read_all(vol.download(0, 0, SPARSE).await.expect("download")).await;
    assert!(got == expect);
    assert!(data < 4 << 20, "sparse download sent {data} data bytes");
    assert!(holes > 10 << 20, "holes {holes}");

    // Plain download of a range: all data, no holes.
    let (got, data, holes) = read_all(vol.download(4096, 8192, 0).await.expect("download")).await;
    assert_eq!(got, expect[4096..4096 + 8192]);
    assert_eq!((data, holes), (8192, 0));

    // An upload past the requested length fails with libvirtd's error.
    let mut sink = vol.upload(0, 10, 0).await.expect("upload");
    let res = match sink.send(Chunk::Data(vec![1; 20])).await {
        Ok(()) => match sink.send(Chunk::Data(vec![1; 20])).await {
            Ok(()) => sink.finish().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let e = res.expect_err("writing beyond length fails");
    assert!(
        e.message.contains("No space left on device")
            || e.message.contains("cannot write to stream"),
        "{e:?}"
    );

    vol.delete(0).await.unwrap();
    pool.destroy().await.unwrap();
}
