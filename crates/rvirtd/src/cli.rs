//! Command-line options, as libvirtd spells them.
//!
//! `-f/--config FILE`, `-p/--pid-file FILE`, `-t/--timeout SECS`, `-d/--daemon`, `-v/--verbose`,
//! `-V/--version`, `-h/--help`, plus rvirtd's `--session`/`--system` (mode, default by user) and
//! `--libvirt-paths` (listen on libvirt's socket names). Short options group (`-dv`) and take
//! their value attached or separate (`-t5`, `-t 5`); long ones take `--opt=V` or `--opt V`.

use crate::paths::Mode;
use std::path::PathBuf;
use thiserror::Error;

/// Parsed options for a daemon run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-f`: configuration file.
    pub config: Option<PathBuf>,
    /// `-p`: pid file.
    pub pid_file: Option<PathBuf>,
    /// `-t`: exit after this many idle seconds (0 = never).
    pub timeout: u32,
    /// `-d`: detach into the background.
    pub daemon: bool,
    /// `-v`: log at info level.
    pub verbose: bool,
    /// `--system` / `--session`; `None` = by user.
    pub mode: Option<Mode>,
    /// `--libvirt-paths`.
    pub libvirt_paths: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon.
    Run(Options),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// A command-line mistake.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CliError {
    /// An option that does not exist.
    #[error("unrecognized option '{0}'")]
    Unknown(String),
    /// An option given without its value.
    #[error("option '{0}' requires an argument")]
    MissingValue(String),
    /// A bad `--timeout`.
    #[error("Invalid value for timeout: '{0}' (seconds, 0 to {max})", max = i32::MAX / 1000)]
    Timeout(String),
    /// A positional argument.
    #[error("unexpected, non-option, command line arguments")]
    Positional,
    /// An option given a value it does not take.
    #[error("option '{0}' doesn't allow an argument")]
    UnexpectedValue(String),
}

