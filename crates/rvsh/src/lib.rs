//! rvsh: the virsh-compatible shell for rvirt, as a library.
//!
//! Layout (after youki: definitions in a library, a thin binary): [`cli`] parses the program's
//! own options, [`parse`] holds virsh's command grammar, [`cmd`] the command tables (one module
//! per virsh command group) and the runner, [`output`] virsh's text formats, [`shell`] the
//! interactive loop, [`ctl`] the connection and error state every command works on, and
//! [`auth`] the credential prompt. [`main_with_args`] is the whole program; `main.rs` only calls
//! it.
//!
//! Behaviour and text follow Debian's virsh 9.0 (stdout, stderr and exit status), with `rvsh`
//! in place of `virsh` in the prompt and banner. Beyond virsh, `--json` on `list`, `dominfo`,
//! `domstate`, `nodeinfo`, `net-list`, `net-info`, `pool-list`, `pool-info`, `vol-list` and
//! `vol-info` prints one JSON document instead of text; each command module documents its
//! shape.

pub mod auth;
pub mod cli;
pub mod cmd;
pub mod ctl;
pub mod output;
pub mod parse;
pub mod shell;

use parse::{parse, ArgvLexer, StringLexer};

/// Runs rvsh with a full argument vector (`argv[0]` first) and returns the exit status.
pub fn main_with_args(args: &[String]) -> i32 {
    let mut ctl = match ctl::Ctl::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: Failed to initialize: {e}");
            return 1;
        }
    };
    if let Some(a0) = args.first() {
        ctl.progname = a0.rsplit('/').next().unwrap_or(a0).to_string();
    }
    run(&mut ctl, args)
}

/// [`main_with_args`] on a prepared [`ctl::Ctl`] (which may capture output).
pub fn run(ctl: &mut ctl::Ctl, args: &[String]) -> i32 {
    let words = match cli::parse_args(args, ctl) {
        cli::Parsed::Exit(code) => return code,
        cli::Parsed::Run(w) => w,
    };
    let cmds = if words.is_empty() {
        None
    } else {
        let parsed = if words.len() == 1 {
            parse(&mut StringLexer::new(&words[0]), &cmd::lookup)
        } else {
            parse(&mut ArgvLexer::new(&words), &cmd::lookup)
        };
        match parsed {
            Ok(c) => Some(c),
            Err(msgs) => {
                for m in msgs {
                    ctl.error(&m);
                }
                ctl.close();
                return 1;
            }
        }
    };
    // A URI given with -c must connect before anything runs; the default one connects lazily.
    if ctl.connname.is_some() && !ctl.reconnect(None, false, false) {
        ctl.report_error();
        ctl.close();
        return 1;
    }
    if ctl.connname.is_none() {
        ctl.connname = std::env::var("VIRSH_DEFAULT_CONNECT_URI").ok();
    }
    let ok = match cmds {
        Some(cmds) => cmd::run(ctl, &cmds),
        None => {
            shell::interactive(ctl);
            true
        }
    };
    ctl.close();
    if ok {
        0
    } else {
        1
    }
}
