//! virsh's command grammar: command and option definitions, the two tokenizers (argv and the
//! interactive/command-string one), and the parser that turns tokens into [`ParsedCmd`]s.
//!
//! This is the first step of every rvsh invocation: `main`/`shell` hand a tokenizer to [`parse`],
//! and the resulting commands go to `cmd::run`. The rules are those of libvirt 9.0's `vsh.c`:
//! `--opt value`, `--opt=value`, positional data filling the non-boolean options that do not
//! require their name in declaration order, `--` ending option processing, `--help` anywhere
//! turning the command into `help <cmd>`, `#` comments, `;` and newlines separating commands, and
//! shell-like quoting (`'…'`, `"…"`, `\`) in command strings. Error texts are virsh's.

use crate::ctl::Ctl;

/// How an option takes its value (`vshCmdOptType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptType {
    /// A flag without value.
    Bool,
    /// A number.
    Int,
    /// A string.
    String,
    /// Positional data (a string that may be given without its name).
    Data,
    /// Any number of trailing strings.
    Argv,
    /// An undocumented alternative name; `"target"` or `"target=value"`.
    Alias(&'static str),
}

/// Option flags (`VSH_OFLAG_*`).
pub mod oflag {
    /// No flags.
    pub const NONE: u32 = 0;
    /// The option must be given.
    pub const REQ: u32 = 1 << 0;
    /// The option must be named (`--opt value`); it is never filled positionally.
    pub const REQ_OPT: u32 = 1 << 1;
    /// An empty value is accepted.
    pub const EMPTY_OK: u32 = 1 << 2;
}

/// Command flags (`VSH_CMD_FLAG_*`).
pub mod cflag {
    /// The command runs without a hypervisor connection.
    pub const NOCONNECT: u32 = 1 << 0;
    /// The command is not listed by `help`.
    pub const HIDDEN: u32 = 1 << 2;
}

/// One option of a command (`vshCmdOptDef`).
#[derive(Debug)]
pub struct OptDef {
    /// Name, without the leading `--`.
    pub name: &'static str,
    /// Value kind.
    pub ty: OptType,
    /// [`oflag`] bits.
    pub flags: u32,
    /// One-line help.
    pub help: &'static str,
}

/// A command handler: returns whether the command succeeded (virsh's `bool` handlers).
pub type Handler = fn(&mut Ctl, &ParsedCmd) -> bool;

/// One command (`vshCmdDef`).
pub struct CmdDef {
    /// Name as typed.
    pub name: &'static str,
    /// One-line help (`info "help"`).
    pub help: &'static str,
    /// Longer description (`info "desc"`), may be empty.
    pub desc: &'static str,
    /// Options, in declaration order (positional data fills them in this order).
    pub opts: &'static [OptDef],
    /// The implementation.
    pub handler: Handler,
    /// [`cflag`] bits.
    pub flags: u32,
}

impl std::fmt::Debug for CmdDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmdDef").field("name", &self.name).finish()
    }
}

/// The implicit `--help` option every command accepts.
pub static HELP_OPT: OptDef = OptDef {
    name: "help",
    ty: OptType::Bool,
    flags: 0,
    help: "print help for this function",
};

/// The error of an option accessor: the message has already been printed, the command fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// A command with its options as given.
#[derive(Debug)]
pub struct ParsedCmd {
    /// The command.
    pub def: &'static CmdDef,
    /// Options in the order given; `data` is `None` for booleans.
    pub opts: Vec<ParsedOpt>,
}

/// One given option.
#[derive(Debug)]
pub struct ParsedOpt {
    /// Its definition.
    pub def: &'static OptDef,
    /// Its value.
    pub data: Option<String>,
}

impl ParsedCmd {
    fn find(&self, name: &str) -> Option<&ParsedOpt> {
        self.opts.iter().find(|o| o.def.name == name)
    }

