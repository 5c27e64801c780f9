//! libvirt 9.0's own `qemu-img` command-line tests (`tests/storagevolxml2argvtest.c`) run
//! against our builder, on libvirt's pool/volume XML and expected command lines, read from the
//! unpacked libvirt source tree (LIBVIRT_SRC, set by the test command; see src_tree).

use std::path::{Path, PathBuf};

use rvirt_storage::pool::qemu_img::{create_args, ConvertStep};
use rvirt_xml::storage::vol::parse_flags;
use rvirt_xml::storage::{PoolDef, PoolType, VolDef};

/// libvirt's unpacked source tree: `LIBVIRT_SRC` (the test command sets it after fetching the
/// tree with scripts/fetch-libvirt-src.sh, and then it must exist), else the fetch script's cache
/// under `target/libvirt-src` if a developer has fetched it.
fn src_tree() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LIBVIRT_SRC") {
        let p = PathBuf::from(p);
        assert!(
            p.join("tests/storagevolxml2argvdata").is_dir(),
            "LIBVIRT_SRC={} has no tests/storagevolxml2argvdata: run scripts/fetch-libvirt-src.sh",
            p.display()
        );
        return Some(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/libvirt-src/libvirt-9.0.0"
    ));
    p.join("tests/storagevolxml2argvdata").is_dir().then_some(p)
}

struct Case {
    fail: bool,
    parse: u32,
    pool: &'static str,
    vol: &'static str,
    input: Option<(&'static str, &'static str)>,
    expect: &'static str,
    flags: u32,
}

const PREALLOC: u32 = 1;

fn case(
    pool: &'static str,
    vol: &'static str,
    input: Option<(&'static str, &'static str)>,
    expect: &'static str,
    flags: u32,
) -> Case {
    Case {
        fail: false,
        parse: 0,
        pool,
        vol,
        input,
        expect,
        flags,
    }
}

/// The table of `storagevolxml2argvtest.c`'s `mymain`.
fn cases() -> Vec<Case> {
    let dir = Some(("pool-dir", "vol-file"));
    let mut v = vec![
        case("pool-dir", "vol-qcow2", None, "qcow2-compat", 0),
        case(
            "pool-dir",
            "vol-qcow2-nobacking",
            None,
            "qcow2-nobacking-prealloc-compat",
            PREALLOC,
        ),
        case(
            "pool-dir",
            "vol-qcow2-nobacking",
            dir,
            "qcow2-nobacking-convert-prealloc-compat",
            PREALLOC,
        ),
        case("pool-dir", "vol-qcow2-lazy", None, "qcow2-lazy", 0),
        case("pool-dir", "vol-qcow2-1.1", None, "qcow2-1.1", 0),
        Case {
            fail: true,
            ..case(
                "pool-dir",
                "vol-qcow2-0.10-lazy",
                None,
                "qcow2-0.10-lazy",
                0,
            )
        },
        case(
            "pool-dir",
            "vol-qcow2-nobacking",
            Some(("pool-logical", "vol-logical")),
            "qcow2-from-logical-compat",
            0,
        ),
        case(
            "pool-logical",
            "vol-logical",
            Some(("pool-dir", "vol-qcow2-nobacking")),
            "logical-from-qcow2",
            0,
        ),
        case("pool-dir", "vol-qcow2-nocow", None, "qcow2-nocow-compat", 0),
        case(
            "pool-dir",
            "vol-qcow2-nocapacity",
            dir,
            "qcow2-nocapacity-convert-prealloc",
            PREALLOC,
        ),
        case(
            "pool-dir",
            "vol-qcow2-zerocapacity",
            None,
            "qcow2-zerocapacity",
            0,
        ),
        Case {
            parse: parse_flags::OPT_CAPACITY,
            ..case(
                "pool-dir",
                "vol-qcow2-nocapacity-backing",
                None,
                "qcow2-nocapacity",
                0,
            )
        },
        case(
            "pool-dir",
            "vol-qcow2-clusterSize",
            None,
            "qcow2-clusterSize",
            0,
        ),
        case("pool-dir", "vol-file-iso", None, "iso", 0),
        case(
            "pool-dir",
            "vol-file",
            Some(("pool-dir", "vol-file-iso")),
            "iso-input",
            0,
        ),
        Case {
            fail: true,
            ..case(
                "pool-dir",
                "vol-qcow2-encryption",
                None,
                "qcow2-encryption",
                0,
            )
        },
        case("pool-dir", "vol-luks", None, "luks", 0),
        case("pool-dir", "vol-luks-cipher", None, "luks-cipher", 0),
        case("pool-dir", "vol-qcow2-luks", None, "qcow2-luks", 0),
        case("pool-dir", "vol-luks-convert", dir, "luks-convert", 0),
        case(
            "pool-dir",
            "vol-luks-convert",
            Some(("pool-dir", "vol-file-qcow2")),
            "luks-convert-qcow2",
            0,
        ),
        case(
            "pool-dir",
            "vol-luks",
            Some(("pool-dir", "vol-luks-convert")),
            "luks-convert-encrypt",
            0,
        ),
        case(
            "pool-dir",
            "vol-file",
            Some(("pool-dir", "vol-luks-convert")),
            "luks-convert-encrypt2fileraw",
            0,
        ),
        case(
            "pool-dir",
            "vol-file-qcow2",
            Some(("pool-dir", "vol-luks-convert")),
            "luks-convert-encrypt2fileqcow2",
            0,
        ),
        case(
            "pool-dir",
            "vol-qcow2-luks",
            Some(("pool-dir", "vol-qcow2-luks-convert")),
            "qcow2-luks-convert-encrypt",
            0,
        ),
        case(
            "pool-dir",
            "vol-file",
            Some(("pool-dir", "vol-qcow2-luks-convert")),
            "qcow2-luks-convert-encrypt2fileraw",
            0,
        ),
        case(
            "pool-dir",
            "vol-file-qcow2",
            Some(("pool-dir", "vol-qcow2-luks-convert")),
            "qcow2-luks-convert-encrypt2fileqcow2",
            0,
        ),
    ];
    v.sort_by_key(|c| c.expect);
    v
}

