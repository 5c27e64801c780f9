//! The `rvirtd` binary: command line in, daemon out. Everything else lives in the library.

use rvirtd::cli::{self, Command};
use rvirtd::daemon;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_else(|| "rvirtd".into());
    match cli::parse(args) {
        Ok(Command::Help) => {
            print!("{}", cli::usage(&argv0));
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("{argv0} (rvirt) {}", rvirtd::VERSION);
            ExitCode::SUCCESS
        }
        Ok(Command::Run(opts)) => match daemon::run(opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{argv0}: error: {}", daemon::describe(&e));
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{argv0}: {e}");
            eprint!("{}", cli::usage(&argv0));
            ExitCode::FAILURE
        }
    }
}
