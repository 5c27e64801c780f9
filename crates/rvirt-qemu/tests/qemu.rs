//! Integration tests against real `qemu-system-x86_64` processes (TCG): the QMP client on a
//! `-machine none -S` QEMU, process start/stop, the test guest booting to its marker, seeing its
//! disk and powering off on `system_powerdown`, and re-attaching to a running guest after the
//! process that started it was killed with SIGKILL.

mod common;

use common::*;
use rvirt_qemu::process::{ProcessError, QemuProcess, SpawnConfig, StopOutcome};
use rvirt_qemu::qmp::{Event, EventReceiver, Qmp, QmpError};
use rvirt_qemu::status::LiveStatus;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Marker waits are generous: TCG boots take ~8 s on an idle 2-core machine, several times that
/// when other builds share it.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

async fn next_event(ev: &mut EventReceiver, timeout: Duration) -> Event {
    tokio::time::timeout(timeout, ev.recv())
        .await
        .expect("event within timeout")
        .expect("monitor still open")
        .event
}

/// Waits for an event matching `want`, skipping others (e.g. NIC_RX_FILTER_CHANGED).
async fn wait_event(
    ev: &mut EventReceiver,
    timeout: Duration,
    want: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = next_event(ev, left).await;
        if want(&e) {
            return e;
        }
    }
}

fn spawn_config(name: &str, qemu: &Path, dir: &Path, args: Vec<std::ffi::OsString>) -> SpawnConfig {
    SpawnConfig {
        name: name.into(),
        binary: qemu.to_path_buf(),
        args,
        monitor: dir.join(format!("{name}.monitor")),
        pid_file: dir.join(format!("{name}.pid")),
        log_file: dir.join(format!("{name}.log")),
        env: vec![],
        start_timeout: Duration::from_secs(60),
        pass_fds: vec![],
    }
}

#[tokio::test]
async fn qmp_client_against_machine_none() {
    let Some(qemu) = qemu_or_skip("qmp_client_against_machine_none") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("qmp.sock");
    let mut child = std::process::Command::new(&qemu)
        .args([
            "-machine",
            "none",
            "-S",
            "-nodefaults",
            "-nographic",
            "-no-user-config",
            "-qmp",
        ])
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop::new(child.id() as i32);
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "QEMU did not create {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (qmp, mut ev) = Qmp::connect(&sock, Duration::from_secs(30)).await.unwrap();
    assert!(qmp.greeting().version.major >= 7, "{:?}", qmp.greeting());

    let status = qmp.call("query-status", None).await.unwrap();
    assert_eq!(status["status"], "prelaunch");
    assert_eq!(status["running"], false);
    let version = qmp.call("query-version", None).await.unwrap();
    assert_eq!(version["qemu"]["major"], qmp.greeting().version.major);

    // Many concurrent calls on one client, answered in any order, each to its caller.
    let calls = (0..20).map(|i| {
        let q = qmp.clone();
        async move {
            let cmd = if i % 2 == 0 {
                "query-status"
            } else {
                "query-name"
            };
            (
                i,
                q.execute(cmd, None, Duration::from_secs(30)).await.unwrap(),
            )
        }
    });
    for (i, r) in futures_join_all(calls).await {
        if i % 2 == 0 {
            assert_eq!(r["status"], "prelaunch");
        } else {
            assert!(r.is_object());
        }
    }

    // QEMU's own error, in libvirt's words.
    let e = qmp
        .call("device_del", Some(json!({"id": "nope"})))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, QmpError::Command { class, .. } if class == "DeviceNotFound"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "unable to execute QEMU command 'device_del': Device 'nope' not found"
    );
    let e = qmp.call("no-such-command", None).await.unwrap_err();
    let v: rvirt::Error = e.into();
    assert_eq!(v.code, rvirt::error::code::OPERATION_UNSUPPORTED);

    // quit: SHUTDOWN (host-initiated), then the monitor closes and the process exits.
    qmp.call("quit", None).await.unwrap();
    assert_eq!(
        next_event(&mut ev, Duration::from_secs(30)).await,
        Event::Shutdown {
            guest: false,
            reason: "host-qmp-quit".into()
        }
    );
    let reason = tokio::time::timeout(Duration::from_secs(30), qmp.closed())
        .await
        .unwrap();
    assert_eq!(reason, "end of file from QEMU monitor");
    assert!(child.wait().unwrap().success());
    assert!(matches!(
        qmp.call("query-status", None).await,
        Err(QmpError::Closed { .. })
    ));
}

