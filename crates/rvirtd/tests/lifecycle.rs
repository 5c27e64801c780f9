//! The daemon as a process: command line, configuration errors, sockets and their permissions,
//! the pid file, refusing a second daemon, signals, `--timeout` and `--daemon`.

mod common;
use common::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::time::Duration;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn version_help_and_bad_options() {
    let out = run_rvirtd(&["-V"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("(rvirt) "));
    let out = run_rvirtd(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--timeout <secs>"));
    let out = run_rvirtd(&["--bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized option '--bogus'"));
    let out = run_rvirtd(&["-t", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid value for timeout"));
}

#[test]
fn config_errors_name_file_line_and_key() {
    let dir = TempDir::new("conf");
    let conf = dir.0.join("bad.conf");
    let cases = [
        (
            "max_clients = \"lots\"\n",
            ":1: max_clients: expected an unsigned integer",
        ),
        (
            "\n\nauth_unix_rw = \"polkit\"\n",
            ":3: auth_unix_rw: authentication \"polkit\" is not supported",
        ),
        (
            "unix_sock_ro_perms = \"rw\"\n",
            ":1: unix_sock_ro_perms: invalid socket mode",
        ),
        (
            "keepalive_interval = [ 1 ]\n",
            ":1: keepalive_interval: expected a signed integer, found a list",
        ),
        ("a = \n", ":1: expecting a value"),
    ];
    for (text, want) in cases {
        std::fs::write(&conf, text).unwrap();
        let out = run_rvirtd(&[
            "-f",
            conf.to_str().unwrap(),
            "-p",
            dir.0.join("pid").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert!(
            err.contains(&format!("{}{want}", conf.display())),
            "{text}: {err}"
        );
    }
    let out = run_rvirtd(&["-f", dir.0.join("missing.conf").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read configuration file"));
}

#[test]
fn unknown_keys_are_warned_about_and_ignored() {
    let d = Daemon::start("no_such_setting = 1\nlisten_tcp = 1\n");
    assert_eq!(d.rw().rpc(&call(66, 1, &[])).status(), 0);
    let log = d.log();
    assert!(
        log.contains("line 3: no_such_setting: unknown setting, ignored"),
        "{log}"
    );
    assert!(
        log.contains("line 4: listen_tcp: libvirtd setting not supported by rvirtd, ignored"),
        "{log}"
    );
}

#[test]
fn sockets_pid_file_and_sigterm_cleanup() {
    let mut d = Daemon::start("unix_sock_ro_perms = \"0775\"\nunix_sock_admin_perms = \"0750\"\nunix_sock_group = \"0\"\n");
    for s in ["rvirt-sock", "rvirt-sock-ro", "rvirt-admin-sock"] {
        let m = std::fs::metadata(d.path(s)).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.gid(), 0);
    }
    assert_eq!(mode(&d.path("rvirt-sock")), 0o770);
    assert_eq!(mode(&d.path("rvirt-sock-ro")), 0o775);
    assert_eq!(mode(&d.path("rvirt-admin-sock")), 0o750);
    let pid = std::fs::read_to_string(d.path("rvirtd.pid")).unwrap();
    assert_eq!(pid, format!("{}\n", d.pid()));

    // A connected client does not stop the shutdown.
    let mut c = d.rw();
    assert_eq!(c.rpc(&call(66, 1, &[])).status(), 0);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0), "{}", d.log());
    assert!(c.closed());
    for s in [
        "rvirt-sock",
        "rvirt-sock-ro",
        "rvirt-admin-sock",
        "rvirtd.pid",
    ] {
        assert!(!d.path(s).exists(), "{s} left behind");
    }
}

#[test]
fn sigint_also_stops_cleanly() {
    let mut d = Daemon::start("");
    d.signal(libc::SIGINT);
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!d.path("rvirt-sock").exists());
}

#[test]
fn a_second_daemon_is_refused() {
    let d = Daemon::start("");
    // Same pid file.
    let out = run_rvirtd(&[
        "-f",
        d.path("rvirtd.conf").to_str().unwrap(),
        "-p",
        d.path("rvirtd.pid").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is locked by another running daemon"), "{err}");
    assert!(err.contains(&format!("(pid {})", d.pid())), "{err}");
    // Same sockets, another pid file.
    let out = run_rvirtd(&[
        "-f",
        d.path("rvirtd.conf").to_str().unwrap(),
        "-p",
        d.path("other.pid").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another daemon is already listening on"),
        "{err}"
    );
    // The first one is unharmed.
    assert_eq!(d.rw().rpc(&call(66, 1, &[])).status(), 0);
    assert!(d.path("rvirt-sock-ro").exists());
}

#[test]
fn stale_sockets_and_pid_files_are_taken_over() {
    let dir = TempDir::new("stale");
    // A socket nobody listens on and a pid file nobody holds.
    for s in ["rvirt-sock", "rvirt-sock-ro"] {
        drop(std::os::unix::net::UnixListener::bind(dir.0.join(s)).unwrap());
    }
    std::fs::write(dir.0.join("rvirtd.pid"), "99999999\n").unwrap();
    let d = Daemon::spawn_in(dir, "", &[]);
    d.wait_socket("rvirt-admin-sock");
    assert_eq!(d.rw().rpc(&call(66, 1, &[])).status(), 0);
    assert_eq!(d.ro().rpc(&call(66, 1, &[])).status(), 0);
    assert_eq!(
        std::fs::read_to_string(d.path("rvirtd.pid")).unwrap(),
        format!("{}\n", d.pid())
    );
}

#[test]
fn idle_timeout_waits_for_clients_to_leave() {
    let mut d = Daemon::start_with("", &["-t", "1"]);
    let mut c = d.rw();
    assert_eq!(c.rpc(&call(66, 1, &[])).status(), 0);
    // Busy: stays up well past the timeout.
    assert_eq!(d.wait_exit(Duration::from_millis(2500)), None);
    assert_eq!(c.rpc(&call(66, 2, &[])).status(), 0);
    drop(c);
    // Idle: exits about a second later, cleaning up.
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0), "{}", d.log());
    assert!(!d.path("rvirt-sock").exists());
    assert!(!d.path("rvirtd.pid").exists());
}

#[test]
fn libvirt_socket_names_in_drop_in_mode() {
    let d = Daemon::spawn_in(TempDir::new("dropin"), "listen_libvirt_paths = 1", &[]);
    d.wait_socket("libvirt-admin-sock");
    for s in [
        "libvirt-sock",
        "libvirt-sock-ro",
        "virtqemud-sock",
        "virtqemud-sock-ro",
    ] {
        let mut c = Client::connect(&d.path(s));
        assert_eq!(c.rpc(&call(66, 1, &[])).status(), 0, "{s}");
    }
    assert!(!d.path("rvirt-sock").exists());
    // The command-line flag does the same.
    let d = Daemon::spawn_in(TempDir::new("dropin2"), "", &["--libvirt-paths"]);
    d.wait_socket("libvirt-sock");
}

#[test]
fn read_only_socket_forces_read_only_before_open() {
    // Before CONNECT_OPEN the read-only socket answers like the read-write one.
    let d = Daemon::start("");
    let mut c = d.ro();
    assert_eq!(c.rpc(&call(66, 1, &[])).status(), 0);
    assert_eq!(
        c.rpc(&call(
            9,
            2,
            &hex("0000000161000000000000000000000000000000000000000000000000000001")
        ))
        .error_message(),
        "internal error: hypervisor connection not open"
    );
}

#[test]
fn daemon_mode_detaches_and_reports_start_up() {
    let dir = TempDir::new("bg");
    let conf = dir.0.join("rvirtd.conf");
    std::fs::write(&conf, format!("unix_sock_dir = \"{}\"\n", dir.0.display())).unwrap();
    let pidf = dir.0.join("rvirtd.pid");
    // The foreground process returns once the sockets are up.
    let out = run_rvirtd(&[
        "-d",
        "-f",
        conf.to_str().unwrap(),
        "-p",
        pidf.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.0.join("rvirt-sock").exists());
    let pid: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut c = Client::connect(&dir.0.join("rvirt-sock"));
    assert_eq!(c.rpc(&call(66, 1, &[])).status(), 0);
    // A second one fails, and its error reaches the terminal although the child has no stderr.
    let out = run_rvirtd(&[
        "-d",
        "-f",
        conf.to_str().unwrap(),
        "-p",
        dir.0.join("b.pid").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daemon is already listening"));
    // SAFETY: kill(2) on the daemon this test started (pid read from its pid file).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    for _ in 0..250 {
        if !pidf.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pidf.exists());
    assert!(!dir.0.join("rvirt-sock").exists());
}
