//! The shell's own commands (virsh group "Virsh itself"): `cd`, `echo`, `exit`, `help`, `pwd`,
//! `quit` and `connect`. None of them needs a connection first.

use super::{opt_alias, opt_bool, opt_string, Group};
use crate::ctl::Ctl;
use crate::parse::{cflag, oflag, CmdDef, OptDef, OptType, ParsedCmd};

const NC: u32 = cflag::NOCONNECT;

static HELP_OPTS: [OptDef; 1] = [opt_string(
    "command",
    "Prints global help, command specific help, or help for a group of related commands",
)];
static CD_OPTS: [OptDef; 1] = [opt_string(
    "dir",
    "directory to switch to (default: home or else root)",
)];
static ECHO_OPTS: [OptDef; 7] = [
    opt_bool("shell", "escape for shell use"),
    opt_bool("xml", "escape for XML use"),
    opt_bool(
        "split",
        "split each argument on ','; ',,' is an escape sequence",
    ),
    opt_bool("err", "output to stderr"),
    opt_alias("str", "string"),
    opt_alias("hi", "string=hello"),
    OptDef {
        name: "string",
        ty: OptType::Argv,
        flags: oflag::NONE,
        help: "arguments to echo",
    },
];
static CONNECT_OPTS: [OptDef; 2] = [
    OptDef {
        name: "name",
        ty: OptType::String,
        flags: oflag::EMPTY_OK,
        help: "hypervisor connection URI",
    },
    opt_bool("readonly", "read-only connection"),
];

/// The commands, in virsh's order.
pub static CMDS: [CmdDef; 7] = [
    CmdDef {
        name: "cd",
        help: "change the current directory",
        desc: "Change the current directory.",
        opts: &CD_OPTS,
        handler: cmd_cd,
        flags: NC,
    },
    CmdDef {
        name: "echo",
        help: "echo arguments. Used for internal testing.",
        desc: "Echo back arguments, possibly with quoting. Used for internal testing.",
        opts: &ECHO_OPTS,
        handler: cmd_echo,
        flags: NC,
    },
    CmdDef {
        name: "exit",
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        handler: cmd_quit,
        flags: NC,
    },
    CmdDef {
        name: "help",
        help: "print help",
        desc: "Prints global help, command specific help, or help for a\n    group of related commands",
        opts: &HELP_OPTS,
        handler: cmd_help,
        flags: NC,
    },
    CmdDef {
        name: "pwd",
        help: "print the current directory",
        desc: "Print the current directory.",
        opts: &[],
        handler: cmd_pwd,
        flags: NC,
    },
    CmdDef {
        name: "quit",
        help: "quit this interactive terminal",
        desc: "",
        opts: &[],
        handler: cmd_quit,
        flags: NC,
    },
    CmdDef {
        name: "connect",
        help: "(re)connect to hypervisor",
        desc: "Connect to local hypervisor. This is built-in command after shell start up.",
        opts: &CONNECT_OPTS,
        handler: cmd_connect,
        flags: NC,
    },
];

fn cmd_quit(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    ctl.imode = false;
    true
}

fn cmd_connect(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let ro = cmd.has("readonly");
    let Ok(name) = cmd.string_req(ctl, "name") else {
        return false;
    };
    let name = name.map(str::to_string);
    ctl.reconnect(name.as_deref(), ro, true)
}

fn cmd_pwd(ctl: &mut Ctl, _: &ParsedCmd) -> bool {
    match std::env::current_dir() {
        Ok(d) => {
            ctl.print(&format!("{}\n", d.display()));
            true
        }
        Err(e) => {
            ctl.error(&format!("pwd: {}", super::strerror(&e)));
            false
        }
    }
}

fn cmd_cd(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    if !ctl.imode {
        ctl.error("cd: command valid only in interactive mode");
        return false;
    }
    let dir = match cmd.string_quiet("dir") {
        Ok(Some(d)) => d.to_string(),
        _ => std::env::var("HOME").unwrap_or_else(|_| "/".into()),
    };
    if let Err(e) = std::env::set_current_dir(&dir) {
        ctl.error(&format!("cd: {}: {}", super::strerror(&e), dir));
        return false;
    }
    true
}

/// Splits on `,` with `,,` as an escaped comma (`vshStringToArray`).
pub fn split_commas(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split(',').collect();
    let mut out = vec![parts[0].to_string()];
    let mut concat = false;
    for p in &parts[1..] {
        if concat {
            let last = out.last_mut().expect("never empty");
            last.push(',');
            last.push_str(p);
            concat = false;
            continue;
        }
        if p.is_empty() {
            concat = true;
        } else {
            out.push(p.to_string());
        }
    }
    if concat {
        out.push(String::new());
    }
    out
}