fn read(tests: &Path, sub: &str, name: &str) -> String {
    std::fs::read_to_string(tests.join(sub).join(format!("{name}.xml"))).unwrap()
}

/// libvirt's `testSetVolumeType`: block volumes in logical pools, files elsewhere.
fn vol_type(p: &PoolDef) -> u32 {
    if p.type_ == PoolType::Logical {
        1
    } else {
        0
    }
}

fn run(tests: &Path, c: &Case) -> Result<String, String> {
    let pool = PoolDef::parse(&read(tests, "storagepoolxml2xmlin", c.pool)).unwrap();
    let mut parse = c.parse;
    if c.input.is_some() {
        parse |= parse_flags::NO_CAPACITY;
    }
    let vol = VolDef::parse_with_flags(
        pool.type_,
        &read(tests, "storagevolxml2xmlin", c.vol),
        parse,
    )
    .map_err(|e| e.message())?;
    let input = c.input.map(|(ip, iv)| {
        let ipool = PoolDef::parse(&read(tests, "storagepoolxml2xmlin", ip)).unwrap();
        let ivol = VolDef::parse(ipool.type_, &read(tests, "storagevolxml2xmlin", iv)).unwrap();
        (ivol, vol_type(&ipool))
    });
    let encrypted = vol.target.encryption.is_some()
        || input
            .as_ref()
            .is_some_and(|(i, _)| i.target.encryption.is_some());
    let steps: &[ConvertStep] = if input.is_some() && encrypted {
        &[ConvertStep::Create, ConvertStep::Convert]
    } else {
        &[ConvertStep::None]
    };
    let mut lines = Vec::new();
    for step in steps {
        let args = create_args(
            &pool,
            &vol,
            vol_type(&pool),
            input.as_ref().map(|(i, t)| (i, *t)),
            c.flags,
            Some("/path/to/secretFile"),
            Some("/path/to/inputSecretFile"),
            *step,
        )
        .map_err(|e| e.message())?;
        lines.push(format!("qemu-img {}", args.join(" ")));
    }
    Ok(lines.join("\n"))
}

/// libvirt's expected file as one command per line.
fn expected(tests: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(
        tests
            .join("storagevolxml2argvdata")
            .join(format!("{name}.argv")),
    )
    .unwrap();
    text.replace(" \\\n", " ").trim_end().to_string()
}

#[test]
fn command_lines_match_libvirts_tests() {
    let Some(src) = src_tree() else {
        eprintln!("libvirt source tree not found; skipping");
        return;
    };
    let tests = src.join("tests");
    let mut failures = Vec::new();
    for c in cases() {
        match (run(&tests, &c), c.fail) {
            (Ok(got), false) => {
                let want = expected(&tests, c.expect);
                if got != want {
                    failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", c.expect));
                }
            }
            (Err(e), false) => failures.push(format!("{}: unexpected error {e}", c.expect)),
            (Ok(got), true) => failures.push(format!("{}: should fail, got {got:?}", c.expect)),
            (Err(_), true) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
