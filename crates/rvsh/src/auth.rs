//! The credential prompt used when a connection needs authentication, behaving like libvirt's
//! default callback (`virConnectAuthCallbackDefault`): it prints each prompt as `PROMPT: `,
//! reads names and challenge answers from stdin and passwords from the terminal without echo,
//! and answers the default (or an empty string) when the user enters nothing or at end of input.

use rvirt::{Auth, Credential, CredentialType};
use std::io::{BufRead, Write};

/// The credential types rvsh can answer (libvirt's default list).
const TYPES: [CredentialType; 6] = [
    CredentialType::Authname,
    CredentialType::EchoPrompt,
    CredentialType::Realm,
    CredentialType::Passphrase,
    CredentialType::NoEchoPrompt,
    CredentialType::External,
];

/// An [`Auth`] that asks on the terminal.
pub fn terminal_auth() -> Auth {
    Auth {
        cred_types: TYPES.to_vec(),
        callback: Box::new(answer),
    }
}

fn answer(creds: &mut [Credential]) -> Result<(), ()> {
    for c in creds.iter_mut() {
        let typed = match c.type_ {
            CredentialType::External => {
                // Only a PolicyKit "external" credential can be satisfied: the user may have
                // authenticated outside libvirt already.
                if c.challenge.as_deref() != Some("PolicyKit") {
                    return Err(());
                }
                continue;
            }
            CredentialType::Username
            | CredentialType::Authname
            | CredentialType::EchoPrompt
            | CredentialType::Realm => {
                prompt(&c.prompt)?;
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|_| ())?;
                let line = line.strip_suffix('\n').unwrap_or(&line).to_string();
                (!line.is_empty()).then_some(line)
            }
            CredentialType::Passphrase | CredentialType::NoEchoPrompt => {
                prompt(&c.prompt)?;
                let p = read_password().map_err(|_| ())?;
                (!p.is_empty()).then_some(p)
            }
            _ => return Err(()),
        };
        c.result = Some(typed.unwrap_or_else(|| c.default.clone().unwrap_or_default()));
    }
    Ok(())
}

fn prompt(p: &str) -> Result<(), ()> {
    let mut out = std::io::stdout();
    write!(out, "{p}: ").map_err(|_| ())?;
    out.flush().map_err(|_| ())
}

/// Reads a line from the controlling terminal with echo off (like `getpass`), falling back to
/// stdin when there is no terminal.
fn read_password() -> std::io::Result<String> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let Ok(mut tty) = tty else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches('\n').to_string());
    };
    let fd = tty.as_raw_fd();
    // SAFETY: an all-zero termios is a valid value for tcgetattr to overwrite.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an open terminal for the lifetime of `tty`; `saved` is a valid termios.
    let have_attrs = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_attrs {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: fd is open; `quiet` is a valid termios derived from the current one.
        unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) };
    }
    let mut line = String::new();
    let res = std::io::BufReader::new(&tty).read_line(&mut line);
    if have_attrs {
        // SAFETY: fd is open; `saved` is the terminal's original state.
        unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
    }
    let _ = tty.write_all(b"\n");
    res?;
    Ok(line.trim_end_matches('\n').to_string())
}