/// Quotes for a POSIX shell only when needed (`virBufferEscapeShell`).
fn escape_shell(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if !s.contains(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c)) {
        return s.into();
    }
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\'");
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Escapes XML special characters and drops control characters (`virBufferEscapeString`).
pub fn escape_xml(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn cmd_echo(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let shell = cmd.has("shell");
    let xml = cmd.has("xml");
    let err = cmd.has("err");
    let split = cmd.has("split");
    if !super::exclusive_expr(ctl, "shell", shell, "xml", xml)
        || !super::exclusive_expr(ctl, "shell", shell, "split", split)
        || !super::exclusive_expr(ctl, "xml", xml, "split", split)
    {
        return false;
    }
    let args = cmd.argv("string");
    if args.is_empty() {
        return true;
    }
    let mut buf = String::new();
    for a in args {
        if xml {
            buf.push_str(&escape_xml(a));
        } else if shell {
            buf.push_str(&escape_shell(a));
        } else if split {
            for p in split_commas(a) {
                buf.push_str(&p);
                buf.push('\n');
            }
        } else {
            buf.push_str(a);
        }
        buf.push(' ');
    }
    buf.pop();
    if err {
        ctl.error(&buf);
    } else {
        ctl.print(&buf);
    }
    true
}

/// The `help` text of one group (`vshCmdGrpHelp`).
fn group_help(g: &Group) -> String {
    let mut s = format!(" {} (help keyword '{}'):\n", g.name, g.keyword);
    for c in g.cmds.iter().filter(|c| c.flags & cflag::HIDDEN == 0) {
        s.push_str(&format!("    {:<30} {}\n", c.name, c.help));
    }
    s
}

/// The full `help` listing.
pub fn all_help() -> String {
    let mut s = String::from("Grouped commands:\n\n");
    for g in super::groups() {
        s.push_str(&group_help(g));
        s.push('\n');
    }
    s
}

/// The help page of one command (`vshCmddefHelp`).
pub fn command_help(def: &CmdDef) -> String {
    let mut s = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {}",
        def.name, def.help, def.name
    );
    let mut shortopt = false;
    for o in def.opts {
        let req = o.flags & oflag::REQ != 0;
        let positional = o.flags & oflag::REQ_OPT == 0;
        let piece = match o.ty {
            OptType::Bool => format!("[--{}]", o.name),
            OptType::Int => {
                shortopt |= positional;
                if req {
                    format!("<{}>", o.name)
                } else {
                    format!("[--{} <number>]", o.name)
                }
            }
            OptType::String => {
                shortopt |= positional;
                format!("[--{} <string>]", o.name)
            }
            OptType::Data => {
                shortopt |= positional;
                if req {
                    format!("<{}>", o.name)
                } else {
                    format!("[<{}>]", o.name)
                }
            }
            OptType::Argv => match (shortopt, req) {
                (true, true) => format!("{{[--{}] <string>}}...", o.name),
                (true, false) => format!("[[--{}] <string>]...", o.name),
                (false, true) => format!("<{}>...", o.name),
                (false, false) => format!("[<{}>]...", o.name),
            },
            OptType::Alias(_) => continue,
        };
        s.push(' ');
        s.push_str(&piece);
    }
    s.push('\n');
    if !def.desc.is_empty() {
        s.push_str(&format!("\n  DESCRIPTION\n    {}\n", def.desc));
    }
    if !def.opts.is_empty() {
        s.push_str("\n  OPTIONS\n");
        for o in def.opts {
            let label = match o.ty {
                OptType::Bool => format!("--{}", o.name),
                OptType::Int if o.flags & oflag::REQ != 0 => format!("[--{}] <number>", o.name),
                OptType::Int => format!("--{} <number>", o.name),
                OptType::String => format!("--{} <string>", o.name),
                OptType::Data => format!("[--{}] <string>", o.name),
                OptType::Argv if shortopt => format!("[--{}] <string>", o.name),
                OptType::Argv => format!("<{}>", o.name),
                OptType::Alias(_) => continue,
            };
            s.push_str(&format!("    {:<15}  {}\n", label, o.help));
        }
    }
    s.push('\n');
    s
}

fn cmd_help(ctl: &mut Ctl, cmd: &ParsedCmd) -> bool {
    let name = match cmd.string_quiet("command") {
        Ok(Some(n)) => n,
        _ => {
            ctl.print(&all_help());
            return true;
        }
    };
    if let Some(def) = super::lookup(name) {
        ctl.print(&command_help(def));
        true
    } else if let Some(g) = super::lookup_group(name) {
        ctl.print(&group_help(g));
        true
    } else {
        ctl.error(&format!("command or command group '{name}' doesn't exist"));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists() {
        assert_eq!(split_commas("a,b"), ["a", "b"]);
        assert_eq!(split_commas("a,,b,c"), ["a,b", "c"]);
        assert_eq!(split_commas("a,"), ["a", ""]);
        assert_eq!(split_commas(""), [""]);
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_shell("plain"), "plain");
        assert_eq!(escape_shell(""), "''");
        assert_eq!(escape_shell("a b'c"), "'a b'\\''c'");
        assert_eq!(escape_xml("<a & 'b'>\x01"), "&lt;a &amp; &apos;b&apos;&gt;");
    }

    #[test]
    fn help_page_layout() {
        let page = command_help(super::super::lookup("connect").unwrap());
        assert_eq!(
            page,
            "  NAME\n    connect - (re)connect to hypervisor\n\n  SYNOPSIS\n    connect [--name <string>] [--readonly]\n\n  DESCRIPTION\n    Connect to local hypervisor. This is built-in command after shell start up.\n\n  OPTIONS\n    --name <string>  hypervisor connection URI\n    --readonly       read-only connection\n\n"
        );
        let quit = command_help(super::super::lookup("quit").unwrap());
        assert_eq!(
            quit,
            "  NAME\n    quit - quit this interactive terminal\n\n  SYNOPSIS\n    quit\n\n"
        );
    }
}
