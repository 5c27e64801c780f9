//! `--json` output (an rvsh extension) against a reference libvirtd's test driver: every JSON
//! command prints one document whose values are the ones virsh prints as text for the same
//! objects (the test driver's defaults, and a volume whose sizes are read back with
//! `virsh vol-info --bytes`).

mod common;

use common::{client_command, require_reference, Holder, RefDaemon, TempDir};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;

fn run(client: &Path, home: &Path, args: &[&str]) -> (String, String, i32) {
    let out = client_command(client, home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run client");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn json_documents_carry_virsh_values() {
    require_reference();
    let dir = TempDir::new("json");
    let d = RefDaemon::start(&dir.0);
    let uri = d.uri(false);
    let rvsh = Path::new(env!("CARGO_BIN_EXE_rvsh"));
    let home = dir.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    // Keep one connection open so the test driver keeps its state between invocations.
    let holder = Holder {
        child: Some(
            client_command(rvsh, &home)
                .args(["-c", &uri, "event", "--all", "--loop"])
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(dir.0.join("ev")).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ),
        out: dir.0.join("ev"),
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let doc = |args: &[&str]| -> Value {
        let mut full = vec!["-c", uri.as_str()];
        full.extend_from_slice(args);
        let (out, err, code) = run(rvsh, &home, &full);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"))
    };

    assert_eq!(
        doc(&["list", "--all", "--json"]),
        json!([{"id": 1, "name": "test", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
                "state": "running", "persistent": true, "autostart": false}])
    );
    assert_eq!(
        doc(&["list", "--all", "--title", "--json"])[0]["title"],
        json!("")
    );
    assert_eq!(doc(&["list", "--inactive", "--json"]), json!([]));

    let info = doc(&["dominfo", "test", "--json"]);
    assert!(info["cpu_time_ns"].as_u64().is_some_and(|t| t > 0));
    let mut info = info;
    info["cpu_time_ns"] = json!(null);
    assert_eq!(
        info,
        json!({"id": 1, "name": "test", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
               "os_type": "linux", "state": "running", "cpus": 2, "cpu_time_ns": null,
               "max_memory_kib": 8388608, "used_memory_kib": 2097152, "persistent": true,
               "autostart": false, "managed_save": false,
               "security": {"model": "testSecurity", "doi": "", "label": "libvirt-test",
                            "enforcing": true}})
    );
    assert_eq!(
        doc(&["domstate", "test", "--json"]),
        json!({"state": "running", "reason": "unknown"})
    );
    assert_eq!(
        doc(&["nodeinfo", "--json"]),
        json!({"cpu_model": "i686", "cpus": 16, "mhz": 1400, "sockets": 2,
               "cores_per_socket": 2, "threads_per_core": 2, "numa_cells": 2,
               "memory_kib": 3145728})
    );
    assert_eq!(
        doc(&["net-list", "--all", "--json"]),
        json!([{"name": "default", "uuid": "dd8fe884-6c02-601e-7551-cca97df1c5df",
                "active": true, "autostart": false, "persistent": true}])
    );
    assert_eq!(
        doc(&["net-info", "default", "--json"]),
        json!({"name": "default", "uuid": "dd8fe884-6c02-601e-7551-cca97df1c5df",
               "active": true, "persistent": true, "autostart": false, "bridge": "virbr0"})
    );
    let pool = json!({"name": "default-pool", "uuid": "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566",
                      "state": "running", "autostart": false, "persistent": true,
                      "capacity": 107374182400u64, "allocation": 0, "available": 107374182400u64});
    assert_eq!(doc(&["pool-list", "--all", "--json"]), json!([pool]));
    assert_eq!(doc(&["pool-info", "default-pool", "--json"]), pool);

    let (_, err, code) = run(
        rvsh,
        &home,
        &["-c", &uri, "vol-create-as", "default-pool", "v1.img", "10M"],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    // The sizes virsh reports for the volume.
    let (text, _, _) = run(
        Path::new("/usr/bin/virsh"),
        &home,
        &[
            "-c",
            &uri,
            "vol-info",
            "v1.img",
            "--pool",
            "default-pool",
            "--bytes",
        ],
    );
    let num = |label: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(label)).expect(label);
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let (cap, alloc) = (num("Capacity:"), num("Allocation:"));
    assert_eq!(cap, 10 << 20);
    assert_eq!(
        doc(&["vol-info", "v1.img", "--pool", "default-pool", "--json"]),
        json!({"name": "v1.img", "type": "file", "capacity": cap, "allocation": alloc})
    );
    assert_eq!(
        doc(&["vol-list", "default-pool", "--json"]),
        json!([{"name": "v1.img", "path": "/default-pool/v1.img", "type": "file",
                "capacity": cap, "allocation": alloc}])
    );
    // Errors stay text on stderr, with virsh's status.
    let (out, err, code) = run(rvsh, &home, &["-c", &uri, "dominfo", "nosuch", "--json"]);
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("\n", "error: failed to get domain 'nosuch'\n", 1)
    );
    drop(holder);
}