    fn opt_def(&self, name: &str) -> Option<&'static OptDef> {
        self.def.opts.iter().find(|o| o.name == name)
    }

    /// Whether the option was given (`vshCommandOptBool`); works for any option type.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The option's value, `Ok(None)` when absent; an empty value is an error unless the option
    /// allows it (`vshCommandOptStringReq`, which prints the error).
    pub fn string_req(&self, ctl: &mut Ctl, name: &str) -> Result<Option<&str>, Reported> {
        match self.find(name) {
            None => {
                if self
                    .opt_def(name)
                    .is_some_and(|d| d.flags & oflag::REQ != 0)
                {
                    ctl.error(&format!(
                        "Failed to get option '{name}': Mandatory option not present"
                    ));
                    return Err(Reported);
                }
                Ok(None)
            }
            Some(o) => {
                let v = o.data.as_deref().unwrap_or("");
                if v.is_empty() && o.def.flags & oflag::EMPTY_OK == 0 {
                    ctl.error(&format!(
                        "Failed to get option '{name}': Option argument is empty"
                    ));
                    return Err(Reported);
                }
                Ok(Some(v))
            }
        }
    }

    /// The option's value without printing errors (`vshCommandOptStringQuiet`): `Ok(None)` when
    /// absent, `Err` when empty and emptiness is not allowed.
    pub fn string_quiet(&self, name: &str) -> Result<Option<&str>, Reported> {
        match self.find(name) {
            None => Ok(None),
            Some(o) => {
                let v = o.data.as_deref().unwrap_or("");
                if v.is_empty() && o.def.flags & oflag::EMPTY_OK == 0 {
                    return Err(Reported);
                }
                Ok(Some(v))
            }
        }
    }

    fn numeric<T>(
        &self,
        ctl: &mut Ctl,
        name: &str,
        conv: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, Reported> {
        let Some(o) = self.find(name) else {
            return Ok(None);
        };
        let v = o.data.as_deref().unwrap_or("");
        match conv(v) {
            Some(n) => Ok(Some(n)),
            None => {
                ctl.error(&format!(
                    "Numeric value '{v}' for <{name}> option is malformed or out of range"
                ));
                Err(Reported)
            }
        }
    }

    /// An `int` option (`vshCommandOptInt`).
    pub fn int(&self, ctl: &mut Ctl, name: &str) -> Result<Option<i32>, Reported> {
        self.numeric(ctl, name, |s| {
            strtol(s)
                .and_then(|(n, rest)| rest.is_empty().then_some(n))
                .and_then(|n| i32::try_from(n).ok())
        })
    }

    /// An unsigned option that rejects negative numbers (`vshCommandOptUInt`).
    pub fn uint(&self, ctl: &mut Ctl, name: &str) -> Result<Option<u32>, Reported> {
        self.numeric(ctl, name, |s| {
            if s.contains('-') {
                return None;
            }
            strtoul(s)
                .and_then(|(n, rest)| rest.is_empty().then_some(n))
                .and_then(|n| u32::try_from(n).ok())
        })
    }

    /// The values of an `argv` option, in order.
    pub fn argv(&self, name: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|o| o.def.name == name)
            .map(|o| o.data.as_deref().unwrap_or(""))
            .collect()
    }
}

/// C `strtol(s, &end, 10)` on `long`: leading blanks, optional sign, digits. Returns the value
/// and the unparsed rest, or `None` when no digits were found or the value overflows.
pub fn strtol(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut v: i128 = 0;
    for b in body[..digits].bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    let v = i64::try_from(v).ok()?;
    Some((v, &body[digits..]))
}

