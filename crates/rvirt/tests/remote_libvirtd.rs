//! The `rvirt` crate's remote driver against Debian's real libvirtd 9.0 (its test driver, on a
//! private socket started by `scripts/ref-libvirtd.sh`).
//!
//! Each test starts its own daemon (the `test:///default` state is shared by all clients of one
//! daemon) and a guard stops it by PID, even when the test panics.

use rvirt::error::{code, domain};
use rvirt::{lifecycle, list_domains, Connect, Event, EventKind};
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

    fn uri(&self) -> String {
        format!(
            "test+unix:///default?socket={}",
            self.dir.join("libvirt-sock").display()
        )
    }

    fn ro_uri(&self) -> String {
        format!(
            "test+unix:///default?socket={}",
            self.dir.join("libvirt-sock-ro").display()
        )
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

const DOMAIN_XML: &str = "<domain type='test'>
  <name>rvirt-remote-t1</name>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu>2</vcpu>
  <os><type arch='i686'>hvm</type></os>
</domain>";

async fn next_event_for(
    rx: &mut tokio::sync::broadcast::Receiver<Event>,
    name: &str,
) -> (i32, i32) {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no event within 10 s")
            .expect("event channel open");
        if let Event::DomainLifecycle { dom, event, detail } = ev {
            if dom.name == name {
                return (event, detail);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_lifecycle_host_info_and_events_against_libvirtd() {
    let Some(d) = RefDaemon::start("remote-lifecycle") else {
        return;
    };
    let conn = Connect::open(Some(&d.uri())).await.expect("open");
    assert_eq!(conn.get_type().await.unwrap(), "TEST");
    assert_eq!(conn.get_uri().await.unwrap(), d.uri());
    assert!(conn.get_lib_version().await.unwrap() >= 9_000_000);
    assert!(conn.is_secure().await.unwrap());

    // The test driver's default objects.
    let all = conn
        .list_all_domains(list_domains::ACTIVE | list_domains::INACTIVE)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|d| d.name()).collect::<Vec<_>>(),
        vec!["test"]
    );
    let test = conn.domain_lookup_by_name("test").await.unwrap();
    assert_eq!(test.uuid_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    assert_eq!(test.id(), 1);
    let by_id = conn.domain_lookup_by_id(1).await.unwrap();
    assert_eq!(by_id.name(), "test");
    let by_uuid = conn
        .domain_lookup_by_uuid_string("6695eb01-f6a4-8304-79aa-97f2502e193f")
        .await
        .unwrap();
    assert_eq!(by_uuid.name(), "test");
    assert!(test
        .xml_desc(0)
        .await
        .unwrap()
        .contains("<name>test</name>"));
    assert_eq!(test.os_type().await.unwrap(), "linux");
    let missing = conn.domain_lookup_by_name("nosuch").await.unwrap_err();
    assert_eq!(missing.code, code::NO_DOMAIN);
    assert_eq!(missing.domain, domain::TEST);
    // libvirt 9.0's test driver reports the bare message (captured from virsh too).
    assert_eq!(missing.message, "Domain not found");

    let node = conn.node_info().await.unwrap();
    assert_eq!(node.model, "i686");
    assert_eq!(node.cpus, 16);
    assert!(conn
        .get_capabilities()
        .await
        .unwrap()
        .contains("<capabilities>"));
    let nets = conn.list_all_networks(0).await.unwrap();
    assert_eq!(
        nets.iter().map(|n| n.name()).collect::<Vec<_>>(),
        vec!["default"]
    );
    assert!(nets[0].is_active().await.unwrap());
    let pools = conn.list_all_storage_pools(0).await.unwrap();
    assert_eq!(
        pools.iter().map(|p| p.name()).collect::<Vec<_>>(),
        vec!["default-pool"]
    );
    assert!(pools[0]
        .xml_desc(0)
        .await
        .unwrap()
        .contains("<name>default-pool</name>"));

    // Define, start, suspend, resume, destroy, undefine; each raises a lifecycle event.
    let mut events = conn.events(EventKind::DomainLifecycle).await.unwrap();
    let mut dom = conn.domain_define_xml(DOMAIN_XML, 0).await.unwrap();
    assert_eq!(dom.id(), -1);
    assert!(!dom.is_active().await.unwrap());
    assert!(dom.is_persistent().await.unwrap());
    dom.create(0).await.unwrap();
    assert!(dom.id() > 0, "create refreshes the id");
    assert_eq!(dom.state(0).await.unwrap().0, 1);
    dom.suspend().await.unwrap();
    assert_eq!(dom.info().await.unwrap().state, rvirt::domain_state::PAUSED);
    dom.resume().await.unwrap();
    let info = dom.info().await.unwrap();
    assert_eq!(info.state, rvirt::domain_state::RUNNING);
    assert_eq!(info.nr_virt_cpu, 2);
    assert_eq!(info.max_mem, 65536);
    assert!(dom.xml_desc(0).await.unwrap().contains("rvirt-remote-t1"));
    dom.destroy(0).await.unwrap();
    assert!(!dom.is_active().await.unwrap());
    dom.undefine(0).await.unwrap();
    let gone = conn
        .domain_lookup_by_name("rvirt-remote-t1")
        .await
        .unwrap_err();
    assert_eq!(gone.code, code::NO_DOMAIN);

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(next_event_for(&mut events, "rvirt-remote-t1").await.0);
    }
    assert_eq!(
        seen,
        vec![
            lifecycle::DEFINED,
            lifecycle::STARTED,
            lifecycle::SUSPENDED,
            lifecycle::RESUMED,
            lifecycle::STOPPED,
            lifecycle::UNDEFINED
        ]
    );

    // Network and storage pool events, registered with their own procedures (313, 368).
    let mut others = conn.events(EventKind::NetworkLifecycle).await.unwrap();
    conn.events(EventKind::PoolLifecycle).await.unwrap();
    conn.events(EventKind::PoolRefresh).await.unwrap();
    let net = conn
        .network_define_xml(
            "<network><name>rvirt-net</name><bridge name='rvirtbr9'/></network>",
            0,
        )
        .await
        .unwrap();
    assert!(!net.is_active().await.unwrap());
    net.undefine().await.unwrap();
    let pool = conn
        .storage_pool_define_xml(
            "<pool type='dir'><name>rvirt-pool</name><target><path>/var/lib/rvirt-pool</path></target></pool>",
            0,
        )
        .await
        .unwrap();
    pool.undefine().await.unwrap();
    pools[0].refresh(0).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        let ev = tokio::time::timeout(Duration::from_secs(10), others.recv())
            .await
            .expect("no network/pool event within 10 s")
            .unwrap();
        match ev {
            Event::NetworkLifecycle { net, event, .. } => {
                got.push(format!("net {} {event}", net.name))
            }
            Event::PoolLifecycle { pool, event, .. } => {
                got.push(format!("pool {} {event}", pool.name))
            }
            Event::PoolRefresh { pool } => got.push(format!("refresh {}", pool.name)),
            _ => {}
        }
    }
    assert_eq!(
        got,
        vec![
            "net rvirt-net 0",
            "net rvirt-net 1",
            "pool rvirt-pool 0",
            "pool rvirt-pool 1",
            "refresh default-pool"
        ]
    );

    // Many calls in flight at once from many tasks over the one connection.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            c.domain_lookup_by_name("test").await.map(|d| d.id())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }

    let keep = conn.clone();
    conn.close().await.unwrap();
    let closed = keep.get_type().await.unwrap_err();
    assert_eq!(closed.code, code::INTERNAL_ERROR);
    assert_eq!(closed.message, "internal error: client socket is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_reach_the_caller_unchanged() {
    let Some(d) = RefDaemon::start("remote-errors") else {
        return;
    };
    // The read-only socket: the server refuses the define itself.
    let ro = Connect::open_read_only(Some(&d.ro_uri())).await.unwrap();
    assert_eq!(ro.list_all_domains(0).await.unwrap().len(), 1);
    let denied = ro
        .driver()
        .domain_define_xml(DOMAIN_XML, 0)
        .await
        .unwrap_err();
    assert_eq!(denied.code, code::OPERATION_DENIED, "{denied:?}");
    assert!(
        denied.message.contains("read only access prevents"),
        "{}",
        denied.message
    );
    // The read-write socket opened read-only: the RO flag in CONNECT_OPEN is honoured too.
    let ro2 = Connect::open_read_only(Some(&d.uri())).await.unwrap();
    let denied = ro2
        .driver()
        .domain_define_xml(DOMAIN_XML, 0)
        .await
        .unwrap_err();
    assert_eq!(denied.code, code::OPERATION_DENIED, "{denied:?}");

    // A procedure number libvirt 9.0 does not know becomes "not supported".
    let uri = rvirt::uri::Uri::parse(&d.uri()).unwrap();
    let drv = rvirt::remote::open_remote(&uri, false, None).await.unwrap();
    let e = drv.client().call::<_, ()>(444, &()).await.unwrap_err();
    assert_eq!(e.code, code::NO_SUPPORT, "{e:?}");
    assert_eq!(e.domain, domain::RPC);
    assert_eq!(e.message, "unknown procedure: 444");

    // Driver errors come through as the server sent them.
    let conn = Connect::open(Some(&d.uri())).await.unwrap();
    let mut test = conn.domain_lookup_by_name("test").await.unwrap();
    assert_eq!(test.security_labels().await.unwrap(), vec![]);
    let e = test.create(0).await.unwrap_err();
    assert_eq!(e.code, code::INTERNAL_ERROR, "{e:?}");
    assert_eq!(e.domain, domain::TEST);
    assert_eq!(
        e.message,
        "internal error: Domain 'test' is already running"
    );
    let e = conn.domain_define_xml("<domain>", 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (code::XML_DETAIL, domain::DOMAIN),
        "{e:?}"
    );
    assert!(
        e.message
            .starts_with("(domain_definition):1: Premature end of data in tag domain line 1"),
        "{}",
        e.message
    );

    // A socket nobody listens on: libvirt's message, the path, and a hint.
    let dead = format!(
        "test+unix:///default?socket={}",
        d.dir.join("nosuch-sock").display()
    );
    let e = Connect::open(Some(&dead)).await.unwrap_err();
    assert_eq!(e.code, code::SYSTEM_ERROR);
    assert!(
        e.message.starts_with(&format!(
            "Failed to connect socket to '{}': No such file or directory",
            d.dir.join("nosuch-sock").display()
        )),
        "{}",
        e.message
    );

    // The daemon going away fails calls with libvirt's errors instead of hanging.
    let doomed = Connect::open(Some(&d.uri())).await.unwrap();
    drop(d);
    let e = tokio::time::timeout(Duration::from_secs(10), doomed.get_hostname())
        .await
        .expect("call after daemon exit must not hang")
        .unwrap_err();
    assert!(
        e.message == "End of file while reading data: Input/output error"
            || e.message == "internal error: client socket is closed",
        "{e:?}"
    );
}
