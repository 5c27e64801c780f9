//! python3-libvirt (Debian's, unmodified) manages test-driver domains through rvirtd and receives
//! the lifecycle events; the same script is first run against libvirtd to prove it checks
//! libvirt's real behaviour.

use e2e::{have, repo_root, run, Daemon, DaemonKind};
use std::path::Path;

fn run_script(d: &Daemon) -> (bool, String) {
    let script = repo_root().join("crates/e2e/python/lifecycle.py");
    let out = run(
        Path::new("/usr/bin/python3"),
        &[script.display().to_string(), d.test_uri(false)],
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn python_libvirt_lifecycle_against_both_daemons() {
    assert!(
        have("libvirtd") && Path::new("/usr/lib/python3/dist-packages/libvirt.py").exists(),
        "libvirtd and python3-libvirt are required: run scripts/install-deps.sh"
    );
    let reference = Daemon::start(DaemonKind::Libvirtd);
    let (ok, log) = run_script(&reference);
    assert!(ok, "script fails against libvirtd itself: {log}");
    drop(reference);

    let ours = Daemon::start(DaemonKind::Rvirtd);
    let (ok, log) = run_script(&ours);
    assert!(ok, "python3-libvirt against rvirtd: {log}");
}
