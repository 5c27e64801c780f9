//! `help` output against golden files captured from Debian's virsh 9.0 (`virsh help CMD` and
//! `virsh help`, stored under `tests/golden/`). rvsh's `--json` option is not in virsh, so its
//! synopsis word and option line are removed from rvsh's page before comparing; nothing else is
//! normalised.

use rvsh::cmd::builtin::command_help;
use rvsh::cmd::{groups, lookup};

fn golden(name: &str) -> String {
    let p = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn without_json(page: &str) -> String {
    let page: String = page
        .replace(" [--json]", "")
        .lines()
        .filter(|l| !l.trim_start().starts_with("--json "))
        .map(|l| format!("{l}\n"))
        .collect();
    // A command whose only option is --json has no OPTIONS section in virsh.
    page.replace("\n  OPTIONS\n\n", "\n")
}

#[test]
fn every_command_page_matches_virsh() {
    let mut checked = 0;
    for g in groups() {
        for c in g.cmds {
            // `virsh help CMD` ends with the blank line every command is followed by.
            let ours = without_json(&command_help(c)) + "\n";
            assert_eq!(
                ours,
                golden(&format!("help/{}.txt", c.name)),
                "help {}",
                c.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 76);
}

#[test]
fn group_listing_is_virsh_order_and_text() {
    let all = golden("help-all.txt");
    for g in groups() {
        let header = format!(" {} (help keyword '{}'):\n", g.name, g.keyword);
        let start = all
            .find(&header)
            .unwrap_or_else(|| panic!("group {}", g.name));
        let section = &all[start..];
        let section = &section[..section.find("\n\n").unwrap() + 1];
        let mut pos = 0;
        for c in g.cmds {
            let line = format!("    {:<30} {}\n", c.name, c.help);
            let at = section[pos..]
                .find(&line)
                .unwrap_or_else(|| panic!("{} out of order or different in {}", c.name, g.name));
            pos += at + line.len() - 1;
        }
        assert!(lookup(g.cmds[0].name).is_some());
    }
}
