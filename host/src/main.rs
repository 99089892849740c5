//! The `movex` binary: see `movex::cli`.

fn main() -> std::process::ExitCode {
    movex::cli::main()
}
