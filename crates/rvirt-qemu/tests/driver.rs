//! `QemuDriver` against real QEMU (TCG, domain type `qemu`) booting the test guest: the
//! lifecycle with its events, suspend/resume, the founding disk rule on a qcow2 chain, a driver
//! dropped while guests run and a new one re-attaching, and concurrent starts while listing
//! stays fast. Every QEMU is killed at the end even when a test fails (`KillOnDrop`).

mod common;

use common::*;
use rvirt::types::{lifecycle, DomainRef, Event};
use rvirt::Driver;
use rvirt_qemu::driver::{DriverPaths, QemuDriver};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const MARKER: &str = "RVIRT-GUEST-READY";

fn paths(root: &Path) -> DriverPaths {
    DriverPaths {
        // One probe cache for all tests of this binary: probing is slow and keyed by the binary.
        cache: Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu-caps-cache"),
        ..DriverPaths::under(root)
    }
}

struct Setup {
    dir: tempfile::TempDir,
    guest: TestGuest,
}

fn setup(test: &str) -> Option<Setup> {
    qemu_or_skip(test)?;
    let guest = test_guest();
    Some(Setup {
        dir: tempfile::tempdir().unwrap(),
        guest,
    })
}

impl Setup {
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn serial(&self, name: &str) -> PathBuf {
        self.root().join(format!("{name}.serial"))
    }
    /// The test guest's domain XML with one virtio disk.
    fn xml(&self, name: &str, disk: &Path, format: &str) -> String {
        let g = &self.guest;
        format!(
            "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{}</kernel>
    <initrd>{}</initrd>
    <cmdline>{}</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='{format}'/>
      <source file='{}'/>
      <target dev='vda' bus='virtio'/>
      <serial>disk0</serial>
    </disk>
    <interface type='user'>
      <mac address='52:54:00:12:34:56'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='{}'/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
",
            g.kernel.display(),
            g.initrd.display(),
            g.cmdline,
            disk.display(),
            self.serial(name).display()
        )
    }
    fn raw_disk(&self, name: &str) -> PathBuf {
        let p = self.root().join(format!("{name}.img"));
        raw_disk(&p, 16);
        p
    }
}

/// Kills a domain's QEMU if the test ends with it still running.
fn guard(drv: &QemuDriver, dom: &DomainRef) -> KillOnDrop {
    KillOnDrop::new(drv.pid(dom).expect("running domain has a pid"))
}

/// Lifecycle events (event, detail) for domain `name`, waiting for `n` of them.
async fn events_for(
    rx: &mut broadcast::Receiver<Event>,
    name: &str,
    n: usize,
    timeout: Duration,
) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(Event::DomainLifecycle { dom, event, detail })) if dom.name == name => {
                out.push((event, detail))
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event channel: {e}"),
            Err(_) => panic!("only {out:?} of {n} events for {name} within {timeout:?}"),
        }
    }
    out
}

