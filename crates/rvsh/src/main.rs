//! The `rvsh` binary: everything is in the library ([`rvsh::main_with_args`]).

fn main() {
    // Like virsh (a C program), end quietly when the reader of our output goes away
    // (`rvsh list | head -1`) instead of writing on into a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(rvsh::main_with_args(&args));
}
