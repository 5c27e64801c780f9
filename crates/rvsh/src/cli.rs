//! The program's own options (`-c URI`, `-r`, `-q`, …), parsed like virsh's
//! `getopt_long("+:c:d:e:hk:K:l:qrtvV")`: options stop at the first non-option (the command),
//! short options cluster (`-qr`), long options may be abbreviated to a unique prefix, and errors
//! use virsh's wording. What is left is the command: none (interactive), one argument (a command
//! string, split like an interactive line) or several (one command and its arguments).

use crate::ctl::Ctl;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run these command-line words (empty: interactive mode).
    Run(Vec<String>),
    /// Exit now with this status (help or version printed, or an error reported).
    Exit(i32),
}

/// `struct option` of virsh: long name, takes an argument (0 no, 1 required, 2 optional), short
/// letter.
const LONG: [(&str, u8, char); 11] = [
    ("connect", 1, 'c'),
    ("debug", 1, 'd'),
    ("escape", 1, 'e'),
    ("help", 0, 'h'),
    ("keepalive-interval", 1, 'k'),
    ("keepalive-count", 1, 'K'),
    ("log", 1, 'l'),
    ("quiet", 0, 'q'),
    ("readonly", 0, 'r'),
    ("timing", 0, 't'),
    ("version", 2, 'v'),
];

/// Short options and whether they take an argument.
fn short_takes_arg(c: char) -> Option<bool> {
    match c {
        'c' | 'd' | 'e' | 'k' | 'K' | 'l' => Some(true),
        'h' | 'q' | 'r' | 't' | 'v' | 'V' => Some(false),
        _ => None,
    }
}

/// `virsh -h` with rvsh's name and command list.
pub fn usage(progname: &str) -> String {
    let mut s = format!(
        "\n{progname} [options]... [<command_string>]\n{progname} [options]... <command> [args...]\n\n  options:\n    -c | --connect=URI      hypervisor connection URI\n    -d | --debug=NUM        debug level [0-4]\n    -e | --escape <char>    set escape sequence for console\n    -h | --help             this help\n    -k | --keepalive-interval=NUM\n                            keepalive interval in seconds, 0 for disable\n    -K | --keepalive-count=NUM\n                            number of possible missed keepalive messages\n    -l | --log=FILE         output logging to file\n    -q | --quiet            quiet mode\n    -r | --readonly         connect readonly\n    -t | --timing           print timing information\n    -v                      short version\n    -V                      long version\n         --version[=TYPE]   version, TYPE is short or long (default short)\n  commands (non interactive mode):\n\n"
    );
    for g in crate::cmd::groups() {
        s += &format!(" {} (help keyword '{}')\n", g.name, g.keyword);
        for c in g
            .cmds
            .iter()
            .filter(|c| c.flags & crate::parse::cflag::HIDDEN == 0)
        {
            s += &format!("    {:<30} {}\n", c.name, c.help);
        }
        s.push('\n');
    }
    s += "\n  (specify help <group> for details about the commands in the group)\n";
    s += "\n  (specify help <command> for details about the command)\n\n";
    s
}

/// `-V`: what this build is and supports.
pub fn long_version() -> String {
    format!(
        "rvsh command line tool of rvirt {}, implementing the libvirt {} API\n\nCompiled with support for:\n Drivers: Test Remote\n Miscellaneous: Readline\n",
        env!("CARGO_PKG_VERSION"),
        crate::cmd::host::version_text(rvirt::LIB_VERSION)
    )
}

