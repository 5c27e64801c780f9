//! Golden tests of the domain XML → QEMU command line translation: each `data/argv/NAME.xml` has
//! an expected `NAME.args` (the command line, one option per line) or `NAME.err` (the error a
//! libvirt client would show). `@DIR@` in both stands for a directory of disk images this test
//! makes (raw files, and qcow2 chains made with qemu-img). `RVIRT_REGEN=1` rewrites the expected
//! files from the current output.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The image directory, made once per test process.
fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("argv-images");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["disk0.img", "disk1.img", "disk2.img", "cd.iso", "base.raw"] {
            common::raw_disk(&dir.join(f), 1);
        }
        assert!(
            common::have_qemu_img(),
            "qemu-img is needed for the qcow2 golden tests (scripts/install-qemu.sh)"
        );
        let img = |args: &[&str]| common::qemu_img(&dir, args);
        img(&["create", "-q", "-f", "qcow2", "single.qcow2", "1M"]);
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
        // Overlays whose backing format is not recorded: over an image with its own backing
        // (refused), and over a raw image without one (probed, allowed).
        img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "mid.qcow2",
            "-F",
            "qcow2",
            "unrec.qcow2",
        ]);
        common::unrecord_backing_format(&dir.join("unrec.qcow2"));
        img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "base.raw",
            "-F",
            "raw",
            "unrec-raw.qcow2",
        ]);
        common::unrecord_backing_format(&dir.join("unrec-raw.qcow2"));
        img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "unrec.qcow2",
            "-F",
            "qcow2",
            "over-unrec.qcow2",
        ]);
        dir
    })
}

fn golden(name: &str) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/argv");
    let dir = images().display().to_string();
    let xml = std::fs::read_to_string(data.join(format!("{name}.xml"))).unwrap();
    let xml = xml.replace("@DIR@", &dir);
    let result = rvirt_xml::domain::parse(&xml)
        .map_err(|e| rvirt::Error::from(e).message)
        .and_then(|def| {
            let chains = rvirt_qemu::argv::resolve_disks(&def).map_err(|e| e.message())?;
            rvirt_qemu::argv::build(&def, &chains, &Default::default()).map_err(|e| e.message())
        });
    let (ext, other, text) = match result {
        Ok(cmd) => ("args", "err", cmd.to_text()),
        Err(msg) => ("err", "args", format!("{msg}\n")),
    };
    let text = text.replace(&dir, "@DIR@");
    let expected_path = data.join(format!("{name}.{ext}"));
    if std::env::var_os("RVIRT_REGEN").is_some() {
        let _ = std::fs::remove_file(data.join(format!("{name}.{other}")));
        std::fs::write(&expected_path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; the output was:\n{text}\n(RVIRT_REGEN=1 writes it)",
            expected_path.display()
        )
    });
    assert_eq!(
        text,
        expected,
        "{name}: output differs from {}",
        expected_path.display()
    );
}

macro_rules! golden {
    ($($name:ident)*) => { $( #[test] fn $name() { golden(stringify!($name)); } )* };
}

golden! {
    minimal minimal_kvm kvm_host_passthrough kvm_host_model kvm_custom_cpu kvm_q35_full
    tcg_host_passthrough cpu_maximum cpu_custom_tcg q35_minimal machine_versioned no_acpi
    smp_topology smp_current memory_maxmem memory_large kernel_boot bootmenu seabios_rom ovmf_pflash
    ovmf_secure_q35 disk_virtio_raw disk_virtio_two disk_virtio_serial_cache disk_virtio_readonly
    disk_default_format disk_scsi disk_scsi_cdrom disk_scsi_no_controller disk_scsi_lsi
    disk_sata_q35 disk_sata_pc disk_ide disk_ide_cdrom disk_ide_q35 disk_usb cdrom_empty
    disk_qcow2 disk_qcow2_chain disk_qcow2_unrecorded disk_qcow2_unrecorded_deep
    disk_qcow2_unrecorded_probe disk_qcow2_xml_backing disk_missing boot_order_per_device
    net_user_virtio net_user_default_model net_two_models net_ethernet_tap net_ethernet_no_dev
    net_network serial_pty serial_file serial_unix serial_tcp serial_pty_logfile console_virtio
    rng_random rng_builtin_rate memballoon_virtio memballoon_options vnc_autoport vnc_port
    vnc_tablet_q35 spice_unsupported clock_localtime on_reboot_destroy name_with_comma
    pci_address_explicit machine_unsupported usb_piix3_default test_guest_like
    virt_install_like virt_install_like_kvm virt_install_like_q35 rtc_track_guest
    refuse_timer_kvmclock refuse_hyperv refuse_watchdog refuse_hostdev refuse_filesystem
    refuse_seclabel_dynamic refuse_cputune refuse_channel refuse_on_poweroff_restart
}

/// Every input has a test above and an expected output.
#[test]
fn every_input_is_tested() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/argv");
    let src = std::fs::read_to_string(file!()).unwrap_or_else(|_| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/argv.rs"))
            .unwrap()
    });
    let mut n = 0;
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "xml") {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                src.contains(&format!(" {stem} ")) || src.contains(&format!(" {stem}\n")),
                "{stem}.xml has no golden! entry"
            );
            n += 1;
        }
    }
    assert!(n >= 40, "only {n} golden inputs");
}

