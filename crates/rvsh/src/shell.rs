//! Interactive mode: the `rvsh # ` prompt (`rvsh > ` when read-only), line editing and history
//! (rustyline, saved in `$XDG_CACHE_HOME/rvsh/history`), and the read–parse–run loop.
//!
//! Lines are split and quoted like a command-string argument (`;` and newlines separate
//! commands). When standard input is not a terminal the prompt and the line read are echoed to
//! standard output, as virsh's readline does, so a transcript reads like a session.

use crate::ctl::Ctl;
use crate::parse::{parse, StringLexer};
use std::io::{BufRead, IsTerminal};

/// The history file: `$XDG_CACHE_HOME/rvsh/history`, else `~/.cache/rvsh/history`.
pub fn history_path() -> Option<std::path::PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("rvsh").join("history"))
}

/// Where lines come from.
enum Input {
    Tty(Box<rustyline::DefaultEditor>),
    Pipe(std::io::StdinLock<'static>),
}

impl Input {
    fn open() -> Self {
        if std::io::stdin().is_terminal() {
            let config = rustyline::Config::builder()
                .max_history_size(500)
                .map(|b| b.auto_add_history(false).build());
            if let Ok(Ok(mut ed)) = config.map(rustyline::DefaultEditor::with_config) {
                if let Some(p) = history_path() {
                    let _ = ed.load_history(&p);
                }
                return Input::Tty(Box::new(ed));
            }
        }
        Input::Pipe(std::io::stdin().lock())
    }

    /// The next line without its newline; `None` at end of input.
    fn read(&mut self, ctl: &mut Ctl, prompt: &str) -> Option<String> {
        match self {
            Input::Tty(ed) => loop {
                match ed.readline(prompt) {
                    Ok(l) => return Some(l),
                    Err(rustyline::error::ReadlineError::Interrupted) => continue,
                    Err(_) => return None,
                }
            },
            Input::Pipe(stdin) => {
                ctl.print(prompt);
                let mut buf = Vec::new();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        ctl.print(&format!("{line}\n"));
                        Some(line)
                    }
                }
            }
        }
    }

    fn add_history(&mut self, line: &str) {
        if let Input::Tty(ed) = self {
            let _ = ed.add_history_entry(line);
        }
    }

    fn save_history(&mut self) {
        if let (Input::Tty(ed), Some(p)) = (self, history_path()) {
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = ed.save_history(&p);
        }
    }
}

/// Runs the interactive loop until `quit`/`exit` or end of input.
pub fn interactive(ctl: &mut Ctl) {
    ctl.imode = true;
    if !ctl.quiet {
        let name = ctl.progname.clone();
        ctl.print(&format!(
            "Welcome to {name}, the virtualization interactive terminal.\n\n"
        ));
        ctl.print("Type:  'help' for help with commands\n       'quit' to quit\n\n");
    }
    let mut input = Input::open();
    loop {
        let prompt = if ctl.readonly { "rvsh > " } else { "rvsh # " };
        let Some(line) = input.read(ctl, prompt) else {
            break;
        };
        if !line.is_empty() {
            input.add_history(&line);
            match parse(&mut StringLexer::new(&line), &crate::cmd::lookup) {
                Ok(cmds) => {
                    crate::cmd::run(ctl, &cmds);
                }
                Err(msgs) => {
                    for m in msgs {
                        ctl.error(&m);
                    }
                }
            }
        }
        if !ctl.imode {
            break;
        }
    }
    // virsh ends the session with a line break, after `quit` as after end of input.
    ctl.print("\n");
    input.save_history();
}