/// join_all without pulling in the futures crate.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn process_spawn_status_and_stop() {
    let Some(qemu) = qemu_or_skip("process_spawn_status_and_stop") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-machine",
        "none",
        "-S",
        "-nodefaults",
        "-nographic",
        "-no-user-config",
    ]
    .iter()
    .map(Into::into)
    .collect();
    let cfg = spawn_config("idle", &qemu, dir.path(), args);
    let t0 = Instant::now();
    let (p, _ev) = QemuProcess::spawn(&cfg).await.unwrap();
    eprintln!("spawn to QMP ready (machine none): {:?}", t0.elapsed());
    let _guard = KillOnDrop::new(p.pid());
    assert!(p.is_alive());
    let st = p.status();
    assert_eq!(st.pid, p.pid());
    assert_eq!(
        std::fs::read_to_string(&cfg.pid_file).unwrap().trim(),
        p.pid().to_string()
    );
    assert_eq!(Some(st.start_time), start_time(p.pid()));
    let status = p.qmp().call("query-status", None).await.unwrap();
    assert_eq!(status["status"], "prelaunch");
    let log = std::fs::read_to_string(&cfg.log_file).unwrap();
    assert!(log.contains("starting up rvirt version"), "{log}");
    assert!(log.contains("-machine none -S"), "{log}");

    // Graceful stop: QEMU exits on SIGTERM.
    assert_eq!(
        p.stop(Duration::from_secs(30)).await.unwrap(),
        StopOutcome::Terminated
    );
    assert!(!p.is_alive());
    let exit = p.wait().await.expect("our child's exit status");
    assert_eq!(exit.code(), Some(0), "QEMU exits 0 after SIGTERM: {exit:?}");
    assert_eq!(
        p.stop(Duration::from_secs(1)).await.unwrap(),
        StopOutcome::AlreadyExited
    );
    p.cleanup();
    assert!(!cfg.monitor.exists());
    assert!(!cfg.pid_file.exists());
    let log = std::fs::read_to_string(&cfg.log_file).unwrap();
    assert!(log.contains("terminating on signal 15"), "{log}");
}

#[tokio::test]
async fn stop_escalates_to_sigkill_when_sigterm_is_ignored() {
    let Some(qemu) = qemu_or_skip("stop_escalates_to_sigkill_when_sigterm_is_ignored") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-machine",
        "none",
        "-S",
        "-nodefaults",
        "-nographic",
        "-no-user-config",
    ]
    .iter()
    .map(Into::into)
    .collect();
    let cfg = spawn_config("stuck", &qemu, dir.path(), args);
    let (p, _ev) = QemuProcess::spawn(&cfg).await.unwrap();
    let _guard = KillOnDrop::new(p.pid());
    // SIGSTOP makes it ignore SIGTERM (it stays pending), as a wedged QEMU would; SIGKILL still
    // works on a stopped process.
    // SAFETY: signalling the QEMU we just started and still hold.
    assert_eq!(unsafe { libc::kill(p.pid(), libc::SIGSTOP) }, 0);
    let t0 = Instant::now();
    assert_eq!(
        p.stop(Duration::from_millis(500)).await.unwrap(),
        StopOutcome::Killed
    );
    assert!(t0.elapsed() >= Duration::from_millis(500));
    assert!(!p.is_alive());
    let exit = p.wait().await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit.signal(), Some(libc::SIGKILL));
}