async fn wait_state(drv: &QemuDriver, dom: &DomainRef, want: (i32, i32), timeout: Duration) {
    let t0 = Instant::now();
    loop {
        let s = drv.domain_get_state(dom, 0).await.unwrap();
        if s == want {
            return;
        }
        assert!(t0.elapsed() < timeout, "state {s:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_with_events() {
    let Some(s) = setup("lifecycle_with_events") else {
        return;
    };
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let mut ev = drv.subscribe().unwrap();
    let disk = s.raw_disk("life");
    let dom = drv
        .domain_define_xml(&s.xml("life", &disk, "raw"), 0)
        .await
        .unwrap();
    assert!(s.root().join("config/life.xml").exists());
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (5, 0));

    // Start → marker in the serial log.
    let t0 = Instant::now();
    let dom = drv.domain_create(&dom, 0).await.unwrap();
    let _g = guard(&drv, &dom);
    assert!(dom.id > 0);
    assert!(
        s.root().join("run/life.xml").exists(),
        "live status written"
    );
    let boot = wait_for_line_async(&s.serial("life"), MARKER, BOOT_TIMEOUT).await;
    eprintln!(
        "start → marker: {:?} (create returned after {:?})",
        boot,
        t0.elapsed() - boot
    );
    let serial = std::fs::read_to_string(s.serial("life")).unwrap();
    assert!(serial.contains("RVIRT-DISK vda 32768 disk0"), "{serial}");
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (1, 1));
    let info = drv.domain_get_info(&dom).await.unwrap();
    assert_eq!((info.state, info.max_mem, info.nr_virt_cpu), (1, 262144, 1));
    assert!(info.cpu_time > 0, "cpu time {}", info.cpu_time);
    let live = drv.domain_get_xml_desc(&dom, 0).await.unwrap();
    assert!(live.contains(&format!("id='{}'", dom.id)), "{live}");

    // Suspend / resume.
    drv.domain_suspend(&dom).await.unwrap();
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (3, 1));
    drv.domain_resume(&dom).await.unwrap();
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (1, 5));

    // ACPI shutdown → shut off, reason shutdown.
    drv.domain_shutdown(&dom, 0).await.unwrap();
    wait_state(&drv, &dom, (5, 1), Duration::from_secs(60)).await;
    assert!(!s.root().join("run/life.xml").exists(), "status removed");
    let got = events_for(&mut ev, "life", 6, Duration::from_secs(10)).await;
    assert_eq!(
        got,
        vec![
            (lifecycle::DEFINED, 0),
            (lifecycle::STARTED, 0),
            (lifecycle::SUSPENDED, 0),
            (lifecycle::RESUMED, 0),
            (lifecycle::SHUTDOWN, 1), // guest-initiated (ACPI power button)
            (lifecycle::STOPPED, 0),  // shutdown
        ]
    );

    // Start again → destroy → undefine.
    let dom = drv.domain_create(&dom, 0).await.unwrap();
    let _g2 = guard(&drv, &dom);
    wait_for_line_async(&s.serial("life"), MARKER, BOOT_TIMEOUT).await;
    drv.domain_destroy(&dom, 0).await.unwrap();
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (5, 2));
    drv.domain_undefine(&dom, 0).await.unwrap();
    let got = events_for(&mut ev, "life", 3, Duration::from_secs(10)).await;
    assert_eq!(
        got,
        vec![
            (lifecycle::STARTED, 0),
            (lifecycle::STOPPED, 1), // destroyed
            (lifecycle::UNDEFINED, 0),
        ]
    );
    assert!(drv.list_all_domains(0).await.unwrap().is_empty());
    assert_eq!(leftovers(&s.root().join("run")), Vec::<String>::new());
    assert_eq!(leftovers(&s.root().join("config")), Vec::<String>::new());
    let err = drv.domain_get_state(&dom, 0).await.unwrap_err();
    assert_eq!(err.code, rvirt::error::code::NO_DOMAIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrecorded_backing_format_is_refused_then_boots_with_f() {
    let Some(s) = setup("unrecorded_backing_format_is_refused_then_boots_with_f") else {
        return;
    };
    assert!(
        have_qemu_img(),
        "qemu-img is needed (scripts/install-qemu.sh)"
    );
    let dir = s.root().join("images");
    std::fs::create_dir_all(&dir).unwrap();
    raw_disk(&dir.join("base.raw"), 16);
    let img = |args: &[&str]| qemu_img(&dir, args);
    img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "base.raw",
        "-F",
        "raw",
        "mid.qcow2",
    ]);
    img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "mid.qcow2",
        "-F",
        "qcow2",
        "top.qcow2",
    ]);
    // top's backing format unrecorded, over mid, which has a backing file of its own.
    unrecord_backing_format(&dir.join("top.qcow2"));

    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let top = dir.join("top.qcow2");
    let dom = drv
        .domain_define_xml(&s.xml("chain", &top, "qcow2"), 0)
        .await
        .unwrap();
    let err = drv.domain_create(&dom, 0).await.unwrap_err();
    assert_eq!(err.code, rvirt::error::code::OPERATION_INVALID);
    assert_eq!(
        err.message,
        format!(
            "Requested operation is not valid: format of backing image 'mid.qcow2' of image \
             '{}' was not specified in the image metadata (See \
             https://libvirt.org/kbase/backing_chains.html for troubleshooting)",
            top.display()
        )
    );
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (5, 0));
    assert!(!s.serial("chain").exists(), "no QEMU was started");
    assert_eq!(leftovers(&s.root().join("run")), Vec::<String>::new());

    // Recording the format (qemu-img rebase -u -F) makes the same chain start; the guest sees
    // the disk with the base image's size.
    img(&[
        "rebase",
        "-u",
        "-b",
        "mid.qcow2",
        "-F",
        "qcow2",
        "top.qcow2",
    ]);
    let dom = drv.domain_create(&dom, 0).await.unwrap();
    let _g = guard(&drv, &dom);
    wait_for_line_async(&s.serial("chain"), MARKER, BOOT_TIMEOUT).await;
    let serial = std::fs::read_to_string(s.serial("chain")).unwrap();
    assert!(serial.contains("RVIRT-DISK vda 32768 disk0"), "{serial}");
    let log = std::fs::read_to_string(drv.log_file("chain")).unwrap();
    assert!(
        log.contains("\"driver\":\"raw\",\"file\":\"libvirt-3-storage\""),
        "{log}"
    );
    drv.domain_destroy(&dom, 0).await.unwrap();
    drv.domain_undefine(&dom, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_driver_reattaches_to_running_guests() {
    let Some(s) = setup("new_driver_reattaches_to_running_guests") else {
        return;
    };
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let mut guards = Vec::new();
    let mut pids = Vec::new();
    for name in ["ra", "rb"] {
        let disk = s.raw_disk(name);
        let dom = drv
            .domain_define_xml(&s.xml(name, &disk, "raw"), 0)
            .await
            .unwrap();
        let dom = drv.domain_create(&dom, 0).await.unwrap();
        guards.push(guard(&drv, &dom));
        pids.push(drv.pid(&dom).unwrap());
    }
    for name in ["ra", "rb"] {
        wait_for_line_async(&s.serial(name), MARKER, BOOT_TIMEOUT).await;
    }
    // The driver goes away without stopping anything (as when rvirtd is killed).
    drop(drv);
    for p in &pids {
        assert!(start_time(*p).is_some(), "QEMU {p} survived the driver");
    }

    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let running = drv
        .list_all_domains(rvirt::types::list_domains::RUNNING)
        .await
        .unwrap();
    let mut names: Vec<_> = running.iter().map(|d| d.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["ra", "rb"]);
    for d in &running {
        assert!(d.id > 0);
        let live = drv.domain_get_xml_desc(d, 0).await.unwrap();
        assert!(live.contains(&format!("id='{}'", d.id)), "{live}");
        assert_eq!(drv.domain_get_state(d, 0).await.unwrap(), (1, 1));
    }
    let mut ev = drv.subscribe().unwrap();
    let ra = drv.domain_lookup_by_name("ra").await.unwrap();
    let rb = drv.domain_lookup_by_name("rb").await.unwrap();
    drv.domain_shutdown(&ra, 0).await.unwrap();
    wait_state(&drv, &ra, (5, 1), Duration::from_secs(60)).await;
    assert_eq!(
        events_for(&mut ev, "ra", 2, Duration::from_secs(5)).await,
        vec![(lifecycle::SHUTDOWN, 1), (lifecycle::STOPPED, 0)]
    );
    drv.domain_destroy(&rb, 0).await.unwrap();
    for d in [&ra, &rb] {
        drv.domain_undefine(d, 0).await.unwrap();
    }
    for p in &pids {
        let t0 = Instant::now();
        while start_time(*p).is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "QEMU {p} still running"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(leftovers(&s.root().join("run")), Vec::<String>::new());
    assert_eq!(leftovers(&s.root().join("config")), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_guest_is_marked_crashed_on_reattach() {
    let Some(s) = setup("dead_guest_is_marked_crashed_on_reattach") else {
        return;
    };
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let disk = s.raw_disk("dead");
    let dom = drv
        .domain_define_xml(&s.xml("dead", &disk, "raw"), 0)
        .await
        .unwrap();
    let dom = drv.domain_create(&dom, 0).await.unwrap();
    let g = guard(&drv, &dom);
    drop(drv);
    drop(g); // SIGKILL while no driver watches
    std::thread::sleep(Duration::from_millis(300));
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let dom = drv.domain_lookup_by_name("dead").await.unwrap();
    assert_eq!(dom.id, -1);
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (5, 3));
    assert_eq!(leftovers(&s.root().join("run")), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_guests_while_list_stays_fast() {
    let Some(s) = setup("four_concurrent_guests_while_list_stays_fast") else {
        return;
    };
    let drv = std::sync::Arc::new(QemuDriver::open(paths(s.root())).await.unwrap());
    let names = ["c1", "c2", "c3", "c4"];
    let mut doms = Vec::new();
    for n in names {
        let disk = s.raw_disk(n);
        doms.push(
            drv.domain_define_xml(&s.xml(n, &disk, "raw"), 0)
                .await
                .unwrap(),
        );
    }
    let starts: Vec<_> = doms
        .iter()
        .cloned()
        .map(|d| {
            let drv = drv.clone();
            tokio::spawn(async move { drv.domain_create(&d, 0).await })
        })
        .collect();
    // List while they start and boot.
    let mut worst = Duration::ZERO;
    let mut guards = Vec::new();
    let mut started = Vec::new();
    for h in starts {
        while !h.is_finished() {
            let t = Instant::now();
            drv.list_all_domains(0).await.unwrap();
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let d = h.await.unwrap().unwrap();
        guards.push(guard(&drv, &d));
        started.push(d);
    }
    let t0 = Instant::now();
    let mut ready = [false; 4];
    while ready.iter().any(|r| !r) {
        assert!(t0.elapsed() < BOOT_TIMEOUT, "markers: {ready:?}");
        for (i, n) in names.iter().enumerate() {
            ready[i] =
                ready[i] || std::fs::read_to_string(s.serial(n)).is_ok_and(|t| t.contains(MARKER));
        }
        let t = Instant::now();
        let l = drv.list_all_domains(0).await.unwrap();
        worst = worst.max(t.elapsed());
        assert_eq!(l.len(), 4);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "4 guests at their marker after {:?}; slowest list {:?}",
        t0.elapsed(),
        worst
    );
    assert!(worst < Duration::from_millis(50), "list took {worst:?}");
    for d in &started {
        drv.domain_destroy(d, 0).await.unwrap();
        drv.domain_undefine(d, 0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_is_acpi_then_reset_and_connect_queries() {
    let Some(s) = setup("reboot_is_acpi_then_reset_and_connect_queries") else {
        return;
    };
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    assert_eq!(drv.connect_get_type().await.unwrap(), "QEMU");
    assert_eq!(drv.connect_get_uri().await.unwrap(), "qemu:///session");
    assert!(drv.connect_get_version().await.unwrap() >= 8_000_000);
    let caps = drv.connect_get_capabilities().await.unwrap();
    assert!(caps.contains("<domain type='qemu'"), "{caps}");

    let mut ev = drv.subscribe().unwrap();
    let disk = s.raw_disk("rb");
    let dom = drv
        .domain_define_xml(&s.xml("rb", &disk, "raw"), 0)
        .await
        .unwrap();
    let dom = drv.domain_create(&dom, 0).await.unwrap();
    let _g = guard(&drv, &dom);
    let serial = s.serial("rb");
    wait_for_line_async(&serial, MARKER, BOOT_TIMEOUT).await;
    drv.domain_reboot(&dom, 0).await.unwrap();
    // The guest powers off by ACPI, QEMU pauses instead of exiting, and is reset: it boots again
    // in the same process and the domain never leaves "running".
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&serial).unwrap_or_default();
        if text.matches(MARKER).count() >= 2 {
            break;
        }
        assert!(t0.elapsed() < BOOT_TIMEOUT, "no second boot:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap().0, 1);
    // Reset: immediate, also a reboot event.
    drv.domain_reset(&dom, 0).await.unwrap();
    let mut reboots = 0;
    let t0 = Instant::now();
    while reboots < 2 {
        let left = Duration::from_secs(10).saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, ev.recv()).await {
            Ok(Ok(Event::DomainReboot { dom })) if dom.name == "rb" => reboots += 1,
            Ok(Ok(Event::DomainLifecycle { dom, event, .. })) if dom.name == "rb" => {
                assert!(
                    [lifecycle::DEFINED, lifecycle::STARTED].contains(&event),
                    "unexpected lifecycle event {event} during reboot"
                );
            }
            Ok(_) => {}
            Err(_) => panic!("{reboots} reboot events"),
        }
    }
    drv.domain_destroy(&dom, 0).await.unwrap();
    drv.domain_undefine(&dom, 0).await.unwrap();
}

#[tokio::test]
async fn define_conflicts_leave_existing_config_alone() {
    let dir = tempfile::tempdir().unwrap();
    let drv = QemuDriver::open(paths(dir.path())).await.unwrap();
    let xml = |uuid: &str| {
        format!(
            "<domain type='qemu'><name>same</name><uuid>{uuid}</uuid>\
             <memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>"
        )
    };
    let a = drv
        .domain_define_xml(&xml("11111111-2222-3333-4444-555555555555"), 0)
        .await
        .unwrap();
    let err = drv
        .domain_define_xml(&xml("99999999-2222-3333-4444-555555555555"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "operation failed: domain 'same' already exists with uuid \
         11111111-2222-3333-4444-555555555555"
    );
    let cfg = std::fs::read_to_string(dir.path().join("config/same.xml")).unwrap();
    assert!(
        cfg.contains("11111111-2222-3333-4444-555555555555"),
        "{cfg}"
    );
    // QEMU defaults were applied on define.
    assert!(cfg.contains("machine='pc'"), "{cfg}");
    assert!(cfg.contains("<memballoon model='virtio'"), "{cfg}");
    // Autostart is a symlink in autostart/, and a new driver reads it back.
    drv.domain_set_autostart(&a, true).await.unwrap();
    assert!(dir.path().join("config/autostart/same.xml").is_symlink());
    let err = drv.domain_suspend(&a).await.unwrap_err();
    assert_eq!(
        err.message,
        "Requested operation is not valid: domain is not running"
    );
    drv.domain_set_autostart(&a, false).await.unwrap();
    drop(drv);
    let drv = QemuDriver::open(paths(dir.path())).await.unwrap();
    let a = drv.domain_lookup_by_name("same").await.unwrap();
    assert!(!drv.domain_get_autostart(&a).await.unwrap());
    drv.domain_undefine(&a, 0).await.unwrap();
    assert!(!dir.path().join("config/same.xml").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_qemu_blocks_neither_list_nor_other_domains() {
    let Some(s) = setup("hung_qemu_blocks_neither_list_nor_other_domains") else {
        return;
    };
    let drv = std::sync::Arc::new(QemuDriver::open(paths(s.root())).await.unwrap());
    drv.set_timeouts(Duration::from_secs(2), Duration::from_secs(1));
    let mut doms = Vec::new();
    let mut guards = Vec::new();
    for n in ["hung", "fine"] {
        let disk = s.raw_disk(n);
        let d = drv
            .domain_define_xml(&s.xml(n, &disk, "raw"), 0)
            .await
            .unwrap();
        let d = drv.domain_create(&d, 0).await.unwrap();
        guards.push(guard(&drv, &d));
        doms.push(d);
    }
    let (hung, fine) = (&doms[0], &doms[1]);
    let pid = drv.pid(hung).unwrap();
    // SAFETY: SIGSTOP to the QEMU this test started (its guard holds pid + start time).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);

    // A call on the hung domain times out, holding its job meanwhile...
    let d2 = drv.clone();
    let h2 = hung.clone();
    let t0 = Instant::now();
    let suspend = tokio::spawn(async move { d2.domain_suspend(&h2).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...a second modifying call on it gives up waiting for the job...
    let err = drv.domain_resume(hung).await.unwrap_err();
    assert_eq!(err.code, rvirt::error::code::OPERATION_TIMEOUT);
    assert_eq!(
        err.message,
        "Timed out during operation: cannot acquire state change lock (held by suspend)"
    );
    // ...while list, queries and the other domain answer at once.
    let t = Instant::now();
    assert_eq!(drv.list_all_domains(0).await.unwrap().len(), 2);
    assert_eq!(drv.domain_get_state(hung, 0).await.unwrap(), (1, 1));
    drv.domain_suspend(fine).await.unwrap();
    drv.domain_resume(fine).await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    let err = suspend.await.unwrap().unwrap_err();
    assert_eq!(
        err.code,
        rvirt::error::code::OPERATION_TIMEOUT,
        "{}",
        err.message
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Destroy does not need QMP: the stopped process is killed.
    drv.domain_destroy(hung, 0).await.unwrap();
    assert_eq!(drv.domain_get_state(hung, 0).await.unwrap(), (5, 2));
    drv.domain_destroy(fine, 0).await.unwrap();
    for d in &doms {
        drv.domain_undefine(d, 0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_domains_start_when_the_driver_opens() {
    let Some(s) = setup("autostart_domains_start_when_the_driver_opens") else {
        return;
    };
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let disk = s.raw_disk("auto");
    let dom = drv
        .domain_define_xml(&s.xml("auto", &disk, "raw"), 0)
        .await
        .unwrap();
    drv.domain_set_autostart(&dom, true).await.unwrap();
    drop(drv);
    let drv = QemuDriver::open(paths(s.root())).await.unwrap();
    let dom = drv.domain_lookup_by_name("auto").await.unwrap();
    let _g = guard(&drv, &dom);
    assert!(dom.id > 0, "autostarted");
    assert_eq!(drv.domain_get_state(&dom, 0).await.unwrap(), (1, 1));
    assert!(drv.domain_get_autostart(&dom).await.unwrap());
    drv.domain_destroy(&dom, 0).await.unwrap();
    drv.domain_undefine(&dom, 0).await.unwrap();
    assert!(!s.root().join("config/autostart/auto.xml").exists());
}
