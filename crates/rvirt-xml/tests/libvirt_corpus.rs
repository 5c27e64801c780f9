//! libvirt 9.0's own test documents for the domain capabilities and secret models: every file of
//! `tests/domaincapsdata` (what `virDomainCapsFormat` printed for each driver and QEMU
//! version) and `tests/secretxml2xmlin` (`secretxml2xmltest.c`: parse, format, compare with the
//! input) must parse and format back to the same bytes, and the model must survive its own
//! output.
//!
//! The documents come from Debian's libvirt source package, never committed:
//! `$RVIRT_LIBVIRT_SRC` when set, else fetched once into `<target dir>/libvirt-src` by
//! `scripts/fetch-libvirt-src.sh`.

mod common;

use common::corpus;
use rvirt_xml::domcaps::DomainCaps;
use rvirt_xml::secret::SecretDef;

/// Runs `check` on every document of `dir`, prints the pass rate and fails listing the first
/// few differences unless all pass.
fn run(dir: &str, check: impl Fn(&str) -> Result<(), String>) {
    let docs = corpus(dir);
    let failures: Vec<(String, String)> = docs
        .iter()
        .filter_map(|(name, xml)| check(xml).err().map(|e| (name.clone(), e)))
        .collect();
    let passed = docs.len() - failures.len();
    eprintln!(
        "{dir}: {passed}/{} identical ({:.1} %)",
        docs.len(),
        100.0 * passed as f64 / docs.len() as f64
    );
    let report: Vec<String> = failures
        .iter()
        .take(5)
        .map(|(n, e)| format!("--- {n}\n{e}"))
        .collect();
    assert!(failures.is_empty(), "{}", report.join("\n"));
}

/// The first differing line of two documents, for failure reports.
fn first_difference(want: &str, got: &str) -> String {
    for (i, (a, b)) in want.lines().zip(got.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  libvirt: {a}\n  rvirt:   {b}", i + 1);
        }
    }
    format!(
        "lengths differ: libvirt {} lines, rvirt {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn domaincapsdata_formats_byte_identical() {
    run("domaincapsdata", |xml| {
        let caps = DomainCaps::parse(xml).map_err(|e| format!("refused: {}", e.message()))?;
        let out = caps.format();
        if out != xml {
            return Err(first_difference(xml, &out));
        }
        let again = DomainCaps::parse(&out).map_err(|e| format!("own output refused: {e}"))?;
        if again != caps {
            return Err("the model changed on reading its own output".into());
        }
        Ok(())
    });
}

#[test]
fn secretxml2xmlin_formats_byte_identical() {
    run("secretxml2xmlin", |xml| {
        let def = SecretDef::parse(xml).map_err(|e| format!("refused: {}", e.message()))?;
        let out = def.format();
        if out != xml {
            return Err(first_difference(xml, &out));
        }
        let again = SecretDef::parse(&out).map_err(|e| format!("own output refused: {e}"))?;
        if again != def {
            return Err("the model changed on reading its own output".into());
        }
        Ok(())
    });
}