/// The usage text, in libvirtd's layout.
pub fn usage(argv0: &str) -> String {
    format!(
        "\n\
Usage:\n  {argv0} [options]\n\
\n\
Options:\n\
  -h | --help            Display program help.\n\
  -v | --verbose         Verbose messages.\n\
  -d | --daemon          Run as a daemon & write PID file.\n\
  -t | --timeout <secs>  Exit after timeout period.\n\
  -f | --config <file>   Configuration file.\n\
  -V | --version         Display version information.\n\
  -p | --pid-file <file> Change name of PID file.\n\
       --system          Run as the system daemon (default for root).\n\
       --session         Run as a per-user session daemon (default for other users).\n\
       --libvirt-paths   Listen on libvirt's socket names (libvirt-sock, virtqemud-sock, ...).\n\
\n\
rvirtd is a drop-in for libvirtd: libvirt clients (virsh, libvirt-python, ...) connect to it.\n\
\n\
  System mode (root) defaults:\n\
    Configuration file: /etc/rvirt/rvirtd.conf\n\
    Sockets:            /run/rvirt/rvirt-sock, rvirt-sock-ro, rvirt-admin-sock\n\
    PID file:           /run/rvirtd.pid\n\
\n\
  Session mode defaults:\n\
    Configuration file: $XDG_CONFIG_HOME/rvirt/rvirtd.conf\n\
    Sockets:            $XDG_RUNTIME_DIR/rvirt/rvirt-sock, rvirt-sock-ro, rvirt-admin-sock\n\
    PID file:           $XDG_RUNTIME_DIR/rvirt/rvirtd.pid\n"
    )
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, CliError> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    let mut help = false;
    let mut version = false;
    while let Some(arg) = it.next() {
        if let Some(long) = arg.strip_prefix("--") {
            if long.is_empty() {
                if it.next().is_some() {
                    return Err(CliError::Positional);
                }
                break;
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |inline: Option<String>| {
                inline
                    .or_else(|| it.next())
                    .ok_or_else(|| CliError::MissingValue(format!("--{name}")))
            };
            let flag = |inline: &Option<String>| match inline {
                Some(_) => Err(CliError::UnexpectedValue(format!("--{name}"))),
                None => Ok(()),
            };
            match name {
                "config" => o.config = Some(PathBuf::from(value(inline)?)),
                "pid-file" => o.pid_file = Some(PathBuf::from(value(inline)?)),
                "timeout" => o.timeout = timeout(&value(inline)?)?,
                "daemon" => {
                    flag(&inline)?;
                    o.daemon = true
                }
                "verbose" => {
                    flag(&inline)?;
                    o.verbose = true
                }
                "version" => {
                    flag(&inline)?;
                    version = true
                }
                "help" => {
                    flag(&inline)?;
                    help = true
                }
                "system" => {
                    flag(&inline)?;
                    o.mode = Some(Mode::System)
                }
                "session" => {
                    flag(&inline)?;
                    o.mode = Some(Mode::Session)
                }
                "libvirt-paths" => {
                    flag(&inline)?;
                    o.libvirt_paths = true
                }
                _ => return Err(CliError::Unknown(arg)),
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                let rest = &shorts[i + c.len_utf8()..];
                let mut value = || {
                    if rest.is_empty() {
                        it.next()
                            .ok_or_else(|| CliError::MissingValue(format!("-{c}")))
                    } else {
                        Ok(rest.to_string())
                    }
                };
                match c {
                    'f' => o.config = Some(PathBuf::from(value()?)),
                    'p' => o.pid_file = Some(PathBuf::from(value()?)),
                    't' => o.timeout = timeout(&value()?)?,
                    'd' => o.daemon = true,
                    'v' => o.verbose = true,
                    'V' => version = true,
                    'h' => help = true,
                    _ => return Err(CliError::Unknown(format!("-{c}"))),
                }
                if matches!(c, 'f' | 'p' | 't') {
                    break;
                }
            }
        } else {
            return Err(CliError::Positional);
        }
    }
    // libvirtd acts on -V and -h as soon as it sees them; the first one wins here too.
    if version {
        return Ok(Command::Version);
    }
    if help {
        return Ok(Command::Help);
    }
    Ok(Command::Run(o))
}

fn timeout(s: &str) -> Result<u32, CliError> {
    match s.parse::<i64>() {
        Ok(v) if (0..=i64::from(i32::MAX / 1000)).contains(&v) => Ok(v as u32),
        _ => Err(CliError::Timeout(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, CliError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn libvirtd_spellings() {
        let Command::Run(o) = p(&[
            "-dv",
            "-t5",
            "--pid-file",
            "/x.pid",
            "--config=/c",
            "--session",
        ])
        .unwrap() else {
            panic!()
        };
        assert!(o.daemon && o.verbose);
        assert_eq!(o.timeout, 5);
        assert_eq!(o.pid_file, Some(PathBuf::from("/x.pid")));
        assert_eq!(o.config, Some(PathBuf::from("/c")));
        assert_eq!(o.mode, Some(Mode::Session));
        let Command::Run(o) =
            p(&["-t", "30", "-f", "a.conf", "--libvirt-paths", "--system"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (o.timeout, o.mode, o.libvirt_paths),
            (30, Some(Mode::System), true)
        );
        assert_eq!(p(&["-V"]).unwrap(), Command::Version);
        assert_eq!(p(&["--help"]).unwrap(), Command::Help);
        assert_eq!(p(&[]).unwrap(), Command::Run(Options::default()));
    }

    #[test]
    fn mistakes() {
        assert_eq!(p(&["-x"]), Err(CliError::Unknown("-x".into())));
        assert_eq!(p(&["--listen"]), Err(CliError::Unknown("--listen".into())));
        assert_eq!(p(&["-t"]), Err(CliError::MissingValue("-t".into())));
        assert_eq!(p(&["-t", "-1"]), Err(CliError::Timeout("-1".into())));
        assert_eq!(p(&["-t", "abc"]), Err(CliError::Timeout("abc".into())));
        assert_eq!(p(&["stray"]), Err(CliError::Positional));
        assert_eq!(
            p(&["--daemon=1"]),
            Err(CliError::UnexpectedValue("--daemon".into()))
        );
    }
}
