//! Differential XML conformance against libvirt 9.0 on libvirt's own test corpora (issue 3).
//!
//! Every domain document of `genericxml2xmlindata`, `qemuxml2argvdata` and `qemuxml2xmloutdata`
//! (root `type` rewritten to `test`, identically for both daemons) and every network, pool and
//! volume document of `networkxml2xmlin`, `storagepoolxml2xmlin` and `storagevolxml2xmlin` is
//! defined on rvirtd's test driver and on Debian's libvirtd's test driver through the `rvirt`
//! crate's remote driver, read back with `dumpxml` and removed again. A case passes when both
//! daemons answer the same: the same bytes (generated UUIDs/MACs masked), or the same error
//! (code, domain and message). The bar: ≥ 95 % per corpus, and rvirtd refuses every document
//! libvirt refuses. Every document rvirtd accepts must also be stable under re-parsing:
//! format(parse(x)) == format(parse(format(parse(x)))).
//!
//! The corpora come from Debian's libvirt source package, fetched into `<target>/libvirt-src` on
//! first use (`scripts/fetch-libvirt-src.sh`; `RVIRT_LIBVIRT_SRC` points at an unpacked tree
//! instead). `RVIRT_UPDATE_XML_DIFFERENCES=1` rewrites `docs/xml-differences.md` from the run.

use e2e::corpus::{self, Case, Kind, Outcome, Runner};
use e2e::{have, repo_root, Daemon, DaemonKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The identical-outcome bar per corpus, in percent.
const BAR: f64 = 95.0;

async fn run_all(runner: &Runner, cases: &[Case]) -> Vec<(Outcome, Option<String>)> {
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        out.push(runner.run(c).await);
    }
    out
}

#[derive(Default)]
struct Tally {
    total: usize,
    identical: usize,
    same_xml: usize,
    same_reject_other_error: usize,
    rvirt_refuses: usize,
    rvirt_accepts_libvirt_refuses: usize,
    xml_differs: usize,
}

/// A case whose outcomes differ, with the reason shown in the report.
struct Difference {
    corpus: &'static str,
    file: String,
    category: &'static str,
    reason: String,
}

fn first_difference(want: &str, got: &str, labels: (&str, &str)) -> String {
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return format!(
                "line {}: {} `{}`, {} `{}`",
                i + 1,
                labels.0,
                a.unwrap_or("(end)").trim(),
                labels.1,
                b.unwrap_or("(end)").trim()
            );
        }
    }
    "identical".to_string()
}

/// format(parse(x)) == format(parse(format(parse(x)))) with rvirt-xml in process.
fn round_trip(case: &Case) -> Result<(), String> {
    fn twice<T, E: std::fmt::Debug>(
        x: &str,
        parse: impl Fn(&str) -> Result<T, E>,
        format: impl Fn(&T) -> String,
    ) -> Result<(), String> {
        let first = format(&parse(x).map_err(|e| format!("first parse: {e:?}"))?);
        let second = format(&parse(&first).map_err(|e| format!("re-parse: {e:?}"))?);
        if first == second {
            Ok(())
        } else {
            Err(first_difference(
                &first,
                &second,
                ("first format", "second"),
            ))
        }
    }
    use rvirt_xml::{domain, network::NetworkDef, storage};
    match &case.kind {
        Kind::Domain => twice(&case.xml, domain::parse, |d| {
            domain::format(d, domain::FormatOpts::default())
        }),
        Kind::Network => twice(&case.xml, NetworkDef::parse, |n| n.format(false)),
        Kind::Pool => twice(&case.xml, storage::PoolDef::parse, |p| p.format()),
        Kind::Volume(pool) => {
            let pool_type = match pool.as_str() {
                "pool-disk" => storage::PoolType::Disk,
                "pool-logical" => storage::PoolType::Logical,
                "pool-gluster" => storage::PoolType::Gluster,
                _ => storage::PoolType::Dir,
            };
            twice(
                &case.xml,
                |x| storage::VolDef::parse(pool_type, x),
                |v| v.format(pool_type),
            )
        }
    }
}

