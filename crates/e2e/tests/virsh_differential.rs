//! Differential test: the same scenario of virsh invocations against Debian's libvirtd (test
//! driver) and against rvirtd must print byte-identical stdout and stderr and exit with the same
//! codes. A background `event --all --loop` client holds a connection for the whole scenario
//! (libvirt frees `test:///default` state when its last connection closes) and its event output
//! is compared too. Then `rvsh` runs the same scenario against both daemons and must print what
//! virsh printed.
//!
//! Masked before comparing: the socket directory (differs per run) and the test driver's
//! wall-clock `CPU time:` value.

use e2e::{bin, have, repo_root, run, split_words, Background, Daemon, DaemonKind, TempDir};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

struct Run {
    steps: Vec<(String, Outcome)>,
    events: String,
}

fn normalize(text: &str, d: &Daemon) -> String {
    let dir = d.dir.0.display().to_string();
    text.replace(&dir, "$SOCKDIR")
        .lines()
        .map(|l| {
            if l.starts_with("CPU time:") && l.ends_with('s') {
                "CPU time:       <masked>".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn scenario_lines(name: &str) -> Vec<String> {
    let path = repo_root().join("crates/e2e/scenarios").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn run_scenario(client: &Path, kind: DaemonKind, scenario: &str) -> Run {
    let d = Daemon::start(kind);
    let data = repo_root().join("crates/e2e/scenarios/data");
    let work = TempDir::new("scenario");
    let expand = |w: &str| {
        w.replace("$URI", &d.test_uri(false))
            .replace("$RO", &d.test_uri(true))
            .replace("$DATA", &data.display().to_string())
    };
    let holder = Background::spawn(
        client,
        &[
            "-c".into(),
            d.test_uri(false),
            "event".into(),
            "--all".into(),
            "--loop".into(),
        ],
        &work.0,
        "events",
    );
    // Let the holder connect and register before the scenario starts.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut steps = Vec::new();
    for line in scenario_lines(scenario) {
        let args: Vec<String> = split_words(&line).iter().map(|w| expand(w)).collect();
        let out = run(client, &args);
        steps.push((
            line,
            Outcome {
                stdout: normalize(&String::from_utf8_lossy(&out.stdout), &d),
                stderr: normalize(&String::from_utf8_lossy(&out.stderr), &d),
                code: out.status.code().unwrap_or(-1),
            },
        ));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let events = normalize(&holder.stop(), &d);
    Run { steps, events }
}

/// Compares two runs; prints every difference and the pass rate; returns the number identical.
fn compare(label: &str, want: &Run, got: &Run) -> usize {
    assert_eq!(want.steps.len(), got.steps.len());
    let mut same = 0;
    for ((line, w), (_, g)) in want.steps.iter().zip(&got.steps) {
        if w == g {
            same += 1;
        } else {
            eprintln!("--- {label}: `{line}` differs");
            eprintln!(
                "    want: code={} stdout={:?} stderr={:?}",
                w.code, w.stdout, w.stderr
            );
            eprintln!(
                "    got:  code={} stdout={:?} stderr={:?}",
                g.code, g.stdout, g.stderr
            );
        }
    }
    let events_same = want.events == got.events;
    if !events_same {
        eprintln!(
            "--- {label}: event output differs\n    want: {:?}\n    got:  {:?}",
            want.events, got.events
        );
    }
    eprintln!(
        "{label}: {same}/{} invocations identical ({:.1}%), events {}",
        want.steps.len(),
        100.0 * same as f64 / want.steps.len() as f64,
        if events_same { "identical" } else { "DIFFER" }
    );
    same + usize::from(events_same)
}

fn require_reference() -> bool {
    if !have("virsh") || !have("libvirtd") {
        panic!("Debian's virsh and libvirtd are required: run scripts/install-deps.sh");
    }
    true
}

#[test]
fn virsh_against_rvirtd_matches_libvirtd() {
    require_reference();
    let virsh = Path::new("/usr/bin/virsh");
    let want = run_scenario(virsh, DaemonKind::Libvirtd, "virsh-core.txt");
    let got = run_scenario(virsh, DaemonKind::Rvirtd, "virsh-core.txt");
    assert!(
        want.steps.len() >= 40,
        "scenario must have at least 40 invocations"
    );
    let same = compare("virsh: rvirtd vs libvirtd", &want, &got);
    assert_eq!(
        same,
        want.steps.len() + 1,
        "virsh output differs between rvirtd and libvirtd"
    );
}

#[test]
fn rvsh_prints_what_virsh_prints() {
    require_reference();
    let virsh = Path::new("/usr/bin/virsh");
    let want = run_scenario(virsh, DaemonKind::Libvirtd, "virsh-core.txt");
    let rvsh = bin("rvsh");
    let on_libvirtd = run_scenario(&rvsh, DaemonKind::Libvirtd, "virsh-core.txt");
    let on_rvirtd = run_scenario(&rvsh, DaemonKind::Rvirtd, "virsh-core.txt");
    let a = compare("rvsh on libvirtd vs virsh", &want, &on_libvirtd);
    let b = compare("rvsh on rvirtd vs virsh", &want, &on_rvirtd);
    let total = want.steps.len() + 1;
    assert!(a == total && b == total, "rvsh output differs from virsh");
}
