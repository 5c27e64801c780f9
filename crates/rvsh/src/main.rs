//! The `rvsh` binary: everything is in the library ([`rvsh::main_with_args`]).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(rvsh::main_with_args(&args));
}