/// Every TCG golden command line is accepted by the installed QEMU: started (with `-S`, so no
/// guest code runs), it is still running after a moment instead of exiting with an argument
/// error. Host paths the inputs name are redirected into a scratch directory first; inputs whose
/// firmware is not installed are skipped.
#[test]
fn tcg_command_lines_are_accepted_by_qemu() {
    let Some(qemu) = common::qemu_or_skip("tcg_command_lines_are_accepted_by_qemu") else {
        return;
    };
    let guest = common::test_guest();
    let scratch = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/argv");
    let dir = images().display().to_string();
    let mut cases = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "args"))
        .collect();
    names.sort();
    for args_file in names {
        let name = args_file.file_stem().unwrap().to_str().unwrap().to_string();
        let xml = std::fs::read_to_string(data.join(format!("{name}.xml")))
            .unwrap()
            .replace("@DIR@", &dir);
        let mut def = rvirt_xml::domain::parse(&xml).unwrap();
        if def.virt_type != rvirt_xml::domain::VirtType::Qemu {
            continue;
        }
        if let Some(l) = &def.os.loader {
            if l.path.as_ref().is_some_and(|p| !Path::new(p).exists()) {
                eprintln!("skip {name}: firmware {:?} not installed", l.path);
                continue;
            }
        }
        if def.os.kernel.is_some() {
            def.os.kernel = Some(guest.kernel.display().to_string());
            def.os.initrd = Some(guest.initrd.display().to_string());
        }
        for (i, c) in def.devices.serials.iter_mut().enumerate() {
            if c.source.path.is_some() {
                let p = scratch.path().join(format!("{name}-{i}"));
                c.source.path = Some(p.display().to_string());
                c.source.listen = true;
            }
            if c.source.logfile.is_some() {
                let p = scratch.path().join(format!("{name}-{i}.log"));
                c.source.logfile = Some(p.display().to_string());
            }
            if c.source.service.is_some() {
                c.source.service = Some("0".into());
            }
        }
        let chains = rvirt_qemu::argv::resolve_disks(&def).unwrap();
        let cmd = rvirt_qemu::argv::build(&def, &chains, &Default::default()).unwrap();
        cases.push((name, cmd.args));
    }
    assert!(cases.len() >= 40, "only {} TCG cases", cases.len());
    // One at a time (the cases share image files, which QEMU locks); a QMP greeting on an
    // extra monitor means QEMU got past its whole command line into the main loop.
    for (name, args) in &cases {
        let sock = scratch.path().join("qmp.sock");
        let _ = std::fs::remove_file(&sock);
        let mut child = std::process::Command::new(&qemu)
            .args(args)
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .current_dir(scratch.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _guard = common::KillOnDrop::new(child.id() as i32);
        let t0 = std::time::Instant::now();
        let greeted = loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("{name}: QEMU exited ({status}): {err}");
            }
            if let Ok(s) = std::os::unix::net::UnixStream::connect(&sock) {
                use std::io::BufRead;
                let mut line = String::new();
                s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                let _ = std::io::BufReader::new(s).read_line(&mut line);
                break line.contains("QMP");
            }
            assert!(t0.elapsed().as_secs() < 30, "{name}: no QMP socket");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(greeted, "{name}: no QMP greeting");
        let _ = child.kill();
        let _ = child.wait();
    }
}