/// C `strtoull(s, &end, 10)`: like [`strtol`] but unsigned; a leading `-` negates modulo 2^64 as
/// C does.
pub fn strtoul(s: &str) -> Option<(u64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut v: u64 = 0;
    for b in body[..digits].bytes() {
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((if neg { v.wrapping_neg() } else { v }, &body[digits..]))
}

/// A token from a tokenizer (`vshCommandToken`).
#[derive(Debug, PartialEq, Eq)]
pub enum Token {
    /// An argument (option, value or data).
    Arg(String),
    /// `;` or newline: the current command ends.
    SubcmdEnd,
    /// No more input.
    End,
    /// A syntax error, with virsh's message.
    Error(String),
}

/// A source of tokens.
pub trait Lexer {
    /// The next token.
    fn next_token(&mut self) -> Token;
}

/// Tokens from a program's argument vector: each argument is one token, nothing is unquoted.
pub struct ArgvLexer<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> ArgvLexer<'a> {
    /// Tokenizes `args`.
    pub fn new(args: &'a [String]) -> Self {
        Self { args: args.iter() }
    }
}

impl Lexer for ArgvLexer<'_> {
    fn next_token(&mut self) -> Token {
        match self.args.next() {
            Some(a) => Token::Arg(a.clone()),
            None => Token::End,
        }
    }
}

