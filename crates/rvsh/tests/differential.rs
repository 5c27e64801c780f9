//! Differential test: the invocations of `tests/scenarios/differential.txt` run once with
//! Debian's virsh 9.0 and once with rvsh, each against a fresh reference libvirtd (Debian's,
//! test driver, `test:///default`) started on the same socket directory, so URIs and paths in
//! the output are the same on both sides. Standard output, standard error and the exit status
//! must be byte-identical for every invocation, and so must the output of a background
//! `event --all --loop` run by each client for the whole scenario (it also keeps the test
//! driver's state alive between invocations, which libvirtd drops with its last connection).
//!
//! Normalised, and nothing else:
//! - the test driver's `CPU time:` value, which is derived from the wall clock;
//! - for interactive runs (STDIN lines), the program's name where virsh prints its own: the
//!   prompt (`virsh # ` / `virsh > ` vs `rvsh # ` / `rvsh > `) and the banner's
//!   "Welcome to virsh," vs "Welcome to rvsh,".
//!
//! Version numbers need no normalisation: rvsh reports the libvirt 9.0.0 API it implements.

mod common;

use common::{client_command, crate_dir, require_reference, split_words, Holder, RefDaemon};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

struct Side {
    steps: Vec<Outcome>,
    events: String,
}

fn scenario() -> Vec<String> {
    let text = std::fs::read_to_string(crate_dir().join("tests/scenarios/differential.txt"))
        .expect("scenario file");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn mask_cpu_time(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| {
            if l.starts_with("CPU time:") {
                "CPU time:       <masked>\n".to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn run_side(client: &Path, dir: &Path, lines: &[String]) -> Side {
    let d = RefDaemon::start(dir);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home dir");
    let data = crate_dir().join("tests/data");
    let expand = |w: &str| {
        w.replace("$URI", &d.uri(false))
            .replace("$RO", &d.uri(true))
            .replace("$DATA", &data.display().to_string())
    };
    let events_out = dir.join("events.out");
    let holder = Holder {
        child: Some(
            client_command(client, &home)
                .args(["-c", &d.uri(false), "event", "--all", "--loop"])
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&events_out).expect("events file"))
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn event holder"),
        ),
        out: events_out,
    };
    // Let the holder connect and register before the scenario starts.
    std::thread::sleep(Duration::from_millis(700));
    let mut steps = Vec::new();
    for line in lines {
        let mut words: Vec<String> = split_words(line).iter().map(|w| expand(w)).collect();
        let mut cmd = client_command(client, &home);
        let mut stdin = None;
        while let Some(w) = words.first() {
            let Some((k, v)) = w.split_once('=') else {
                break;
            };
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                break;
            }
            if k == "STDIN" {
                stdin = Some(v.to_string());
            } else {
                cmd.env(k, v);
            }
            words.remove(0);
        }
        cmd.args(&words)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let mut child = cmd.spawn().expect("spawn client");
        if let Some(text) = &stdin {
            let mut w = child.stdin.take().expect("stdin pipe");
            w.write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("client output");
        steps.push(Outcome {
            stdout: mask_cpu_time(&String::from_utf8_lossy(&out.stdout)),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    let events = holder.stop();
    drop(d);
    Side { steps, events }
}

/// virsh's own name in interactive output, replaced by rvsh's.
fn rename_interactive(s: &str) -> String {
    s.replace("virsh # ", "rvsh # ")
        .replace("virsh > ", "rvsh > ")
        .replace("Welcome to virsh,", "Welcome to rvsh,")
}

#[test]
fn rvsh_matches_virsh_on_reference_libvirtd() {
    require_reference();

    let lines = scenario();
    assert!(
        lines.len() >= 40,
        "the scenario must have at least 40 invocations"
    );
    let dir = std::env::temp_dir().join(format!("rvsh-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("socket dir");

    let want = run_side(Path::new("/usr/bin/virsh"), &dir, &lines);
    let got = run_side(Path::new(env!("CARGO_BIN_EXE_rvsh")), &dir, &lines);
    let _ = std::fs::remove_dir_all(&dir);

    let mut differ = 0;
    for (line, (w, g)) in lines.iter().zip(want.steps.iter().zip(&got.steps)) {
        let w = if line.starts_with("STDIN=") {
            Outcome {
                stdout: rename_interactive(&w.stdout),
                stderr: w.stderr.clone(),
                code: w.code,
            }
        } else {
            Outcome {
                stdout: w.stdout.clone(),
                stderr: w.stderr.clone(),
                code: w.code,
            }
        };
        if &w != g {
            differ += 1;
            eprintln!("--- `{line}` differs");
            eprintln!(
                "    virsh: code={} stdout={:?} stderr={:?}",
                w.code, w.stdout, w.stderr
            );
            eprintln!(
                "    rvsh:  code={} stdout={:?} stderr={:?}",
                g.code, g.stdout, g.stderr
            );
        }
    }
    if want.events != got.events {
        differ += 1;
        eprintln!(
            "--- event --all --loop output differs\n    virsh: {:?}\n    rvsh:  {:?}",
            want.events, got.events
        );
    }
    eprintln!(
        "{}/{} invocations identical; events {}",
        lines.len() - differ.min(lines.len()),
        lines.len(),
        if want.events == got.events {
            "identical"
        } else {
            "differ"
        }
    );
    assert_eq!(differ, 0, "rvsh output differs from virsh's");
}

#[test]
fn scenario_words() {
    assert_eq!(
        split_words(r#"-c $URI 'a b\' "c \"d\"" e\ f STDIN=x\ny"#),
        vec!["-c", "$URI", "a b\\", "c \"d\"", "e f", "STDIN=x\ny"]
    );
}
