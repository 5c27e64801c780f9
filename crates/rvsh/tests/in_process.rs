//! rvsh on the in-process test driver (`-c test:///default`, no daemon) against virsh on a fresh
//! reference libvirtd's test driver: each case is one command string run by one process, so
//! both sides start from the driver's default state and drop it at exit. Stdout, stderr and
//! exit status must be identical (only the wall-clock `CPU time:` value is masked; `uri` is not
//! used because the URIs differ by design).
//!
//! With `RVSH_IN_PROCESS=reference`, rvsh runs against a fresh reference libvirtd too instead of
//! the in-process driver, which checks the cases themselves independently of that driver.

mod common;

use common::{client_command, crate_dir, require_reference, RefDaemon, TempDir};
use std::path::Path;
use std::process::Stdio;

const CASES: &[&[&str]] = &[
    &["list --all; dominfo test; domstate test --reason; domid test; domname 1; domuuid test"],
    &["define $DATA/d1.xml; list --all --title; start d1; domstate d1 --reason; suspend d1; list --state-paused; resume d1; shutdown d1; list --all; undefine d1; list --all"],
    &["create $DATA/d2.xml; list --transient; dominfo d2; destroy d2; list --all"],
    &["dominfo nosuch; net-info nosuch; pool-info nosuch; vol-info nosuch"],
    &["define $DATA/bad.xml; define $DATA/noname.xml; start test; destroy nosuch; hostname"],
    &["net-list --all; net-info default; net-define $DATA/net1.xml; net-start net1; net-autostart net1; net-list --all; net-destroy net1; net-undefine net1; net-list --all"],
    &["pool-list --all --details; pool-info default-pool; pool-define-as p2 dir --target /var/lib/p2; pool-start p2; vol-create-as p2 v1 10M; vol-create p2 $DATA/vol1.xml; vol-list p2 --details; vol-info v1 --pool p2; vol-key v1 --pool p2; vol-delete v1 --pool p2; pool-destroy p2; pool-undefine p2; pool-list --all"],
    &["nodeinfo; version; capabilities; sysinfo"],
    &["dumpxml test; net-dumpxml default; pool-dumpxml default-pool"],
    &["-r", "list; destroy test"],
    &["-q", "list --all; define $DATA/d1.xml; list --all"],
    &["autostart test; list --autostart; dominfo test; autostart --disable test"],
];

fn mask(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| {
            if l.starts_with("CPU time:") {
                "CPU time:       <masked>\n".into()
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn run(client: &Path, home: &Path, uri: &str, case: &[&str]) -> (String, String, i32) {
    let data = crate_dir().join("tests/data").display().to_string();
    let mut args = vec!["-c".to_string(), uri.to_string()];
    args.extend(case.iter().map(|w| w.replace("$DATA", &data)));
    let out = client_command(client, home)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run client");
    (
        mask(&String::from_utf8_lossy(&out.stdout)),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn in_process_test_driver_matches_virsh() {
    require_reference();
    let on_reference = std::env::var("RVSH_IN_PROCESS").as_deref() == Ok("reference");
    let mut differ = 0;
    for case in CASES {
        let dir = TempDir::new("inproc");
        let home = dir.0.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let want = {
            let d = RefDaemon::start(&dir.0);
            run(Path::new("/usr/bin/virsh"), &home, &d.uri(false), case)
        };
        let rvsh = Path::new(env!("CARGO_BIN_EXE_rvsh"));
        let got = if on_reference {
            let d = RefDaemon::start(&dir.0);
            run(rvsh, &home, &d.uri(false), case)
        } else {
            run(rvsh, &home, "test:///default", case)
        };
        if want != got {
            differ += 1;
            eprintln!("--- {case:?} differs\n    virsh: {want:?}\n    rvsh:  {got:?}");
        }
    }
    assert_eq!(
        differ, 0,
        "rvsh on the in-process driver differs from virsh"
    );
}
