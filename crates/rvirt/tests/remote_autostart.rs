//! Session-daemon autostart: when nobody listens on the session socket, the client starts the
//! daemon (`RVIRTD_PATH`, else `rvirtd` next to the program or in PATH) with `--session
//! --timeout 120`, waits for its socket and connects.
//!
//! The "daemon" here is a wrapper that records its arguments and starts Debian's real libvirtd
//! on the socket the client waits for, so the whole path — lock, spawn, wait, connect, open
//! handshake — runs against a real server. Its own test binary: it sets `RVIRTD_PATH`.

use rvirt::remote::sockets::{connect_unix_blocking, SocketKind};
use rvirt::remote::transport::Stream;
use rvirt::remote::{KeepaliveConfig, OpenParams, RemoteDriver};
use rvirt::Driver;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Stops whatever libvirtd wrote its PID into `dir/pid`, even on panic.
struct StopByPid(PathBuf);

impl Drop for StopByPid {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(self.0.join("pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            // SAFETY: kill(2) on the PID of the daemon this test started; no memory effects.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            for _ in 0..50 {
                // SAFETY: signal 0 only probes for the process.
                if unsafe { libc::kill(pid, 0) } != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // SAFETY: as above; harmless if it already exited.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn autostarts_the_session_daemon_and_reports_a_daemon_that_dies() {
    if !Path::new("/usr/sbin/libvirtd").exists() {
        eprintln!("SKIP: libvirtd is not installed (scripts/install-deps.sh installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rvirt-autostart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _guard = StopByPid(dir.clone());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ref-libvirtd.sh");
    let wrapper = dir.join("fake-rvirtd");
    write_exec(
        &wrapper,
        &format!(
            "#!/bin/sh\necho \"$@\" > '{d}/args'\nbash '{s}' start '{d}' > '{d}/start.out'\necho $? > '{d}/started'\n",
            d = dir.display(),
            s = script.display()
        ),
    );
    std::env::set_var("RVIRTD_PATH", &wrapper);

    let sock = dir.join("libvirt-sock");
    // Autostart refused: nothing is started and the error says how to start it.
    let e = connect_unix_blocking(&sock, false, SocketKind::Session).unwrap_err();
    assert!(e.message.contains("rvirtd --session"), "{}", e.message);
    assert!(!dir.join("args").exists());

    let s = connect_unix_blocking(&sock, true, SocketKind::Session).expect("autostart");
    assert_eq!(
        std::fs::read_to_string(dir.join("args")).unwrap().trim(),
        "--session --timeout 120"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        s.set_nonblocking(true).unwrap();
        let stream = Stream::unix(tokio::net::UnixStream::from_std(s).unwrap());
        let drv = RemoteDriver::handshake(
            stream,
            OpenParams {
                name: Some("test:///default".into()),
                uri: Some("test+unix:///default".into()),
                flags: 6,
                auth: None,
                keepalive: KeepaliveConfig::default(),
            },
        )
        .await
        .expect("open handshake with the autostarted daemon");
        let doms = drv.list_all_domains(0).await.unwrap();
        assert_eq!(doms[0].name, "test");
        drv.connect_close().await.unwrap();
    });

    // Let the start script see its daemon up and exit, so nothing of ours outlives the test.
    for _ in 0..150 {
        if dir.join("started").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("started")).unwrap().trim(),
        "0"
    );

    // A daemon that exits before listening: the error names it and its log.
    let other = dir.join("other-sock");
    std::env::set_var("RVIRTD_PATH", "/bin/false");
    let e = connect_unix_blocking(&other, true, SocketKind::Session).unwrap_err();
    assert!(
        e.message.starts_with(&format!(
            "Failed to connect socket to '{}': ",
            other.display()
        )),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("the session daemon /bin/false exited (exit status: 1) before listening"),
        "{}",
        e.message
    );
}