/// One parsed option occurrence, or the reason getopt stopped on it.
enum Opt {
    /// A known option with its argument.
    Found(char, Option<String>, &'static str),
    /// Unknown, ambiguous, or an argument given to a flag: `optopt` (or 0) and the text.
    Unsupported(Option<char>, String),
    /// A required argument is missing.
    MissingArg(char),
}

/// Applies the options in `args[1..]` to `ctl` (`virshParseArgv`).
pub fn parse_args(args: &[String], ctl: &mut Ctl) -> Parsed {
    let mut i = 1;
    let mut found = Vec::new();
    'outer: while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        i += 1;
        if let Some(body) = a.strip_prefix("--") {
            let (name, val) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let exact = LONG.iter().find(|l| l.0 == name);
            let matches: Vec<_> = LONG.iter().filter(|l| l.0.starts_with(name)).collect();
            let opt = match (exact, matches.len()) {
                (Some(o), _) => o,
                (None, 1) => matches[0],
                _ => {
                    found.push(Opt::Unsupported(None, a.clone()));
                    break 'outer;
                }
            };
            match opt.1 {
                0 if val.is_some() => {
                    found.push(Opt::Unsupported(Some(opt.2), a.clone()));
                    break 'outer;
                }
                0 | 2 => found.push(Opt::Found(opt.2, val, opt.0)),
                _ => {
                    let v = match val {
                        Some(v) => v,
                        None if i < args.len() => {
                            i += 1;
                            args[i - 1].clone()
                        }
                        None => {
                            found.push(Opt::MissingArg(opt.2));
                            break 'outer;
                        }
                    };
                    found.push(Opt::Found(opt.2, Some(v), opt.0));
                }
            }
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            match short_takes_arg(c) {
                None => {
                    found.push(Opt::Unsupported(Some(c), a.clone()));
                    break 'outer;
                }
                Some(false) => found.push(Opt::Found(c, None, "")),
                Some(true) => {
                    let rest: String = chars[j + 1..].iter().collect();
                    let v = if !rest.is_empty() {
                        rest
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        found.push(Opt::MissingArg(c));
                        break 'outer;
                    };
                    found.push(Opt::Found(c, Some(v), ""));
                    break;
                }
            }
            j += 1;
        }
    }
    for o in found {
        let (c, arg, long) = match o {
            Opt::Found(c, arg, long) => (c, arg, long),
            Opt::Unsupported(Some(c), _) => {
                ctl.error(&format!("unsupported option '-{c}'. See --help."));
                return Parsed::Exit(1);
            }
            Opt::Unsupported(None, text) => {
                ctl.error(&format!("unsupported option '{text}'. See --help."));
                return Parsed::Exit(1);
            }
            Opt::MissingArg(c) => {
                let name = LONG.iter().find(|l| l.2 == c).map(|l| l.0).unwrap_or("");
                ctl.error(&format!("option '-{c}'/'--{name}' requires an argument"));
                return Parsed::Exit(1);
            }
        };
        let shown = |short: &str| {
            if long.is_empty() {
                short.to_string()
            } else {
                format!("--{long}")
            }
        };
        let arg = arg.unwrap_or_default();
        match c {
            'c' => ctl.connname = Some(arg),
            'd' => {
                let n = crate::parse::strtol(&arg)
                    .filter(|(_, rest)| rest.is_empty())
                    .and_then(|(n, _)| i32::try_from(n).ok());
                match n {
                    None => {
                        ctl.error(&format!("option {} takes a numeric argument", shown("-d")));
                        return Parsed::Exit(1);
                    }
                    Some(n) if !(0..=4).contains(&n) => {
                        ctl.error(&format!("ignoring debug level {n} out of range [0-4]"))
                    }
                    Some(_) => {}
                }
            }
            'e' => {
                let b = arg.as_bytes();
                let ok = (b.len() == 2
                    && b[0] == b'^'
                    && (b[1].is_ascii_lowercase() || (b'@'..=b'_').contains(&b[1])))
                    || (b.len() == 1 && b[0] != b'^');
                if !ok {
                    ctl.error(&format!("Invalid string '{arg}' for escape sequence"));
                    return Parsed::Exit(1);
                }
                ctl.escape_char = arg.clone();
            }
            'h' => {
                ctl.print(&usage(&ctl.progname.clone()));
                return Parsed::Exit(0);
            }
            'k' | 'K' => {
                let short = if c == 'k' { "-k" } else { "-K" };
                let Some(n) = parse_c_int_base0(&arg) else {
                    ctl.error(&format!("Invalid value for option {}", shown(short)));
                    return Parsed::Exit(1);
                };
                if n < 0 {
                    ctl.error(&format!(
                        "option {} requires a positive integer argument",
                        shown(short)
                    ));
                    return Parsed::Exit(1);
                }
            }
            'l' => {
                ctl.error("option -l/--log (logging to a file) is not supported by rvsh");
                return Parsed::Exit(1);
            }
            'q' => ctl.quiet = true,
            't' => ctl.timing = true,
            'r' => ctl.readonly = true,
            'v' if arg != "long" => {
                ctl.print(&format!(
                    "{}\n",
                    crate::cmd::host::version_text(rvirt::LIB_VERSION)
                ));
                return Parsed::Exit(0);
            }
            'v' | 'V' => {
                ctl.print(&long_version());
                return Parsed::Exit(0);
            }
            _ => unreachable!("only known options are returned"),
        }
    }
    Parsed::Run(args[i..].to_vec())
}

