//! The `movex` command line: the top layer. `main` only parses arguments
//! and calls the library, so tests drive the same code paths. One file per
//! subcommand; nothing below this layer knows clap.
//!
//! - [`module`]: `movex module check` and `movex module warmup`.
//! - [`validate`]: `movex validate`, one run, exit code by result.
//! - [`serve`]: `movex serve`, the host until SIGTERM.
//! - [`repair`]: `movex repair`, once or `--follow`.
//! - [`demo`]: `movex demo`, the whole story on SQLite files.
//! - [`shutdown`]: the one shutdown signal (ctrl-c or SIGTERM).

pub mod copy;
pub mod demo;
pub mod module;
pub mod progress;
pub mod repair;
pub mod serve;
pub mod shutdown;
pub mod validate;

use clap::{Parser, Subcommand};
use module::ModuleCommand;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "movex", version, about = "Zero-downtime database migration host with sandboxed wasm comparators")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Work with wasm modules (comparators, taggers, policies).
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Run one validation and exit: 0 no differences, 1 differences found,
    /// 2 error (config, database, module, or findings not delivered).
    Validate(validate::ValidateArgs),
    /// Run the host: the control plane over HTTP, the pool's state, the
    /// scheduler and the policy, until SIGTERM or ctrl-c.
    Serve(serve::ServeArgs),
    /// The whole story on SQLite files: double-writes, validation, policy,
    /// auto-migrate to `completed` (`--inject-diff`: validation catches
    /// corrupted rows and the migration holds).
    Demo(demo::DemoArgs),
    /// Repair the target from the findings once (`--dry-run`: report only).
    Repair(repair::RepairArgs),
    /// Copy the rows that exist on the source to the destination, resuming
    /// from the checkpoint: 0 copied, 2 error (`--dry-run`: the plan only).
    Copy(copy::CopyArgs),
}

/// Entry point for the binary.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // librdkafka logs every failed connection at ERROR; movex
            // reports delivery failures itself (MOVEX_LOG=debug shows them).
            tracing_subscriber::EnvFilter::try_from_env("MOVEX_LOG")
                .unwrap_or_else(|_| "warn,librdkafka=off,rdkafka::client=off".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs redirected to a file stay plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Module(command) => module::run(command),
        Command::Validate(args) => Ok(validate::run(args)),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Repair(args) => repair::run(args),
        Command::Copy(args) => Ok(copy::run(args)),
    }
}