#[tokio::test]
async fn spawn_reports_qemu_startup_errors() {
    let Some(qemu) = qemu_or_skip("spawn_reports_qemu_startup_errors") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "-machine",
        "none",
        "-nodefaults",
        "-no-user-config",
        "-drive",
        "file=/nonexistent/disk.img,format=raw",
    ]
    .iter()
    .map(Into::into)
    .collect();
    let cfg = spawn_config("broken", &qemu, dir.path(), args);
    let e = QemuProcess::spawn(&cfg).await.unwrap_err();
    assert!(
        matches!(e, ProcessError::ExitedDuringStartup { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("process exited while connecting to monitor: "),
        "{msg}"
    );
    assert!(msg.contains("/nonexistent/disk.img"), "{msg}");
    assert!(!cfg.monitor.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_boots_sees_its_disk_and_powers_off() {
    let Some(qemu) = qemu_or_skip("guest_boots_sees_its_disk_and_powers_off") else {
        return;
    };
    let guest = test_guest();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk0.raw");
    raw_disk(&disk, 64);
    let serial = dir.path().join("serial.log");
    let cfg = spawn_config(
        "boot",
        &qemu,
        dir.path(),
        guest_args(&guest, "boot", &disk, &serial),
    );
    let t0 = Instant::now();
    let (p, mut ev) = QemuProcess::spawn(&cfg).await.unwrap();
    let _guard = KillOnDrop::new(p.pid());
    let to_qmp = t0.elapsed();
    wait_for_line_async(&serial, &guest.marker, BOOT_TIMEOUT).await;
    eprintln!(
        "test guest: QMP ready after {to_qmp:?}, marker after {:?} (spawn to marker)",
        t0.elapsed()
    );
    let console = std::fs::read_to_string(&serial).unwrap();
    // 64 MiB = 131072 sectors of 512 bytes; the serial number is the device's.
    assert!(console.contains("RVIRT-DISK vda 131072 disk0"), "{console}");
    assert!(console.contains("RVIRT-NIC eth0 "), "{console}");
    let status = p.qmp().call("query-status", None).await.unwrap();
    assert_eq!(status["status"], "running");

    // ACPI power button → the guest's acpid powers it off → SHUTDOWN(guest) → exit.
    let t1 = Instant::now();
    p.qmp().call("system_powerdown", None).await.unwrap();
    assert_eq!(
        wait_event(&mut ev, Duration::from_secs(10), |e| *e == Event::Powerdown).await,
        Event::Powerdown
    );
    let shutdown = wait_event(&mut ev, Duration::from_secs(120), |e| {
        matches!(e, Event::Shutdown { .. })
    })
    .await;
    assert_eq!(
        shutdown,
        Event::Shutdown {
            guest: true,
            reason: "guest-shutdown".into()
        }
    );
    let exit = tokio::time::timeout(Duration::from_secs(30), p.wait())
        .await
        .unwrap();
    eprintln!(
        "test guest: system_powerdown to process exit {:?}",
        t1.elapsed()
    );
    assert!(exit.unwrap().success());
    assert!(std::fs::read_to_string(&serial)
        .unwrap()
        .contains("RVIRT-GUEST-POWEROFF"));
    p.cleanup();
    assert!(!cfg.monitor.exists());
}

/// Env var that turns [`helper_supervisor`] into the short-lived "daemon" of
/// [`reattach_after_the_starter_is_killed`]; its value is the working directory.
const HELPER_ENV: &str = "RVIRT_QEMU_TEST_SUPERVISOR_DIR";

/// Not a test on its own (ignored): run by [`reattach_after_the_starter_is_killed`] in a child
/// process, it starts the test guest through `QemuProcess::spawn`, records its status file and
/// then waits to be killed, like a daemon that dies with a guest running.
#[tokio::test]
#[ignore = "helper process for reattach_after_the_starter_is_killed"]
async fn helper_supervisor() {
    let dir =
        std::path::PathBuf::from(std::env::var_os(HELPER_ENV).expect("run by the reattach test"));
    let qemu = qemu_binary().unwrap();
    let guest = test_guest();
    let disk = dir.join("disk0.raw");
    raw_disk(&disk, 32);
    let serial = dir.join("serial.log");
    let cfg = spawn_config(
        "survivor",
        &qemu,
        &dir,
        guest_args(&guest, "survivor", &disk, &serial),
    );
    let (p, _ev) = QemuProcess::spawn(&cfg).await.unwrap();
    p.status().save(&dir.join("survivor.xml")).unwrap();
    std::fs::write(dir.join("ready"), b"").unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_after_the_starter_is_killed() {
    let Some(_qemu) = qemu_or_skip("reattach_after_the_starter_is_killed") else {
        return;
    };
    let guest = test_guest();
    let dir = tempfile::tempdir().unwrap();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "helper_supervisor", "--nocapture"])
        .env(HELPER_ENV, dir.path())
        .spawn()
        .unwrap();
    let _helper_guard = KillOnDrop::new(helper.id() as i32);
    let status_file = dir.path().join("survivor.xml");
    let t0 = Instant::now();
    while !dir.path().join("ready").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "helper did not start QEMU"
        );
        if let Some(st) = helper.try_wait().unwrap() {
            panic!("helper exited early: {st}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = LiveStatus::load(&status_file).unwrap();
    let _qemu_guard = KillOnDrop::new(status.pid);

    // The "daemon" dies hard; its QEMU must keep running.
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert!(
        start_time(status.pid).is_some(),
        "QEMU died with its starter"
    );

    let (p, mut ev) = QemuProcess::attach("survivor", &status, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(p.pid(), status.pid);
    assert_eq!(p.status(), status);
    // The guest keeps booting under its new supervisor.
    let serial = dir.path().join("serial.log");
    wait_for_line_async(&serial, &guest.marker, BOOT_TIMEOUT).await;
    assert!(std::fs::read_to_string(&serial)
        .unwrap()
        .contains("RVIRT-DISK vda 65536 disk0"));
    let st = p.qmp().call("query-status", None).await.unwrap();
    assert_eq!(st["status"], "running");

    // A record whose start time does not match is refused (the pid might have been reused).
    let mut forged = status.clone();
    forged.start_time += 1;
    let e = QemuProcess::attach("survivor", &forged, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::NotOurs { .. }), "{e}");

    // Shutdown still works through the re-attached monitor.
    p.qmp().call("system_powerdown", None).await.unwrap();
    let shutdown = wait_event(&mut ev, Duration::from_secs(120), |e| {
        matches!(e, Event::Shutdown { .. })
    })
    .await;
    assert_eq!(
        shutdown,
        Event::Shutdown {
            guest: true,
            reason: "guest-shutdown".into()
        }
    );
    // Not our child: no exit status, but the pidfd still sees the exit.
    let exit = tokio::time::timeout(Duration::from_secs(30), p.wait())
        .await
        .unwrap();
    assert_eq!(exit, None);
    assert!(!p.is_alive());
    p.cleanup();
    assert!(!status.monitor.exists());

    // Re-attaching to the record of a process that has gone is refused.
    let e = QemuProcess::attach("survivor", &status, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, ProcessError::NotRunning { .. }), "{e}");
}
