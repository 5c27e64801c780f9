//! Golden tests for the domain XML formatter: each `tests/data/domain/NAME.xml` was defined on
//! libvirt 9.0's test driver and its answers recorded beside it by `regen.py` (`NAME.out.xml`:
//! the defined domain's XML, `NAME.live.xml`: after starting it, `NAME.err`: the refusal,
//! `NAME.redefine.xml`: libvirt's answer to re-defining its own output, only where that
//! differs). rvirt must produce the same bytes, and formatting must be stable under re-parsing.
//!
//! To regenerate the expected files, run `/usr/bin/python3 tests/data/domain/regen.py [URI]`.

use rvirt_xml::domain::{format, parse, DomainDef, FormatOpts};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/domain")
}

fn inputs() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.ends_with(".xml")
                && ![".out.xml", ".live.xml", ".redefine.xml"]
                    .iter()
                    .any(|s| n.ends_with(s))
        })
        .map(|n| n.trim_end_matches(".xml").to_string())
        .collect();
    v.sort();
    v
}

fn read(name: &str) -> Option<String> {
    std::fs::read_to_string(data_dir().join(name)).ok()
}

/// What the test driver does on define: parse, then name interfaces.
fn define(xml: &str) -> Result<DomainDef, rvirt_xml::XmlError> {
    let mut def = parse(xml)?;
    assert!(def.assign_test_ifnames());
    Ok(def)
}

fn live_id(live: &str) -> i32 {
    let start = live.find(" id='").expect("live XML has an id") + 5;
    let end = live[start..].find('\'').unwrap() + start;
    live[start..end].parse().unwrap()
}

#[test]
fn golden_files_match_libvirt() {
    let names = inputs();
    assert!(names.len() >= 15, "expected at least 15 golden inputs");
    let mut failures = Vec::new();
    for base in &names {
        let input = read(&format!("{base}.xml")).unwrap();
        if let Some(err) = read(&format!("{base}.err")) {
            let got = match define(&input) {
                Ok(_) => "accepted".to_string(),
                Err(e) => format!("{} {} {}\n", e.code(), e.domain(), e.message()),
            };
            if got != err {
                failures.push(format!("{base}.err:\n--- libvirt\n{err}--- rvirt\n{got}"));
            }
            continue;
        }
        let mut def = match define(&input) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{base}: refused: {}", e.message()));
                continue;
            }
        };
        let want = read(&format!("{base}.out.xml")).expect("expected output; run regen.py");
        let got = format(&def, FormatOpts::default());
        if got != want {
            failures.push(format!("{base}.out.xml:\n{}", diff(&want, &got)));
        }
        if let Some(live) = read(&format!("{base}.live.xml")) {
            def.id = Some(live_id(&live));
            let got = format(&def, FormatOpts::default());
            if got != live {
                failures.push(format!("{base}.live.xml:\n{}", diff(&live, &got)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn formatting_is_stable_under_reparse() {
    for base in inputs() {
        let input = read(&format!("{base}.xml")).unwrap();
        let Ok(def) = define(&input) else { continue };
        let once = format(&def, FormatOpts::default());
        let twice = format(&define(&once).unwrap(), FormatOpts::default());
        // Where libvirt itself renumbers on re-define, regen.py recorded its second answer.
        let want = read(&format!("{base}.redefine.xml")).unwrap_or_else(|| once.clone());
        assert_eq!(
            want, twice,
            "{base}: format(parse(format(parse(x)))) differs"
        );
    }
}

fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            out.push_str(&format!(
                "  line {}:\n    libvirt: {}\n    rvirt:   {}\n",
                i + 1,
                a.unwrap_or("<none>"),
                b.unwrap_or("<none>")
            ));
        }
    }
    out
}
