//! The load-time exercise: before a module serves, each capability it
//! describes is run once on sample data — every value kind, negative and zero
//! keys, equal and different pairs. A module that traps, times out or blows
//! its memory here is refused at load (upload, swap, warm-up, `module check`)
//! instead of failing during a validation. A module that refuses the sample
//! binding (it needs settings) is not refused: its exercise is skipped, and
//! says why.

use super::batch::Batch;
use super::binding::Binding;
use super::comparator::PairOutcome;
use super::error::{Capability, FailureKind, GuestError};
use super::module::Module;
use movex_guest::{Date, Kind, Stats, Time, Timestamp, Value};
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct Exercise {
    pub capability: Capability,
    /// What happened, e.g. `8 pairs: 4 equal, 4 different, 0 errors`.
    pub summary: String,
    pub skipped: bool,
    pub ms: f64,
}

fn sample_columns() -> Vec<(String, Kind)> {
    [
        ("id", Kind::Int),
        ("name", Kind::Text),
        ("email", Kind::Text),
        ("tier", Kind::Text),
        ("score", Kind::Float),
        ("balance", Kind::Decimal),
        ("visits", Kind::Uint),
        ("active", Kind::Bool),
        ("utime", Kind::Int),
        ("born", Kind::Date),
        ("alarm", Kind::Time),
        ("created", Kind::Timestamp),
        ("doc", Kind::Json),
        ("avatar", Kind::Bytes),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_owned(), k))
    .collect()
}

fn sample_row(id: i64, variant: u8) -> Vec<Value<'static>> {
    let ts = Timestamp { date: Date { year: 2024, month: 2, day: 29 }, micros_of_day: 45_296_000_123 };
    let alt = variant == 1;
    vec![
        Value::Int(id),
        Value::Text(if alt { "Ada L." } else { "Ada" }),
        Value::Text(if alt { "ADA@example.com" } else { "ada@example.com" }),
        if id == 0 { Value::Null } else { Value::Text("vip") },
        Value::Float(if alt { 0.30000000000000004 } else { 0.3 }),
        Value::Decimal(if alt { "12.50" } else { "12.5" }),
        Value::Uint(u64::MAX),
        Value::Bool(id % 2 == 0),
        Value::Int(1_700_000_000_000 + i64::from(alt) * 123),
        Value::Date(if id < 0 { Date { year: 0, month: 0, day: 0 } } else { Date { year: 1990, month: 12, day: 31 } }),
        Value::Time(Time { micros: -3_600_000_000 }),
        Value::Timestamp(ts),
        Value::Json(if alt { r#"{ "b": [1, 2], "a": 1 }"# } else { r#"{"a":1,"b":[1,2]}"# }),
        Value::Bytes(&[0, 159, 146, 150]),
    ]
}

const SAMPLE_IDS: [i64; 4] = [-1, 0, 1, i64::MAX];

/// Exercise every capability the module describes. `Err` means the module is
/// broken; skipped exercises are reported in the `Ok` list.
pub fn exercise(module: &Module, settings: &[(String, String)]) -> Result<Vec<Exercise>, GuestError> {
    let mut out = Vec::new();
    for cap in module.description.capabilities.clone() {
        let started = Instant::now();
        let result = match cap {
            Capability::Comparator => compare(module, settings),
            Capability::Tagger => tag(module, settings),
            Capability::Policy => decide(module, settings),
            Capability::Describe => continue,
        };
        let (summary, skipped) = match result {
            Ok(summary) => (summary, false),
            Err(e) if e.kind == FailureKind::BindingRefused => {
                (format!("skipped: {} (give it the settings it needs, e.g. `--setting KEY=VALUE`)", e.detail), true)
            }
            Err(e) => return Err(e),
        };
        out.push(Exercise { capability: cap, summary, skipped, ms: started.elapsed().as_secs_f64() * 1e3 });
    }
    Ok(out)
}

fn first_failure<T>(outcomes: impl IntoIterator<Item = Result<T, GuestError>>) -> Result<Vec<T>, GuestError> {
    outcomes.into_iter().collect()
}

fn compare(module: &Module, settings: &[(String, String)]) -> Result<String, GuestError> {
    let binding = Binding::new("movex_sample", sample_columns(), settings.to_vec());
    let mut batch = Batch::new();
    for id in SAMPLE_IDS {
        batch.push_pair(id.to_string(), sample_row(id, 0), sample_row(id, 0));
        batch.push_pair(format!("{id} (changed)"), sample_row(id, 0), sample_row(id, 1));
    }
    let outcomes = module.compare(&binding, &batch)?;
    let outcomes = first_failure(outcomes.into_iter().map(|o| match o {
        PairOutcome::Failed(e) => Err(*e),
        o => Ok(o),
    }))?;
    let count = |f: fn(&PairOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    Ok(format!(
        "{} pairs: {} equal, {} different, {} undecided",
        outcomes.len(),
        count(|o| matches!(o, PairOutcome::Equal)),
        count(|o| matches!(o, PairOutcome::Different { .. })),
        count(|o| matches!(o, PairOutcome::Error { .. })),
    ))
}

fn tag(module: &Module, settings: &[(String, String)]) -> Result<String, GuestError> {
    let binding = Binding::new("movex_sample", sample_columns(), settings.to_vec());
    let mut batch = Batch::new();
    for id in SAMPLE_IDS {
        batch.push_row(id.to_string(), sample_row(id, 0));
    }
    let tags = module.tag(&binding, &batch)?;
    let mut tagged = 0;
    let mut errors = 0;
    for t in tags {
        match t {
            Ok(Some(_)) => tagged += 1,
            Ok(None) => {}
            Err(e) if e.kind == FailureKind::Refused => errors += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(format!("{} rows: {tagged} tagged, {errors} errors", SAMPLE_IDS.len()))
}

fn decide(module: &Module, settings: &[(String, String)]) -> Result<String, GuestError> {
    let binding = Binding::settings(settings.to_vec());
    let stats = Stats {
        state: "src_first".into(),
        pattern: "src_first".into(),
        full_runs: 3,
        incr_runs: 10,
        consecutive_clean_runs: 3,
        rows_checked: 10_000,
        discrepancies: vec![("neq".into(), 0), ("target_missing".into(), 0)],
        errors: vec![],
        repairs: vec![("repaired".into(), 2)],
        copy: vec![("tables".into(), 1), ("done".into(), 1), ("rows_copied".into(), 10_000)],
        time_in_state_ms: 3_600_000,
    };
    let d = module.decide(&binding, &stats)?;
    Ok(format!("sample stats: {:?} ({})", d.action, d.reason))
}
