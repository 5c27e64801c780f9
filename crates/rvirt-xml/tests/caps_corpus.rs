//! The host capabilities model against libvirt 9.0's own documents: every file of
//! `tests/vircaps2xmldata` (what `virCapabilitiesFormatXML` printed for fake Linux hosts, with
//! resctrl and HMAT), `tests/capabilityschemadata` (the schema test's documents) and
//! `tests/qemucaps2xmloutdata` (the QEMU driver's answers) must parse and format back to the same
//! bytes, and format ∘ parse must be a fixed point. The few documents libvirt 9.0 itself would
//! print differently are listed in [`KNOWN`] with the line that differs and why (see
//! `docs/xml-differences.md`). Then the live answers of `virsh capabilities` from Debian's
//! libvirtd (QEMU and test drivers) and from rvirtd's QEMU driver must round-trip byte for byte.
//!
//! The documents come from Debian's libvirt source package, never committed:
//! `$RVIRT_LIBVIRT_SRC` when set, else fetched once into `<target dir>/libvirt-src` by
//! `scripts/fetch-libvirt-src.sh`.

mod common;

use common::corpus;
use rvirt_xml::capabilities::Capabilities;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Documents whose bytes differ after a round trip, with the first line that differs
/// (libvirt's, then ours) and the reason. Each of them must still parse and be a fixed point.
const KNOWN: &[(&str, &str, &str, &str)] = &[
    (
        "caps-test.xml",
        "      <vendor>Intel</vendor>",
        "      <features>",
        "hand-written: the host <cpu> children (an interleave in the schema) in another order \
         than libvirt prints them, and no <power_management>",
    ),
    (
        "caps-test2.xml",
        "      <topology sockets='1' cores='2' threads='2'/>",
        "      <topology sockets='1' dies='1' cores='2' threads='2'/>",
        "libvirt before 6.0 printed no dies (read as 1, as virCPUDefParseXML does); guest \
         features in an older libvirt's order",
    ),
    (
        "caps-test3.xml",
        "      <topology sockets='1' cores='6' threads='2'/>",
        "      <topology sockets='1' dies='1' cores='6' threads='2'/>",
        "libvirt before 6.0 printed no dies (read as 1, as virCPUDefParseXML does)",
    ),
];

/// The first differing line of two documents: `(line number, libvirt's, ours)`.
fn first_difference(want: &str, got: &str) -> Option<(usize, String, String)> {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return Some((
                i + 1,
                a.unwrap_or("(end)").to_string(),
                b.unwrap_or("(end)").to_string(),
            ));
        }
    }
    (want != got).then(|| (0, "(trailing bytes)".into(), "(trailing bytes)".into()))
}

/// Parses `xml`, formats it, and checks that the model survives its own output. Returns the
/// formatted document.
fn round_trip(xml: &str) -> Result<String, String> {
    let caps = Capabilities::parse(xml).map_err(|e| format!("refused: {}", e.message()))?;
    let out = caps.format();
    let again = Capabilities::parse(&out).map_err(|e| format!("own output refused: {e}\n{out}"))?;
    if again != caps {
        return Err("the model changed on reading its own output".into());
    }
    if again.format() != out {
        return Err("format is not a fixed point".into());
    }
    Ok(out)
}