/// Tokens from a command string (interactive lines, or a single command-string argument):
/// blanks separate, `;` and newlines end a command, `#` at a token's start comments out the rest
/// of the line, `'…'` quotes literally, `"…"` quotes with `\` escapes, `\` escapes outside quotes,
/// and backslash-newline is elided.
pub struct StringLexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> StringLexer<'a> {
    /// Tokenizes `s`.
    pub fn new(s: &'a str) -> Self {
        Self {
            s: s.as_bytes(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }
}

impl Lexer for StringLexer<'_> {
    fn next_token(&mut self) -> Token {
        let mut p = self.pos;
        loop {
            match self.at(p) {
                b' ' | b'\t' => p += 1,
                b'\\' if self.at(p + 1) == b'\n' => p += 2,
                _ => break,
            }
        }
        match self.at(p) {
            0 => {
                self.pos = p;
                return Token::End;
            }
            b';' | b'\n' => {
                self.pos = p + 1;
                return Token::SubcmdEnd;
            }
            b'#' => {
                while self.at(p) != 0 && self.at(p) != b'\n' {
                    p += 1;
                }
                self.pos = if self.at(p) != 0 { p + 1 } else { p };
                return Token::SubcmdEnd;
            }
            _ => {}
        }
        let mut out = Vec::new();
        let mut single = false;
        let mut double = false;
        while self.at(p) != 0 {
            let c = self.at(p);
            if !double && !single && matches!(c, b' ' | b'\t' | b';' | b'\n') {
                break;
            }
            if !double && c == b'\'' {
                single = !single;
                p += 1;
                continue;
            } else if !single && c == b'\\' {
                p += 1;
                match self.at(p) {
                    0 => return Token::Error("dangling \\".into()),
                    b'\n' => {
                        p += 1;
                        continue;
                    }
                    _ => {}
                }
            } else if !single && c == b'"' {
                double = !double;
                p += 1;
                continue;
            }
            out.push(self.at(p));
            p += 1;
        }
        if double {
            return Token::Error("missing \"".into());
        }
        self.pos = p;
        Token::Arg(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Looks up the option `name` of `cmd` as typed after `--` (`vshCmddefGetOption`): resolves
/// aliases, refuses repeats, and marks it seen.
fn get_option(
    cmd: &'static CmdDef,
    name: &str,
    seen: &mut u64,
    optstr: &mut Option<String>,
) -> Result<Option<(usize, &'static OptDef)>, String> {
    if name == HELP_OPT.name {
        return Ok(Some((usize::MAX, &HELP_OPT)));
    }
    let mut name = name.to_string();
    let mut i = 0;
    while i < cmd.opts.len() {
        let opt = &cmd.opts[i];
        if opt.name == name {
            if let OptType::Alias(target) = opt.ty {
                match target.split_once('=') {
                    Some((t, v)) => {
                        if optstr.is_some() {
                            return Err(format!("invalid '=' after option --{}", opt.name));
                        }
                        *optstr = Some(v.to_string());
                        name = t.to_string();
                    }
                    None => name = target.to_string(),
                }
                i += 1;
                continue;
            }
            if *seen & (1 << i) != 0 && opt.ty != OptType::Argv {
                return Err(format!("option --{name} already seen"));
            }
            *seen |= 1 << i;
            return Ok(Some((i, opt)));
        }
        i += 1;
    }
    if cmd.name == "help" {
        return Ok(None);
    }
    Err(format!(
        "command '{}' doesn't support option --{}",
        cmd.name, name
    ))
}

/// The next option positional data fills (`vshCmddefGetData`).
fn get_data(cmd: &'static CmdDef, need_arg: &mut u64, seen: &mut u64) -> Option<&'static OptDef> {
    if *need_arg == 0 {
        return None;
    }
    let i = need_arg.trailing_zeros() as usize;
    let opt = &cmd.opts[i];
    if opt.ty != OptType::Argv {
        *need_arg &= !(1 << i);
    }
    *seen |= 1 << i;
    Some(opt)
}

/// Which options can be filled positionally and which are required (`vshCmddefOptParse`).
fn opt_masks(cmd: &CmdDef) -> (u64, u64) {
    let mut need_arg = 0u64;
    let mut required = 0u64;
    for (i, o) in cmd.opts.iter().enumerate() {
        if matches!(o.ty, OptType::Bool | OptType::Alias(_)) {
            continue;
        }
        if o.flags & oflag::REQ_OPT == 0 {
            need_arg |= 1 << i;
        }
        if o.flags & oflag::REQ != 0 {
            required |= 1 << i;
        }
    }
    (need_arg, required)
}

/// Parses every command the lexer yields (`vshCommandParse`). On error returns the messages
/// virsh prints (each becomes one `error: …` line); no command of the input runs then.
pub fn parse(
    lexer: &mut dyn Lexer,
    lookup: &dyn Fn(&str) -> Option<&'static CmdDef>,
) -> Result<Vec<ParsedCmd>, Vec<String>> {
    let mut cmds = Vec::new();
    loop {
        let mut cmd: Option<&'static CmdDef> = None;
        let mut opts: Vec<ParsedOpt> = Vec::new();
        let mut data_only = false;
        let mut need_arg = 0u64;
        let mut required = 0u64;
        let mut seen = 0u64;
        let mut tk;
        loop {
            tk = lexer.next_token();
            let data = match tk {
                Token::Error(m) => return Err(vec![m]),
                Token::Arg(ref s) => s.clone(),
                _ => break,
            };
            let Some(c) = cmd else {
                if data.starts_with('#') {
                    // A comment: everything up to the end of this command is ignored.
                    loop {
                        tk = lexer.next_token();
                        if !matches!(tk, Token::Arg(_)) {
                            break;
                        }
                    }
                    if matches!(tk, Token::Error(_)) {
                        tk = Token::End;
                    }
                    break;
                }
                let Some(def) = lookup(&data) else {
                    return Err(vec![format!("unknown command: '{data}'")]);
                };
                cmd = Some(def);
                (need_arg, required) = opt_masks(def);
                continue;
            };
            let opt: Option<&'static OptDef>;
            let mut value: Option<String> = None;
            let b = data.as_bytes();
            if !data_only
                && b.len() > 2
                && b[0] == b'-'
                && b[1] == b'-'
                && b[2].is_ascii_alphanumeric()
            {
                let (name, mut optstr) = match data[2..].split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (data[2..].to_string(), None),
                };
                let found = get_option(c, &name, &mut seen, &mut optstr).map_err(|e| vec![e])?;
                let Some((idx, o)) = found else {
                    // `help` ignores options it does not know.
                    continue;
                };
                if o.ty != OptType::Bool {
                    let v = match optstr {
                        Some(v) => v,
                        None => match lexer.next_token() {
                            Token::Arg(v) => v,
                            Token::Error(m) => return Err(vec![m]),
                            _ => {
                                let kind = if o.ty == OptType::Int {
                                    "number"
                                } else {
                                    "string"
                                };
                                return Err(vec![format!(
                                    "expected syntax: --{} <{}>",
                                    o.name, kind
                                )]);
                            }
                        },
                    };
                    if o.ty != OptType::Argv && idx != usize::MAX {
                        need_arg &= !(1 << idx);
                    }
                    value = Some(v);
                } else if optstr.is_some() {
                    return Err(vec![format!("invalid '=' after option --{}", o.name)]);
                }
                opt = Some(o);
            } else if !data_only && data == "--" {
                data_only = true;
                continue;
            } else {
                opt = get_data(c, &mut need_arg, &mut seen);
                if opt.is_none() && c.name != "help" {
                    return Err(vec![format!("unexpected data '{data}'")]);
                }
                value = Some(data);
            }
            if let Some(o) = opt {
                opts.push(ParsedOpt {
                    def: o,
                    data: value,
                });
            }
        }
        if let Some(mut c) = cmd {
            if opts.iter().any(|o| std::ptr::eq(o.def, &HELP_OPT)) {
                // `cmd --help` is `help cmd`.
                let help = lookup("help").expect("help command exists");
                opts = vec![ParsedOpt {
                    def: &help.opts[0],
                    data: Some(c.name.to_string()),
                }];
                c = help;
                required = 0;
                seen = 0;
            }
            let missing = required & !seen;
            if missing != 0 {
                let errs = c
                    .opts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| missing & (1 << i) != 0)
                    .map(|(_, o)| {
                        if matches!(o.ty, OptType::Data | OptType::Argv) {
                            format!("command '{}' requires <{}> option", c.name, o.name)
                        } else {
                            format!("command '{}' requires --{} option", c.name, o.name)
                        }
                    })
                    .collect();
                return Err(errs);
            }
            cmds.push(ParsedCmd { def: c, opts });
        }
        if tk == Token::End {
            break;
        }
    }
    Ok(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nop(_: &mut Ctl, _: &ParsedCmd) -> bool {
        true
    }

    static DOMINFO_OPTS: [OptDef; 1] = [OptDef {
        name: "domain",
        ty: OptType::Data,
        flags: oflag::REQ,
        help: "domain name, id or uuid",
    }];
    static LIST_OPTS: [OptDef; 3] = [
        OptDef {
            name: "all",
            ty: OptType::Bool,
            flags: 0,
            help: "",
        },
        OptDef {
            name: "name",
            ty: OptType::Bool,
            flags: 0,
            help: "",
        },
        OptDef {
            name: "type",
            ty: OptType::String,
            flags: 0,
            help: "",
        },
    ];
    static CREATE_AS_OPTS: [OptDef; 4] = [
        OptDef {
            name: "pool",
            ty: OptType::Data,
            flags: oflag::REQ,
            help: "",
        },
        OptDef {
            name: "name",
            ty: OptType::Data,
            flags: oflag::REQ,
            help: "",
        },
        OptDef {
            name: "capacity",
            ty: OptType::Data,
            flags: oflag::REQ,
            help: "",
        },
        OptDef {
            name: "xpath",
            ty: OptType::String,
            flags: oflag::REQ_OPT,
            help: "",
        },
    ];
    static ECHO_OPTS: [OptDef; 3] = [
        OptDef {
            name: "str",
            ty: OptType::Alias("string"),
            flags: 0,
            help: "",
        },
        OptDef {
            name: "hi",
            ty: OptType::Alias("string=hello"),
            flags: 0,
            help: "",
        },
        OptDef {
            name: "string",
            ty: OptType::Argv,
            flags: 0,
            help: "",
        },
    ];
    static TIMEOUT_OPTS: [OptDef; 1] = [OptDef {
        name: "timeout",
        ty: OptType::Int,
        flags: 0,
        help: "",
    }];
    static HELP_OPTS: [OptDef; 1] = [OptDef {
        name: "command",
        ty: OptType::String,
        flags: 0,
        help: "",
    }];

    static CMDS: [CmdDef; 6] = [
        CmdDef {
            name: "dominfo",
            help: "",
            desc: "",
            opts: &DOMINFO_OPTS,
            handler: nop,
            flags: 0,
        },
        CmdDef {
            name: "list",
            help: "",
            desc: "",
            opts: &LIST_OPTS,
            handler: nop,
            flags: 0,
        },
        CmdDef {
            name: "vol-create-as",
            help: "",
            desc: "",
            opts: &CREATE_AS_OPTS,
            handler: nop,
            flags: 0,
        },
        CmdDef {
            name: "echo",
            help: "",
            desc: "",
            opts: &ECHO_OPTS,
            handler: nop,
            flags: 0,
        },
        CmdDef {
            name: "event",
            help: "",
            desc: "",
            opts: &TIMEOUT_OPTS,
            handler: nop,
            flags: 0,
        },
        CmdDef {
            name: "help",
            help: "",
            desc: "",
            opts: &HELP_OPTS,
            handler: nop,
            flags: 0,
        },
    ];

    fn lookup(n: &str) -> Option<&'static CmdDef> {
        CMDS.iter().find(|c| c.name == n)
    }

    fn argv(a: &[&str]) -> Result<Vec<ParsedCmd>, Vec<String>> {
        let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        parse(&mut ArgvLexer::new(&v), &lookup)
    }

    fn line(s: &str) -> Result<Vec<ParsedCmd>, Vec<String>> {
        parse(&mut StringLexer::new(s), &lookup)
    }

    type Shape = Vec<(String, Vec<(String, Option<String>)>)>;

    fn shape(cmds: &[ParsedCmd]) -> Shape {
        cmds.iter()
            .map(|c| {
                (
                    c.def.name.to_string(),
                    c.opts
                        .iter()
                        .map(|o| (o.def.name.to_string(), o.data.clone()))
                        .collect(),
                )
            })
            .collect()
    }

    fn one(name: &str, opts: &[(&str, Option<&str>)]) -> Shape {
        vec![(
            name.to_string(),
            opts.iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        )]
    }

    #[test]
    fn positional_named_and_equals_forms() {
        let want = one("dominfo", &[("domain", Some("test"))]);
        assert_eq!(shape(&argv(&["dominfo", "test"]).unwrap()), want);
        assert_eq!(
            shape(&argv(&["dominfo", "--domain", "test"]).unwrap()),
            want
        );
        assert_eq!(shape(&argv(&["dominfo", "--domain=test"]).unwrap()), want);
        assert_eq!(
            shape(&argv(&["dominfo", "--", "--domain"]).unwrap()),
            one("dominfo", &[("domain", Some("--domain"))])
        );
    }

    #[test]
    fn positional_fills_unnamed_options_in_order() {
        let got = argv(&["vol-create-as", "--name", "v", "p", "10M"]).unwrap();
        assert_eq!(
            shape(&got),
            one(
                "vol-create-as",
                &[
                    ("name", Some("v")),
                    ("pool", Some("p")),
                    ("capacity", Some("10M"))
                ]
            )
        );
        // A plain string option (not REQ_OPT) is filled positionally too.
        assert_eq!(
            shape(&argv(&["list", "dir"]).unwrap()),
            one("list", &[("type", Some("dir"))])
        );
    }

    #[test]
    fn virsh_error_messages() {
        assert_eq!(argv(&["bogus"]).unwrap_err(), ["unknown command: 'bogus'"]);
        assert_eq!(
            argv(&["dominfo"]).unwrap_err(),
            ["command 'dominfo' requires <domain> option"]
        );
        assert_eq!(
            argv(&["vol-create-as"]).unwrap_err(),
            [
                "command 'vol-create-as' requires <pool> option",
                "command 'vol-create-as' requires <name> option",
                "command 'vol-create-as' requires <capacity> option",
            ]
        );
        assert_eq!(
            argv(&["dominfo", "a", "b"]).unwrap_err(),
            ["unexpected data 'b'"]
        );
        assert_eq!(
            argv(&["dominfo", "--foo"]).unwrap_err(),
            ["command 'dominfo' doesn't support option --foo"]
        );
        assert_eq!(
            argv(&["dominfo", "--domain"]).unwrap_err(),
            ["expected syntax: --domain <string>"]
        );
        assert_eq!(
            argv(&["event", "--timeout"]).unwrap_err(),
            ["expected syntax: --timeout <number>"]
        );
        assert_eq!(
            argv(&["list", "--all=3"]).unwrap_err(),
            ["invalid '=' after option --all"]
        );
        assert_eq!(
            argv(&["list", "--all", "--all"]).unwrap_err(),
            ["option --all already seen"]
        );
        assert_eq!(
            argv(&["vol-create-as", "p", "n", "1", "x"]).unwrap_err(),
            ["unexpected data 'x'"],
            "a REQ_OPT option is never filled positionally"
        );
        assert_eq!(line("list \"x").unwrap_err(), ["missing \""]);
        assert_eq!(line("list x\\").unwrap_err(), ["dangling \\"]);
    }

    #[test]
    fn help_option_becomes_help_command() {
        let want = one("help", &[("command", Some("dominfo"))]);
        assert_eq!(shape(&argv(&["dominfo", "--help"]).unwrap()), want);
        // Required options are not checked then.
        assert_eq!(
            shape(&argv(&["vol-create-as", "--help"]).unwrap()),
            one("help", &[("command", Some("vol-create-as"))])
        );
        // `help` ignores unknown options and extra data.
        assert_eq!(
            shape(&argv(&["help", "--bogus", "list", "extra"]).unwrap()),
            one("help", &[("command", Some("list"))])
        );
    }

    #[test]
    fn aliases_and_argv() {
        assert_eq!(
            shape(&argv(&["echo", "a", "--str", "b", "c"]).unwrap()),
            one(
                "echo",
                &[
                    ("string", Some("a")),
                    ("string", Some("b")),
                    ("string", Some("c"))
                ]
            )
        );
        assert_eq!(
            shape(&argv(&["echo", "--hi"]).unwrap()),
            one("echo", &[("string", Some("hello"))])
        );
        assert_eq!(
            argv(&["echo", "--hi=x"]).unwrap_err(),
            ["invalid '=' after option --hi"]
        );
    }

    #[test]
    fn command_strings_quote_split_and_comment() {
        let got =
            line("dominfo 'a b'; list --all\n# comment; list\nlist --name #trailing").unwrap();
        assert_eq!(
            shape(&got),
            vec![
                (
                    "dominfo".to_string(),
                    vec![("domain".to_string(), Some("a b".to_string()))]
                ),
                ("list".to_string(), vec![("all".to_string(), None)]),
                ("list".to_string(), vec![("name".to_string(), None)]),
            ]
        );
        let got = line(r#"dominfo "x\"y"  "#).unwrap();
        assert_eq!(shape(&got), one("dominfo", &[("domain", Some("x\"y"))]));
        let got = line(r"dominfo 'a\b'").unwrap();
        assert_eq!(shape(&got), one("dominfo", &[("domain", Some(r"a\b"))]));
        let got = line("dominfo a\\\nb").unwrap();
        assert_eq!(shape(&got), one("dominfo", &[("domain", Some("ab"))]));
        assert!(line("   ").unwrap().is_empty());
        assert!(line(";;").unwrap().is_empty());
        // An error anywhere means nothing runs.
        assert_eq!(
            line("list; bogus").unwrap_err(),
            ["unknown command: 'bogus'"]
        );
    }

    #[test]
    fn argv_comment_swallows_the_rest() {
        assert!(argv(&["#x", "list", "--bogus"]).unwrap().is_empty());
    }

    #[test]
    fn c_number_parsing() {
        assert_eq!(strtol(" -12x"), Some((-12, "x")));
        assert_eq!(strtol("+7"), Some((7, "")));
        assert_eq!(strtol("x"), None);
        assert_eq!(strtol("99999999999999999999"), None);
        assert_eq!(strtoul("18446744073709551615"), Some((u64::MAX, "")));
        assert_eq!(strtoul("-1"), Some((u64::MAX, "")));
    }
}