#[test]
fn libvirt_corpora_define_alike_on_rvirtd_and_libvirtd() {
    assert!(
        have("libvirtd"),
        "libvirtd is required: run scripts/install-deps.sh"
    );
    let src = corpus::libvirt_src();
    let mut cases = corpus::cases(&src);
    assert!(
        cases.len() > 1500,
        "corpus incomplete: {} cases",
        cases.len()
    );
    // RVIRT_CORPUS_ONLY=substring runs only the matching documents and prints both answers in
    // full where they differ (for investigating; the bars are not checked then).
    let only = std::env::var("RVIRT_CORPUS_ONLY").ok();
    if let Some(f) = &only {
        cases.retain(|c| format!("{}/{}", c.corpus, c.file).contains(f.as_str()));
    }

    let reference = Daemon::start(DaemonKind::Libvirtd);
    let ours = Daemon::start(DaemonKind::Rvirtd);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = std::time::Instant::now();
    let runners = rt.block_on(async {
        let prepare = |uri: String| {
            let src = src.clone();
            async move {
                Runner::new(&uri, &src)
                    .await
                    .unwrap_or_else(|e| panic!("preparing {uri}: {}", e.message))
            }
        };
        tokio::join!(
            prepare(reference.test_uri(false)),
            prepare(ours.test_uri(false))
        )
    });
    let (want, got) = rt
        .block_on(async { tokio::join!(run_all(&runners.0, &cases), run_all(&runners.1, &cases)) });
    let elapsed = started.elapsed();

    // Round trip: rvirt-xml in process must format what it formatted once identically again,
    // except where libvirt itself changes its own output when it is defined again (then both
    // daemons must change it the same way).
    let mut round_trip_failures = Vec::new();
    let mut second: Vec<Case> = Vec::new();
    for ((case, (w, w_raw)), (g, _)) in cases.iter().zip(&want).zip(&got) {
        if !g.accepted() {
            continue;
        }
        if let Err(e) = round_trip(case) {
            match (w == g, w_raw) {
                (true, Some(raw)) => second.push(Case {
                    xml: raw.clone(),
                    file: format!("{} ({e})", case.file),
                    ..case.clone()
                }),
                _ => round_trip_failures.push(format!("{}/{}: {e}", case.corpus, case.file)),
            }
        }
    }
    let (want2, got2) = rt.block_on(async {
        tokio::join!(run_all(&runners.0, &second), run_all(&runners.1, &second))
    });
    let mut libvirt_unstable = Vec::new();
    for ((case, (w, _)), (g, _)) in second.iter().zip(&want2).zip(&got2) {
        let first = want
            .iter()
            .zip(&cases)
            .find(|(_, c)| {
                c.corpus == case.corpus && case.file.starts_with(&format!("{} (", c.file))
            })
            .map(|((o, _), _)| o);
        let libvirt_changes = match (first, w) {
            (Some(Outcome::Xml(a)), Outcome::Xml(b)) => {
                corpus::mask_generated("", a) != corpus::mask_generated("", b)
            }
            _ => true,
        };
        if libvirt_changes && w == g {
            libvirt_unstable.push(format!("{}/{}", case.corpus, case.file));
        } else {
            round_trip_failures.push(format!(
                "{}/{}{}",
                case.corpus,
                case.file,
                if libvirt_changes {
                    " (re-defining libvirt's output differs between the daemons)"
                } else {
                    ""
                }
            ));
        }
    }
    rt.block_on(async {
        let _ = tokio::join!(runners.0.close(), runners.1.close());
    });
    drop(ours);
    drop(reference);
    let want: Vec<Outcome> = want.into_iter().map(|(o, _)| o).collect();
    let got: Vec<Outcome> = got.into_iter().map(|(o, _)| o).collect();

    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut diffs = Vec::new();
    for ((case, want), got) in cases.iter().zip(&want).zip(&got) {
        let t = tallies.entry(case.corpus).or_default();
        t.total += 1;
        if want == got {
            t.identical += 1;
            if matches!(want, Outcome::Xml(_)) {
                t.same_xml += 1;
            }
            continue;
        }
        let (category, reason) = match (want, got) {
            (Outcome::Xml(w), Outcome::Xml(g)) => {
                t.xml_differs += 1;
                (
                    "output differs",
                    first_difference(w, g, ("libvirt", "rvirt")),
                )
            }
            (Outcome::Xml(_), Outcome::Error(_, _, m)) => {
                t.rvirt_refuses += 1;
                ("rvirt refuses", m.clone())
            }
            (Outcome::Error(..), Outcome::Xml(_)) => {
                t.rvirt_accepts_libvirt_refuses += 1;
                ("rvirt accepts what libvirt refuses", want.summary())
            }
            (Outcome::Error(..), Outcome::Error(..)) => {
                t.same_reject_other_error += 1;
                (
                    "both refuse, different error",
                    format!("libvirt: {}; rvirt: {}", want.summary(), got.summary()),
                )
            }
        };
        diffs.push(Difference {
            corpus: case.corpus,
            file: case.file.clone(),
            category,
            reason,
        });
    }

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| corpus | documents | identical | rate | of which same XML / same error | rvirt refuses | output differs | other error | rvirt accepts, libvirt refuses |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (corpus, _) in corpus::CORPORA {
        let Some(t) = tallies.get(corpus) else {
            continue;
        };
        let _ = writeln!(
            table,
            "| {corpus} | {} | {} | {:.1} % | {} / {} | {} | {} | {} | {} |",
            t.total,
            t.identical,
            rate(t),
            t.same_xml,
            t.identical - t.same_xml,
            t.rvirt_refuses,
            t.xml_differs,
            t.same_reject_other_error,
            t.rvirt_accepts_libvirt_refuses
        );
    }
    println!("XML conformance, rvirtd vs libvirtd 9.0 ({elapsed:.1?}):\n{table}");
    for d in &diffs {
        println!("  {}/{}: {}: {}", d.corpus, d.file, d.category, d.reason);
    }
    for u in &libvirt_unstable {
        println!("  round trip changes the output, as libvirt's does: {u}");
    }
    if only.is_some() {
        for ((case, want), got) in cases.iter().zip(&want).zip(&got) {
            if want != got {
                println!(
                    "==== {}/{}\n---- libvirt\n{}\n---- rvirt\n{}",
                    case.corpus,
                    case.file,
                    show(want),
                    show(got)
                );
            }
        }
        return;
    }
    if std::env::var_os("RVIRT_UPDATE_XML_DIFFERENCES").is_some() {
        write_report(&table, &diffs, &libvirt_unstable);
    }

    let mut failures = Vec::new();
    for (corpus, t) in &tallies {
        if rate(t) < BAR {
            failures.push(format!(
                "{corpus}: {:.1} % identical, below {BAR} %",
                rate(t)
            ));
        }
        if t.rvirt_accepts_libvirt_refuses > 0 {
            failures.push(format!(
                "{corpus}: rvirt accepts {} document(s) libvirt refuses",
                t.rvirt_accepts_libvirt_refuses
            ));
        }
    }
    if !round_trip_failures.is_empty() {
        failures.push(format!(
            "not stable under re-parsing:\n  {}",
            round_trip_failures.join("\n  ")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Xml(x) => x.clone(),
        e => e.summary(),
    }
}

fn rate(t: &Tally) -> f64 {
    100.0 * t.identical as f64 / t.total.max(1) as f64
}

fn write_report(table: &str, diffs: &[Difference], unstable: &[String]) {
    let path = repo_root().join("docs/xml-differences.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    // The hand-written part (everything before the generated marker) is kept.
    const MARK: &str = "<!-- generated by crates/e2e/tests/xml_corpus.rs; edit above this line -->";
    let head = match old.find(MARK) {
        Some(i) => old[..i].to_string(),
        // No marker yet: everything there is hand-written.
        None if !old.trim().is_empty() => format!("{}\n\n", old.trim_end()),
        None => "# XML differences from libvirt 9.0\n\n".to_string(),
    };
    let mut s = format!("{head}{MARK}\n\n## Pass rates\n\n{table}\n## Remaining differences\n\n");
    if diffs.is_empty() {
        s.push_str("None.\n");
    } else {
        s.push_str("| corpus | document | difference | reason |\n|---|---|---|---|\n");
        for d in diffs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                d.corpus,
                d.file,
                d.category,
                d.reason.replace('|', "\\|").replace('\n', " ")
            );
        }
    }
    s.push_str(
        "\n## Documents whose output changes when defined again\n\nlibvirt 9.0 itself formats these \
         differently when its own output is defined again; rvirt reproduces that second answer \
         byte for byte too (checked by the test), so format(parse(x)) is not a fixed point here:\n\n",
    );
    for u in unstable {
        let _ = writeln!(s, "- {u}");
    }
    std::fs::create_dir_all(path.parent().expect("docs dir")).expect("create docs/");
    std::fs::write(&path, s).expect("write docs/xml-differences.md");
}