/// Checks every document of `dir`, prints the pass rate, and fails on any unexpected result.
fn run(dir: &str) {
    let docs = corpus(dir);
    let mut identical = 0;
    let mut failures = Vec::new();
    for (name, xml) in &docs {
        let known = KNOWN.iter().find(|k| k.0 == name);
        match round_trip(xml) {
            Err(e) => failures.push(format!("--- {name}: {e}")),
            Ok(out) => match (first_difference(xml, &out), known) {
                (None, None) => identical += 1,
                (None, Some(_)) => failures.push(format!(
                    "--- {name}: now identical; remove it from KNOWN and the docs"
                )),
                (Some((line, a, b)), Some(k)) if a == k.1 && b == k.2 => {
                    eprintln!(
                        "{dir}/{name}: differs as documented at line {line} ({})",
                        k.3
                    );
                }
                (Some((line, a, b)), _) => failures.push(format!(
                    "--- {name}: line {line}:\n  libvirt: {a}\n  rvirt:   {b}"
                )),
            },
        }
    }
    eprintln!(
        "{dir}: {identical}/{} byte-identical ({:.1} %)",
        docs.len(),
        100.0 * identical as f64 / docs.len() as f64
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vircaps2xmldata_formats_byte_identical() {
    run("vircaps2xmldata");
}

#[test]
fn capabilityschemadata_formats_byte_identical() {
    run("capabilityschemadata");
}

#[test]
fn qemucaps2xmloutdata_formats_byte_identical() {
    run("qemucaps2xmloutdata");
}

/// `virsh -c URI capabilities`, as virsh prints it (the document and one newline of its own).
fn virsh_capabilities(uri: &str) -> String {
    let out = Command::new("virsh")
        .env("LC_ALL", "C")
        .args(["-c", uri, "capabilities"])
        .output()
        .expect("run virsh");
    assert!(
        out.status.success(),
        "virsh -c {uri} capabilities: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // virsh prints the document followed by newlines of its own.
    let s = String::from_utf8(out.stdout).unwrap();
    format!("{}\n", s.trim_end())
}

fn check_live(what: &str, xml: &str) {
    let out = round_trip(xml).unwrap_or_else(|e| panic!("{what}: {e}\n{xml}"));
    if let Some((line, a, b)) = first_difference(xml, &out) {
        panic!("{what}: line {line}:\n  daemon: {a}\n  rvirt:  {b}\n{xml}");
    }
    eprintln!("{what}: {} lines, byte-identical", xml.lines().count());
}

/// A daemon we started, stopped on drop (by the PID it recorded, or as our child).
enum Daemon {
    Libvirtd(PathBuf),
    Rvirtd(std::process::Child),
}

impl Drop for Daemon {
    fn drop(&mut self) {
        match self {
            Daemon::Libvirtd(dir) => {
                let _ = Command::new(repo_root().join("scripts/ref-libvirtd.sh"))
                    .arg("stop")
                    .arg(&*dir)
                    .status();
            }
            Daemon::Rvirtd(child) => {
                // SIGTERM, for a clean shutdown; the child is not reaped yet, so the PID is ours.
                let _ = Command::new("kill").arg(child.id().to_string()).status();
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_secs(5) {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rvirt-capsparse-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn debian_libvirtd_answers_round_trip() {
    let dir = temp_dir("libvirtd");
    let out = Command::new(repo_root().join("scripts/ref-libvirtd.sh"))
        .arg("start")
        .arg(&dir)
        .stdout(Stdio::null())
        .output()
        .expect("run scripts/ref-libvirtd.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && (stderr.contains("needs root") || stderr.contains("not installed"))
    {
        eprintln!("SKIP debian_libvirtd_answers_round_trip: {}", stderr.trim());
        return;
    }
    assert!(
        out.status.success(),
        "reference libvirtd failed to start: {stderr}"
    );
    let _daemon = Daemon::Libvirtd(dir.clone());
    let sock = dir.join("libvirt-sock");
    for (what, uri) in [
        (
            "libvirtd QEMU driver",
            format!("qemu+unix:///system?socket={}", sock.display()),
        ),
        (
            "libvirtd test driver",
            format!("test+unix:///default?socket={}", sock.display()),
        ),
    ] {
        check_live(what, &virsh_capabilities(&uri));
    }
}

#[test]
fn rvirtd_qemu_answer_round_trips() {
    let bin = std::env::var_os("RVIRTD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("rvirtd")
        });
    if !bin.exists() {
        eprintln!(
            "SKIP rvirtd_qemu_answer_round_trips: {} not built (cargo build -p rvirtd, or set \
             RVIRTD_BIN)",
            bin.display()
        );
        return;
    }
    let dir = temp_dir("rvirtd");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join("run")).unwrap();
    let conf = dir.join("rvirtd.conf");
    std::fs::write(
        &conf,
        format!(
            "unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0700\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let child = Command::new(&bin)
        .args(["--session", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.join("rvirtd.pid"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("rvirtd.log")).unwrap())
        .spawn()
        .expect("spawn rvirtd");
    let _daemon = Daemon::Rvirtd(child);
    let sock = dir.join("rvirt-sock");
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "rvirtd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let xml = virsh_capabilities(&format!("qemu+unix:///session?socket={}", sock.display()));
    assert!(
        xml.contains("<guest>"),
        "no guest in rvirtd's answer:\n{xml}"
    );
    check_live("rvirtd QEMU driver", &xml);
}
