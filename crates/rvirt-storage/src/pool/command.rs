//! Running helper programs (`qemu-img`, `mount`, `umount`, `mkfs`, `blkid`) the way libvirt's
//! `virCommandRun` does: no stdin, stderr captured, and a failure reported as "Child process
//! (<command line>) unexpected exit status N: <stderr>".

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::error::{Error, Result};
use super::file::find_in_path;

/// A program found in `$PATH`, with the arguments to run it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program's path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the environment it inherits.
    pub env: Vec<(String, String)>,
}

/// What a finished program printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Standard output.
    pub stdout: String,
    /// Exit status (0 when [`Cmd::run`] returns).
    pub status: i32,
}

/// Quotes an argument as `virBufferEscapeShell` does for command lines in messages.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./=,:+@%".contains(&c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl Cmd {
    /// `name` looked up in `$PATH`; `missing` is the error when it is not installed.
    pub fn find(name: &str, missing: impl FnOnce() -> Error) -> Result<Cmd> {
        Ok(Cmd {
            program: find_in_path(name).ok_or_else(missing)?,
            args: Vec::new(),
            env: Vec::new(),
        })
    }

    /// `name` looked up in `$PATH`, failing with libvirt's "Cannot find 'name' in path".
    pub fn new(name: &str) -> Result<Cmd> {
        Cmd::find(name, || {
            Error::errno(format!("Cannot find '{name}' in path"), libc::ENOENT)
        })
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds a variable to the program's environment.
    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The command line as libvirt shows it in messages.
    pub fn to_shell(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the program and returns its exit status and output, failing only if it cannot
    /// be started or is killed by a signal.
    pub fn run_status(&self) -> Result<(Output, String)> {
        let out = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::sys(
                    format!("Cannot run program '{}'", self.program.display()),
                    &e,
                )
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match out.status.code() {
            Some(status) => Ok((
                Output {
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    status,
                },
                stderr,
            )),
            None => {
                use std::os::unix::process::ExitStatusExt;
                Err(Error::Child {
                    command: self.to_shell(),
                    status: format!("fatal signal {}", out.status.signal().unwrap_or(0)),
                    stderr,
                })
            }
        }
    }

    /// Runs the program; a non-zero exit is an error (`virCommandRun` with no exit status
    /// pointer).
    pub fn run(&self) -> Result<Output> {
        let (out, stderr) = self.run_status()?;
        if out.status != 0 {
            return Err(Error::Child {
                command: self.to_shell(),
                status: format!("exit status {}", out.status),
                stderr,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_like_libvirt() {
        let c = Cmd::new("sh")
            .unwrap()
            .args(["-c", "echo oops >&2; exit 3"]);
        let e = c.run().unwrap_err();
        let prog = find_in_path("sh").unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "Child process ({} -c 'echo oops >&2; exit 3') unexpected exit status 3: oops\n",
                prog.display()
            )
        );
        assert_eq!(Cmd::new("true").unwrap().run().unwrap().status, 0);
        let e = Cmd::new("no-such-program-rvirt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cannot find 'no-such-program-rvirt' in path: No such file or directory"
        );
    }
}
