//! The `movex` command line. `main` only parses arguments and calls the
//! library, so tests drive the same code paths.

use crate::wasm::{self, Registry, Runtime, RuntimeConfig};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
}

#[derive(Subcommand, Debug)]
pub enum ModuleCommand {
    /// Load a module the way the host would and print what it exports;
    /// exit non-zero with the reason if the host would refuse it.
    Check {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load every .wasm in a directory as at start-up; print the warm-up
    /// report that /health shows.
    Warmup {
        dir: PathBuf,
        /// Cache precompiled modules here (a second run loads from it).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

/// Entry point for the binary.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MOVEX_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
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
        Command::Module(ModuleCommand::Check { file, json }) => check(&file, json),
        Command::Module(ModuleCommand::Warmup { dir, cache_dir }) => warmup(&dir, cache_dir),
    }
}

fn check(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let registry = Registry::new(Runtime::new(RuntimeConfig::default())?);
    let (module, exercises) = match registry.load(&bytes) {
        Ok(loaded) => (loaded.module, loaded.exercises),
        Err(e) => {
            eprintln!("error: {}: refused: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let d = &module.description;
    if json {
        let out = serde_json::json!({
            "file": file.display().to_string(),
            "description": d,
            "imports": module.imports,
            "sha256": module.hash,
            "size": module.size,
            "compile_ms": module.load_time.as_secs_f64() * 1e3,
            "exercises": exercises,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let list = |v: Vec<String>| if v.is_empty() { "(any)".to_owned() } else { v.join(", ") };
    println!("{}: ok", file.display());
    println!("  name:          {}", d.name);
    println!("  version:       {}", d.version);
    println!("  capabilities:  {}", list(d.capabilities.iter().map(ToString::to_string).collect()));
    println!("  entities:      {}", list(d.entities.clone()));
    println!("  summary:       {}", d.summary);
    println!("  imports:       {}", if module.imports.is_empty() { "(none)".into() } else { module.imports.join(", ") });
    println!("  sha256:        {}", module.hash);
    println!("  size:          {} bytes", module.size);
    println!("  compile:       {:.1} ms", module.load_time.as_secs_f64() * 1e3);
    for e in &exercises {
        println!("  exercise:      {} — {} ({:.1} ms)", e.capability, e.summary, e.ms);
    }
    Ok(ExitCode::SUCCESS)
}

fn warmup(dir: &PathBuf, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let registry = Registry::new(Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?);
    let w = wasm::warm_up(&registry, dir)?;
    let out = serde_json::json!({ "warmup": w, "details": wasm::reports(&registry) });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if w.status == wasm::WarmupStatus::Completed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