/// C `strtol(s, NULL, 0)` into an `int`: decimal, `0x` hex or leading-`0` octal.
fn parse_c_int_base0(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (Parsed, String, String, Ctl) {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let err = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut ctl = Ctl::with_output(
            Box::new(crate::ctl::Capture(out.clone())),
            Box::new(crate::ctl::Capture(err.clone())),
        )
        .unwrap();
        let args: Vec<String> = std::iter::once("rvsh")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        let p = parse_args(&args, &mut ctl);
        let o = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let e = String::from_utf8(err.lock().unwrap().clone()).unwrap();
        (p, o, e, ctl)
    }

    #[test]
    fn options_then_command() {
        let (p, _, e, ctl) = run(&["-qr", "-c", "test:///default", "list", "--all"]);
        assert_eq!(p, Parsed::Run(vec!["list".into(), "--all".into()]));
        assert!(e.is_empty());
        assert!(ctl.quiet && ctl.readonly);
        assert_eq!(ctl.connname.as_deref(), Some("test:///default"));
        let (p, _, _, ctl) = run(&["--conn=x", "--read", "uri"]);
        assert_eq!(p, Parsed::Run(vec!["uri".into()]));
        assert_eq!(ctl.connname.as_deref(), Some("x"));
        assert!(ctl.readonly);
        let (p, _, _, ctl) = run(&["-cx"]);
        assert_eq!(p, Parsed::Run(vec![]));
        assert_eq!(ctl.connname.as_deref(), Some("x"));
    }

    #[test]
    fn virsh_errors() {
        for (args, msg) in [
            (
                &["--bogus"][..],
                "error: unsupported option '--bogus'. See --help.\n",
            ),
            (&["-x"][..], "error: unsupported option '-x'. See --help.\n"),
            (
                &["--k"][..],
                "error: unsupported option '--k'. See --help.\n",
            ),
            (
                &["--readonly=3"][..],
                "error: unsupported option '-r'. See --help.\n",
            ),
            (
                &["-c"][..],
                "error: option '-c'/'--connect' requires an argument\n",
            ),
            (
                &["--conn"][..],
                "error: option '-c'/'--connect' requires an argument\n",
            ),
            (
                &["-d", "abc"][..],
                "error: option -d takes a numeric argument\n",
            ),
            (
                &["--debug=x"][..],
                "error: option --debug takes a numeric argument\n",
            ),
            (
                &["-k", "-1"][..],
                "error: option -k requires a positive integer argument\n",
            ),
            (
                &["-e", "ab"][..],
                "error: Invalid string 'ab' for escape sequence\n",
            ),
        ] {
            let (p, _, e, _) = run(args);
            assert_eq!(p, Parsed::Exit(1), "{args:?}");
            assert_eq!(e, msg, "{args:?}");
        }
    }

    #[test]
    fn version_and_help() {
        let (p, o, _, _) = run(&["-v"]);
        assert_eq!((p, o.as_str()), (Parsed::Exit(0), "9.0.0\n"));
        let (p, o, _, _) = run(&["--version=short"]);
        assert_eq!((p, o.as_str()), (Parsed::Exit(0), "9.0.0\n"));
        let (_, o, _, _) = run(&["--version=long"]);
        assert!(o.starts_with("rvsh command line tool"));
        let (p, o, _, _) = run(&["-h"]);
        assert_eq!(p, Parsed::Exit(0));
        assert!(o.starts_with("\nrvsh [options]... [<command_string>]\n"));
        assert!(o.contains("    list                           list domains\n"));
    }

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_int_base0("10"), Some(10));
        assert_eq!(parse_c_int_base0("0x10"), Some(16));
        assert_eq!(parse_c_int_base0("010"), Some(8));
        assert_eq!(parse_c_int_base0("1x"), None);
    }
}
