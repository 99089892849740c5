//! `movex module check FILE` and `movex module warmup DIR`: load modules as
//! the server would, with the sandbox's limits, and say what each exports or
//! why it is refused.

use crate::wasm::{self, Registry, Runtime, RuntimeConfig};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ModuleCommand {
    /// Load a module the way the host would and print what it exports;
    /// exit non-zero with the reason if the host would refuse it.
    Check {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Load every .wasm in a directory as at start-up; print the warm-up
    /// report that /health shows.
    Warmup {
        dir: PathBuf,
        /// Cache precompiled modules here (a second run loads from it).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
}

/// Settings and limits the module is loaded and exercised with.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// A setting the module is bound with, KEY=VALUE (repeatable), e.g.
    /// `--setting column=tier` for tag-by-column.
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// CPU time a guest call may use, in milliseconds.
    #[arg(long, value_name = "MS")]
    call_timeout_ms: Option<u64>,
    /// Linear memory cap per instance, in MiB.
    #[arg(long, value_name = "MIB")]
    memory_mib: Option<usize>,
    /// Fuel per call (off unless given).
    #[arg(long)]
    fuel: Option<u64>,
}

fn parse_setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected KEY=VALUE")),
    }
}

impl SandboxArgs {
    fn registry(&self, cache_dir: Option<PathBuf>) -> anyhow::Result<Registry> {
        let mut limits = wasm::Limits::default();
        if let Some(ms) = self.call_timeout_ms {
            limits.call_timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(mib) = self.memory_mib {
            limits.memory_bytes = mib << 20;
        }
        limits.fuel_per_call = self.fuel.or(limits.fuel_per_call);
        let registry = Registry::new(Runtime::new(RuntimeConfig { limits, cache_dir })?);
        registry.set_default_settings(self.settings.clone());
        Ok(registry)
    }
}

pub fn run(command: ModuleCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModuleCommand::Check { file, json, sandbox } => check(&file, json, &sandbox),
        ModuleCommand::Warmup { dir, cache_dir, sandbox } => warmup(&dir, cache_dir, &sandbox),
    }
}

fn check(file: &PathBuf, json: bool, sandbox: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let registry = sandbox.registry(None)?;
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

fn warmup(dir: &std::path::Path, cache_dir: Option<PathBuf>, sandbox: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let registry = sandbox.registry(cache_dir)?;
    let w = wasm::warm_up(&registry, dir)?;
    let out = serde_json::json!({ "warmup": w, "details": wasm::reports(&registry) });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if w.status == wasm::WarmupStatus::Completed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
